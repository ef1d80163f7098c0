"""Ratio of boa-det on the numeric branches of ROOT files, against the ROOT
file's own compression of the same branches and against xz -9 of the same
arrays (docs/PYTHON.md, "ROOT through uproot").

    python python/bench/uproot_ratio.py ../shared/data/root/*.root
"""

import io
import lzma
import sys

import numpy as np
import uproot

from boa_det import uproot as bup
from boa_det.numpy import decompress_array


def npy_len(blob: bytes) -> int:
    return decompress_array(blob).nbytes


def main(paths):
    print("| file | tree | branches packed / skipped | raw arrays (B) | ROOT's own (B) | xz -9 per branch (B) | boa-det per branch (B) | boa-det tree (B) | tree vs ROOT | tree vs xz |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for path in paths:
        f = uproot.open(path)
        name = next(k for k in f.keys() if f.classname_of(k) == "TTree")
        tree = f[name]
        packed, skipped = bup.compress_branches(tree, threads=2)
        back = bup.decompress_branches(packed, threads=2)
        whole, _ = bup.compress_tree(tree, threads=2)
        assert set(bup.decompress_tree(whole, threads=2)) == set(packed)
        boa = sum(len(b) for parts in packed.values() for b in parts.values())
        root = sum(tree[n].compressed_bytes for n in packed)
        raw = xz = 0
        for n, parts in packed.items():
            for blob in parts.values():
                arr = decompress_array(blob)
                buf = io.BytesIO()
                np.save(buf, arr)
                raw += arr.nbytes
                xz += len(lzma.compress(buf.getvalue(), preset=9))
        assert len(back) == len(packed)
        print(
            f"| {path.split('/')[-1]} | {name.split(';')[0]} | {len(packed)} / {len(skipped)} | {raw:,} | {root:,} | {xz:,} | {boa:,} "
            f"| {len(whole):,} | {root / len(whole):.3f}x | {xz / len(whole):.3f}x |"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
