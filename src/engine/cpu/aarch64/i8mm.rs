//! The Armv8.6 int8 matrix-multiply GEMM: `smmla` multiplies a 2x8 int8 matrix
//! (two weight rows, eight columns) by the transpose of another (two streams'
//! eight activations) and adds the exact 2x2 int32 products to one register:
//! lane `2 i + j` is row `i` against stream `j`. Signed by signed, so each row
//! starts at its bias (no offset). A lone last stream is paired with a zero
//! stream; its half of the products is discarded, which costs no more
//! instructions per useful product than `sdot`.
//!
//! Weight layout: pairs of rows; within a pair, for each group of 8 columns,
//! 16 bytes = row 0's eight weights, then row 1's (one q register). Rows are
//! padded to a multiple of 16 and columns to a multiple of 8 with zeros.
//! Activations are copied to the same layout, pairs of streams in place of
//! pairs of rows.
#![deny(clippy::float_arithmetic)]

use crate::engine::cpu::kernel_types::PackedLinear;
use crate::engine::cpu::simd_shared::{groups, pack_int8};
use crate::model::Linear;
use std::arch::aarch64::*;
use std::cell::RefCell;

/// Rows per micro-kernel call: 8 pairs.
const ROW_PAD: usize = 16;
/// Stream pairs per micro-kernel call (8 * SP accumulators + 8 weights + SP
/// activations <= 32 q registers).
const SP_MAX: usize = 2;

pub fn supported() -> bool {
    super::i8mm_supported()
}

pub fn pack(l: &Linear) -> PackedLinear {
    pack_int8(l, 2, 8, ROW_PAD, 0)
}

thread_local! {
    /// Activations of stream pairs `[n / 2][c8][2][8]`, zero-padded.
    static PAIRS: RefCell<Vec<i8>> = const { RefCell::new(Vec::new()) };
}

/// `acc[s * rows + j] = bias[j] + sum_k W[j][k] a[s * cols + k]`.
pub fn gemm(p: &PackedLinear, a: &[i8], n: usize, acc: &mut [i32]) {
    let (rows, cols) = (p.rows, p.cols);
    assert!(a.len() >= n * cols && acc.len() >= n * rows);
    assert!(supported(), "i8mm kernels called on a CPU without i8mm");
    let c8 = groups(cols, 8);
    let rows_pad = p.corr.len();
    assert!(rows_pad.is_multiple_of(ROW_PAD) && p.data8.len() == rows_pad * 8 * c8);
    let pairs = n.div_ceil(2);
    PAIRS.with(|buf| {
        let mut buf = buf.borrow_mut();
        buf.clear();
        buf.resize(pairs * c8 * 16, 0);
        for (s, x) in a[..n * cols].chunks_exact(cols).enumerate() {
            let (pair, half) = (s / 2, s % 2);
            for (q, g) in x.chunks(8).enumerate() {
                let at = (pair * c8 + q) * 16 + half * 8;
                buf[at..at + g.len()].copy_from_slice(g);
            }
        }
        let mut tile = [[0i32; ROW_PAD]; 2 * SP_MAX];
        for r0 in (0..rows_pad).step_by(ROW_PAD) {
            let w = &p.data8[r0 * 8 * c8..(r0 + ROW_PAD) * 8 * c8];
            let corr = &p.corr[r0..r0 + ROW_PAD];
            let nr = (rows - r0).min(ROW_PAD);
            let mut p0 = 0;
            while p0 < pairs {
                let sp = (pairs - p0).min(SP_MAX);
                let act = &buf[p0 * c8 * 16..(p0 + sp) * c8 * 16];
                // SAFETY: `supported()` was checked above; `micro` asserts that the
                // slices cover every address it reads and writes.
                unsafe {
                    match sp {
                        2 => micro::<2>(w, act, c8, corr, &mut tile),
                        _ => micro::<1>(w, act, c8, corr, &mut tile),
                    }
                }
                for (t, s) in tile.iter().zip(2 * p0..(2 * (p0 + sp)).min(n)) {
                    acc[s * rows + r0..s * rows + r0 + nr].copy_from_slice(&t[..nr]);
                }
                p0 += sp;
            }
        }
    });
}

/// `acc.4s += w.16b x x.16b^T` (see the module doc).
#[inline]
#[target_feature(enable = "neon,i8mm")]
fn smmla(acc: int32x4_t, w: int8x16_t, x: int8x16_t) -> int32x4_t {
    let mut acc = acc;
    // SAFETY: a register-only instruction of the features this function enables.
    unsafe {
        std::arch::asm!(
            "smmla {acc:v}.4s, {w:v}.16b, {x:v}.16b",
            acc = inout(vreg) acc,
            w = in(vreg) w,
            x = in(vreg) x,
            options(pure, nomem, nostack, preserves_flags)
        );
    }
    acc
}

/// 16 rows x SP stream pairs over all columns; stream `s`'s 16 results go to
/// `out[s]`.
#[target_feature(enable = "neon,i8mm")]
fn micro<const SP: usize>(
    w: &[i8],
    act: &[i8],
    c8: usize,
    corr: &[i32],
    out: &mut [[i32; ROW_PAD]; 2 * SP_MAX],
) {
    assert!(w.len() >= ROW_PAD * 8 * c8 && act.len() >= SP * c8 * 16 && corr.len() >= ROW_PAD);
    // SAFETY (all loads and stores below): bounds asserted just above; row pair
    // `i` is `w[i * c8 * 16..][..c8 * 16]`, stream pair `p` is `act[p * c8 * 16..]`.
    unsafe {
        let wp = w.as_ptr();
        let ap = act.as_ptr();
        let mut acc = [[vdupq_n_s32(0); 8]; SP];
        for q in 0..c8 {
            let mut wq = [vdupq_n_s8(0); 8];
            for (i, wq) in wq.iter_mut().enumerate() {
                *wq = vld1q_s8(wp.add((i * c8 + q) * 16));
            }
            for (p, acc) in acc.iter_mut().enumerate() {
                let x = vld1q_s8(ap.add((p * c8 + q) * 16));
                for (a, &wi) in acc.iter_mut().zip(&wq) {
                    *a = smmla(*a, wi, x);
                }
            }
        }
        let cp = corr.as_ptr();
        for (p, acc) in acc.iter().enumerate() {
            for m in 0..4 {
                // Rows 4m, 4m+1 (pair 2m) and 4m+2, 4m+3 (pair 2m+1): the even
                // lanes are the pair's first stream, the odd lanes its second.
                let (a, b) = (acc[2 * m], acc[2 * m + 1]);
                let bias = vld1q_s32(cp.add(4 * m));
                let first = vaddq_s32(vuzp1q_s32(a, b), bias);
                let second = vaddq_s32(vuzp2q_s32(a, b), bias);
                vst1q_s32(out[2 * p].as_mut_ptr().add(4 * m), first);
                vst1q_s32(out[2 * p + 1].as_mut_ptr().add(4 * m), second);
            }
        }
    }
}
