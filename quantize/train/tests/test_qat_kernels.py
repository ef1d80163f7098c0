"""QAT's simulated integer kernels (quant.py with ``int_arith``): the parameters are the
quantizer's (checked against ``boa-det-quantize --scales-out`` on a real quantization),
the scan is the engine's integer recurrence exactly, the layer norm stays within one
output step of the float one, and gradients flow through all of it."""

import json
import os
import pathlib
import subprocess

import pytest
import torch
from safetensors.torch import load_file

from boatrain import intsim
from boatrain import model as model_mod
from boatrain.io import save_float
from boatrain.model import BoaModel, ModelConfig, selective_scan
from boatrain.quant import QuantConfig, ScanSim, decay_table, int_layer_norm, layer_norm_params

ROOT = pathlib.Path(__file__).resolve().parents[3]


def test_decay_table_is_the_shipped_one():
    t = decay_table()
    for name in ("default-v1-d128", "default-v4-d128"):
        shipped = load_file(str(ROOT / f"src/default_models/{name}.safetensors"))["tables.decay_exp2"]
        assert torch.equal(t, shipped.long()), name


def _quantizer() -> str:
    for p in (os.environ.get("BOA_DET_QUANTIZE_BIN"), ROOT / "target/release/boa-det-quantize",
              ROOT / "target/debug/boa-det-quantize"):
        if p and pathlib.Path(p).exists():
            return str(p)
    pytest.fail("boa-det-quantize is not built (cargo build --release --workspace), or set BOA_DET_QUANTIZE_BIN")


@pytest.mark.parametrize("arith", [1, 2])
def test_parameters_are_the_quantizers(tmp_path, arith):
    """Given the scales the Rust quantizer chose, the Python rules derive the same
    integer layer norm and scan parameters as the model file it wrote."""
    torch.manual_seed(7)
    m = BoaModel(ModelConfig(d_model=32, n_layers=2))
    with torch.no_grad():  # give the layer norms and decays non-trivial values
        for blk in m.blocks:
            for ln in (blk.ln1, blk.ln2):
                ln.weight.normal_(1.0, 0.3)
                ln.bias.normal_(0.0, 0.2)
            blk.mamba.A_log.add_(torch.randn_like(blk.mamba.A_log))
    fp, ip, sp = tmp_path / "m.float.safetensors", tmp_path / "m.int.safetensors", tmp_path / "scales.json"
    save_float(m, str(fp))
    data = ROOT / "portability-vectors/inputs/text.bin"
    subprocess.run([_quantizer(), str(fp), "--calib", str(data), "-o", str(ip), "--segments", "2",
                    "--segment-len", "256", "--no-search", "--arith", str(arith), "--scales-out", str(sp)],
                   check=True, capture_output=True)
    sc = json.loads(sp.read_text())
    t = load_file(str(ip))
    for i, blk in enumerate(m.blocks):
        for ln, s_in, s_out in (("ln1", sc["x"], sc[f"{i}.u1"]), ("ln2", sc[f"{i}.mo"], sc[f"{i}.u2"])):
            p = f"blocks.{i}.{ln}"
            g, b, shift, eps = layer_norm_params(getattr(blk, ln).weight.detach(), getattr(blk, ln).bias.detach(),
                                                 s_in, s_out)
            assert torch.equal(g, t[p + ".weight"].long()), p
            assert torch.equal(b, t[p + ".bias"].long()), p
            assert shift == int(t[p + ".shift"]) and eps == int(t[p + ".eps"]), p
        sim = ScanSim.build(arith, blk.mamba.A_log, sc[f"{i}.dt"], sc[f"{i}.xc"], sc[f"{i}.B"], sc[f"{i}.inc"])
        p = f"blocks.{i}.mamba"
        assert torch.equal(sim.a_rate, t[p + ".A_rate"].long()), p
        assert sim.a_shift == int(t[p + ".A_shift"]), p
        assert sim.inc_shift == int(t[p + ".inc_shift"]) == int(sc[f"{i}.inc_shift"]), p


