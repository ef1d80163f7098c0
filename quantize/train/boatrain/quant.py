"""Quantization-aware training (QAT) hooks: fake-quant with straight-through gradients.

Every Linear, LayerNorm, Embedding, conv and nonlinearity of the model is built from
the classes here, and every place where the integer engine (docs/ARITHMETIC.md,
arith v1) rounds an activation has an :class:`ActQuant` site.  Each of these modules
has a ``quant`` attribute: ``None`` (the default) means plain float PyTorch.  With
``model.set_quant(QuantConfig())`` the model simulates arith v1's main rounding:

* weights of every dot product and of the conv: q8 in [-127, 127], symmetric, one
  scale per output channel (the spec's per-row requantization);
* activations at each requantization site: q8 [-127, 127] (q16 [-32767, 32767] for
  the residual stream, the out_proj output and the embeddings; unsigned 16 bits for
  softplus's dt), one scale per site from an EMA of the absolute maximum;
* rounding half up (``floor(v + 1/2)``), as the spec's only rounding rule;
* logits on the engine's grid of 1/256 bit.

With ``QuantConfig.int_arith`` set (the default, arith v2), the integer kernels run in
the forward pass too, on the integer images of the fake-quantized tensors, with the
integer parameters derived from the float ones by the quantizer's rules
(``quantize/src/quant.rs``):

* the layer norm of §4 (integer mean, Q16 variance, ``isqrt``, Q12 normalised value,
  int16 gamma and int32 beta with the quantizer's shift), by :func:`int_layer_norm`;
* the scan of §6 (u16 dt times the u16 decay rate, the decay table of Q16 factors, the
  rounded and clamped increment with the quantizer's ``inc_shift``, the state rounded
  at every step in int64), by :class:`ScanSim` and ``model._scan_block_int``;
* the int32 biases, rounded to their accumulator units (weight scale times input scale).

The integer kernels are :mod:`boatrain.intsim`'s, which are tested bit-exact against
the engine.  Gradients pass straight through all rounding (STE): the layer norm's
gradient is the float layer norm's, the scan's backward runs the adjoint recurrence
with the simulated decays and states.  The scales are the observers' (EMA absmax), so
the simulated integer model is the quantizer's up to its calibration (quantiles, the
1.05 margin of the q16 sites, the ``inc_shift`` search).  Not simulated: the frequency
step of §7 (its rounding is below 2^-24 per symbol; the loss uses the logits on the
1/256-bit grid) and ``D``'s int32 rounding.  The observers are non-persistent buffers,
so parameter names and the saved float files are unchanged.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import intsim

LOGIT_SCALE = math.log(2.0) / 256.0  # engine logits are base-2 log-weights in 1/256 bit
NAT_TO_LOG2_256 = math.log2(math.e) * 256.0  # natural-log units to 1/256 bit (quant.rs)


@dataclass
class QuantConfig:
    """Fake-quant settings shared by all sites (``None`` instead of a config = float)."""

    enabled: bool = True
    weight_bits: int = 8     # per output channel, symmetric
    momentum: float = 0.99   # EMA of each activation site's absmax
    observe: bool = True     # update observers in training mode (eval mode never does)
    # Arith version whose integer layer norm, scan and biases run in the forward pass;
    # None = fake-quant sites only (the QAT of sessions before the fourteenth).
    int_arith: Optional[int] = 2

    def simulates_kernels(self) -> bool:
        return self.enabled and self.int_arith is not None


def _round_half_up(x: torch.Tensor) -> torch.Tensor:
    return torch.floor(x + 0.5)


def _round_away(x: torch.Tensor) -> torch.Tensor:
    """Rust's ``f64::round`` (half away from zero), used by the quantizer."""
    return torch.sign(x) * torch.floor(x.abs() + 0.5)


def fake_quant(x: torch.Tensor, scale: torch.Tensor, qmin: float, qmax: float) -> torch.Tensor:
    """clamp(round_half_up(x/scale), qmin, qmax) * scale, gradient straight through."""
    q = torch.clamp(_round_half_up(x / scale), qmin, qmax) * scale
    return x + (q - x).detach()


