//! The Armv8.2 dot-product GEMM: `sdot` by element, four exact int8 x int8
//! products added to each int32 lane. `sdot` is signed by signed, so unlike the
//! x86 VNNI levels no `+128` offset is needed: each row's accumulator starts at
//! its bias (`PackedLinear::new_corr` with offset 0).
//!
//! Weight layout: blocks of 4 rows; within a block, for each group of 4
//! columns, 16 bytes = 4 rows x 4 consecutive columns (one q register, whose
//! int32 lane `i` is row `i`'s four weights). Rows are padded to a multiple of
//! 16 and columns to a multiple of 4 with zeros. The blocking over rows and
//! streams is the x86 VNNI levels' ([`dot4_gemm_blocks`]).
#![deny(clippy::float_arithmetic)]

use crate::engine::cpu::kernel_types::PackedLinear;
use crate::engine::cpu::simd_shared::{dot4_gemm_blocks, groups, pack_int8};
use crate::model::Linear;
use std::arch::aarch64::*;

/// Rows per register block; a micro-kernel call covers four blocks.
const RB: usize = 4;
const ROW_PAD: usize = 4 * RB;
/// Streams per micro-kernel call (4 * NS accumulators + NS activations + 4
/// weights <= 32 q registers).
const NS_MAX: usize = 5;

pub fn supported() -> bool {
    super::dotprod_supported()
}

pub fn pack(l: &Linear) -> PackedLinear {
    pack_int8(l, RB, 4, ROW_PAD, 0)
}

/// `acc[s * rows + j] = bias[j] + sum_k W[j][k] a[s * cols + k]`.
pub fn gemm(p: &PackedLinear, a: &[i8], n: usize, acc: &mut [i32]) {
    assert!(
        supported(),
        "dotprod kernels called on a CPU without the dot product"
    );
    let c4 = groups(p.cols, 4);
    let rows_pad = p.corr.len();
    assert!(rows_pad.is_multiple_of(ROW_PAD) && p.data8.len() == rows_pad * 4 * c4);
    dot4_gemm_blocks::<i32, ROW_PAD, NS_MAX>(
        p.rows,
        p.cols,
        a,
        n,
        acc,
        |r0, act, ns, stride, dst, dst_stride| {
            let w = &p.data8[r0 * c4 * 4..(r0 + ROW_PAD) * c4 * 4];
            let corr = &p.corr[r0..r0 + ROW_PAD];
            // SAFETY: `supported()` was checked above; `micro` asserts that the
            // slices cover every address it reads and writes.
            unsafe {
                match ns {
                    5 => micro::<5>(w, act, stride, corr, dst, dst_stride),
                    4 => micro::<4>(w, act, stride, corr, dst, dst_stride),
                    3 => micro::<3>(w, act, stride, corr, dst, dst_stride),
                    2 => micro::<2>(w, act, stride, corr, dst, dst_stride),
                    _ => micro::<1>(w, act, stride, corr, dst, dst_stride),
                }
            }
        },
    );
}

/// `acc.4s += w.16b . x.4b[LANE]`: lane `i` of `acc` gains the dot product of
/// bytes `4i..4i+4` of `w` with bytes `4 LANE..4 LANE+4` of `x`.
#[inline]
#[target_feature(enable = "neon,dotprod")]
fn sdot_lane<const LANE: u32>(acc: int32x4_t, w: int8x16_t, x: int8x16_t) -> int32x4_t {
    let mut acc = acc;
    // SAFETY: a register-only instruction of the features this function enables.
    unsafe {
        std::arch::asm!(
            "sdot {acc:v}.4s, {w:v}.16b, {x:v}.4b[{lane}]",
            acc = inout(vreg) acc,
            w = in(vreg) w,
            x = in(vreg) x,
            lane = const LANE,
            options(pure, nomem, nostack, preserves_flags)
        );
    }
    acc
}

/// 16 rows x NS streams over all columns; stream `s`'s 16 results go to
/// `out[s * out_stride..][..16]`.
#[target_feature(enable = "neon,dotprod")]
fn micro<const NS: usize>(
    w: &[i8],
    act: &[i8],
    stride: usize,
    corr: &[i32],
    out: &mut [i32],
    out_stride: usize,
) {
    let c4 = stride / 4;
    assert!(w.len() >= 4 * c4 * 16 && act.len() >= NS * stride && corr.len() >= ROW_PAD);
    assert!(out.len() >= (NS - 1) * out_stride + ROW_PAD);
    // SAFETY (all loads and stores below): bounds asserted just above. Row block
    // `b` of the micro-kernel is `w[b * c4 * 16..][..c4 * 16]`.
    unsafe {
        let wp = w.as_ptr();
        let ap = act.as_ptr();
        let cp = corr.as_ptr();
        let init = [
            vld1q_s32(cp),
            vld1q_s32(cp.add(4)),
            vld1q_s32(cp.add(8)),
            vld1q_s32(cp.add(12)),
        ];
        let mut acc = [init; NS];
        // Group `q` of 4 columns against activation bytes `4 q..4 q + 4`, held in
        // lane LANE of `x[s]`.
        macro_rules! group {
            ($q:expr, $x:expr, $lane:literal) => {{
                let q = $q;
                let wq = [
                    vld1q_s8(wp.add(q * 16)),
                    vld1q_s8(wp.add((c4 + q) * 16)),
                    vld1q_s8(wp.add((2 * c4 + q) * 16)),
                    vld1q_s8(wp.add((3 * c4 + q) * 16)),
                ];
                for s in 0..NS {
                    for b in 0..4 {
                        acc[s][b] = sdot_lane::<$lane>(acc[s][b], wq[b], $x[s]);
                    }
                }
            }};
        }
        let mut q = 0;
        // Four groups (16 activation bytes) per load while they last.
        while q + 4 <= c4 {
            let mut x = [vdupq_n_s8(0); NS];
            for (s, x) in x.iter_mut().enumerate() {
                *x = vld1q_s8(ap.add(s * stride + 4 * q));
            }
            group!(q, x, 0);
            group!(q + 1, x, 1);
            group!(q + 2, x, 2);
            group!(q + 3, x, 3);
            q += 4;
        }
        while q < c4 {
            let mut x = [vdupq_n_s8(0); NS];
            for (s, x) in x.iter_mut().enumerate() {
                let word = std::ptr::read_unaligned(ap.add(s * stride + 4 * q) as *const i32);
                *x = vreinterpretq_s8_s32(vdupq_n_s32(word));
            }
            group!(q, x, 0);
            q += 1;
        }
        let op = out.as_mut_ptr();
        for (s, a) in acc.iter().enumerate() {
            for (b, &v) in a.iter().enumerate() {
                vst1q_s32(op.add(s * out_stride + 4 * b), v);
            }
        }
    }
}
