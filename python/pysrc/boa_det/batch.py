"""Many files at once: one task per file, each compressing with
``compress_file`` and then verifying what it wrote, on any executor that
runs Python functions (Dask, ``concurrent.futures``, ...). docs/PYTHON.md has
the Dask recipe and the HTCondor/Slurm one for the CLI.

Each task uses one thread (``threads=1``): the executor supplies the
parallelism, one file per worker thread. The bytes never depend on it.
"""

from __future__ import annotations

import os
from typing import List, NamedTuple, Optional

from . import PathLike, compress_file, verify

__all__ = ["Compressed", "compress_and_verify", "plan"]


class Compressed(NamedTuple):
    src: str
    dst: str
    original: int
    archive: int


def compress_and_verify(
    src: PathLike, dst: PathLike, *, model: Optional[PathLike] = None, overwrite: bool = False
) -> Compressed:
    """Compress ``src`` to ``dst`` (atomically), then decode ``dst`` and check
    every checksum; raises ``BoaError`` if anything fails, leaving no partial
    ``dst``."""
    src, dst = os.fspath(src), os.fspath(dst)
    n = compress_file(src, dst, model=model, threads=1, overwrite=overwrite)
    with open(dst, "rb") as f:
        verify(f.read(), model=model, threads=1)
    return Compressed(src, dst, n, os.path.getsize(dst))


def plan(src_dir: PathLike, dst_dir: PathLike) -> List[tuple]:
    """(source, archive) pairs for every regular file under ``src_dir``, the
    archive at the same relative path under ``dst_dir`` with ``.boa`` added
    (folders created). Sorted, so that runs list the same work."""
    src_dir, dst_dir = os.fspath(src_dir), os.fspath(dst_dir)
    pairs = []
    for root, _, names in os.walk(src_dir):
        for name in names:
            src = os.path.join(root, name)
            if os.path.isfile(src) and not os.path.islink(src):
                dst = os.path.join(dst_dir, os.path.relpath(src, src_dir) + ".boa")
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                pairs.append((src, dst))
    return sorted(pairs)
