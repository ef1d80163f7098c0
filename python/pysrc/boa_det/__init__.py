"""boa-det: deterministic, integer-only neural compression for scientific data.

The same library as the ``boa-det`` command line: archives written here and by
the CLI are byte-identical, and each decodes the other's. Any object with the
buffer protocol is accepted (bytes, bytearray, memoryview, a C-contiguous
numpy array); results are ``bytes``. Work runs with the GIL released.

    >>> import boa_det
    >>> blob = boa_det.compress(b"E 1 0 3 ...\\n" * 1000)
    >>> boa_det.decompress(blob)[:5]
    b'E 1 0'
"""

from __future__ import annotations

import os
from typing import Any, Optional, Union

from . import _native
from ._native import BoaError

__all__ = [
    "BoaError",
    "compress",
    "decompress",
    "verify",
    "info",
    "info_members",
    "compress_file",
    "decompress_file",
    "decompress_into",
]

PathLike = Union[str, "os.PathLike[str]"]


def _bytes_view(data: Any) -> bytes:
    """``data``'s bytes, any element type (copied unless it is ``bytes``: the
    stable ABI of Python 3.9 has no buffer protocol, and the copy is cheap
    next to the compression)."""
    if isinstance(data, bytes):
        return data
    try:
        view = memoryview(data)
    except TypeError as e:
        raise BoaError(f"expected a bytes-like object, got {type(data).__name__}") from e
    if not view.c_contiguous:
        raise BoaError("the buffer is not C-contiguous (numpy: np.ascontiguousarray)")
    return view.tobytes()


def _path(p: Optional[PathLike]) -> Optional[str]:
    return None if p is None else os.fspath(p)


def compress(
    data: Any,
    *,
    level: Optional[int] = None,
    model: Optional[PathLike] = None,
    threads: Optional[int] = None,
) -> bytes:
    """Compress ``data`` to a ``.boa`` archive, exactly as ``boa-det compress``
    does (the built-in default model unless ``model`` names a model file).
    ``level``: the compression level of ``boa-det compress -N``, 1 to 9
    (``None``: the default, 4); 1 to 3 are the context-mixing codec, several
    times faster and decoded without a network, 9 the strongest
    (docs/MODELS.md, "Levels").
    ``threads``: worker threads (all cores when None); the bytes never depend
    on it."""
    if level is not None and (not isinstance(level, int) or isinstance(level, bool) or not 0 < level < 256):
        raise BoaError(f"level {level!r}: the levels are integers 1 to 9")
    return _native.compress(_bytes_view(data), _path(model), threads, level)


def decompress(
    blob: Any,
    *,
    model: Optional[PathLike] = None,
    threads: Optional[int] = None,
    max_output: Optional[int] = None,
) -> bytes:
    """Decompress a ``.boa`` archive and check every checksum. The model is the
    embedded one, else ``model``, else the built-in one with the archive's
    fingerprint. ``max_output`` refuses, before any work, an archive that
    would produce more bytes (as ``--max-output``)."""
    return _native.decompress(_bytes_view(blob), _path(model), threads, max_output)


def decompress_into(
    blob: Any,
    out: Any,
    *,
    model: Optional[PathLike] = None,
    threads: Optional[int] = None,
) -> int:
    """Decompress into the writable, C-contiguous buffer ``out`` (a
    ``bytearray``, a numpy array of any dtype, ...); returns the number of
    bytes written. An archive longer than ``out`` is refused before any work.
    (The result is decoded first and then copied in.)"""
    try:
        view = memoryview(out)
    except TypeError as e:
        raise BoaError(f"expected a writable buffer, got {type(out).__name__}") from e
    if view.readonly or not view.c_contiguous:
        raise BoaError("the output buffer must be writable and C-contiguous")
    view = view.cast("B")
    data = decompress(blob, model=model, threads=threads, max_output=len(view))
    view[: len(data)] = data
    return len(data)


def verify(blob: Any, *, model: Optional[PathLike] = None, threads: Optional[int] = None) -> None:
    """Decode every chunk and check every checksum; raise BoaError naming
    the bad chunks."""
    _native.verify(_bytes_view(blob), _path(model), threads)


def info(blob: Any) -> dict:
    """The archive's header and index, without decoding: format and arith
    versions, model fingerprint, chunk length, sizes, and chunks per codec."""
    return _native.info(_bytes_view(blob))


def info_members(blob: Any) -> list:
    """``info`` of every archive in a blob of archives written back to back
    (``cat a.boa b.boa``), which ``decompress`` and ``verify`` read whole."""
    return _native.info_members(_bytes_view(blob))


def compress_file(
    src: PathLike,
    dst: PathLike,
    *,
    level: Optional[int] = None,
    model: Optional[PathLike] = None,
    threads: Optional[int] = None,
    overwrite: bool = False,
) -> int:
    """Stream the file ``src`` into the archive ``dst``. ``dst`` is written
    under a temporary name and renamed only when complete and synced: on any
    failure it is left as it was (absent, or untouched with ``overwrite``).
    ``src`` is never modified; ``dst`` being ``src`` is refused. Returns the
    bytes read. ``level`` as in ``compress``."""
    if level is not None and (not isinstance(level, int) or isinstance(level, bool) or not 0 < level < 256):
        raise BoaError(f"level {level!r}: the levels are integers 1 to 9")
    return _native.compress_file(os.fspath(src), os.fspath(dst), _path(model), threads, overwrite, level)


def decompress_file(
    src: PathLike,
    dst: PathLike,
    *,
    model: Optional[PathLike] = None,
    threads: Optional[int] = None,
    overwrite: bool = False,
) -> int:
    """Decode the archive(s) in the file ``src`` into ``dst``, with the same
    atomic-output rules as ``compress_file``. Returns the bytes written."""
    return _native.decompress_file(os.fspath(src), os.fspath(dst), _path(model), threads, overwrite)
