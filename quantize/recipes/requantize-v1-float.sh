#!/usr/bin/env bash
# Shared step of the default v2 to v5 recipes: quantize default v1's float
# checkpoint (or FLOAT) with the measured scan-scale and clip search.
#   requantize-v1-float.sh OUTDIR ARITH NAME DESCRIPTION [F32_WEIGHT [FLOAT]]  ->  OUTDIR/NAME.safetensors
# F32_WEIGHT (default 1) lists the float32 tables that many times among the
# calibration files: their segments then count that many times in the
# activation ranges and in the search (default v4 uses 3).
# With the same float checkpoint and calibration files the step is deterministic.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: requantize-v1-float.sh OUTDIR ARITH NAME DESCRIPTION}
arith=${2:?arith version}
name=${3:?model name}
description=${4:?description}
f32_weight=${5:-1}
float=${6:-$out/default-v1.float.safetensors}
mkdir -p "$out"
data=$out/data
[ -d "$data/text" ] || bash "$repo/../shared/data/unpack.sh" "$data"
# The float checkpoint of v1 (trained for 1500 s, stopped by wall time).
[ -f "$float" ] || bash "$repo/quantize/recipes/default-v1.sh" "$out"
files=("$data"/text/*.hepmc* "$data"/text/*.lhe "$data"/text/*.csv "$data"/tables/*.rm.bin)
for _ in $(seq "$f32_weight"); do files+=("$data"/tables/*.f32); done
(cd "$repo" && cargo build -q --release -p boa-det-quantize)
"$repo/target/release/boa-det-quantize" "$float" \
    --calib "${files[@]}" --segments 4 --segment-len 4096 --clip 0.999 --arith "$arith" \
    --description "$description" -o "$out/$name.safetensors"
