"""The float byte-level Mamba model (BOA Constrictor architecture, mamba_ssm names).

    embedding [256,d] -> N x Block -> head (Linear(d,d), ReLU, Linear(d,256)) -> next-byte logits
    Block:  x + FF(ln2(Mamba(ln1(x))))      (single residual, no final norm)
    FF:     Linear(d,4d), GELU (erf), Linear(4d,d)

Two forms share the same parameters:
  * ``BoaModel.forward(tokens[B,L], state=None)``: parallel form for training and
    chunked evaluation; takes and returns the recurrent state.
  * ``BoaModel.step(byte[B], state)``: one byte per call.

State per layer: ``(conv [B,E,K-1], h [B,E,N])``; conv holds the last K-1 inputs of
the causal conv (oldest first), h the SSM state.  Zero state = start of stream.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .intsim import rshift_round, scan_state
from .quant import (LOGIT_SCALE, Act, ActQuant, QEmbedding, QLayerNorm, QLinear, QuantConfig, ScanSim, _InputSite,
                    fake_quant_bias, fake_quant_weight, set_quant)

State = List[Tuple[torch.Tensor, torch.Tensor]]


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass(frozen=True)
class ModelConfig:
    d_model: int = 256
    n_layers: int = 1
    d_state: int = 16
    d_conv: int = 4
    expand: int = 2

    @property
    def d_inner(self) -> int:
        return self.expand * self.d_model

    @property
    def dt_rank(self) -> int:
        return math.ceil(self.d_model / 16)


# --------------------------------------------------------------------------- scan


def selective_scan_reference(dt, u, A, Bm, Cm, h0):
    """Plain autograd version of :class:`SelectiveScan` (slow; used by the tests).

    Time-major: dt, u [L,B,E]; A [E,N]; Bm, Cm [L,B,N]; h0 [B,E,N].
    h_t = exp(dt_t A) * h_{t-1} + (dt_t u_t) B_t ;  y_t = h_t . C_t
    Returns y [L,B,E] and h_L [B,E,N].
    """
    h = h0
    ys = []
    for t in range(dt.shape[0]):
        h = torch.exp(dt[t].unsqueeze(-1) * A) * h + (dt[t] * u[t]).unsqueeze(-1) * Bm[t].unsqueeze(1)
        ys.append((h * Cm[t].unsqueeze(1)).sum(-1))
    return torch.stack(ys), h


# Elements (T*B*E*N) per scan block: the block's decays and states stay in cache.
SCAN_BLOCK_ELEMS = 1 << 20


def _scan_block(dt, dtu, A, Bm, h):
    """Recurrence over one time block; returns (dA [T,B,E,N], hs [T,B,E,N])."""
    dA = (dt.unsqueeze(-1) * A).exp_()
    hs = dtu.unsqueeze(-1) * Bm.unsqueeze(2)  # b_t, overwritten in place by h_t
    for t in range(hs.shape[0]):
        hs[t].addcmul_(dA[t], h)
        h = hs[t]
    return dA, hs


def _scan_block_int(dt, u, Bm, h, sim: ScanSim):
    """:func:`_scan_block` in the engine's integer arithmetic (§6): the decays, the
    clamped increments and the state rounded at every step, in int64 on the integer
    images of the inputs; ``h`` is the integer state.  Returns the float values
    (dA [T,B,E,N], hs [T,B,E,N]) and the last integer state."""
    dtq, xq, bq = sim.integers(dt, u, Bm)
    da = sim.decay(dtq)
    hs = sim.increment(dtq, xq, bq)  # inc_t, overwritten in place by h_t
    for t in range(hs.shape[0]):
        hs[t] += rshift_round(da[t] * h, 16)
        h = hs[t]
    return da.to(dt.dtype) / 65536.0, hs.to(dt.dtype) * sim.s_h, h.clone()


def _block(dt, u, dtu, A, Bm, h, sim: Optional[ScanSim]):
    """One time block: (dA, hs, the state to carry) in float, or in integers with a sim."""
    if sim is None:
        dA, hs = _scan_block(dt, dtu, A, Bm, h)
        return dA, hs, hs[-1].clone()
    return _scan_block_int(dt, u, Bm, h, sim)


def _bmv(M, v):
    """[T,B,E,N] x [T,B,N] -> [T,B,E] (batched matrix-vector)."""
    T, B, E, N = M.shape
    return torch.bmm(M.reshape(T * B, E, N), v.reshape(T * B, N, 1)).view(T, B, E)


def _bmtv(M, v):
    """[T,B,E,N]^T x [T,B,E] -> [T,B,N]."""
    T, B, E, N = M.shape
    return torch.bmm(v.reshape(T * B, 1, E), M.reshape(T * B, E, N)).view(T, B, N)


class SelectiveScan(torch.autograd.Function):
    """Blocked selective scan with a hand-written backward.

    Time is cut into blocks of T steps (T*B*E*N about ``SCAN_BLOCK_ELEMS``).  Only the
    state at each block start is kept; the backward recomputes a block's decays and
    states (in cache) and runs the adjoint recurrence backwards.  The recurrence is one
    in-place ``addcmul`` per step.  No [L,B,E,N] tensor is ever allocated.  Same
    signature and result as :func:`selective_scan_reference`.

    With a :class:`ScanSim` the blocks run the integer scan (``_scan_block_int``),
    the states between blocks stay int64, the final state is returned in float64 (exact
    for any state of §9.3), and the backward runs the adjoint recurrence with the
    simulated decays and states (the rounding is passed straight through).
    """

    @staticmethod
    def forward(ctx, dt, u, A, Bm, Cm, h0, sim=None):
        L, B, E = dt.shape
        N = A.shape[1]
        T = max(1, min(L, SCAN_BLOCK_ELEMS // max(1, B * E * N)))
        dtu = dt * u
        y = torch.empty_like(u)
        starts = []
        h = h0 if sim is None else sim.state_to_int(h0)
        for s in range(0, L, T):
            e = min(s + T, L)
            starts.append(h)
            _, hs, h = _block(dt[s:e], u[s:e], dtu[s:e], A, Bm[s:e], h, sim)
            y[s:e] = _bmv(hs, Cm[s:e])
        if sim is not None:
            h = h.double() * sim.s_h
        ctx.T, ctx.sim = T, sim
        ctx.save_for_backward(dt, u, A, Bm, Cm, torch.stack(starts))
        return y, h

    @staticmethod
    def backward(ctx, g_y, g_hL):
        dt, u, A, Bm, Cm, starts = ctx.saved_tensors
        T = ctx.T
        L = dt.shape[0]
        if g_y is None:
            g_y = torch.zeros_like(u)
        g_y = g_y.contiguous()
        dtu = dt * u
        g_dt, g_u = torch.empty_like(dt), torch.empty_like(u)
        g_Bm, g_Cm = torch.empty_like(Bm), torch.empty_like(Cm)
        g_A = torch.zeros_like(A)
        carry = g_hL  # dLoss/dh at the end of the current block, from later steps
        for k in range((L - 1) // T, -1, -1):
            s, e = k * T, min(k * T + T, L)
            h_start = starts[k]
            dA, hs, _ = _block(dt[s:e], u[s:e], dtu[s:e], A, Bm[s:e], h_start, ctx.sim)
            if ctx.sim is not None:
                h_start = h_start.to(dt.dtype) * ctx.sim.s_h
            G = g_y[s:e].unsqueeze(-1) * Cm[s:e].unsqueeze(2)  # dLoss/dh_t, direct part
            if carry is not None:
                G[-1] += carry
            for t in range(e - s - 2, -1, -1):  # h_{t+1} = dA_{t+1} h_t + ...
                G[t].addcmul_(dA[t + 1], G[t + 1])
            g_Cm[s:e] = _bmtv(hs, g_y[s:e])
            g_dtu = _bmv(G, Bm[s:e])
            g_Bm[s:e] = _bmtv(G, dtu[s:e])
            carry = G[0] * dA[0]
            # dLoss/d(dt A)_t = G_t * h_{t-1} * dA_t
            X = torch.empty_like(G)
            torch.mul(G[1:], hs[:-1], out=X[1:])
            torch.mul(G[0], h_start, out=X[0])
            X.mul_(dA)
            g_A += (X * dt[s:e].unsqueeze(-1)).sum((0, 1))
            g_dt[s:e] = (X.mul_(A)).sum(-1) + g_dtu * u[s:e]
            g_u[s:e] = g_dtu * dt[s:e]
        return g_dt, g_u, g_A, g_Bm, g_Cm, carry, None


def selective_scan(dt, u, A, Bm, Cm, h0, sim: Optional[ScanSim] = None):
    """Blocked fused scan (see :class:`SelectiveScan`); inputs time-major, returns (y [L,B,E], h_L)."""
    return SelectiveScan.apply(dt, u, A, Bm, Cm, h0, sim)


# --------------------------------------------------------------------------- modules
# Comments "site" name the requantization points of docs/ARITHMETIC.md §3; they are
# identities unless a QuantConfig is set (see quant.py).


class CausalDepthwiseConv(nn.Conv1d, _InputSite):
    """Depthwise causal conv, weight [E,1,K], bias [E]: out[t] = b + sum_k w[k] x[t-(K-1)+k]."""

    def __init__(self, channels: int, kernel: int, quant: Optional[QuantConfig] = None):
        super().__init__(channels, channels, kernel, groups=channels, padding=kernel - 1, bias=True)
        self.quant = quant

    def _w(self) -> torch.Tensor:
        q = self.quant
        return self.weight if q is None or not q.enabled else fake_quant_weight(self.weight, q.weight_bits)

    def _b(self) -> torch.Tensor:
        q, site = self.quant, self.input_site()
        if q is None or site is None or not q.simulates_kernels():
            return self.bias
        return fake_quant_bias(self.bias, self.weight, site.scale().to(self.bias.dtype), q.weight_bits)

    def forward_seq(self, x: torch.Tensor, hist: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """x [B,E,L], hist [B,E,K-1] -> (out [B,E,L], new hist [B,E,K-1])."""
        K = self.kernel_size[0]
        xp = torch.cat([hist, x], dim=2)
        out = F.conv1d(xp, self._w(), self._b(), groups=self.groups)
        return out, xp[:, :, xp.shape[2] - (K - 1):]

    def forward_step(self, x: torch.Tensor, hist: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """x [B,E], hist [B,E,K-1] -> (out [B,E], new hist)."""
        win = torch.cat([hist, x.unsqueeze(2)], dim=2)
        out = (win * self._w()[:, 0, :]).sum(-1) + self._b()
        return out, win[:, :, 1:]


class Mamba(nn.Module):
    """Mamba (v1) mixer with mamba_ssm parameter names, shapes and initialisation."""

    def __init__(self, cfg: ModelConfig, quant: Optional[QuantConfig] = None, reference_scan: bool = False):
        super().__init__()
        d, E, N, K, R = cfg.d_model, cfg.d_inner, cfg.d_state, cfg.d_conv, cfg.dt_rank
        self.cfg = cfg
        self.reference_scan = reference_scan  # plain autograd scan (tests)
        self.in_proj = QLinear(d, 2 * E, bias=False, quant=quant)
        self.conv1d = CausalDepthwiseConv(E, K, quant=quant)
        self.conv_act = Act("silu", quant=quant)                       # in: conv out q8, out: xc q8
        self.x_proj = QLinear(E, R + 2 * N, bias=False, quant=quant)
        self.dt_proj = QLinear(R, E, bias=True, quant=quant)
        self.dt_act = Act("softplus", quant=quant, out_bits=16, unsigned=True)  # in: dt8 q8, out: dt u16
        self.A_log = nn.Parameter(torch.log(torch.arange(1, N + 1, dtype=torch.float32)).repeat(E, 1).contiguous())
        self.D = nn.Parameter(torch.ones(E))
        self.gate_act = Act("silu", quant=quant)                       # in: z q8
        self.out_proj = QLinear(E, d, bias=False, quant=quant)
        # requantization sites without a module of their own
        self.xs_q, self.dtlow_q, self.B_q, self.C_q = ActQuant(8), ActQuant(8), ActQuant(8), ActQuant(8)
        self.y_q, self.g_q, self.mo_q = ActQuant(8), ActQuant(8), ActQuant(16)
        # the scan increment's range (an observer only: it sets inc_shift, see ScanSim)
        self.inc_q = ActQuant(32)
        for m in (self.xs_q, self.dtlow_q, self.B_q, self.C_q, self.y_q, self.g_q, self.mo_q, self.inc_q):
            m.quant = quant
        self.quant = quant
        self.conv1d.bind_input(self.xs_q)
        self.dt_proj.bind_input(self.dtlow_q)
        # mamba_ssm dt_proj init: weight U(-R^-0.5, R^-0.5); softplus(bias) log-uniform in [1e-3, 1e-1]
        with torch.no_grad():
            std = R ** -0.5
            self.dt_proj.weight.uniform_(-std, std)
            dt = torch.exp(torch.rand(E) * (math.log(1e-1) - math.log(1e-3)) + math.log(1e-3)).clamp(min=1e-4)
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))

    def zero_state(self, batch: int, device=None, dtype=torch.float32) -> Tuple[torch.Tensor, torch.Tensor]:
        E, N, K = self.cfg.d_inner, self.cfg.d_state, self.cfg.d_conv
        return (torch.zeros(batch, E, K - 1, device=device, dtype=dtype),
                torch.zeros(batch, E, N, device=device, dtype=dtype))

    def _ssm_inputs(self, u: torch.Tensor):
        R, N = self.cfg.dt_rank, self.cfg.d_state
        dbl = self.x_proj(u)
        dt_low, Bm, Cm = torch.split(dbl, [R, N, N], dim=-1)
        dt = self.dt_act(self.dt_proj(self.dtlow_q(dt_low)))
        A = -torch.exp(self.A_log)
        return dt, A, self.B_q(Bm), self.C_q(Cm)

    def _scan_sim(self, dt: torch.Tensor, u: torch.Tensor, Bm: torch.Tensor) -> Optional[ScanSim]:
        """The integer scan's parameters when the config simulates the kernels, else None.
        Observes the increment's range first (max over e, n of |dt u B| per position)."""
        q = self.quant
        if q is None or not q.simulates_kernels():
            return None
        with torch.no_grad():
            self.inc_q.observe(((dt * u).abs().amax(-1) * Bm.abs().amax(-1)).amax())
        return ScanSim.build(q.int_arith, self.A_log, self.dt_act.out_q.scale().item(),
                             self.conv_act.out_q.scale().item(), self.B_q.scale().item(),
                             self.inc_q.absmax.item())

    def forward(self, x: torch.Tensor, state: Tuple[torch.Tensor, torch.Tensor]):
        """x [B,L,d] -> (y [B,L,d], new state)."""
        E = self.cfg.d_inner
        conv_s, h0 = state
        xz = self.in_proj(x)
        xi, z = self.xs_q(xz[..., :E]), xz[..., E:]
        xc, conv_s = self.conv1d.forward_seq(xi.transpose(1, 2), conv_s)
        u = self.conv_act(xc.transpose(1, 2))  # [B,L,E]
        dt, A, Bm, Cm = self._ssm_inputs(u)
        sim = self._scan_sim(dt, u, Bm)
        tm = lambda v: v.transpose(0, 1).contiguous()  # noqa: E731  (time-major for the scan)
        if self.reference_scan and sim is None:
            y, h = selective_scan_reference(tm(dt), tm(u), A, tm(Bm), tm(Cm), h0)
        else:
            y, h = selective_scan(tm(dt), tm(u), A, tm(Bm), tm(Cm), h0, sim)
        y = self.y_q(y.transpose(0, 1) + self.D * u)
        g = self.g_q(y * self.gate_act(z))
        return self.mo_q(self.out_proj(g)), (conv_s, h)

    def step(self, x: torch.Tensor, state: Tuple[torch.Tensor, torch.Tensor]):
        """x [B,d] -> (y [B,d], new state)."""
        E = self.cfg.d_inner
        conv_s, h = state
        xz = self.in_proj(x)
        xi, z = self.xs_q(xz[:, :E]), xz[:, E:]
        xc, conv_s = self.conv1d.forward_step(xi, conv_s)
        u = self.conv_act(xc)
        dt, A, Bm, Cm = self._ssm_inputs(u)
        sim = self._scan_sim(dt, u, Bm)
        if sim is None:
            h = torch.exp(dt.unsqueeze(-1) * A) * h + (dt * u).unsqueeze(-1) * Bm.unsqueeze(1)
        else:  # the integer step (no gradient through the rounding of this form: it is for evaluation)
            dtq, xq, bq = sim.integers(dt, u, Bm)
            hi = scan_state(sim.decay(dtq), sim.state_to_int(h), sim.increment(dtq, xq, bq))
            h = hi.double() * sim.s_h  # float64 holds every state of §9.3 exactly
        y = self.y_q((h.to(u.dtype) * Cm.unsqueeze(1)).sum(-1) + self.D * u)
        g = self.g_q(y * self.gate_act(z))
        return self.mo_q(self.out_proj(g)), (conv_s, h)


