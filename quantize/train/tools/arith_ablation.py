"""Where does an integer model lose bits against its float model?  An ablation
over the parts of the integer arithmetic, run with the bit-exact simulation
(boatrain.intsim) on 4 KiB chunks, as the archive codes them.

Each variant replaces one part of the arithmetic of an integer model by an
exact (float) or alternative rule and measures bits/byte on the same chunks:

  engine      the model's own arithmetic, as the engine runs it
  vmin1       decay exponent clamped to v >= 1 (arith v2's first rule)
  vmin1+K     and increments K bits finer (inc_shift - K, clamp 2^(14+K); the y
              requantization shift + K): arith v2 with K = 8 is v2's second rule
  exact_decay decay 2^(-v_real/256) with the exponent unrounded, float state
  exact_inc   increments unrounded and unclamped, float state
  float_ln    float layer norm (same output rounding)
  exact_freq  exact softmax of the integer logits instead of §7's frequencies

Run it with the float checkpoint the integer model was quantized from, whose
bits/byte on the same chunks are the reference:

  PYTHONPATH=. python tools/arith_ablation.py INT.safetensors FLOAT.safetensors VARIANTS FILE...

VARIANTS is a comma list of the names above (e.g. engine,vmin1,vmin1+8,exact_decay).
Four 4 KiB chunks are taken from each file, evenly spaced.  Research tool: the
engine and intsim are the reference; this file only passes variants of
intsim's scan and layer norm to ``intsim.logits``.
"""

import math
import sys

import numpy as np
import torch

from boatrain import intsim as S
from boatrain.io import load_float
from boatrain.train import eval_segments

CHUNK, PER_FILE = 4096, 4


def float_layer_norm(m, p, x):
    """The layer norm in float (same output scale and rounding as §4)."""
    xd = x.double()
    c = xd - xd.mean(-1, keepdim=True)
    var16 = (c * c).mean(-1, keepdim=True) * 65536
    n = c * 2**20 / torch.sqrt(var16 + m[p + ".eps"].double())
    return S.q8(torch.floor((n * m[p + ".weight"] + m[p + ".bias"]) / 2 ** int(m[p + ".shift"]) + 0.5).long())


def scan_variant(variant):
    """A replacement for ``intsim.scan_y`` (same signature) implementing ``variant``."""
    finer = int(variant.split("+")[1]) if "+" in variant else 0
    float_state = variant in ("exact_decay", "exact_inc")

    def scan(m, st, i, xc, dt, bm, cm):
        mb = f"blocks.{i}.mamba"
        vmin = 1 if variant.startswith("vmin1") else m.min_v
        prod, ash = dt[:, :, None] * m[f"{mb}.A_rate"], int(m[f"{mb}.A_shift"])
        ish = int(m[f"{mb}.inc_shift"]) - finer
        if variant == "exact_decay":
            da = 65536.0 * torch.pow(2.0, -(prod.double() / 2**ash) / 256)
        else:
            v = (prod >> ash).clamp(vmin, S.DECAY_GAP_MAX)
            da = m["tables.decay_exp2"][v & 255] >> (v >> 8)
        raw = (dt * xc)[:, :, None] * bm[:, None, :]
        if variant == "exact_inc":
            inc = raw.double() / 2**ish
        else:
            inc = S.rshift_round(raw, ish).clamp(-(m.inc_max << finer), m.inc_max << finer)
        if float_state:
            h = da * st.h[i].double() / 65536 + inc
            yacc = torch.floor((h * cm[:, None, :]).sum(-1) + 0.5).long() + m[f"{mb}.D"] * xc
        else:
            h = S.rshift_round(da * st.h[i], 16) + inc
            yacc = (h * cm[:, None, :]).sum(-1) + (m[f"{mb}.D"] << finer) * xc
        st.h[i] = h
        ym, ys = m.rq(f"{mb}.y")
        return S.q8(S.requant(yacc, (ym, ys + finer)))

    return scan


def run(m, arr, variant):
    """Bits/byte per chunk of ``arr`` [B, CHUNK] under ``variant``."""
    scan = S.scan_y if variant in ("engine", "float_ln", "exact_freq") else scan_variant(variant)
    ln = float_layer_norm if variant == "float_ln" else S.IntModel.layer_norm
    B = arr.shape[0]
    st = S.IntState(m, B)
    prev = torch.zeros(B, dtype=torch.int64)
    bits = np.zeros(B)
    for t in range(arr.shape[1]):
        logits = S.logits(m, st, prev, scan=scan, layer_norm=ln)
        tgt = arr[:, t]
        if variant == "exact_freq":
            lp = torch.log_softmax(logits.double() * (math.log(2) / 256), -1)
            bits += (-lp[torch.arange(B), tgt] / math.log(2)).numpy()
        else:
            p = S.frequencies(m, logits)[torch.arange(B), tgt].double() / 2**S.PRECISION_BITS
            bits += (-torch.log2(p)).numpy()
        prev = tgt
    return bits / CHUNK


def main(argv):
    int_path, float_path, variants, files = argv[0], argv[1], argv[2].split(","), argv[3:]
    torch.set_num_threads(1)
    chunks = []
    for f in files:
        d = open(f, "rb").read()
        n = len(d) // CHUNK
        chunks += [d[(k * n // PER_FILE) * CHUNK:(k * n // PER_FILE + 1) * CHUNK] for k in range(PER_FILE)]
    arr = torch.tensor([list(c) for c in chunks], dtype=torch.int64)
    fm = load_float(float_path)
    fm.eval()
    ref = np.array([eval_segments(fm, np.frombuffer(c, dtype=np.uint8), CHUNK)[0] / CHUNK for c in chunks])
    print(f"{'float':12s} {ref.mean():.4f}")
    m = S.IntModel(int_path)
    for v in variants:
        b = run(m, arr, v)
        print(f"{v:12s} {b.mean():.4f}  {(b.mean() / ref.mean() - 1) * 100:+.2f} % vs float", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
