#!/usr/bin/env python3
"""Scan float32 tables for columns that are the sum, difference or copy of
two columns before them in the record (what codec 18's relation model
predicts; docs/MODELS.md, "Level 9: the relation model").

Usage: relation_scan.py TABLE.rm.bin COLUMNS.tsv [...pairs]
The columns file is the sample data's sidecar: either lines `index<TAB>name
<TAB>type` (types f4, i4, u4) or, for `.columns.txt`, one name per line
(all float32). Needs numpy. Reads the first MiB of each table.
"""
import sys

import numpy as np


def columns(path):
    lines = [l for l in open(path).read().split("\n") if l and not l.startswith("#")]
    if path.endswith(".txt"):
        return lines, ["f4"] * len(lines)
    return [l.split("\t")[1] for l in lines], [l.split("\t")[2] for l in lines]


def scan(table, sidecar, window=8):
    names, types = columns(sidecar)
    raw = open(table, "rb").read()[: 1 << 20]
    n = len(raw) // (4 * len(names))
    a = np.frombuffer(raw[: n * 4 * len(names)], dtype="<f4").reshape(n, len(names))
    bits = a.view("<u4").astype(np.int64)
    print(f"== {table}: {n} records of {len(names)} words")
    with np.errstate(all="ignore"):
        for k, name in enumerate(names):
            nonzero = (bits[:, k] & 0x7FFFFFFF) != 0
            if types[k] != "f4" or nonzero.mean() < 0.1:
                continue
            best = (0.0, "")
            for i in range(max(0, k - window), k):
                cands = [(f"copy {names[i]}", a[:, i])]
                for j in range(i, k):
                    cands.append((f"{names[i]} + {names[j]}", a[:, i] + a[:, j]))
                    if j != i:
                        cands.append((f"{names[i]} - {names[j]}", a[:, i] - a[:, j]))
                        cands.append((f"{names[j]} - {names[i]}", a[:, j] - a[:, i]))
                for label, p in cands:
                    hit = ((p.view("<u4").astype(np.int64) == bits[:, k]) & nonzero).mean()
                    if hit > best[0]:
                        best = (hit, label)
            if best[0] >= 0.1:
                print(f"  {name:<28} = {best[1]:<50} exact on {best[0]:.1%} of records")


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) < 2 or len(args) % 2:
        sys.exit(__doc__)
    for t, s in zip(args[::2], args[1::2]):
        scan(t, s)