def _identity(x):
    return x


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig, quant: Optional[QuantConfig] = None, reference_scan: bool = False):
        super().__init__()
        d = cfg.d_model
        self.ln1 = QLayerNorm(d, quant=quant)
        self.mamba = Mamba(cfg, quant=quant, reference_scan=reference_scan)
        self.ln2 = QLayerNorm(d, quant=quant)
        self.ff = nn.Sequential(QLinear(d, 4 * d, quant=quant), Act("gelu", quant=quant), QLinear(4 * d, d, quant=quant))
        # the sites that produce each integer kernel's input (for the simulated kernels)
        self.ln2.bind_input(self.mamba.mo_q)
        self.ff[0].bind_input(self.ln2.out_q)
        self.ff[2].bind_input(self.ff[1].out_q)

    def forward(self, x, state, res_q=_identity):
        """res_q: the residual stream's q16 site (shared by all layers and the embedding)."""
        y, state = self.mamba(self.ln1(x), state)
        return res_q(x + res_q(self.ff(self.ln2(y)))), state

    def step(self, x, state, res_q=_identity):
        y, state = self.mamba.step(self.ln1(x), state)
        return res_q(x + res_q(self.ff(self.ln2(y)))), state


class BoaModel(nn.Module):
    """Byte-level Mamba next-byte predictor with BOA's tensor names."""

    def __init__(self, cfg: ModelConfig = ModelConfig(), quant: Optional[QuantConfig] = None,
                 reference_scan: bool = False):
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.embedding = QEmbedding(256, d, quant=quant)
        self.blocks = nn.ModuleList([Block(cfg, quant=quant, reference_scan=reference_scan)
                                     for _ in range(cfg.n_layers)])
        self.head = nn.Sequential(QLinear(d, d, quant=quant), Act("relu", quant=quant, out_bits=None), QLinear(d, 256, quant=quant))
        self.res_q = ActQuant(16)                                # residual stream and embeddings, q16
        self.head_in_q = ActQuant(8)                             # head.in requantization, q8
        self.logits_q = ActQuant(21, fixed_scale=LOGIT_SCALE)    # 1/256-bit grid, clamp +-2^20
        for blk in self.blocks:
            blk.ln1.bind_input(self.res_q)
        self.head[0].bind_input(self.head_in_q)
        self.head[2].bind_input(self.head[1].in_q)  # ReLU keeps its input's q8 grid
        set_quant(self, quant)

    def set_quant(self, quant: Optional[QuantConfig]) -> None:
        """Enable fake-quant (QAT) with a QuantConfig, or back to pure float with None."""
        set_quant(self, quant)

    def set_reference_scan(self, on: bool) -> None:
        for blk in self.blocks:
            blk.mamba.reference_scan = on

    def zero_state(self, batch: int) -> State:
        p = self.embedding.weight
        return [blk.mamba.zero_state(batch, device=p.device, dtype=p.dtype) for blk in self.blocks]

    def _head(self, h):
        return self.logits_q(self.head(self.head_in_q(h)))

    def forward(self, tokens: torch.Tensor, state: Optional[State] = None, return_state: bool = False):
        """tokens [B,L] (int) -> logits [B,L,256] predicting tokens[:, t+1]; optionally the final state."""
        if state is None:
            state = self.zero_state(tokens.shape[0])
        h = self.res_q(self.embedding(tokens))
        new_state = []
        for blk, st in zip(self.blocks, state):
            h, st = blk(h, st, self.res_q)
            new_state.append(st)
        logits = self._head(h)
        return (logits, new_state) if return_state else logits

    def step(self, byte: torch.Tensor, state: State):
        """byte [B] (int) -> (logits [B,256] for the next byte, new state)."""
        h = self.res_q(self.embedding(byte))
        new_state = []
        for blk, st in zip(self.blocks, state):
            h, st = blk.step(h, st, self.res_q)
            new_state.append(st)
        return self._head(h), new_state

    def step_sequence(self, tokens: torch.Tensor, state: Optional[State] = None):
        """tokens [B,L] stepped one byte at a time: (logits [B,L,256], final state), the
        step form's counterpart of ``forward(tokens, state, return_state=True)``."""
        if state is None:
            state = self.zero_state(tokens.shape[0])
        outs = []
        for t in range(tokens.shape[1]):
            o, state = self.step(tokens[:, t], state)
            outs.append(o)
        return torch.stack(outs, 1), state


