#!/usr/bin/env bash
# The kernels under AddressSanitizer and UndefinedBehaviorSanitizer: the SIMT
# emulator and the kernels compiled with -fsanitize=address,undefined (every
# report fatal), the Rust test linked against both runtimes, and the emulated
# engine test run (every kernel, both arith versions, three thread
# schedules; device memory is exact-size host allocations, so one byte past a
# buffer is a report). Then a planted out-of-bounds read that does not change
# any result (the conv window shift reads one row past the stream's window,
# and the value is overwritten at once): invisible to the comparisons, and to
# a GPU, it must stop the run with an AddressSanitizer report.
# tests/run-all.sh runs it; docs/CUDA.md, "Sanitizers".
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR=${BOA_SANITIZE_TARGET:-$PWD/target/sanitize}
export BOA_EMU_CXXFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
# rustc links with -nodefaultlibs: name the runtimes; they are preloaded at
# run time (ASan must come first in the library list).
export RUSTFLAGS="-C link-arg=-lasan -C link-arg=-lubsan"
preload="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
target=$(rustc -vV | awk '/^host:/ { print $2 }')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# run_test KERNELS_DIR LOG: builds and runs the emulated engine test.
run_test() {
    BOA_EMU_KERNELS_DIR=$1 cargo test -q --target "$target" --no-default-features \
        --features cuda-emulator --test cuda_backend --no-run >"$2" 2>&1
    local bin
    bin=$(BOA_EMU_KERNELS_DIR=$1 cargo test -q --target "$target" --no-default-features \
        --features cuda-emulator --test cuda_backend --no-run --message-format=json 2>/dev/null |
        python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("executable") and m.get("target", {}).get("name") == "cuda_backend":
        print(m["executable"])')
    LD_PRELOAD=$preload ASAN_OPTIONS=detect_leaks=0 "$bin" emulated >>"$2" 2>&1
}

t0=$SECONDS
if ! run_test kernels "$work/clean.log"; then
    tail -n 40 "$work/clean.log" >&2
    echo "FAIL: the kernels under ASan/UBSan" >&2
    exit 1
fi
grep "test result" "$work/clean.log"
echo "ok: every kernel under ASan and UBSan, no report ($((SECONDS - t0)) s)"

t0=$SECONDS
python3 tests/emulator/mutate.py "$work/oob" boa_forward.cu \
    $'            for (uint32_t j = 0; j + 1 < BOA_D_CONV - 1; j++) {' \
    $'            for (uint32_t j = 0; j < BOA_D_CONV - 1; j++) {'
if run_test "$work/oob" "$work/oob.log"; then
    echo "FAIL: a read past the conv window went unreported" >&2
    exit 1
fi
grep -q "ERROR: AddressSanitizer" "$work/oob.log" || {
    tail -n 40 "$work/oob.log" >&2
    echo "FAIL: the planted read failed without an AddressSanitizer report" >&2
    exit 1
}
echo "ok: a planted read past the conv window is reported: $(grep -m1 -o 'AddressSanitizer: [a-z-]*' "$work/oob.log") ($((SECONDS - t0)) s)"
