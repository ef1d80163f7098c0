#!/usr/bin/env bash
# The portability matrix on aarch64, under qemu-user (docs/KERNELS.md,
# "aarch64"). Cross-builds boa-det and its engine tests for
# aarch64-unknown-linux-gnu, then for each aarch64 kernel level, on a qemu CPU
# model that has exactly that level as its best:
#
#   cortex-a57  (Armv8.0: NEON only)        -> neon
#   neoverse-n1 (Armv8.2: + dotprod)        -> dotprod
#   max         (every feature qemu knows)  -> i8mm
#
# it checks that the level is detected, runs the engine property tests and the
# portability vectors (digests, golden archives decoded and re-encoded), and
# compresses sample slices whose archives must equal, byte for byte, the
# x86-64 build's; each side decodes the other's. The stamped kernel tests run
# on `max` (all three levels) and on `cortex-a57` (the levels it lacks skip).
#
# Installs what it lacks: Debian's gcc-aarch64-linux-gnu, libc6-dev-arm64-cross
# and qemu-user, and the rustup target. Small inputs only: qemu runs NEON about
# ten times slower than native scalar code. BOA_AARCH64_FULL=1 adds the
# built-in models' archives (about 4 minutes under qemu).
#
# Usage: tests/aarch64/run.sh [X86_BOA_DET]  (default: target/release/boa-det,
# built if missing)
set -euo pipefail
cd "$(dirname "$0")/../.."
target=aarch64-unknown-linux-gnu
profile=release-checked
step() { printf '\n--- %s\n' "$*"; }
# Runs a cargo test command; prints its result lines, or its tail on failure.
tests_quiet() {
    local out rc=0
    out=$("$@" 2>&1) || rc=$?
    grep -E '^test result' <<<"$out" || true
    if [ "$rc" -ne 0 ]; then
        printf '%s\n' "$out" | tail -n 40 >&2
        return "$rc"
    fi
}

# --- prerequisites
missing=()
command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu)
[ -e /usr/aarch64-linux-gnu/lib/crt1.o ] || missing+=(libc6-dev-arm64-cross)
command -v qemu-aarch64 >/dev/null || missing+=(qemu-user)
if [ ${#missing[@]} -gt 0 ]; then
    step "installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
rustup target list --installed | grep -qx "$target" || rustup target add "$target"

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
# cargo test runs the test binaries through qemu; QEMU_CPU picks the CPU model.
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER=qemu-aarch64
export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu

x86=${1:-target/release/boa-det}
if [ ! -x "$x86" ]; then
    cargo build -q --release
fi

step "cross-build for $target (profile $profile: release speed, overflow checks on)"
start=$(date +%s)
cargo build -q --profile "$profile" --target "$target"
tests=(--test kernels --test engine_props --test portability_vectors)
cargo test -q --profile "$profile" --target "$target" --no-run "${tests[@]}"
arm="target/$target/$profile/boa-det"
echo "built in $(($(date +%s) - start)) s: $arm"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# 12 KiB of each committed sample: HepMC text (codec 8) and a float32 table (codec 7).
for f in tests/emulator/samples/*.part; do
    head -c 12288 "$f" >"$work/$(basename "$f" .part)"
done
samples=("$work"/*)
for s in "${samples[@]}"; do
    "$x86" -q -c "$s" >"$s.x86.boa"
done

step "stamped kernel tests: every aarch64 level (qemu -cpu max), and a core without dotprod (cortex-a57)"
for cpu in max cortex-a57; do
    QEMU_CPU=$cpu tests_quiet cargo test -q --profile "$profile" --target "$target" --test kernels
done

for pair in cortex-a57:neon neoverse-n1:dotprod max:i8mm; do
    cpu=${pair%%:*}
    level=${pair##*:}
    export QEMU_CPU=$cpu
    step "qemu -cpu $cpu: level $level"
    detected=$(qemu-aarch64 "$arm" -V -v | sed -n 's/^kernel level: *\([a-z0-9]*\).*/\1/p')
    if [ "$detected" != "$level" ]; then
        echo "qemu -cpu $cpu: boa-det picked kernel level '$detected', expected $level" >&2
        exit 1
    fi
    echo "detected: $detected"
    BOA_DET_KERNELS=$level tests_quiet cargo test -q --profile "$profile" --target "$target" \
        --test engine_props --test portability_vectors -- --skip builtin_model_archives
    for s in "${samples[@]}"; do
        name=$(basename "$s")
        qemu-aarch64 "$arm" -q -c "$s" >"$s.$level.boa"
        cmp "$s.x86.boa" "$s.$level.boa" || {
            echo "$name: the aarch64 archive ($level) differs from the x86-64 one" >&2
            exit 1
        }
        qemu-aarch64 "$arm" -q -d -c "$s.x86.boa" | cmp - "$s"
        "$x86" -q -d -c "$s.$level.boa" | cmp - "$s"
        echo "$name: $(stat -c %s "$s") bytes -> $(stat -c %s "$s.$level.boa"), identical to x86-64's; each side decodes the other's"
    done
done

if [ "${BOA_AARCH64_FULL:-0}" = 1 ]; then
    step "built-in models' archives at level i8mm (qemu -cpu max)"
    QEMU_CPU=max BOA_DET_KERNELS=i8mm cargo test -q --profile "$profile" --target "$target" \
        --test portability_vectors builtin_model_archives
fi
echo
echo "aarch64 matrix passed (levels neon, dotprod, i8mm) in $(($(date +%s) - start)) s"
