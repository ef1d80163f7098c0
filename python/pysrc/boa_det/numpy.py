"""numpy arrays that keep their dtype and shape: the archive holds the array
as a ``.npy`` file (numpy's own header, then the data), so ``numpy.load``
reads the decompressed bytes too.

    >>> from boa_det import numpy as bnp
    >>> blob = bnp.compress_array(table)
    >>> back = bnp.decompress_array(blob)      # same dtype, shape and order
"""

from __future__ import annotations

import io
from typing import Any, Optional

import numpy as np

from . import BoaError, PathLike, compress, decompress

__all__ = ["compress_array", "decompress_array", "to_npy", "from_npy"]


def compress_array(arr: Any, *, model: Optional[PathLike] = None, threads: Optional[int] = None) -> bytes:
    """Compress ``arr`` as a ``.npy`` file (object arrays are refused: they
    would need pickle)."""
    return compress(to_npy(arr), model=model, threads=threads)


def decompress_array(
    blob: Any, *, model: Optional[PathLike] = None, threads: Optional[int] = None, max_output: Optional[int] = None
) -> np.ndarray:
    """The array ``compress_array`` stored."""
    return from_npy(decompress(blob, model=model, threads=threads, max_output=max_output))


def to_npy(arr: Any) -> bytes:
    """``arr`` as the bytes of a ``.npy`` file (object arrays are refused)."""
    arr = np.asanyarray(arr)
    if arr.dtype.hasobject:
        raise BoaError("object arrays cannot be stored (they would need pickle)")
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    return buf.getvalue()


def from_npy(raw: Any) -> np.ndarray:
    """The array of the bytes of a ``.npy`` file."""
    try:
        return np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)
    except ValueError as e:
        raise BoaError(f"the archive does not hold a .npy array: {e}") from e