def weight_scale(w: torch.Tensor, bits: int = 8) -> torch.Tensor:
    """Per-output-channel (dim 0) scale of a symmetric q8 weight, shaped to broadcast."""
    qmax = float(2 ** (bits - 1) - 1)
    amax = w.detach().abs().amax(dim=tuple(range(1, w.dim())), keepdim=True)
    return amax.clamp_min(1e-12) / qmax


def fake_quant_weight(w: torch.Tensor, bits: int = 8) -> torch.Tensor:
    """Symmetric per-output-channel (dim 0) fake-quant of a weight tensor."""
    qmax = float(2 ** (bits - 1) - 1)
    return fake_quant(w, weight_scale(w, bits), -qmax, qmax)


def fake_quant_bias(b: torch.Tensor, w: torch.Tensor, s_in: torch.Tensor, bits: int = 8) -> torch.Tensor:
    """The int32 bias of a layer with weight ``w`` (per-row q8) and input scale ``s_in``:
    rounded to the accumulator unit ``weight scale * s_in`` (the quantizer rounds half
    away from zero; the difference is a tie at a value of order 1e-9 of the output)."""
    s = weight_scale(w, bits).reshape(-1) * s_in
    return b + (_round_away(b / s) * s - b).detach()


class _InputSite:
    """A reference to the requantization site that produces a module's input, kept
    outside the module tree (so it is neither a submodule nor in the state_dict)."""

    def bind_input(self, site: "ActQuant") -> None:
        object.__setattr__(self, "_in_site", site)

    def input_site(self) -> Optional["ActQuant"]:
        return getattr(self, "_in_site", None)


