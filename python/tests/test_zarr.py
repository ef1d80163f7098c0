"""Zarr 3 with boa-det as the compressor: written, reopened, read back; each
chunk file is boa_det.compress of the chunk's bytes."""

import json

import numpy as np
import zarr

import boa_det
import boa_det.zarr


def test_zarr3_array_round_trip(tmp_path):
    rng = np.random.default_rng(5)
    data = np.stack([rng.normal(50, 10, 20000), rng.uniform(-2.5, 2.5, 20000)], axis=1).astype("<f4")
    path = tmp_path / "jets.zarr"
    z = zarr.create_array(str(path), shape=data.shape, chunks=(8192, 2), dtype="<f4", compressors=[boa_det.zarr.Boa()])
    z[:] = data
    meta = json.loads((path / "zarr.json").read_text())
    assert {"name": "boa_det", "configuration": {}} in meta["codecs"]
    back = zarr.open_array(str(path), mode="r")
    assert back[:].tobytes() == data.tobytes()
    # The first chunk's file is an ordinary archive of that chunk's bytes.
    first = (path / "c" / "0" / "0").read_bytes()
    assert first == boa_det.compress(data[:8192].tobytes())
    assert boa_det.info(first)["original_size"] == 8192 * 2 * 4