def _sim(arith=2, e=6, n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    a_log = torch.rand(e, n, generator=g) * 4 - 1
    return ScanSim.build(arith, a_log, s_dt=3e-4, s_xc=0.02, s_b=0.03, inc_amax=0.1), g


@pytest.mark.parametrize("arith", [1, 2])
def test_blocked_scan_is_the_integer_recurrence(monkeypatch, arith):
    """The parallel scan under a ScanSim, cut into many blocks and called twice with
    the state carried, equals §6 stepped in int64 (intsim's kernels) exactly."""
    L, B, E, N = 37, 3, 6, 16
    sim, g = _sim(arith, E, N)
    dtq = torch.randint(0, 65536, (L, B, E), generator=g)
    xq = torch.randint(-127, 128, (L, B, E), generator=g)
    bq = torch.randint(-127, 128, (L, B, N), generator=g)
    dtq[:, 0], xq[:, 0], bq[:, 0] = 39, 127, 127  # stream 0: slow decays, one sign: large states
    dt, u, bm = dtq.float() * sim.s_dt, xq.float() * sim.s_xc, bq.float() * sim.s_b
    cm = torch.randn(L, B, N, generator=g)
    monkeypatch.setattr(model_mod, "SCAN_BLOCK_ELEMS", 5 * B * E * N)  # blocks of 5 steps
    h = torch.zeros(B, E, N)
    ys = []
    for part in (slice(0, 20), slice(20, L)):
        y, h = selective_scan(dt[part], u[part], -torch.ones(E, N), bm[part], cm[part], h, sim)
        ys.append(y)
    hi = torch.zeros(B, E, N, dtype=torch.int64)
    want_y = []
    for t in range(L):
        hi = intsim.scan_state(sim.decay(dtq[t]), hi, sim.increment(dtq[t], xq[t], bq[t]))
        want_y.append((hi.double() * sim.s_h * cm[t].double().unsqueeze(1)).sum(-1))
    assert h.dtype == torch.float64 and torch.equal(sim.state_to_int(h), hi)
    if arith == 2:  # beyond float32's integers: the carry must stay exact
        assert hi.abs().max() > 1 << 24
    assert torch.allclose(torch.cat(ys).double(), torch.stack(want_y), rtol=1e-5, atol=1e-3)


def test_int_layer_norm_within_one_step_of_float():
    g = torch.Generator().manual_seed(3)
    d, s_in, s_out = 64, 1e-3, 0.03
    x = torch.randint(-30000, 30001, (20, d), generator=g).double() * s_in
    x[0] = 0.0  # zero variance: eps keeps it finite
    w, b = torch.randn(d, generator=g) * 0.5 + 1, torch.randn(d, generator=g) * 0.3
    sim = int_layer_norm(x, s_in, w, b, s_out)
    ref = torch.nn.functional.layer_norm(x, (d,), w.double(), b.double(), 1e-5) / s_out
    k = (sim / s_out).round()
    assert torch.allclose(sim / s_out, k, rtol=0, atol=1e-9) and k.abs().max() <= 127  # q8 steps of s_out
    assert ((k - ref.round().clamp(-127, 127)).abs() <= 1).all()
    assert torch.equal(k[0], (b.double() / s_out).round().clamp(-127, 127))


def test_qat_with_kernels_trains_and_differs_from_sites_only():
    """The kernel simulation changes the forward values (it is not a no-op), stays close
    to the sites-only QAT, and every parameter gets a finite, non-zero gradient."""
    torch.manual_seed(4)
    m = BoaModel(ModelConfig(d_model=16, n_layers=2))
    x = torch.randint(0, 256, (2, 40))
    outs = {}
    for arith in (None, 2):
        m.set_quant(QuantConfig(int_arith=arith))
        m.zero_grad()
        m.train()
        logits = m(x[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 256), x[:, 1:].reshape(-1))
        loss.backward()
        outs[arith] = logits.detach()
        for n, p in m.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, (arith, n)
    assert not torch.equal(outs[None], outs[2])
    p_none, p_int = torch.softmax(outs[None], -1), torch.softmax(outs[2], -1)
    assert (p_none - p_int).abs().sum(-1).mean() < 0.1


def test_step_form_matches_parallel_form_under_kernels():
    """In float64 the step form and the parallel form run the same integer kernels on
    the same integer images, so they agree exactly (up to float64 GEMM order)."""
    torch.manual_seed(5)
    m = BoaModel(ModelConfig(d_model=16, n_layers=2)).double()
    m.set_quant(QuantConfig())
    x = torch.randint(0, 256, (2, 30))
    m.train()
    with torch.no_grad():
        m(x)  # calibrate
    m.eval()
    with torch.no_grad():
        par, (st_par, *_) = m(x, return_state=True)
        step, (st_step, *_) = m.step_sequence(x)
    assert torch.allclose(par, step, atol=1e-9)
    assert torch.equal(st_par[1], st_step[1])  # the scan state, exactly
