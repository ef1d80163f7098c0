"""The Dask recipe of docs/PYTHON.md, on a LocalCluster with two worker
processes: every archive equals the CLI's and verifies."""

import os
import subprocess

import numpy as np
import pytest

from boa_det import batch

CLI = os.environ.get("BOA_DET_BIN", "boa-det")


@pytest.fixture()
def folder(tmp_path):
    rng = np.random.default_rng(3)
    src = tmp_path / "in"
    (src / "tables").mkdir(parents=True)
    for k in range(3):
        (src / f"events{k}.txt").write_bytes(
            "".join(f"E {i} {rng.integers(0, 9)} {rng.normal():.5e}\n" for i in range(1500)).encode()
        )
        (src / "tables" / f"t{k}.f32").write_bytes(rng.normal(size=(2000, 3)).astype(np.float32).tobytes())
    return src


def test_dask_recipe_matches_the_cli(folder, tmp_path):
    from dask.distributed import Client, LocalCluster

    out = tmp_path / "out"
    pairs = batch.plan(folder, out)
    assert len(pairs) == 6
    # The recipe (docs/PYTHON.md, "Many files").
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            futures = [client.submit(batch.compress_and_verify, s, d, pure=False) for s, d in pairs]
            results = client.gather(futures)
    assert sorted(r.src for r in results) == [s for s, _ in pairs]
    for r in results:
        cli = subprocess.run([CLI, "-q", "-c", r.src], check=True, capture_output=True).stdout
        with open(r.dst, "rb") as f:
            assert f.read() == cli, r.src
        assert r.original == os.path.getsize(r.src) and r.archive == len(cli)
