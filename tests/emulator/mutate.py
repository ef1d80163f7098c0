"""Copies kernels/ to DEST with one bug planted: the one occurrence of OLD in
FILE replaced by NEW (tests/emulator/mutants.sh, sanitizers.sh).

Usage: python3 tests/emulator/mutate.py DEST FILE OLD NEW
"""
import shutil
import sys

dest, file, old, new = sys.argv[1:]
shutil.copytree("kernels", dest)
path = f"{dest}/{file}"
src = open(path).read()
n = src.count(old)
if n != 1:
    sys.exit(f"{path}: the text to mutate occurs {n} times, expected once: {old!r}")
open(path, "w").write(src.replace(old, new))
