"""Offline probe: how much would a candidate model save if mixed into boa-det's table?

Reads an input file and the per-byte frequencies that
`boa-det model eval MODEL FILE --match-model [--record-size N] --dump-frequencies OUT`
wrote for it (two little-endian u32 per byte: the network's and the coded frequency of the
byte, out of 2^24). For each candidate it runs a small adaptive byte histogram per context,
reset at every chunk as the archive's streams are, mixes its probability of the actual byte
linearly into the coded one with one of 8 weights, the weight chosen per context by the
smallest decayed code length so far (as codec 7 chooses per column), and prints the total
code length in bytes. Float arithmetic: a study tool, not the engine. The column histograms
(codec 7) were found this way; `docs/MODELS.md` lists what each candidate gave.

Candidates (context of the histogram):
  column      (t mod stride), the column of a table of `--stride`-byte records
  field-above (line type, field number, position in the field, the byte at that position of
              the same field in the previous line of the same type); a line's type is its
              first byte, fields are separated by spaces

Usage: python tools/mix_probe.py FILE DUMP --chunk-size N [--stride S] [--candidates column,field-above]
"""

import argparse
import math

import numpy as np

WEIGHTS = np.array([0, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 3 / 8, 1 / 2, 3 / 4])


def column_contexts(data, chunk, stride):
    return [((t % chunk) % stride) for t in range(len(data))]


def field_above_contexts(data, chunk):
    """Context per byte: (line type, field, position, byte above in the same field)."""
    out = [None] * len(data)
    line_type = field = pos = 0
    starts_now, starts_prev = {}, {}
    for t, x in enumerate(data):
        if t % chunk == 0:
            line_type = field = pos = 0
            starts_now, starts_prev = {}, {}
        start = starts_prev.get((line_type, field))
        above = data[start + pos] if start is not None and start + pos < t else -1
        out[t] = (line_type, field, min(pos, 24), above)
        if x == 10:  # newline: this line's field starts become the previous ones
            starts_prev.update(starts_now)
            starts_now = {}
            line_type, field, pos = -1, 0, 0
        elif line_type == -1:
            line_type, pos = x, 1
        elif x == 32:
            field, pos = field + 1, 0
            starts_now[(line_type, field)] = t + 1
        else:
            pos += 1
    return out


def histogram_probabilities(data, contexts, chunk, entries=8, cap=255, alpha=0.05):
    """P(actual byte) from a per-context histogram of `entries` bytes (least counted
    evicted; counts halved before their total would pass `cap`), reset per chunk."""
    p = np.empty(len(data))
    for c0 in range(0, len(data), chunk):
        hists = {}
        for t in range(c0, min(len(data), c0 + chunk)):
            h = hists.setdefault(contexts[t], {})
            total = sum(h.values())
            x = data[t]
            p[t] = (h.get(x, 0) + alpha) / (total + 256 * alpha)
            if x in h:
                h[x] += 1
            elif len(h) < entries:
                h[x] = 1
            else:
                del h[min(h, key=h.get)]
                h[x] = 1
            if total + 1 >= cap:
                for s in list(h):
                    h[s] //= 2
                    if h[s] == 0:
                        del h[s]
    return p


def mixed_bytes(coded, cand, contexts, decay=0.98):
    loss, bits = {}, 0.0
    for t in range(len(coded)):
        lc = loss.get(contexts[t])
        if lc is None:
            lc = loss[contexts[t]] = np.zeros(len(WEIGHTS))
        w = WEIGHTS[lc.argmin()]
        bits -= math.log2((1 - w) * coded[t] + w * cand[t])
        lc *= decay
        lc -= np.log2((1 - WEIGHTS) * coded[t] + WEIGHTS * cand[t])
    return bits / 8


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file")
    ap.add_argument("dump")
    ap.add_argument("--chunk-size", type=int, required=True, help="as given to model eval")
    ap.add_argument("--stride", type=int, default=0, help="record length for `column`")
    ap.add_argument("--candidates", default="field-above")
    a = ap.parse_args()
    data = open(a.file, "rb").read()
    freqs = np.fromfile(a.dump, dtype="<u4").reshape(-1, 2)
    if len(freqs) != len(data):
        raise SystemExit(f"{a.dump} holds {len(freqs)} bytes' frequencies, {a.file} has {len(data)}")
    coded = freqs[:, 1] / 2.0**24
    print(f"coded: {-np.log2(coded).sum() / 8:.0f} bytes")
    for name in a.candidates.split(","):
        if name == "column":
            if a.stride < 1:
                raise SystemExit("column needs --stride")
            ctx = column_contexts(data, a.chunk_size, a.stride)
        elif name == "field-above":
            ctx = field_above_contexts(data, a.chunk_size)
        else:
            raise SystemExit(f"unknown candidate {name}")
        cand = histogram_probabilities(data, ctx, a.chunk_size)
        print(f"{name}: alone {-np.log2(cand).sum() / 8:.0f} bytes, "
              f"mixed {mixed_bytes(coded, cand, ctx):.0f} bytes")


if __name__ == "__main__":
    main()
