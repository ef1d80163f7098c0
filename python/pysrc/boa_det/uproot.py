"""ROOT files through uproot: ROOT has no plug-in point for a new compressor,
so read the branches with uproot, compress each with boa-det, and restore
them bit for bit.

    >>> import uproot
    >>> from boa_det import uproot as bup
    >>> tree = uproot.open("nanoAOD.root")["Events"]
    >>> packed, skipped = bup.compress_branches(tree)
    >>> arrays = bup.decompress_branches(packed)     # name -> numpy or awkward

``compress_tree`` packs the branches into one archive instead (an index, then
every branch's arrays one after the other), which is what small branches
need: each archive costs about 250 bytes of headers and index, and a model
warms up over a chunk, so one archive per 1 KiB branch loses to ROOT.

A flat numeric branch (or one of fixed-size numeric arrays) is one archive of
its ``.npy`` bytes. A jagged numeric branch (``var * float32``, the usual
NanoAOD/PHYSLITE object column) is two: the counts per entry and the
flattened content, each a column the models code well. Other branches
(records, strings, deeper nesting) are returned in ``skipped`` by name.
Needs uproot and awkward.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Tuple

import json

import awkward as ak
import numpy as np

from . import BoaError, PathLike, compress, decompress
from .numpy import compress_array, decompress_array, from_npy, to_npy

__all__ = ["compress_branches", "decompress_branches", "compress_tree", "decompress_tree"]

Packed = Dict[str, Dict[str, bytes]]


def _numeric(arr: "ak.Array") -> Optional[np.ndarray]:
    try:
        out = ak.to_numpy(arr, allow_missing=False)
    except (ValueError, TypeError):
        return None
    return out if out.dtype.kind in "biuf" else None


def _columns(tree, branches: Optional[Iterable[str]]):
    """(name, {"data": array} or {"counts": array, "content": array}) for each
    numeric branch, and the names of the others."""
    columns = []
    skipped: List[str] = []
    for name in branches if branches is not None else tree.keys():
        try:
            arr = tree[name].array(library="ak")
        except Exception:  # interpretations uproot does not read as arrays
            skipped.append(name)
            continue
        flat = _numeric(arr)
        if flat is not None:
            columns.append((name, {"data": flat}))
            continue
        if arr.ndim == 2:
            content = _numeric(ak.flatten(arr, axis=1))
            if content is not None:
                counts = np.asarray(ak.num(arr, axis=1), dtype=np.int64)
                columns.append((name, {"counts": counts, "content": content}))
                continue
        skipped.append(name)
    return columns, skipped


def _restore(parts: Dict[str, np.ndarray]):
    if "data" in parts:
        return parts["data"]
    return ak.unflatten(parts["content"], parts["counts"])


_TREE_MAGIC = b"boa-det tree 1\n"


def compress_tree(
    tree,
    branches: Optional[Iterable[str]] = None,
    *,
    model: Optional[PathLike] = None,
    threads: Optional[int] = None,
) -> Tuple[bytes, List[str]]:
    """The numeric branches of an uproot TTree (all, or ``branches``) as one
    archive: ``(archive, skipped)``. Inside: a line ``boa-det tree 1``, an
    8-byte little-endian length, a JSON index of ``[name, [part, length],
    ...]``, then every part's ``.npy`` bytes in index order."""
    columns, skipped = _columns(tree, branches)
    index = []
    blobs = []
    for name, parts in columns:
        entry = [name]
        for part, arr in parts.items():
            b = to_npy(arr)
            entry.append([part, len(b)])
            blobs.append(b)
        index.append(entry)
    head = json.dumps(index).encode()
    payload = b"".join([_TREE_MAGIC, len(head).to_bytes(8, "little"), head, *blobs])
    return compress(payload, model=model, threads=threads), skipped


def decompress_tree(blob, *, threads: Optional[int] = None) -> Dict[str, object]:
    """The arrays ``compress_tree`` packed, as ``decompress_branches`` gives them."""
    raw = memoryview(decompress(blob, threads=threads))
    if bytes(raw[: len(_TREE_MAGIC)]) != _TREE_MAGIC:
        raise BoaError("the archive does not hold a tree packed by compress_tree")
    at = len(_TREE_MAGIC)
    n = int.from_bytes(raw[at : at + 8], "little")
    at += 8
    try:
        index = json.loads(bytes(raw[at : at + n]))
    except ValueError as e:
        raise BoaError(f"bad tree index: {e}") from e
    at += n
    out: Dict[str, object] = {}
    for name, *parts in index:
        arrays = {}
        for part, length in parts:
            chunk = raw[at : at + length]
            if len(chunk) != length:
                raise BoaError("the tree's arrays are shorter than its index says")
            arrays[part] = from_npy(chunk)
            at += length
        out[name] = _restore(arrays)
    return out


def compress_branches(
    tree,
    branches: Optional[Iterable[str]] = None,
    *,
    model: Optional[PathLike] = None,
    threads: Optional[int] = None,
) -> Tuple[Packed, List[str]]:
    """Compress the numeric branches of an uproot TTree (all, or ``branches``):
    ``(packed, skipped)`` with ``packed[name]`` holding ``{"data": archive}``
    or ``{"counts": archive, "content": archive}``."""
    columns, skipped = _columns(tree, branches)
    packed: Packed = {
        name: {part: compress_array(arr, model=model, threads=threads) for part, arr in parts.items()}
        for name, parts in columns
    }
    return packed, skipped


def decompress_branches(packed: Packed, *, threads: Optional[int] = None) -> Dict[str, object]:
    """The arrays ``compress_branches`` packed: numpy for flat branches,
    awkward for jagged ones, bit-identical to what uproot read."""
    out: Dict[str, object] = {}
    for name, parts in packed.items():
        out[name] = _restore({part: decompress_array(b, threads=threads) for part, b in parts.items()})
    return out
