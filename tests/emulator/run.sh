#!/usr/bin/env bash
# The CUDA kernels on the SIMT emulator, end to end (tests/run-all.sh runs
# this; docs/CUDA.md, "The SIMT emulator"):
#   1. real samples (32 KiB of HepMC3 text, 32 KiB of a float32 table) with the
#      default model and codecs 5, 7 and 8: the archive written with the
#      network on the emulated GPU is byte-identical to the CPU's, and each
#      device decodes the other's archive;
#   2. the same under the reversed and a random thread schedule (a race in a
#      kernel shows up as different bytes);
#   3. every portability vector: digests, and each golden archive decoded and
#      re-encoded to its committed bytes on the emulated GPU.
# Usage: tests/emulator/run.sh [BIN]   (BIN: a boa-det built with the cargo
# feature cuda-emulator; built here when absent)
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-}
if [ -z "$bin" ]; then
    cargo build -q --release --features cuda-emulator
    bin=target/release/boa-det
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
samples=tests/emulator/samples
hepmc=$samples/pythia8-ttbar.hepmc3.part
table=$samples/genjets-ak4.f32.part
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# same NAME INPUT CODEC [OPTIONS...]: compress on both devices, compare,
# check the codec, and decode each archive on the other device.
same() {
    local name=$1 input=$2 codec=$3
    shift 3
    local t0=$SECONDS
    "$bin" -q -T 2 --device cpu "$@" -c "$input" >"$work/$name.cpu.boa"
    "$bin" -q -T 2 --device cuda-emulated "$@" -c "$input" >"$work/$name.gpu.boa"
    cmp "$work/$name.cpu.boa" "$work/$name.gpu.boa" ||
        fail "$name: the emulated GPU writes other bytes than the CPU"
    local got
    got=$("$bin" list "$work/$name.cpu.boa" | awk '$1 == "codecs:" { print $2 }')
    [ "$got" = "$codec" ] || fail "$name: expected codec $codec only, got $got"
    "$bin" -q -T 2 --device cpu -d -c "$work/$name.gpu.boa" | cmp - "$input" ||
        fail "$name: the CPU does not decode the emulated GPU's archive"
    "$bin" -q -T 2 --device cuda-emulated -d -c "$work/$name.cpu.boa" | cmp - "$input" ||
        fail "$name: the emulated GPU does not decode the CPU's archive"
    echo "ok: $name ($(wc -c <"$input") -> $(wc -c <"$work/$name.cpu.boa") bytes, codec $codec, $((SECONDS - t0)) s)"
}

same codec5-hepmc "$hepmc" neural+match+long --text-fields off --record-size off
same codec8-hepmc "$hepmc" neural+match+long+text --text-fields on
same codec7-table "$table" neural+match+long+columns+hist --record-size 96

for schedule in reversed random:20261207; do
    BOA_EMU_SCHEDULE=$schedule "$bin" -q -T 2 --device cuda-emulated --text-fields on \
        -c "$hepmc" >"$work/schedule.boa"
    cmp "$work/schedule.boa" "$work/codec8-hepmc.cpu.boa" ||
        fail "schedule $schedule changes the archive (a race in a kernel)"
    echo "ok: codec 8 under the $schedule schedule"
done

t0=$SECONDS
"$bin" vectors check --device cuda-emulated portability-vectors
echo "ok: portability vectors on the emulated GPU ($((SECONDS - t0)) s)"
