"""boa-det as an HDF5 filter for h5py, in the manner of hdf5plugin:

    >>> import h5py, boa_det.hdf5
    >>> f.create_dataset("jets", data=table, chunks=(65536,), **boa_det.hdf5.Boa(record_size=table.dtype.itemsize))

Importing this module registers the filter plugin (``libh5boa.so``, built
from ``python/hdf5_plugin``) with h5py's HDF5. Other readers (h5dump, C, other
languages) load the same plugin through ``HDF5_PLUGIN_PATH`` = ``PLUGIN_DIR``.
The plugin is found at ``$BOA_DET_HDF5_PLUGIN``, else inside this package.
"""

from __future__ import annotations

import ctypes
import os
from typing import Optional

import h5py

from . import BoaError, _native

__all__ = ["FILTER_ID", "PLUGIN_DIR", "PLUGIN_PATH", "Boa"]

#: From HDF5's range for unregistered filters (32768-65535).
FILTER_ID = 35594

PLUGIN_PATH = os.environ.get("BOA_DET_HDF5_PLUGIN") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "plugins", "libh5boa.so"
)
PLUGIN_DIR = os.path.dirname(PLUGIN_PATH)


def _register() -> None:
    if h5py.h5z.filter_avail(FILTER_ID):
        return
    if not os.path.exists(PLUGIN_PATH):
        raise BoaError(
            f"the boa-det HDF5 plugin is not at {PLUGIN_PATH}: build python/hdf5_plugin "
            "(python/test.sh does) and set BOA_DET_HDF5_PLUGIN"
        )
    lib = ctypes.CDLL(PLUGIN_PATH)
    lib.H5PLget_plugin_info.restype = ctypes.c_void_p
    h5py.h5z.register_filter(lib.H5PLget_plugin_info())
    globals()["_lib"] = lib  # keep the library loaded


_register()


def Boa(record_size: Optional[int] = None, level: Optional[int] = None) -> dict:
    """Keyword arguments for ``h5py.File.create_dataset``: the boa-det filter
    with ``record_size`` (the record length for the column models, usually the
    dtype's itemsize; None = detect) and ``level`` (1 to 9 as ``boa-det
    compress -N``; None = the default), as ``compression``/``compression_opts``.

    The parameters also record, for readers to see (``h5dump -p``), the newest
    format version the writer may use and the default model's fingerprint
    (four little-endian 32-bit words); decoding needs none."""
    if record_size is not None and not 0 < record_size < 2**32:
        raise BoaError(f"record_size must be a positive byte count, got {record_size}")
    if level is not None and (not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 9):
        raise BoaError(f"level {level!r}: the levels are 1 to 9")
    fp = bytes.fromhex(_native.default_fingerprint())
    words = tuple(int.from_bytes(fp[i : i + 4], "little") for i in range(0, 16, 4))
    return {
        "compression": FILTER_ID,
        "compression_opts": (1, record_size or 0, level or 0, _native.FORMAT_VERSION_NEWEST) + words,
    }
