"""Hook for quantization-aware training (QAT).

Every Linear, LayerNorm, Embedding and nonlinearity of the model is built from the
classes in this module.  Each carries a ``quant`` attribute (a :class:`QuantConfig`
or ``None``).  With ``quant=None`` (the default) they are exactly the float PyTorch
operations.  A later QAT pass sets ``model.set_quant(QuantConfig(...))`` and fills
in :meth:`QuantConfig.weight` / :meth:`QuantConfig.act` with fake-quantisation that
follows the integer arithmetic spec (docs/ARITHMETIC.md).  Parameter names are those
of the plain torch modules, so checkpoints are unaffected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class QuantConfig:
    """Fake-quant settings. The float model uses ``None`` instead of a config.

    This is the hook only: with ``enabled=False`` (or no config at all) every
    method is the identity.  QAT fills the bodies in later.
    """

    enabled: bool = False
    weight_bits: int = 8   # per output channel, symmetric
    act_bits: int = 8      # per tensor

    def weight(self, w: torch.Tensor, name: str = "") -> torch.Tensor:
        """Fake-quantise a weight tensor (identity unless QAT is implemented/enabled)."""
        return w

    def act(self, x: torch.Tensor, name: str = "") -> torch.Tensor:
        """Fake-quantise an activation tensor (identity unless QAT is implemented/enabled)."""
        return x


class QLinear(nn.Linear):
    """nn.Linear with an optional fake-quant hook on weight, input and output."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, quant: Optional[QuantConfig] = None):
        super().__init__(in_features, out_features, bias=bias)
        self.quant = quant

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = self.quant
        if q is None:
            return F.linear(x, self.weight, self.bias)
        return q.act(F.linear(q.act(x, "in"), q.weight(self.weight, "weight"), self.bias), "out")


class QLayerNorm(nn.LayerNorm):
    """nn.LayerNorm (eps 1e-5, affine) with an optional fake-quant hook on its output."""

    def __init__(self, d: int, quant: Optional[QuantConfig] = None):
        super().__init__(d)
        self.quant = quant

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return y if self.quant is None else self.quant.act(y, "out")


class QEmbedding(nn.Embedding):
    """nn.Embedding with an optional fake-quant hook on the table."""

    def __init__(self, n: int, d: int, quant: Optional[QuantConfig] = None):
        super().__init__(n, d)
        self.quant = quant

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        w = self.weight if self.quant is None else self.quant.weight(self.weight, "weight")
        return F.embedding(idx, w)


_ACTS = {
    "gelu": lambda x: F.gelu(x),  # exact (erf) GELU
    "relu": F.relu,
    "silu": F.silu,
    "softplus": F.softplus,
}


class Act(nn.Module):
    """A named elementwise nonlinearity with an optional fake-quant hook on its output."""

    def __init__(self, kind: str, quant: Optional[QuantConfig] = None):
        super().__init__()
        if kind not in _ACTS:
            raise ValueError(f"unknown activation {kind!r}")
        self.kind = kind
        self.fn = _ACTS[kind]
        self.quant = quant

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fn(x)
        return y if self.quant is None else self.quant.act(y, self.kind)

    def extra_repr(self) -> str:
        return self.kind


def set_quant(module: nn.Module, quant: Optional[QuantConfig]) -> None:
    """Set (or clear, with None) the quant config on every hookable submodule."""
    for m in module.modules():
        if hasattr(m, "quant"):
            m.quant = quant

