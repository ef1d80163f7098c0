#!/usr/bin/env bash
# Recipe of the default model v2 shipped in src/default_models/ (docs/MODELS.md).
# Reproduce: bash quantize/recipes/default-v2.sh OUTDIR
#
# v2 keeps default v1's float weights (quantize/recipes/default-v1.sh trains
# them) and re-quantizes them with today's quantizer: the scan increment scale
# and every int8 site's clip quantile chosen by measuring the integer model on
# the calibration segments. With the same float checkpoint and calibration files
# this step is deterministic: it reproduces v2's bytes (fingerprint
# 20ffe5f5bc07dc54bd0a18d28668048a) exactly.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: default-v2.sh OUTDIR}
bash "$here/requantize-v1-float.sh" "$out" 1 default-v2 \
    "boa-det default model v2: default v1's float weights (d=128, 1 layer, CPU-trained) re-quantized with the measured scan-scale and clip search"
