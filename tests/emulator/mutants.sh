#!/usr/bin/env bash
# Planted bugs: each mutant below is a copy of kernels/ with one bug a GPU
# would hide (a missing barrier, an off-by-one in shared memory). Each must
# make the emulated engine test fail; a mutant that survives means the
# emulator (or the test) no longer catches that kind of bug, and fails this
# script. tests/run-all.sh runs it; docs/CUDA.md, "Planted bugs".
#
# Usage: tests/emulator/mutants.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR=${BOA_MUTANTS_TARGET:-$PWD/target/mutants}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The control: an unmodified copy, built the same way, must pass (else every
# mutant would be "caught" by a broken build).
cp -r kernels "$work/control"
if ! BOA_EMU_KERNELS_DIR=$work/control cargo test -q --no-default-features \
    --features cuda-emulator --test cuda_backend emulated >"$work/control.log" 2>&1; then
    tail -n 30 "$work/control.log" >&2
    echo "FAIL: the unmodified kernels fail the emulated engine test" >&2
    exit 1
fi
echo "ok: the unmodified copy passes"

# mutant NAME FILE OLD NEW: kernels/FILE with the one occurrence of OLD
# replaced by NEW.
mutant() {
    local name=$1 file=$2 old=$3 new=$4
    local dir=$work/$name
    python3 tests/emulator/mutate.py "$dir" "$file" "$old" "$new"
    local t0=$SECONDS
    if BOA_EMU_KERNELS_DIR=$dir cargo test -q --no-default-features --features cuda-emulator \
        --test cuda_backend emulated >"$work/$name.log" 2>&1; then
        tail -n 20 "$work/$name.log" >&2
        echo "FAIL: mutant $name survived: the emulated engine test passes with the bug" >&2
        exit 1
    fi
    if ! grep -q "emulated_engine_matches_cpu_engine" "$work/$name.log" ||
        ! grep -Eq "FAILED|panicked" "$work/$name.log"; then
        tail -n 20 "$work/$name.log" >&2
        echo "FAIL: mutant $name: the build failed instead of the test" >&2
        exit 1
    fi
    echo "ok: mutant $name caught ($(grep -m1 -o "assertion.*" "$work/$name.log" | cut -c1-90)) ($((SECONDS - t0)) s)"
}

# A missing __syncwarp: the layer norm's lanes add up partial sums that the
# other lanes have not written yet.
mutant missing-syncwarp boa_forward.cu \
    $'    part_sum[warp][lane] = s;\n    __syncwarp();\n' \
    $'    part_sum[warp][lane] = s;\n'
# A missing __syncthreads: the GEMM reads its shared tiles before every
# thread has stored its share of them.
mutant missing-syncthreads boa_forward.cu \
    $'        }\n        __syncthreads();\n        for (uint32_t w = 0;' \
    $'        }\n        for (uint32_t w = 0;'
# The same in the tensor-core GEMM.
mutant mma-missing-syncthreads boa_forward.cu \
    $'        }\n        __syncthreads();\n        for (uint32_t s = 0;' \
    $'        }\n        for (uint32_t s = 0;'
# An off-by-one in shared memory: the layer norm reads 33 partial sums, one
# past its warp's row (past the array for the block's last warp).
mutant shared-off-by-one boa_forward.cu \
    $'    for (uint32_t i = 0; i < 32; i++) {\n        sq += part_sq[warp][i];' \
    $'    for (uint32_t i = 0; i <= 32; i++) {\n        sq += part_sq[warp][i];'
# An off-by-one the other way: the frequencies' weight sum leaves out the
# last lane's partial sum.
mutant shared-sum-short boa_forward.cu \
    $'    for (uint32_t i = 0; i < 32; i++) {\n        total += r_weight[warp][i];' \
    $'    for (uint32_t i = 0; i < 31; i++) {\n        total += r_weight[warp][i];'
# A tensor-core fragment bug: rows g + 8 and the second half of K swapped
# in the A fragment of the mma GEMM.
mutant mma-fragment-swap boa_forward.cu \
    $'            const uint32_t a[4] = {ws[wr + g][w], ws[wr + g + 8][w], ws[wr + g][w + 4],\n                                   ws[wr + g + 8][w + 4]};' \
    $'            const uint32_t a[4] = {ws[wr + g][w], ws[wr + g][w + 4], ws[wr + g + 8][w],\n                                   ws[wr + g + 8][w + 4]};'
echo "all planted bugs caught"
