#!/usr/bin/env bash
# Recipe of the default model v1 shipped in src/default_models/.
# Reproduce: bash quantize/recipes/default-v1.sh OUTDIR
# (CPU only: 2 threads, about 25 minutes of training on the 2-core dev machine.)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: default-v1.sh OUTDIR}
mkdir -p "$out"
data=$out/data
[ -d "$data/text" ] || bash "$repo/../shared/data/unpack.sh" "$data"
"$repo/quantize/train/setup_venv.sh"
venv=${BOA_VENV:-$repo/.venv-train}
files=("$data"/text/*.hepmc* "$data"/text/*.lhe "$data"/text/*.csv "$data"/tables/*.rm.bin "$data"/tables/*.f32)
(cd "$repo/quantize/train" && "$venv/bin/python" -m boatrain train "${files[@]}" \
    -o "$out/default-v1.float.safetensors" --d-model 128 --layers 1 --seq-len 512 \
    --batch-size 16 --lr 2e-3 --cosine --max-seconds 1500 --threads 2 --seed 1)
(cd "$repo" && cargo build -q --release -p boa-det-quantize)
"$repo/target/release/boa-det-quantize" "$out/default-v1.float.safetensors" \
    --calib "${files[@]}" --segments 4 --segment-len 4096 --clip 0.999 \
    --arith 1 --no-search --description "boa-det default model v1: d=128, 1 layer, trained on ../shared/data (CPU, 25 min)" \
    -o "$out/default-v1.safetensors"
# Note: v1 was quantized before the scan-scale search and with the older range
# rule for inc_shift (half the clamp, a quarter of H_MAX: inc_shift 15 for v1).
# Today's quantizer, even with --no-search, picks 14; the shipped file is
# identified by its fingerprint 7ad74af84d9ea5074bdd72283206e1fd (docs/MODELS.md).
