"""The HDF5 filter through h5py: tables, compound and 2-D chunked datasets
written and read back in a fresh process; a damaged chunk is a read error."""

import lzma
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

import boa_det.hdf5

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "tables"


def shared_table() -> np.ndarray:
    """The first 30,000 float32 values of the Pythia GenJet table of
    ../shared/data when it is there, else random normals (with a note)."""
    xz = SHARED / "pythia8_ttbar13TeV_genjets_ak4_seed4242_200k.rm.f32.xz"
    if xz.exists():
        with lzma.open(xz) as f:
            return np.frombuffer(f.read(120000), dtype="<f4").copy()
    print("NOTE: ../shared/data not found; HDF5 table test uses random float32")
    return np.random.default_rng(9).normal(size=(30000,)).astype(np.float32)


READER = """
import sys, h5py, numpy as np, boa_det.hdf5
with h5py.File(sys.argv[1], "r") as f:
    for name in ("table", "compound", "grid", "fast"):
        sys.stdout.buffer.write(f[name][()].tobytes())
"""


def test_datasets_round_trip_in_a_fresh_process(tmp_path):
    rng = np.random.default_rng(9)
    table = shared_table()
    rec = np.dtype([("pt", "<f4"), ("eta", "<f4"), ("charge", "<i2"), ("id", "<u4")])
    compound = np.zeros(8000, dtype=rec)
    compound["pt"] = rng.exponential(30, 8000)
    compound["eta"] = rng.uniform(-2.5, 2.5, 8000)
    compound["charge"] = rng.choice([-1, 1], 8000)
    compound["id"] = np.arange(8000)
    grid = rng.integers(0, 100, size=(300, 200)).astype(np.int16)
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("table", data=table, chunks=(16384,), **boa_det.hdf5.Boa())
        f.create_dataset("compound", data=compound, chunks=(4096,), **boa_det.hdf5.Boa(record_size=rec.itemsize))
        f.create_dataset("grid", data=grid, chunks=(100, 100), **boa_det.hdf5.Boa())
        # Level 1: the context-mixing codec, decoded without a network.
        f.create_dataset("fast", data=table, chunks=(16384,), **boa_det.hdf5.Boa(record_size=4, level=1))
        params = f["table"]._filters[str(boa_det.hdf5.FILTER_ID)]
        assert params[:4] == (1, 0, 0, boa_det._native.FORMAT_VERSION_NEWEST) and len(params) == 8
        assert f["fast"]._filters[str(boa_det.hdf5.FILTER_ID)][:3] == (1, 4, 1)
        assert f["fast"].id.get_storage_size() < table.nbytes
    out = subprocess.run([sys.executable, "-c", READER, str(path)], check=True, capture_output=True).stdout
    assert out == table.tobytes() + compound.tobytes() + grid.tobytes() + table.tobytes()


def test_other_readers_load_the_plugin_from_hdf5_plugin_path(tmp_path):
    data = np.linspace(0, 1, 50000, dtype=np.float64)
    path = tmp_path / "p.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=data, chunks=(25000,), **boa_det.hdf5.Boa(record_size=8))
    # A process that never imports boa_det: HDF5 finds the plugin itself.
    plain = "import sys, h5py; f = h5py.File(sys.argv[1], 'r'); sys.stdout.buffer.write(f['x'][()].tobytes())"
    env = dict(os.environ, HDF5_PLUGIN_PATH=boa_det.hdf5.PLUGIN_DIR)
    out = subprocess.run([sys.executable, "-c", plain, str(path)], check=True, capture_output=True, env=env).stdout
    assert out == data.tobytes()
    # Without the path it cannot: a clear HDF5 error, not a crash.
    env.pop("HDF5_PLUGIN_PATH")
    env["HDF5_PLUGIN_PATH"] = str(tmp_path)
    res = subprocess.run([sys.executable, "-c", plain, str(path)], capture_output=True, env=env)
    assert res.returncode == 1 and b"OSError" in res.stderr


def test_a_damaged_chunk_is_a_read_error(tmp_path):
    data = np.arange(40000, dtype=np.float32)
    path = tmp_path / "d.h5"
    with h5py.File(path, "w") as f:
        dset = f.create_dataset("x", data=data, chunks=(40000,), **boa_det.hdf5.Boa())
        chunk = dset.id.get_chunk_info(0)
    raw = bytearray(path.read_bytes())
    raw[chunk.byte_offset + chunk.size // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with h5py.File(path, "r") as f:
        with pytest.raises(OSError):
            f["x"][()]


def test_bad_parameters_are_refused():
    with pytest.raises(boa_det.BoaError):
        boa_det.hdf5.Boa(record_size=-3)
    for level in (0, 10, "1"):
        with pytest.raises(boa_det.BoaError):
            boa_det.hdf5.Boa(level=level)


def test_a_failing_filter_loses_nothing(tmp_path):
    """h5py adds a third-party filter as optional, so when it fails (here:
    parameters of a version the plugin does not read) HDF5 stores that chunk
    unfiltered instead of raising: nothing is lost, the file stays readable,
    and the chunk's filter mask says the filter was skipped."""
    path = tmp_path / "f.h5"
    good = np.arange(5000, dtype=np.int32)
    with h5py.File(path, "w") as f:
        f.create_dataset("good", data=good, chunks=(5000,), **boa_det.hdf5.Boa())
        bad = f.create_dataset(
            "bad", data=good, chunks=(5000,), compression=boa_det.hdf5.FILTER_ID, compression_opts=(99, 0)
        )
        f.flush()
        assert bad.id.get_chunk_info(0).filter_mask == 1
        assert f["good"].id.get_chunk_info(0).filter_mask == 0
    with h5py.File(path, "r") as f:
        assert f["good"][()].tobytes() == good.tobytes()
        assert f["bad"][()].tobytes() == good.tobytes()


def test_h5dump_reads_through_hdf5_plugin_path(tmp_path):
    h5dump = shutil.which("h5dump")
    if h5dump is None:
        pytest.skip("SKIP: h5dump not installed (Debian: hdf5-tools)")
    path = tmp_path / "d.h5"
    data = np.arange(6000, dtype=np.int16).reshape(100, 60)
    with h5py.File(path, "w") as f:
        f.create_dataset("grid", data=data, chunks=(50, 60), **boa_det.hdf5.Boa(record_size=120))
    env = {"PATH": os.environ.get("PATH", ""), "HDF5_PLUGIN_PATH": boa_det.hdf5.PLUGIN_DIR}
    out = subprocess.run([h5dump, "-p", "-d", "grid", str(path)], capture_output=True, env=env, text=True)
    assert out.returncode == 0, out.stderr
    assert "35594" in out.stdout and "5999" in out.stdout
    # The parameters show what wrote it: version 1, the record length, level 0, the format.
    assert "PARAMS { 1 120 0 " in out.stdout
