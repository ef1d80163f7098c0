#!/usr/bin/env bash
# The prepared GPU check (docs/CUDA.md, "The device script"). On a machine
# with an NVIDIA GPU and a CUDA 13 driver, no Rust and no network, using the
# binaries tests/device/prepare.sh built into .device/:
#   1. preflight: nvidia-smi, the driver, a context, the PTX loaded and the
#      known-answer test against the CPU;
#   2. the GPU tests with BOA_REQUIRE_CUDA=1 (a skip is a failure);
#   3. compress on the GPU and decompress on the CPU and the reverse, on the
#      samples, with cmp of the archive bytes; every portability vector on
#      the GPU (digests; golden archives decoded and re-encoded);
#   4. compute-sanitizer memcheck and racecheck on a small input, or a line
#      saying the sanitizer is not usable here;
#   5. the bench: MB/s each way on the GPU and the CPU, engine steps/s with
#      and without CUDA graphs, with the tensor-core and the dp4a GEMM.
# Every step has a timeout; the whole script stays under 4 minutes. Each
# step's output goes to RESULTS/NN-name.log as it runs, and one line per
# step to RESULTS/summary.tsv (step, status, seconds).
#
# Usage: tests/device/run.sh RESULTS
#
# A dry run without a GPU, to check the script itself: build with
# `BOA_DEVICE_FEATURES=cuda-emulator tests/device/prepare.sh`, then
# `BOA_DEVICE_UNDER_TEST=cuda-emulated BOA_DEVICE_TIME_SCALE=20
# BOA_DEVICE_BENCH_BYTES=32768 tests/device/run.sh /tmp/results` (no
# nvidia-smi, no sanitizer, the GPU tests on the emulator).
set -uo pipefail
cd "$(dirname "$0")/../.."
res=${1:?usage: tests/device/run.sh RESULTS}
mkdir -p "$res"
bin=$PWD/.device/boa-det
[ -x "$bin" ] || {
    echo "no .device/boa-det: run tests/device/prepare.sh here first and carry .device" >&2
    exit 2
}
dev=${BOA_DEVICE_UNDER_TEST:-cuda}
scale=${BOA_DEVICE_TIME_SCALE:-1}
bench_bytes=${BOA_DEVICE_BENCH_BYTES:-1048576}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'step\tstatus\tseconds\n' >"$res/summary.tsv"
failed=0
n=0

# step NAME SECONDS CMD...: runs CMD with a timeout, logging to RESULTS.
step() {
    local name=$1 limit=$2
    shift 2
    n=$((n + 1))
    local log
    log=$res/$(printf '%02d' "$n")-$name.log
    local t0=$SECONDS rc=0
    echo "=== $name (limit ${limit}s)"
    # The step is a function of this script: run it in a child bash (timeout
    # runs programs), with the functions and settings exported below.
    timeout -k 5 "$((limit * scale))" bash -o pipefail -c "$*" >"$log" 2>&1 || rc=$?
    local status=ok
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        status=timeout
    elif [ "$rc" -ne 0 ]; then
        status="failed($rc)"
    fi
    [ "$status" = ok ] || failed=$((failed + 1))
    printf '%s\t%s\t%s\n' "$name" "$status" "$((SECONDS - t0))" >>"$res/summary.tsv"
    tail -n 6 "$log"
    echo "--- $name: $status in $((SECONDS - t0)) s"
}

hepmc=tests/emulator/samples/pythia8-ttbar.hepmc3.part
table=tests/emulator/samples/genjets-ak4.f32.part

preflight() {
    if [ "$dev" = cuda ]; then
        nvidia-smi || return 1
        nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv
    fi
    # A context, both PTX modules JIT-loaded, the known-answer test, one
    # small archive: -v names the device that ran.
    "$bin" -v --device "$dev" -c portability-vectors/inputs/text.bin >"$work/pre.boa"
    "$bin" -q --device cpu -d -c "$work/pre.boa" | cmp - portability-vectors/inputs/text.bin
}

gpu_tests() {
    if [ "$dev" = cuda ]; then
        BOA_REQUIRE_CUDA=1 .device/cuda_backend --test-threads 1 || return 1
    else
        .device/cuda_backend --test-threads 1 emulated || return 1
    fi
    .device/cuda_signatures
}

# cross NAME INPUT OPTIONS...: GPU and CPU archives identical, each decoded
# by the other device.
cross_one() {
    local name=$1 input=$2
    shift 2
    "$bin" -q --device "$dev" "$@" -c "$input" >"$work/$name.gpu.boa" || return 1
    "$bin" -q --device cpu "$@" -c "$input" >"$work/$name.cpu.boa" || return 1
    cmp "$work/$name.gpu.boa" "$work/$name.cpu.boa" || {
        echo "$name: the GPU wrote other bytes than the CPU"
        return 1
    }
    "$bin" -q --device cpu -d -c "$work/$name.gpu.boa" | cmp - "$input" || return 1
    "$bin" -q --device "$dev" -d -c "$work/$name.cpu.boa" | cmp - "$input" || return 1
    echo "$name: identical ($(wc -c <"$work/$name.gpu.boa") bytes), decoded both ways"
}

