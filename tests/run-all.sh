#!/usr/bin/env bash
# The whole test suite, as README.md and .ci/run give it. Installs what it needs
# itself (the Python training venv, the pinned nvcc wheels) into ignored,
# cached folders, so it runs on a fresh machine with only the Rust toolchain,
# Python 3 and network access to PyPI/crates.io.
set -euo pipefail
cd "$(dirname "$0")/.."
repo_root=$PWD
step() { printf '\n=== %s\n' "$*"; }

step "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "the library alone: no command-line dependencies without feature cli"
cargo clippy -q -p boa-det --lib --no-default-features -- -D warnings
if cargo tree -q -p boa-det --no-default-features -e normal --prefix none \
    | grep -E '^(clap|clap_complete|clap_mangen|indicatif|signal-hook|zstd|liblzma|brotli|bzip2|lz4_flex) '; then
    echo "the library without feature cli pulls in the dependencies above" >&2
    exit 1
fi

step "Rust tests (overflow checks on; feature c-shim: the C helpers of the CUDA kernels against the reference)"
cargo test --workspace --all-features

for level in scalar avx2 avxvnni avx512; do
    step "portability vectors and engine properties at kernel level $level"
    # Only a level this CPU lacks is skipped (exit 2 with that message); any
    # other failure fails the suite.
    rc=0
    out=$(BOA_DET_KERNELS=$level cargo run -q --release -- vectors check portability-vectors 2>&1) || rc=$?
    printf '%s\n' "$out" | tail -n 3
    if [ "$rc" -eq 0 ]; then
        BOA_DET_KERNELS=$level cargo test -q --test portability_vectors --test engine_props
    elif [ "$rc" -eq 2 ] && grep -q "is not supported by this CPU" <<<"$out"; then
        echo "level $level not supported on this CPU: skipped"
    else
        printf '%s\n' "$out" >&2
        echo "portability vectors failed at kernel level $level" >&2
        exit 1
    fi
done

step "docs/pareto: the committed chart is what the committed script makes of the committed bench rows"
python3 docs/pareto/pareto.py docs/pareto/levels.json "${TMPDIR:-/tmp}/boa-pareto.svg" --ghz 2.6 \
    --title "boa-det levels and classical codecs: first MiB of the 14 sample files" > /dev/null
cmp docs/pareto/levels.svg "${TMPDIR:-/tmp}/boa-pareto.svg"

step "fuzz targets build against the library (running them: docs/FUZZING.md)"
cargo check -q --manifest-path fuzz/Cargo.toml --bins

step "CUDA kernels: regenerate PTX, compare with the committed PTX, ptxas sm_80/sm_90"
kernels/build_ptx.sh --check

step "Python training package (float model, import, resume, integer simulation vs the engine)"
quantize/train/setup_venv.sh
venv=${BOA_VENV:-$PWD/.venv-train}
cargo build -q --release --workspace  # boa-det and boa-det-quantize (test_qat_kernels)
(cd quantize/train && BOA_DET_BIN="$PWD/../../target/release/boa-det" "$venv/bin/python" -m pytest -q tests)

step "Python package and HDF5 plugin: the wheel (maturin, abi3), the CLI's archives, h5py, Zarr, numcodecs, uproot, Dask"
for crate in python python/hdf5_plugin; do
    (cd "$crate" && cargo fmt --check && CARGO_TARGET_DIR="$repo_root/target/python" cargo clippy -q -- -D warnings)
done
python/test.sh

step "pipeline: train a tiny model, quantize it, compress and decompress with it"
tests/pipeline.sh

step "aarch64 under qemu: kernel levels neon, dotprod, i8mm; portability vectors; archives identical to x86-64's"
tests/aarch64/run.sh target/release/boa-det

step "Windows and macOS: library and command line type-check"
tests/xplat/check.sh

step "release: static x86_64 musl binary built twice from two source copies, byte-identical; SHA256SUMS and manifest checked"
tests/release/check.sh

step "CUDA kernels on the SIMT emulator: planted bugs (missing barriers, shared-memory off-by-ones) must fail the engine test"
tests/emulator/mutants.sh

step "CUDA kernels on the SIMT emulator under AddressSanitizer and UndefinedBehaviorSanitizer"
tests/emulator/sanitizers.sh

step "CUDA kernels on the SIMT emulator: real samples with codecs 5, 7, 8, thread schedules, every portability vector"
# Last: it rebuilds the release binary with the feature cuda-emulator.
cargo build -q --release --features cuda-emulator
tests/emulator/run.sh target/release/boa-det
