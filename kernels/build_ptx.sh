#!/usr/bin/env bash
# Compile every kernels/*.cu to PTX (compute_80) with the pinned nvcc wheel,
# write kernels/ptx/*.ptx, and assemble each PTX with ptxas for sm_80 and sm_90.
#
#   kernels/build_ptx.sh          regenerate the committed PTX
#   kernels/build_ptx.sh --check  regenerate into a temp dir; fail if it differs
#
# The toolchain is a venv at $BOA_NVCC_VENV (default <repo>/.venv-nvcc),
# created on first use from PyPI (about 100 MB of wheels). No CUDA install and
# no GPU are needed.
set -euo pipefail

NVCC_VERSION=13.0.88
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
venv="${BOA_NVCC_VENV:-$repo/.venv-nvcc}"
mode="${1:-build}"
case "$mode" in
build | --check) ;;
*)
    echo "usage: $0 [--check]" >&2
    exit 2
    ;;
esac

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
cuda_root() {
    "$venv/bin/python" - <<'PY' 2>/dev/null
import os, nvidia
for p in nvidia.__path__:
    c = os.path.join(p, "cu13")
    if os.path.isfile(os.path.join(c, "bin", "nvcc")):
        print(c)
        break
PY
}
root="$(cuda_root || true)"
if [ -z "$root" ]; then
    "$venv/bin/pip" install --quiet \
        "nvidia-cuda-nvcc==$NVCC_VERSION" "nvidia-nvvm==$NVCC_VERSION" \
        "nvidia-cuda-crt==$NVCC_VERSION" "nvidia-cuda-runtime==$NVCC_VERSION"
    root="$(cuda_root)"
fi
# nvcc.profile in the wheel points nvcc at ../nvvm/bin (cicc) and ../include.
nvcc="$root/bin/nvcc"
ptxas="$root/bin/ptxas"
export PATH="$root/bin:$root/nvvm/bin:$PATH"
export LD_LIBRARY_PATH="$root/lib:$root/nvvm/lib64:${LD_LIBRARY_PATH:-}"
"$nvcc" --version | tail -n 2

if [ "$mode" = "--check" ]; then
    out="$(mktemp -d)"
    trap 'rm -rf "$out"' EXIT
else
    out="$here/ptx"
    mkdir -p "$out"
fi

# Deterministic flags: no -lineinfo, no -G, no fast-math; the source path is
# passed relative so no absolute path can reach the output.
flags=(-arch=compute_80 --ptx -O3 -std=c++17 -I. --fmad=false)
cd "$here"
for cu in *.cu; do
    name="${cu%.cu}"
    "$nvcc" "${flags[@]}" "$cu" -o "$out/$name.ptx"
    for sm in sm_80 sm_90; do
        "$ptxas" -arch="$sm" -O3 "$out/$name.ptx" -o /dev/null
    done
    echo "ok: $name.ptx ($(grep -m1 '^\.version' "$out/$name.ptx"))"
done

if [ "$mode" = "--check" ]; then
    status=0
    for f in "$out"/*.ptx; do
        name="$(basename "$f")"
        if ! cmp -s "$f" "$here/ptx/$name"; then
            echo "differs: kernels/ptx/$name" >&2
            status=1
        fi
    done
    for f in "$here"/ptx/*.ptx; do
        [ -e "$out/$(basename "$f")" ] || {
            echo "stale: kernels/ptx/$(basename "$f")" >&2
            status=1
        }
    done
    [ "$status" = 0 ] && echo "PTX up to date"
    exit "$status"
fi
