#!/usr/bin/env bash
# Cross-platform build check (issue 30): the library and the command line
# type-check and lint clean for Windows and macOS, from Linux, without
# running anything there. The command line's OS-specific calls live in
# src/cli/platform.rs; this keeps the rest of it portable.
#
# - the library alone (no default features; pure Rust, no C compiler):
#   x86_64-pc-windows-msvc and aarch64-apple-darwin;
# - the command line with its tests (default features, --all-targets):
#   x86_64-pc-windows-gnu and aarch64-apple-darwin. Their build scripts
#   compile C (zstd-sys, liblzma-sys with feature static), so Zig from PyPI
#   (ziglang, in the ignored .venv-zig) is the C cross compiler. The MSVC
#   command line is not checked: its C needs the Windows SDK headers, which
#   Zig lacks; its Rust is the gnu target's (cfg(windows)).
#
# Installs what it needs (rustup targets, the Zig venv). Uses its own target
# folder (default target/xplat). Usage: tests/xplat/check.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target/xplat}
step() { printf '\n=== %s (%d s so far)\n' "$*" "$SECONDS"; }

lib_targets=(x86_64-pc-windows-msvc aarch64-apple-darwin)
# Rust target -> Zig target, for the C of the command line's codecs.
declare -A cli_targets=([x86_64-pc-windows-gnu]=x86_64-windows-gnu [aarch64-apple-darwin]=aarch64-macos)

step "rustup targets"
rustup target add "${lib_targets[@]}" "${!cli_targets[@]}" 2>&1 | grep -v "is up to date" || true

step "Zig (C cross compiler) in .venv-zig"
zig_version=0.15.2
venv=$root/.venv-zig
if ! "$venv/bin/python" -m ziglang version 2>/dev/null | grep -qx "$zig_version"; then
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install -q "ziglang==$zig_version"
fi
# cc-rs calls $CC_<target> with gcc-style flags plus --target=<rust triple>,
# which zig cc does not parse: the wrappers drop it and pass -target.
wrap=$CARGO_TARGET_DIR/zig-cc
mkdir -p "$wrap"
printf '#!/bin/sh\nexec "%s" -m ziglang ar "$@"\n' "$venv/bin/python" >"$wrap/ar"
for t in "${!cli_targets[@]}"; do
    cat >"$wrap/cc-$t" <<WRAP
#!/bin/sh
for a; do shift; case \$a in --target=*) ;; *) set -- "\$@" "\$a" ;; esac; done
exec "$venv/bin/python" -m ziglang cc -target ${cli_targets[$t]} "\$@"
WRAP
    chmod +x "$wrap/cc-$t"
    u=${t//-/_}
    export "CC_$u=$wrap/cc-$t" "AR_$u=$wrap/ar"
done
chmod +x "$wrap/ar"

for t in "${!cli_targets[@]}"; do
    step "command line and tests for $t"
    cargo clippy -q -p boa-det --all-targets --target "$t" -- -D warnings
done

for t in "${lib_targets[@]}"; do
    step "library alone for $t"
    cargo clippy -q -p boa-det --lib --no-default-features --target "$t" -- -D warnings
done

step "cross-platform checks passed"
