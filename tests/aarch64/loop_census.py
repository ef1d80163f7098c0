#!/usr/bin/env python3
"""Instructions per multiply-accumulate of the GEMM micro-kernels, read from
the disassembly (docs/KERNELS.md, "aarch64: speed, estimated"). qemu timings
say nothing about real ARM speed, so the estimate starts from what the
compiler emitted.

For every instantiation of a level's `micro` function it finds the innermost
loop that holds the level's multiply instruction, counts the loop's
instructions and its multiply instructions, and converts them to int8 MACs
with each instruction's width (smlal: 4, sdot: 16, smmla: 32 on 128 bits;
vpmaddwd: 16 and vpdpbusd: 32 on 256 bits, 64 on 512).

Usage: loop_census.py OBJDUMP BINARY SPEC...
  SPEC gemm:MODULE      the `micro` functions of a GEMM level, e.g.
                        gemm:engine::cpu::aarch64::dotprod
  SPEC scan:MODULE::FN  the state loop of a scan, e.g.
                        scan:engine::cpu::x86::avx2::scan_blocks
Run by tests/aarch64/census.sh.
"""
import re
import subprocess
import sys

MACS = {"smlal": 4, "smlal2": 4, "sdot": 16, "smmla": 32, "vpmaddwd": 16, "vpdpbusd": 32}
# The scan's state loop, marked by its 32 x 32 -> 64-bit products (NEON smull
# and smlal on .2d, AVX2 vpmuldq); "MACs" there counts those lane products.
SCAN = {"smull": 2, "smull2": 2, "smlal": 2, "smlal2": 2, "vpmuldq": 4}


def functions(objdump, binary, module, fn="micro"):
    """Yields (name, [(addr, mnemonic, operands)]) of each `fn` of `module`."""
    out = subprocess.run(
        [objdump, "-d", "-C", "--no-show-raw-insn", binary],
        check=True, capture_output=True, text=True,
    ).stdout
    name, body = None, []
    for line in out.splitlines():
        head = re.match(r"^([0-9a-f]+) <(.*)>:$", line)
        if head:
            if name:
                yield name, body
            name = head.group(2) if f"{module}::{fn}" in head.group(2) else None
            body = []
            continue
        ins = re.match(r"^\s+([0-9a-f]+):\s+(\S+)\s*(.*)$", line)
        if name and ins:
            mn, ops = ins.group(2), ins.group(3)
            if mn.startswith("{"):  # an encoding prefix such as {vex}
                mn, _, ops = ops.partition(" ")
            body.append((int(ins.group(1), 16), mn, ops))
    if name:
        yield name, body


def innermost_mac_loop(body, table=MACS):
    """(instructions, mac instructions, macs) of the hot loop: of the
    backward-branch loops that hold MAC instructions and no such inner loop,
    the one with the most MAC instructions (the main loop, not its tail)."""
    addrs = [a for a, _, _ in body]
    loops = []
    for i, (addr, mn, ops) in enumerate(body):
        if not (mn.startswith("b") or mn.startswith("j") or mn.startswith("cb")):
            continue
        m = re.search(r"\b([0-9a-f]+) <", ops)
        if not m:
            continue
        dest = int(m.group(1), 16)
        if dest >= addr or dest not in addrs:
            continue
        loop = body[addrs.index(dest): i + 1]
        macs = [(mn2, ops2) for _, mn2, ops2 in loop if mn2 in table]
        if table is SCAN:
            macs = [(m, o) for m, o in macs if ".2d" in o or m.startswith("vp")]
        if macs:
            width = sum(table[mn2] * (2 if "zmm" in ops2 else 1) for mn2, ops2 in macs)
            loops.append((dest, addr, len(loop), len(macs), width))
    inner = [
        l for l in loops
        if not any(o is not l and l[0] <= o[0] and o[1] <= l[1] for o in loops)
    ]
    if not inner:
        return None
    best = max(inner, key=lambda l: l[3])
    return best[2], best[3], best[4]


def main():
    objdump, binary, *specs = sys.argv[1:]
    print("kernel\tloop instructions\tof which products\tproducts per iteration\tinstructions per product")
    for spec in specs:
        kind, path = spec.split(":", 1)
        if kind == "gemm":
            module, fn, table = path, "micro", MACS
        else:
            module, fn = path.rsplit("::", 1)
            table = SCAN
        for _, body in functions(objdump, binary, module, fn):
            loop = innermost_mac_loop(body, table)
            if loop is not None:
                n, k, macs = loop
                print(f"{module.split('::')[-1]}::{fn}\t{n}\t{k}\t{macs}\t{n / macs:.3f}")


if __name__ == "__main__":
    main()
