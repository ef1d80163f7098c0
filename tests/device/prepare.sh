#!/usr/bin/env bash
# Builds what tests/device/run.sh needs on a GPU machine (x86-64, CUDA 13
# driver, no Rust, no network) into .device/ (ignored through
# .git/info/exclude; carry it with the device tool: carry [".device"]):
#   .device/boa-det          the release CLI (default features)
#   .device/cuda_backend     the GPU-vs-CPU engine test (release)
#   .device/cuda_signatures  the PTX signature test (release)
# The samples and portability-vectors/ travel with the repository.
# BOA_DEVICE_FEATURES=cuda-emulator builds for a dry run of run.sh without a
# GPU (see there).
# docs/CUDA.md, "The device script".
set -euo pipefail
cd "$(dirname "$0")/../.."
target=x86_64-unknown-linux-gnu
grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >>.git/info/exclude
features=(${BOA_DEVICE_FEATURES:+--features "$BOA_DEVICE_FEATURES"})
cargo build -q --release --target "$target" "${features[@]}"
tests=$(cargo test -q --release --target "$target" "${features[@]}" --test cuda_backend --test cuda_signatures \
    --no-run --message-format=json 2>/dev/null | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("executable") and m.get("profile", {}).get("test"):
        print(m["target"]["name"], m["executable"])')
rm -rf .device
mkdir -p .device
cp "target/$target/release/boa-det" .device/boa-det
while read -r name exe; do
    cp "$exe" ".device/$name"
done <<<"$tests"
ls -l .device
du -sh .device
