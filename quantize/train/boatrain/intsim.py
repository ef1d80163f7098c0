"""A bit-exact PyTorch simulation of the integer engine (docs/ARITHMETIC.md, arith v1 and v2).

It loads an integer model file (``boa-det-int`` safetensors, docs/MODEL_FORMAT.md) and
steps a batch of streams with int64 tensors, following the spec line by line.  It is
slow (one Python iteration per byte) and exists to check the training side against the
engine: its frequencies are the engine's frequencies, so its bits/byte equal
``boa-det model eval`` up to the order of the final floating-point sum of ``-log2 p``.

Why int64 is exact here: every intermediate of arith v1 and v2 is proven to fit in 63 bits
(ARITHMETIC.md §9); ``>>`` on negative int64 tensors is an arithmetic shift (floor), as
§1.1 requires; divisions below are of non-negative values (truncation = floor) except
the layer-norm mean, which uses ``floor_divide``.
"""

from __future__ import annotations

import math
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
from safetensors.numpy import load_file
from safetensors import safe_open

N_STATE, K_CONV = 16, 4
DECAY_GAP_MAX = 4096
# Per arith version (§6): smallest decay exponent, largest |increment|.
SCAN_RULES = {1: (0, 1 << 14), 2: (1, 1 << 22)}
LOGIT_MAX, LOGIT_GAP_MAX = 1 << 20, 32 * 256 - 1
PRECISION_BITS = 24


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a.astype(np.int64))


def rshift_round(v: torch.Tensor, s) -> torch.Tensor:
    """floor((v + 2^(s-1)) / 2^s) for s >= 1, v for s == 0 (s an int or a tensor)."""
    if isinstance(s, int):
        return v if s == 0 else (v + (1 << (s - 1))) >> s
    half = torch.where(s > 0, torch.ones_like(s) << (s - 1).clamp(min=0), torch.zeros_like(s))
    return (v + half) >> s


