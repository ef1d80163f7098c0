"""ROOT through uproot: a file written here with flat, fixed-size and
jagged branches comes back bit for bit."""

import awkward as ak
import numpy as np
import pytest
import uproot

import boa_det
from boa_det import uproot as bup


def test_branches_round_trip(tmp_path):
    rng = np.random.default_rng(11)
    n = 3000
    counts = rng.integers(0, 6, n)
    pt = ak.unflatten(rng.exponential(30, counts.sum()).astype(np.float32), counts)
    charge = ak.unflatten(rng.choice([-1, 1], counts.sum()).astype(np.int32), counts)
    met = rng.normal(40, 15, n).astype(np.float32)
    met[::97] = np.nan
    path = tmp_path / "events.root"
    with uproot.recreate(path) as f:
        f["Events"] = {
            "run": np.full(n, 273158, dtype=np.uint32),
            "MET_pt": met,
            "Jet": ak.zip({"pt": pt, "charge": charge}),
        }
    tree = uproot.open(path)["Events"]
    packed, skipped = bup.compress_branches(tree)
    assert {"run", "MET_pt", "Jet_pt", "Jet_charge"} <= set(packed)
    assert set(packed["Jet_pt"]) == {"counts", "content"} and set(packed["MET_pt"]) == {"data"}
    back = bup.decompress_branches(packed)
    for name in packed:
        want = tree[name].array(library="ak")
        got = back[name]
        if isinstance(got, np.ndarray):
            assert got.dtype == ak.to_numpy(want).dtype
            assert got.tobytes() == ak.to_numpy(want).tobytes(), name
        else:
            assert ak.num(got, axis=1).tolist() == ak.num(want, axis=1).tolist(), name
            assert ak.to_numpy(ak.flatten(got)).tobytes() == ak.to_numpy(ak.flatten(want)).tobytes(), name
    assert all(name not in packed for name in skipped)
    # The whole tree as one archive gives the same arrays.
    blob, skipped_too = bup.compress_tree(tree)
    assert skipped_too == skipped
    whole = bup.decompress_tree(blob)
    assert set(whole) == set(packed)
    for name in packed:
        a, b = whole[name], back[name]
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name
        else:
            assert ak.to_list(ak.num(a, axis=1)) == ak.to_list(ak.num(b, axis=1)), name
            assert ak.to_numpy(ak.flatten(a)).tobytes() == ak.to_numpy(ak.flatten(b)).tobytes(), name
    with pytest.raises(boa_det.BoaError):
        bup.decompress_tree(boa_det.compress(b"something else"))