cross() {
    cross_one codec5-hepmc "$hepmc" --text-fields off --record-size off &&
        cross_one codec8-hepmc "$hepmc" --text-fields on &&
        cross_one codec7-table "$table" --record-size 96 &&
        cross_one default-mixed portability-vectors/archives/mixed.bin
}

vectors() {
    "$bin" vectors check --device "$dev" portability-vectors
}

# sanitizer TOOL: compress and decompress 200 bytes under compute-sanitizer
# (the encoder's tiled GEMM and the decoder's GEMV both run).
sanitizer() {
    local tool=$1
    if [ "$dev" != cuda ] || ! command -v compute-sanitizer >/dev/null; then
        echo "compute-sanitizer: not installed here (unsupported)"
        return 0
    fi
    head -c 200 portability-vectors/inputs/text.bin >"$work/san.in"
    local rc=0
    compute-sanitizer --tool "$tool" --error-exitcode 99 \
        "$bin" -q --device cuda -c "$work/san.in" >"$work/san.boa" 2>"$work/san.err" || rc=$?
    [ "$rc" -eq 0 ] && { compute-sanitizer --tool "$tool" --error-exitcode 99 \
        "$bin" -q --device cuda -d -c "$work/san.boa" >"$work/san.out" 2>>"$work/san.err" || rc=$?; }
    cat "$work/san.err"
    if [ "$rc" -eq 99 ]; then
        echo "compute-sanitizer $tool: ERRORS (above)"
        return 1
    elif [ "$rc" -ne 0 ]; then
        echo "compute-sanitizer $tool: could not run here (exit $rc): unsupported"
        return 0
    fi
    cmp "$work/san.out" "$work/san.in" || return 1
    echo "compute-sanitizer $tool: no errors (compress and decompress)"
}

# MB/s of one command over N input bytes.
rate() {
    local n=$1
    shift
    local t0 t1
    t0=$(date +%s.%N)
    "$@" || return 1
    t1=$(date +%s.%N)
    python3 -c "import sys; n,a,b=int(sys.argv[1]),float(sys.argv[2]),float(sys.argv[3]); print(f'{n/(b-a)/1e6:.3f} MB/s ({b-a:.3f} s)')" "$n" "$t0" "$t1"
}

bench() {
    # 1 MiB: the two samples, repeated (the network's cost per byte does not
    # depend on repetition).
    local n=$bench_bytes
    for _ in $(seq $((n / 65600 + 1))); do cat "$hepmc" "$table"; done | head -c "$n" >"$work/bench.in"
    for d in "$dev" cpu; do
        echo "compress --device $d: $(rate "$n" sh -c "'$bin' -q --device $d -c '$work/bench.in' >'$work/bench.$d.boa'")"
        echo "decompress --device $d: $(rate "$n" sh -c "'$bin' -q --device $d -d -c '$work/bench.$d.boa' >'$work/bench.$d.out'")"
        cmp "$work/bench.$d.out" "$work/bench.in" || return 1
    done
    cmp "$work/bench.$dev.boa" "$work/bench.cpu.boa" && echo "bench archives identical"
    # Engine alone, default model: decode-like (one byte per stream and
    # call) and encode-like (64 positions per stream and call).
    local big=4096
    [ "$dev" = cuda ] || big=64
    local mb=("$bin" model bench --d-model 128 --layers 1)
    for s in 256 "$big"; do
        echo "graphs on:  $("${mb[@]}" --device "$dev" --streams "$s" --steps 8)"
        echo "graphs off: $(BOA_CUDA_GRAPHS=0 "${mb[@]}" --device "$dev" --streams "$s" --steps 8)"
    done
    echo "mma:  $("${mb[@]}" --device "$dev" --streams 256 --block 64 --steps 4)"
    echo "dp4a: $(BOA_CUDA_GEMM=dp4a "${mb[@]}" --device "$dev" --streams 256 --block 64 --steps 4)"
    echo "cpu:  $("${mb[@]}" --device cpu --streams 256 --block 64 --steps 4)"
}

export bin dev work hepmc table bench_bytes
export -f preflight gpu_tests cross_one cross vectors sanitizer rate bench

# The limits add up to 240 s.
step preflight 20 preflight
step gpu-tests 50 gpu_tests
step cross-device 40 cross
step vectors 60 vectors
step memcheck 20 sanitizer memcheck
step racecheck 20 sanitizer racecheck
step bench 30 bench
echo
column -t -s $'\t' "$res/summary.tsv" 2>/dev/null || cat "$res/summary.tsv"
[ "$failed" -eq 0 ]
