import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from boatrain.io import import_boa, load_float
from boatrain.model import BoaModel, ModelConfig, expected_shapes

HERE = Path(__file__).resolve().parents[1]


def _boa_state_dict(d, n, seed=0):
    """A state_dict with BOA's names and shapes built independently from the spec."""
    g = torch.Generator().manual_seed(seed)
    shapes = {"embedding.weight": (256, d)}
    E, N, K, R = 2 * d, 16, 4, -(-d // 16)
    for i in range(n):
        p = f"blocks.{i}."
        shapes.update({
            p + "ln1.weight": (d,), p + "ln1.bias": (d,), p + "mamba.in_proj.weight": (2 * E, d),
            p + "mamba.conv1d.weight": (E, 1, K), p + "mamba.conv1d.bias": (E,),
            p + "mamba.x_proj.weight": (R + 2 * N, E), p + "mamba.dt_proj.weight": (E, R),
            p + "mamba.dt_proj.bias": (E,), p + "mamba.A_log": (E, N), p + "mamba.D": (E,),
            p + "mamba.out_proj.weight": (d, E), p + "ln2.weight": (d,), p + "ln2.bias": (d,),
            p + "ff.0.weight": (4 * d, d), p + "ff.0.bias": (4 * d,), p + "ff.2.weight": (d, 4 * d),
            p + "ff.2.bias": (d,),
        })
    shapes.update({"head.0.weight": (d, d), "head.0.bias": (d,), "head.2.weight": (256, d), "head.2.bias": (256,)})
    return {k: torch.randn(s, generator=g) * 0.1 for k, s in shapes.items()}


@pytest.mark.parametrize("wrap", ["raw", "model_state_dict", "state_dict", "module", "fp16"])
def test_import_boa_round_trip(tmp_path, wrap):
    d, n = 32, 2
    sd = _boa_state_dict(d, n)
    assert {k: tuple(v.shape) for k, v in sd.items()} == expected_shapes(ModelConfig(d, n))
    obj = sd
    if wrap == "model_state_dict":
        obj = {"model_state_dict": sd, "epoch": 3}
    elif wrap == "state_dict":
        obj = {"state_dict": sd, "backbone": "mamba"}
    elif wrap == "module":
        obj = {"model_state_dict": {"module." + k: v for k, v in sd.items()}}
    elif wrap == "fp16":
        obj = {"state_dict": {k: v.half() for k, v in sd.items()}}
    ck = tmp_path / "boa.pt"
    torch.save(obj, ck)
    out = tmp_path / "m.float.safetensors"
    cfg = import_boa(str(ck), str(out))
    assert (cfg.d_model, cfg.n_layers) == (d, n)
    with safe_open(str(out), framework="pt") as f:
        assert f.metadata() == {"format": "boa-float", "d_model": "32", "n_layers": "2"}
        assert set(f.keys()) == set(sd)
        for k in sd:
            t = f.get_tensor(k)
            assert t.dtype == torch.float32 and tuple(t.shape) == tuple(sd[k].shape)
            ref = sd[k].half().float() if wrap == "fp16" else sd[k]
            assert torch.equal(t, ref), k
    m = load_float(str(out))
    assert isinstance(m, BoaModel)
    with torch.no_grad():
        assert m(torch.randint(0, 256, (1, 8))).shape == (1, 8, 256)


def test_import_boa_rejects_bad_checkpoints(tmp_path):
    sd = _boa_state_dict(32, 1)
    bad_shape = dict(sd)
    bad_shape["blocks.0.mamba.A_log"] = torch.zeros(64, 8)
    missing = {k: v for k, v in sd.items() if k != "blocks.0.mamba.D"}
    extra = dict(sd, **{"blocks.0.norm_f.weight": torch.zeros(32)})
    for i, obj in enumerate([bad_shape, missing, extra]):
        ck = tmp_path / f"bad{i}.pt"
        torch.save(obj, ck)
        with pytest.raises(ValueError):
            import_boa(str(ck), str(tmp_path / "x.safetensors"))


def test_cli_import_and_eval(tmp_path):
    ck = tmp_path / "boa.pt"
    torch.save({"model_state_dict": _boa_state_dict(16, 1)}, ck)
    out = tmp_path / "m.float.safetensors"
    data = tmp_path / "d.bin"
    data.write_bytes(bytes(range(256)) * 4)
    env = {"PYTHONPATH": str(HERE), "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-m", "boatrain", "import-boa", str(ck), "-o", str(out)],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "d_model=16 n_layers=1" in r.stdout
    r = subprocess.run([sys.executable, "-m", "boatrain", "eval", str(out), str(data), "--threads", "1"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "bits/byte" in r.stdout and "1023 bytes" in r.stdout
