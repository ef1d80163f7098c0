#!/usr/bin/env bash
# Recipe of the default model v3 shipped in src/default_models/ (docs/MODELS.md).
# Reproduce: bash quantize/recipes/default-v3.sh OUTDIR
#
# v3 keeps default v1's float weights (quantize/recipes/default-v1.sh trains
# them) and quantizes them to arith v2 (docs/ARITHMETIC.md §6: decay exponent
# at least 1, increments within 2^22), with the same measured scan-scale and
# clip search as v2. With the same float checkpoint and calibration files this
# step is deterministic: it reproduces v3's bytes (fingerprint
# d29d2bcb349d474dd419a6433a9e04e3) exactly. v3 is used with 64 KiB chunks.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: default-v3.sh OUTDIR}
bash "$here/requantize-v1-float.sh" "$out" 2 default-v3 \
    "boa-det default model v3: default v1's float weights (d=128, 1 layer, CPU-trained) quantized to arith v2 with the measured scan-scale and clip search"
