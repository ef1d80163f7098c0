//! AVX-VNNI GEMM: `vpdpbusd` on 256-bit registers (VEX encoding), for CPUs that
//! have AVX-VNNI but not AVX-512 (Intel client cores since Alder Lake, AMD Zen 5).
//! The `avxvnni` level is the `avx2` level with this GEMM in place of `vpmaddwd`
//! on sign-extended operands: four int8 products per int32 lane instead of two.
//!
//! The arithmetic is the avx512 level's (`avx512.rs`): activations in [-127, 127]
//! enter as the unsigned bytes `a + 128` (`a ^ 0x80`, applied right after the
//! broadcast), and each row's accumulator starts at `corr[j] = bias[j] - 128 *
//! sum_k W[j][k]` (`PackedLinear::new_corr`), so the sum is exactly §1.3's `bias[j]
//! + sum_k a[k] W[j][k]` modulo 2^32, hence exactly (the true value fits int32;
//! `vpdpbusd` wraps, it never saturates).
//!
//! Weight layout: blocks of 8 rows; within a block, for each group of 4 columns,
//! 32 bytes = 8 rows x 4 consecutive columns, one ymm load. Rows are padded to a
//! multiple of 16 and columns to a multiple of 4 with zeros (a column count that
//! is not a multiple of 4 goes through a padded copy of the activations).
//! The requantizing entries are the unfused ones (`dispatch.rs`) with the AVX2
//! requantization.
#![deny(clippy::float_arithmetic)]

use super::{dot4_gemm_blocks, groups, pack_int8};
use crate::engine::cpu::kernel_types::PackedLinear;
use crate::model::Linear;
use std::arch::x86_64::*;

/// Rows per register block; a micro-kernel call covers two blocks.
const RB: usize = 8;
const ROW_PAD: usize = 2 * RB;
/// Streams per micro-kernel call (2 * NS accumulators + 2 weights + broadcast + offset <= 16 ymm).
const NS_MAX: usize = 6;

pub fn supported() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("avxvnni")
}

pub fn pack(l: &Linear) -> PackedLinear {
    pack_int8(l, RB, 4, ROW_PAD, 128)
}

/// `acc[s * rows + j] = bias[j] + sum_k W[j][k] a[s * cols + k]`.
pub fn gemm(p: &PackedLinear, a: &[i8], n: usize, acc: &mut [i32]) {
    assert!(
        supported(),
        "avxvnni kernels called on a CPU without AVX-VNNI"
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
                    6 => micro::<6>(w, act, stride, corr, dst, dst_stride),
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

/// 16 rows x NS streams over all columns; stream `s`'s 16 results go to
/// `out[s * out_stride..][..16]`.
#[target_feature(enable = "avx2,avxvnni")]
fn micro<const NS: usize>(
    w: &[i8],
    act: &[i8],
    stride: usize,
    corr: &[i32],
    out: &mut [i32],
    out_stride: usize,
) {
    let c4 = stride / 4;
    assert!(w.len() >= 2 * c4 * 32 && act.len() >= NS * stride && corr.len() >= ROW_PAD);
    assert!(out.len() >= (NS - 1) * out_stride + ROW_PAD);
    // SAFETY (all unaligned loads/stores below): bounds asserted just above.
    unsafe {
        let wp = w.as_ptr();
        let ap = act.as_ptr();
        let c0 = _mm256_loadu_si256(corr.as_ptr() as *const _);
        let c1 = _mm256_loadu_si256(corr.as_ptr().add(RB) as *const _);
        let mut acc0 = [c0; NS];
        let mut acc1 = [c1; NS];
        let w1 = wp.add(c4 * 32);
        let offset = _mm256_set1_epi8(-128);
        for q in 0..c4 {
            let wa = _mm256_loadu_si256(wp.add(q * 32) as *const _);
            let wb = _mm256_loadu_si256(w1.add(q * 32) as *const _);
            for s in 0..NS {
                let x = _mm256_xor_si256(
                    _mm256_set1_epi32(std::ptr::read_unaligned(
                        ap.add(s * stride + 4 * q) as *const i32
                    )),
                    offset,
                );
                acc0[s] = _mm256_dpbusd_avx_epi32(acc0[s], x, wa);
                acc1[s] = _mm256_dpbusd_avx_epi32(acc1[s], x, wb);
            }
        }
        let op = out.as_mut_ptr();
        for s in 0..NS {
            let o = op.add(s * out_stride);
            _mm256_storeu_si256(o as *mut _, acc0[s]);
            _mm256_storeu_si256(o.add(RB) as *mut _, acc1[s]);
        }
    }
}
