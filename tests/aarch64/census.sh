#!/usr/bin/env bash
# Instructions per product of the GEMM micro-kernels and the scan's state
# loop, from the disassembly of release builds for x86-64 and aarch64
# (docs/KERNELS.md, "aarch64: speed, estimated"). Builds both if needed.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
cargo build -q --release
cargo build -q --release --target aarch64-unknown-linux-gnu
census=tests/aarch64/loop_census.py
$census aarch64-linux-gnu-objdump target/aarch64-unknown-linux-gnu/release/boa-det \
    gemm:engine::cpu::aarch64::neon gemm:engine::cpu::aarch64::dotprod \
    gemm:engine::cpu::aarch64::i8mm scan:engine::cpu::aarch64::neon_eltwise::scan_step | (read -r h; echo "$h"; sort -t"	" -k1,1 -k4,4n)
$census objdump target/release/boa-det \
    gemm:engine::cpu::x86::avx2 gemm:engine::cpu::x86::avxvnni gemm:engine::cpu::x86::avx512 \
    scan:engine::cpu::x86::avx2::scan_blocks | (read -r h; echo "$h"; sort -t"	" -k1,1 -k4,4n)
