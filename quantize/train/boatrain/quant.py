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

Gradients pass straight through the rounding (STE).  Not simulated: the integer layer
norm, the fixed-point decay table and increment clamp of the scan, LUT interpolation
details, and int32 biases.  The observers are non-persistent buffers, so parameter
names and the saved float files are unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

LOGIT_SCALE = math.log(2.0) / 256.0  # engine logits are base-2 log-weights in 1/256 bit


@dataclass
class QuantConfig:
    """Fake-quant settings shared by all sites (``None`` instead of a config = float)."""

    enabled: bool = True
    weight_bits: int = 8     # per output channel, symmetric
    momentum: float = 0.99   # EMA of each activation site's absmax
    observe: bool = True     # update observers in training mode (eval mode never does)


def _round_half_up(x: torch.Tensor) -> torch.Tensor:
    return torch.floor(x + 0.5)


def fake_quant(x: torch.Tensor, scale: torch.Tensor, qmin: float, qmax: float) -> torch.Tensor:
    """clamp(round_half_up(x/scale), qmin, qmax) * scale, gradient straight through."""
    q = torch.clamp(_round_half_up(x / scale), qmin, qmax) * scale
    return x + (q - x).detach()


def fake_quant_weight(w: torch.Tensor, bits: int = 8) -> torch.Tensor:
    """Symmetric per-output-channel (dim 0) fake-quant of a weight tensor."""
    qmax = float(2 ** (bits - 1) - 1)
    amax = w.detach().abs().amax(dim=tuple(range(1, w.dim())), keepdim=True)
    scale = amax.clamp_min(1e-12) / qmax
    return fake_quant(w, scale, -qmax, qmax)


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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = self.quant
        if q is None or not q.enabled:
            return x
        if self.unsigned:
            qmin, qmax = 0.0, float(2 ** self.bits - 1)
        else:
            qmax = float(2 ** (self.bits - 1) - 1)
            qmin = -qmax
        if self.fixed_scale is not None:
            return fake_quant(x, torch.tensor(self.fixed_scale, device=x.device, dtype=x.dtype), qmin, qmax)
        if self.training and q.observe:
            with torch.no_grad():
                m = x.detach().abs().amax().to(self.absmax.dtype)
                ema = q.momentum * self.absmax + (1.0 - q.momentum) * m
                self.absmax.copy_(torch.where(self.seen, ema, m))
                self.seen.fill_(True)
        scale = self.absmax.clamp_min(1e-8).to(x.dtype) / qmax
        return fake_quant(x, scale, qmin, qmax)

    def extra_repr(self) -> str:
        kind = f"u{self.bits}" if self.unsigned else f"q{self.bits}"
        return kind if self.fixed_scale is None else f"{kind}, fixed scale {self.fixed_scale:.3g}"


class QLinear(nn.Linear):
    """nn.Linear whose weight is fake-quantised per output channel under a quant config.

    Output requantization sites belong to the caller (they differ per row group, e.g.
    in_proj's xs and z)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, quant: Optional[QuantConfig] = None):
        super().__init__(in_features, out_features, bias=bias)
        self.quant = quant

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = self.quant
        w = self.weight if q is None or not q.enabled else fake_quant_weight(self.weight, q.weight_bits)
        return F.linear(x, w, self.bias)


class QLayerNorm(nn.LayerNorm):
    """nn.LayerNorm (eps 1e-5, affine); its output is a q8 site (arith v1 §4)."""

    def __init__(self, d: int, quant: Optional[QuantConfig] = None):
        super().__init__(d)
        self.quant = quant
        self.out_q = ActQuant(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out_q(F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps))


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