def requant(acc: torch.Tensor, rq: Tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    return rshift_round(acc * rq[0], rq[1])


def q8(v: torch.Tensor) -> torch.Tensor:
    return v.clamp(-127, 127)


def q16(v: torch.Tensor) -> torch.Tensor:
    return v.clamp(-32767, 32767)


def isqrt(n: torch.Tensor) -> torch.Tensor:
    """floor(sqrt(n)) for 0 <= n < 2^62: a float64 estimate corrected to the exact root."""
    r = torch.sqrt(n.double()).floor().long()
    r = torch.where(r * r > n, r - 1, r)
    r = torch.where((r + 1) * (r + 1) <= n, r + 1, r)
    return r


class IntModel:
    """The tensors of an integer model file, as int64 tensors."""

    def __init__(self, path: str):
        with safe_open(path, "np") as f:
            meta = f.metadata() or {}
        if meta.get("format") != "boa-det-int" or meta.get("arith_version") not in ("1", "2"):
            raise ValueError(f"{path}: not a boa-det-int model of arith v1 or v2")
        self.arith = int(meta["arith_version"])
        self.min_v, self.inc_max = SCAN_RULES[self.arith]
        self.d, self.n_layers = int(meta["d_model"]), int(meta["n_layers"])
        self.t: Dict[str, torch.Tensor] = {k: _t(v) for k, v in load_file(path).items()}

    def __getitem__(self, k: str) -> torch.Tensor:
        return self.t[k]

    def rq(self, p: str):
        return self.t[p + ".mult"], self.t[p + ".shift"]

    def lin(self, p: str, a: torch.Tensor, bias: bool) -> torch.Tensor:
        acc = a @ self.t[p + ".weight"].T
        return acc + self.t[p + ".bias"] if bias else acc

    def layer_norm(self, p: str, x: torch.Tensor) -> torch.Tensor:
        return layer_norm(x, self.t[p + ".weight"], self.t[p + ".bias"], int(self.t[p + ".shift"]),
                          self.t[p + ".eps"])


# The integer kernels of §4 and §6, shared with quantization-aware training (quant.py),
# which runs them on the integer images of its fake-quantized tensors.

def layer_norm(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, shift: int, eps) -> torch.Tensor:
    """§4 over the last axis of the q16 tensor ``x``: the q8 output."""
    d = x.shape[-1]
    mean = torch.floor_divide(x.sum(-1, keepdim=True), d)
    c = x - mean
    var16 = ((c * c).sum(-1, keepdim=True) << 16) // d
    std8 = isqrt(var16 + eps)
    inv = (1 << 40) // std8
    n = rshift_round(c * inv, 20)
    return q8(rshift_round(n * gamma + beta, shift))


def scan_decay(dt: torch.Tensor, a_rate: torch.Tensor, a_shift: int, v_min: int, table: torch.Tensor) -> torch.Tensor:
    """§6 dA in Q16 for u16 ``dt [..., E]`` and ``a_rate [E, N]``: shape [..., E, N]."""
    v = ((dt.unsqueeze(-1) * a_rate) >> a_shift).clamp(v_min, DECAY_GAP_MAX)
    return table[v & 255] >> (v >> 8)


def scan_increment(dt: torch.Tensor, xc: torch.Tensor, bm: torch.Tensor, inc_shift: int, inc_max: int) -> torch.Tensor:
    """§6 inc for ``dt, xc [..., E]`` and ``B [..., N]``: shape [..., E, N]."""
    return rshift_round((dt * xc).unsqueeze(-1) * bm.unsqueeze(-2), inc_shift).clamp(-inc_max, inc_max)


def scan_state(da: torch.Tensor, h: torch.Tensor, inc: torch.Tensor) -> torch.Tensor:
    """§6 h' = rshift_round(dA * h, 16) + inc."""
    return rshift_round(da * h, 16) + inc


def lut(table: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return table[v + 128]


def frequencies(m: IntModel, logits: torch.Tensor) -> torch.Tensor:
    """§7 for a batch [B, 256] of logits."""
    mx = logits.max(-1, keepdim=True).values
    gap = (mx - logits).clamp(max=LOGIT_GAP_MAX)
    w = m["tables.exp2"][gap & 255] >> (gap >> 8)
    total = w.sum(-1, keepdim=True)
    scale = ((((1 << PRECISION_BITS) - 256)) << 32) // total
    f = 1 + ((w * scale) >> 32)
    rem = (1 << PRECISION_BITS) - f.sum(-1)
    first = (logits == mx).int().argmax(-1)  # the first index holding the maximum
    f[torch.arange(f.shape[0]), first] += rem
    return f


class IntState:
    def __init__(self, m: IntModel, batch: int):
        e = 2 * m.d
        self.conv = [torch.zeros(batch, K_CONV - 1, e, dtype=torch.int64) for _ in range(m.n_layers)]
        self.h = [torch.zeros(batch, e, N_STATE, dtype=torch.int64) for _ in range(m.n_layers)]


def scan_y(m: IntModel, st: IntState, i: int, xc, dt, bm, cm) -> torch.Tensor:
    """§6 for layer ``i`` (updates ``st.h[i]``), then the y requantization: q8 [B, E]."""
    mb = f"blocks.{i}.mamba"
    da = scan_decay(dt, m[f"{mb}.A_rate"], int(m[f"{mb}.A_shift"]), m.min_v, m["tables.decay_exp2"])  # [B, E, N]
    inc = scan_increment(dt, xc, bm, int(m[f"{mb}.inc_shift"]), m.inc_max)
    h = scan_state(da, st.h[i], inc)
    st.h[i] = h
    yacc = (h * cm[:, None, :]).sum(-1) + m[f"{mb}.D"] * xc
    return q8(requant(yacc, m.rq(f"{mb}.y")))


def logits(m: IntModel, st: IntState, byte: torch.Tensor, scan=scan_y, layer_norm=IntModel.layer_norm):
    """One step of every stream (bytes [B]); returns the logits [B, 256] (§3).

    ``scan`` and ``layer_norm`` are the spec's by default; research tools
    (``tools/arith_ablation.py``) pass variants with the same signatures."""
    d, e = m.d, 2 * m.d
    r = math.ceil(d / 16)
    x = m["embedding.weight"][byte]
    for i in range(m.n_layers):
        b, mb = f"blocks.{i}", f"blocks.{i}.mamba"
        u = layer_norm(m, f"{b}.ln1", x)
        xz = q8(requant(m.lin(f"{mb}.in_proj", u, False), m.rq(f"{mb}.in_proj")))
        xs, z = xz[:, :e], xz[:, e:]
        w = m[f"{mb}.conv1d.weight"].reshape(e, K_CONV)
        win = st.conv[i]
        acc = m[f"{mb}.conv1d.bias"] + (win * w[:, :K_CONV - 1].T).sum(1) + w[:, K_CONV - 1] * xs
        xc = lut(m[f"{mb}.conv1d.silu_lut"], q8(requant(acc, m.rq(f"{mb}.conv1d"))))
        st.conv[i] = torch.cat([win[:, 1:], xs[:, None]], 1)
        xdbl = q8(requant(m.lin(f"{mb}.x_proj", xc, False), m.rq(f"{mb}.x_proj")))
        dtl, bm, cm = xdbl[:, :r], xdbl[:, r:r + N_STATE], xdbl[:, r + N_STATE:]
        dt8 = q8(requant(m.lin(f"{mb}.dt_proj", dtl, True), m.rq(f"{mb}.dt_proj")))
        dt = lut(m[f"{mb}.dt_proj.softplus_lut"], dt8)                      # [B, E]
        y = scan(m, st, i, xc, dt, bm, cm)
        g = q8(requant(y * lut(m[f"{mb}.gate.silu_lut"], z), m.rq(f"{mb}.gate")))
        mo = q16(requant(m.lin(f"{mb}.out_proj", g, False), m.rq(f"{mb}.out_proj")))
        u2 = layer_norm(m, f"{b}.ln2", mo)
        f = lut(m[f"{b}.ff.gelu_lut"], q8(requant(m.lin(f"{b}.ff.0", u2, True), m.rq(f"{b}.ff.0"))))
        fo = q16(requant(m.lin(f"{b}.ff.2", f, True), m.rq(f"{b}.ff.2")))
        x = q16(x + fo)
    hi = q8(requant(x, m.rq("head.in")))
    h1 = q8(requant(m.lin("head.0", hi, True), m.rq("head.0"))).clamp(min=0)
    return requant(m.lin("head.2", h1, True), m.rq("head.2")).clamp(-LOGIT_MAX, LOGIT_MAX)


def step(m: IntModel, st: IntState, byte: torch.Tensor) -> torch.Tensor:
    """One step of every stream (bytes [B]); returns the frequencies [B, 256] (§3)."""
    return frequencies(m, logits(m, st, byte))


def code_length(model_path: str, data: bytes, chunk: int) -> Tuple[float, int]:
    """Bits and bytes of ``data`` coded as the archive codes it: chunks of ``chunk``
    bytes, each a fresh stream primed with byte 0 (all chunks of a length in one batch)."""
    m = IntModel(model_path)
    chunks = [data[i:i + chunk] for i in range(0, len(data), chunk)]
    bits = 0.0
    for group in _by_length(chunks):
        st = IntState(m, len(group))
        arr = torch.tensor([list(c) for c in group], dtype=torch.int64)
        prev = torch.zeros(len(group), dtype=torch.int64)
        for t in range(arr.shape[1]):
            f = step(m, st, prev)
            p = f[torch.arange(len(group)), arr[:, t]]
            bits += float(-(torch.log2(p.double()) - PRECISION_BITS).sum())
            prev = arr[:, t]
    return bits, len(data)


def _by_length(chunks: Sequence[bytes]) -> List[List[bytes]]:
    groups: Dict[int, List[bytes]] = {}
    for c in chunks:
        groups.setdefault(len(c), []).append(c)
    return list(groups.values())
