#!/usr/bin/env python3
"""The Pareto chart of the levels: bits per byte against CPU cycles per byte.

    python3 docs/pareto/pareto.py docs/pareto/levels.json docs/pareto/levels.svg --ghz 2.1

reads the rows of `boa-det bench --format json` (several files, several
codecs), sums every codec over all files (compressed bytes, CPU seconds of
compression and of decompression) and draws one point per codec and
direction: bits per byte of all files together against CPU cycles per input
byte, CPU seconds times the clock `--ghz` (the bench measures CPU time; a
cycle counter is not readable on every machine). The x axis is logarithmic.
The line joins the compression points no other codec beats on both axes.

Standard library only, so that CI can check that the committed chart is what
this script makes of the committed data.
"""

import argparse
import json
import math
import sys
from collections import OrderedDict

COLOURS = {"boa": "#0072B2", "other": "#D55E00"}


def totals(rows):
    """Per codec: original and compressed bytes, compression and
    decompression CPU seconds, over every file it succeeded on."""
    out = OrderedDict()
    for r in rows:
        if r.get("error"):
            continue
        t = out.setdefault(r["codec"], {"orig": 0, "comp": 0, "c_cpu": 0.0, "d_cpu": 0.0})
        t["orig"] += r["original_bytes"]
        t["comp"] += r["compressed_bytes"]
        t["c_cpu"] += (r["compress_cpu_s_per_gb"] or 0.0) * r["original_bytes"] / 1e9
        t["d_cpu"] += (r["decompress_cpu_s_per_gb"] or 0.0) * r["original_bytes"] / 1e9
    return out


def frontier(points):
    """The points (x, y, name) that no other point beats on both axes,
    sorted by x."""
    best = []
    for p in sorted(points):
        if not best or p[1] < best[-1][1]:
            best.append(p)
    return best


def svg(codecs, ghz, title):
    w, h = 760, 480
    left, right, top, bottom = 70, 150, 50, 60
    pts = []
    for name, t in codecs.items():
        bpb = 8.0 * t["comp"] / t["orig"]
        for kind, cpu in (("compress", t["c_cpu"]), ("decompress", t["d_cpu"])):
            if cpu > 0:
                pts.append((cpu * ghz * 1e9 / t["orig"], bpb, name, kind))
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    x0 = 10 ** math.floor(math.log10(min(xs)))
    x1 = 10 ** math.ceil(math.log10(max(xs)))
    y0 = math.floor(min(ys) * 4) / 4 - 0.25
    y1 = math.ceil(max(ys) * 4) / 4 + 0.25

    def px(x):
        return left + (w - left - right) * (math.log10(x) - math.log10(x0)) / (math.log10(x1) - math.log10(x0))

    def py(y):
        return top + (h - top - bottom) * (y1 - y) / (y1 - y0)

    o = []
    o.append(f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             f'viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">')
    o.append('<rect width="100%" height="100%" fill="white"/>')
    o.append(f'<text x="{left}" y="22" font-size="14" font-weight="bold">{title}</text>')
    o.append(f'<text x="{left}" y="38">filled: compression, hollow: decompression; '
             f'the line joins the compression points nothing beats on both axes</text>')
    d = x0
    while d <= x1 * 1.0001:
        x = px(d)
        o.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{h - bottom}" stroke="#ddd"/>')
        o.append(f'<text x="{x:.1f}" y="{h - bottom + 14}" text-anchor="middle">{d:g}</text>')
        d *= 10
    y = math.ceil(y0 * 4) / 4
    while y <= y1 + 1e-9:
        yy = py(y)
        o.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{w - right}" y2="{yy:.1f}" stroke="#eee"/>')
        o.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">{y:.2f}</text>')
        y += 0.25
    o.append(f'<text x="{(left + w - right) / 2:.1f}" y="{h - 20}" text-anchor="middle">'
             f'CPU cycles per input byte (CPU seconds x {ghz:g} GHz), log scale</text>')
    o.append(f'<text x="18" y="{(top + h - bottom) / 2:.1f}" text-anchor="middle" '
             f'transform="rotate(-90 18 {(top + h - bottom) / 2:.1f})">bits per byte, all files</text>')
    line = frontier([(p[0], p[1], p[2]) for p in pts if p[3] == "compress"])
    o.append('<polyline fill="none" stroke="#999" stroke-dasharray="4 3" points="'
             + " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y, _ in line) + '"/>')
    for x, y, name, kind in pts:
        colour = COLOURS["boa" if name.startswith("boa-det") else "other"]
        fill = colour if kind == "compress" else "white"
        o.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="4.5" fill="{fill}" stroke="{colour}" '
                 f'stroke-width="1.5"><title>{name} {kind}: {y:.3f} bits/byte, {x:.0f} cycles/byte</title></circle>')
        if kind == "compress":
            o.append(f'<text x="{px(x) + 7:.1f}" y="{py(y) - 6:.1f}">{name}</text>')
    o.append("</svg>")
    return "\n".join(o) + "\n"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bench_json")
    ap.add_argument("out_svg")
    ap.add_argument("--ghz", type=float, required=True, help="the clock the CPU seconds are turned into cycles with")
    ap.add_argument("--title", default="boa-det levels and classical codecs")
    a = ap.parse_args(argv)
    with open(a.bench_json) as f:
        rows = json.load(f)
    codecs = totals(rows)
    if not codecs:
        sys.exit("no successful rows in " + a.bench_json)
    with open(a.out_svg, "w") as f:
        f.write(svg(codecs, a.ghz, a.title))
    for name, t in codecs.items():
        print(f"{name:16} {8.0 * t['comp'] / t['orig']:.4f} bits/byte  "
              f"{t['c_cpu'] * a.ghz * 1e9 / t['orig']:10.0f} / {t['d_cpu'] * a.ghz * 1e9 / t['orig']:10.0f} cycles/byte")


if __name__ == "__main__":
    main(sys.argv[1:])
