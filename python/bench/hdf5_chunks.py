"""boa-det's HDF5 filter against hdf5plugin's Zstd and Blosc2 at typical
chunk sizes (docs/PYTHON.md, "HDF5"): storage size, write and read speed.

    python python/bench/hdf5_chunks.py TABLE.f32 COLUMNS MIB

TABLE.f32: row-major float32 records of COLUMNS columns; the first MIB MiB
(whole rows) are used. One run per configuration; wall-clock seconds.
"""

import os
import sys
import tempfile
import time

import h5py
import hdf5plugin
import numpy as np

import boa_det.hdf5


def main(path, columns, mib):
    columns, mib = int(columns), int(mib)
    row = 4 * columns
    raw = open(path, "rb").read((mib << 20) // row * row)
    table = np.frombuffer(raw, dtype="<f4").reshape(-1, columns)
    filters = {
        "boa-det (record_size = row)": lambda: boa_det.hdf5.Boa(record_size=row),
        "hdf5plugin Zstd(clevel=22)": lambda: hdf5plugin.Zstd(clevel=22),
        "hdf5plugin Blosc2(zstd, 9, shuffle)": lambda: hdf5plugin.Blosc2(
            cname="zstd", clevel=9, filters=hdf5plugin.Blosc2.SHUFFLE
        ),
    }
    print(f"{len(raw):,} bytes: {table.shape[0]} rows x {columns} float32")
    print("| chunk | filter | stored (B) | ratio | write MB/s | read MB/s |")
    print("|---|---|---:|---:|---:|---:|")
    for chunk_kib in (64, 1024, 4096):
        rows = max(1, (chunk_kib << 10) // row)
        for name, make in filters.items():
            with tempfile.TemporaryDirectory() as d:
                p = os.path.join(d, "t.h5")
                t0 = time.perf_counter()
                with h5py.File(p, "w") as f:
                    f.create_dataset("t", data=table, chunks=(min(rows, table.shape[0]), columns), **make())
                wrote = time.perf_counter() - t0
                t0 = time.perf_counter()
                with h5py.File(p, "r") as f:
                    back = f["t"][()]
                    stored = f["t"].id.get_storage_size()
                read = time.perf_counter() - t0
                assert back.tobytes() == table.tobytes()
            mb = len(raw) / 1e6
            print(f"| {chunk_kib} KiB | {name} | {stored:,} | {len(raw) / stored:.3f} | {mb / wrote:.2f} | {mb / read:.2f} |")


if __name__ == "__main__":
    main(*sys.argv[1:])