class ActQuant(nn.Module):
    """One activation requantization site: per-tensor scale from an EMA absmax observer.

    ``bits`` signed (symmetric, -2^(b-1) excluded) or ``unsigned``; ``fixed_scale``
    skips the observer (used for the logits).
    """

    def __init__(self, bits: int = 8, unsigned: bool = False, fixed_scale: Optional[float] = None):
        super().__init__()
        self.bits, self.unsigned, self.fixed_scale = bits, unsigned, fixed_scale
        self.quant: Optional[QuantConfig] = None
        self.register_buffer("absmax", torch.zeros(()), persistent=False)
        self.register_buffer("seen", torch.zeros((), dtype=torch.bool), persistent=False)

    def bounds(self) -> Tuple[float, float]:
        """The integer range (qmin, qmax) of the site."""
        if self.unsigned:
            return 0.0, float(2 ** self.bits - 1)
        qmax = float(2 ** (self.bits - 1) - 1)
        return -qmax, qmax

    def scale(self) -> torch.Tensor:
        """The current scale: one integer unit of the site, as a 0-d float32 tensor."""
        if self.fixed_scale is not None:
            return torch.tensor(self.fixed_scale, device=self.absmax.device)
        return self.absmax.clamp_min(1e-8) / self.bounds()[1]

    def observe(self, amax: torch.Tensor) -> None:
        """Feeds one batch's |value| maximum to the EMA (training mode only)."""
        q = self.quant
        if q is None or not q.enabled or not (self.training and q.observe):
            return
        with torch.no_grad():
            m = amax.detach().to(self.absmax.dtype)
            ema = q.momentum * self.absmax + (1.0 - q.momentum) * m
            self.absmax.copy_(torch.where(self.seen, ema, m))
            self.seen.fill_(True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = self.quant
        if q is None or not q.enabled:
            return x
        qmin, qmax = self.bounds()
        if self.fixed_scale is None:
            self.observe(x.detach().abs().amax())
        return fake_quant(x, self.scale().to(x.dtype), qmin, qmax)

    def extra_repr(self) -> str:
        kind = f"u{self.bits}" if self.unsigned else f"q{self.bits}"
        return kind if self.fixed_scale is None else f"{kind}, fixed scale {self.fixed_scale:.3g}"


class QLinear(nn.Linear, _InputSite):
    """nn.Linear whose weight is fake-quantised per output channel under a quant config.

    Output requantization sites belong to the caller (they differ per row group, e.g.
    in_proj's xs and z).  With a bound input site (:meth:`bind_input`) the bias is
    rounded to its int32 accumulator units when the config simulates the kernels."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, quant: Optional[QuantConfig] = None):
        super().__init__(in_features, out_features, bias=bias)
        self.quant = quant

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = self.quant
        if q is None or not q.enabled:
            return F.linear(x, self.weight, self.bias)
        b, site = self.bias, self.input_site()
        if b is not None and site is not None and q.simulates_kernels():
            b = fake_quant_bias(b, self.weight, site.scale().to(b.dtype), q.weight_bits)
        return F.linear(x, fake_quant_weight(self.weight, q.weight_bits), b)


class QLayerNorm(nn.LayerNorm, _InputSite):
    """nn.LayerNorm (eps 1e-5, affine); its output is a q8 site (§4).

    When the config simulates the kernels and the input's q16 site is bound, the
    forward value is the integer layer norm's (:func:`int_layer_norm`) and the gradient
    the float layer norm's."""

    def __init__(self, d: int, quant: Optional[QuantConfig] = None):
        super().__init__(d)
        self.quant = quant
        self.out_q = ActQuant(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.out_q(F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps))
        q, site = self.quant, self.input_site()
        if q is None or site is None or not q.simulates_kernels():
            return y
        sim = int_layer_norm(x.detach(), site.scale().item(), self.weight.detach(), self.bias.detach(),
                             self.out_q.scale().item())
        return y + (sim.to(y.dtype) - y).detach()


def layer_norm_params(w: torch.Tensor, b: torch.Tensor, s_in: float, s_out: float):
    """The quantizer's integer layer norm parameters (quant.rs ``layer_norm``):
    ``(gamma int16, beta int32, shift, eps)`` for float weight and bias, input scale
    ``s_in`` (q16) and output scale ``s_out`` (q8)."""
    w64, b64 = w.double(), b.double()
    wmax, bmax = float(w.abs().max()), float(b.abs().max())
    shift = 62
    while shift > 13:
        if wmax / s_out * 2.0 ** (shift - 12) <= 32000.0 and bmax / s_out * 2.0 ** shift <= 2.0e9:
            break
        shift -= 1
    gamma = _round_away(w64 / s_out * 2.0 ** (shift - 12)).clamp(-32767, 32767).long()
    beta = _round_away(b64 / s_out * 2.0 ** shift).long()
    eps = int(min(max(math.floor(1e-5 / (s_in * s_in) * 65536.0 + 0.5), 1), 2 ** 60))
    return gamma, beta, shift, eps


def int_layer_norm(x: torch.Tensor, s_in: float, w: torch.Tensor, b: torch.Tensor, s_out: float) -> torch.Tensor:
    """§4 on ``x`` (values on the q16 grid of scale ``s_in``), with the parameters the
    quantizer derives from ``w, b``; returns the q8 output times ``s_out`` (float64)."""
    xi = torch.round(x.double() / s_in).long().clamp(-32767, 32767)
    gamma, beta, shift, eps = layer_norm_params(w, b, s_in, s_out)
    return intsim.layer_norm(xi, gamma, beta, shift, eps).double() * s_out


@functools.lru_cache(maxsize=None)
def decay_table() -> torch.Tensor:
    """The default ``decay_exp2`` table (``model::synth::default_decay_table``), in
    Python integers: 2^(-f/256) by the same fixed-point series as ``default_exp2_table``.
    Computed once (cached); callers must not modify it."""
    ln2_q62, one = 3_196_577_161_300_663_808, 1 << 62
    out = []
    for f in range(256):
        x = ln2_q62 * f // 256
        term = acc = one
        for k in range(1, 40):
            t = -((term * x) >> 62)
            term = t // k if t >= 0 else -((-t) // k)  # Rust's i128 division truncates
            acc += term
        e = (acc + (1 << 30)) >> 31
        out.append(min((e + (1 << 14)) >> 15, 65535))
    return torch.tensor(out, dtype=torch.int64)


@dataclass
class ScanSim:
    """One layer's integer scan parameters (§6), derived from the float ones by the
    quantizer's rules, and the maps between float tensors and their integer images."""

    s_dt: float     # u16 dt
    s_xc: float     # q8 conv output
    s_b: float      # q8 B
    s_h: float      # the state: s_dt * s_xc * s_b * 2^inc_shift
    a_rate: torch.Tensor  # int64 [E, N]
    a_shift: int
    inc_shift: int
    v_min: int
    inc_max: int
    table: torch.Tensor   # int64 [256], decay_exp2

    @staticmethod
    def build(arith: int, a_log: torch.Tensor, s_dt: float, s_xc: float, s_b: float, inc_amax: float) -> "ScanSim":
        v_min, inc_max = intsim.SCAN_RULES[arith]
        rates = torch.exp(a_log.detach().double()) * s_dt * NAT_TO_LOG2_256  # quant.rs's order
        rmax = max(float(rates.max()), 1e-30)
        a_shift = min(max(math.floor(math.log2(65535.0 / rmax)), 0), 32)
        a_rate = _round_away(rates * 2.0 ** a_shift).clamp(0, 65535).long()
        base = s_dt * s_b * s_xc
        inc_shift = 0
        while inc_shift < 40 and inc_amax / (base * 2.0 ** inc_shift) > inc_max:
            inc_shift += 1
        return ScanSim(s_dt, s_xc, s_b, base * 2.0 ** inc_shift, a_rate, a_shift, inc_shift, v_min, inc_max,
                       decay_table().to(a_log.device))

    def integers(self, dt: torch.Tensor, u: torch.Tensor, bm: torch.Tensor):
        """The integer images (int64) of dt (u16), the conv output (q8) and B (q8)."""
        return (torch.round(dt / self.s_dt).long().clamp(0, 65535),
                torch.round(u / self.s_xc).long().clamp(-127, 127),
                torch.round(bm / self.s_b).long().clamp(-127, 127))

    def decay(self, dtq: torch.Tensor) -> torch.Tensor:
        return intsim.scan_decay(dtq, self.a_rate, self.a_shift, self.v_min, self.table)

    def increment(self, dtq: torch.Tensor, xq: torch.Tensor, bq: torch.Tensor) -> torch.Tensor:
        return intsim.scan_increment(dtq, xq, bq, self.inc_shift, self.inc_max)

    def state_to_int(self, h: torch.Tensor) -> torch.Tensor:
        return torch.round(h.double() / self.s_h).long()


class QEmbedding(nn.Embedding):
    """nn.Embedding; the table is q16 on the residual-stream scale (quantised by the caller)."""

    def __init__(self, n: int, d: int, quant: Optional[QuantConfig] = None):
        super().__init__(n, d)
        self.quant = quant

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return F.embedding(idx, self.weight)


_ACTS = {
    "gelu": lambda x: F.gelu(x),  # exact (erf) GELU
    "relu": F.relu,
    "silu": F.silu,
    "softplus": F.softplus,
}


class Act(nn.Module):
    """A named elementwise nonlinearity (a 256-entry table in the engine) with q8 input
    and output sites."""

    def __init__(self, kind: str, quant: Optional[QuantConfig] = None, out_bits: Optional[int] = 8,
                 unsigned: bool = False):
        super().__init__()
        if kind not in _ACTS:
            raise ValueError(f"unknown activation {kind!r}")
        self.kind = kind
        self.fn = _ACTS[kind]
        self.quant = quant
        self.in_q = ActQuant(8)  # the table index: a q8 requantization site
        # the table's output grid (None: output stays on the input grid, as for ReLU)
        self.out_q = ActQuant(out_bits, unsigned=unsigned) if out_bits else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fn(self.in_q(x))
        return y if self.out_q is None else self.out_q(y)

    def extra_repr(self) -> str:
        return self.kind


def set_quant(module: nn.Module, quant: Optional[QuantConfig]) -> None:
    """Set (or clear, with None) the quant config on every hookable submodule."""
    for m in module.modules():
        if hasattr(m, "quant"):
            m.quant = quant
