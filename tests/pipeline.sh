#!/usr/bin/env bash
# End-to-end model pipeline: train a tiny float model for a few steps (Python),
# quantize it (Rust), check it loads and evaluates in the integer engine, and
# round-trip a file through `boa-det compress` / `decompress` with it.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${BOA_VENV:-$PWD/.venv-train}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build -q --release --workspace
bin=target/release

# Training data: the committed portability-vector inputs (text and a float table).
cat portability-vectors/inputs/text.bin portability-vectors/inputs/f32-table.bin \
    portability-vectors/inputs/text.bin > "$work/data.bin"
(cd quantize/train && "$venv/bin/python" -m boatrain train "$work/data.bin" \
    -o "$work/tiny.float.safetensors" --d-model 16 --layers 1 --seq-len 64 \
    --batch-size 4 --max-steps 10 --val-frac 0.2 --threads 1 --seed 3)
"$bin/boa-det-quantize" "$work/tiny.float.safetensors" --calib "$work/data.bin" \
    -o "$work/tiny.int.safetensors" --segments 2 --segment-len 512 | tee "$work/quant.txt"
"$bin/boa-det" model info "$work/tiny.int.safetensors"
"$bin/boa-det" model eval "$work/tiny.int.safetensors" "$work/data.bin"

"$bin/boa-det" compress -q --model "$work/tiny.int.safetensors" "$work/data.bin" -o "$work/data.bin.boa"
"$bin/boa-det" decompress -q --model "$work/tiny.int.safetensors" "$work/data.bin.boa" -o "$work/back.bin"
cmp "$work/data.bin" "$work/back.bin"
"$bin/boa-det" verify -q --model "$work/tiny.int.safetensors" "$work/data.bin.boa"
echo "pipeline: 1 passed, 0 failed"