def expected_shapes(cfg: ModelConfig) -> dict:
    """Tensor name -> shape, exactly BOA's state_dict (mamba_ssm Mamba)."""
    d, E, N, K, R = cfg.d_model, cfg.d_inner, cfg.d_state, cfg.d_conv, cfg.dt_rank
    s = {"embedding.weight": (256, d)}
    for i in range(cfg.n_layers):
        p = f"blocks.{i}."
        s.update({
            p + "ln1.weight": (d,), p + "ln1.bias": (d,),
            p + "mamba.in_proj.weight": (2 * E, d),
            p + "mamba.conv1d.weight": (E, 1, K), p + "mamba.conv1d.bias": (E,),
            p + "mamba.x_proj.weight": (R + 2 * N, E),
            p + "mamba.dt_proj.weight": (E, R), p + "mamba.dt_proj.bias": (E,),
            p + "mamba.A_log": (E, N), p + "mamba.D": (E,),
            p + "mamba.out_proj.weight": (d, E),
            p + "ln2.weight": (d,), p + "ln2.bias": (d,),
            p + "ff.0.weight": (4 * d, d), p + "ff.0.bias": (4 * d,),
            p + "ff.2.weight": (d, 4 * d), p + "ff.2.bias": (d,),
        })
    s.update({"head.0.weight": (d, d), "head.0.bias": (d,), "head.2.weight": (256, d), "head.2.bias": (256,)})
    return s
