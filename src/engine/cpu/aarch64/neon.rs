//! NEON GEMM for every aarch64 core: operands sign-extended to 16 bits and
//! multiplied with `smlal`/`smlal2` by lane (four exact int16 products added
//! to four int32 lanes). No saturating instruction is used (§1.3, §10).
//!
//! Weight layout (16-bit): blocks of 8 rows; within a block, for each column,
//! the block's 8 rows (one q register). Rows are padded to a multiple of 16
//! and columns to a multiple of 8 with zeros; activations are copied,
//! sign-extended, to a zero-padded row of the same width.
#![deny(clippy::float_arithmetic)]

use crate::engine::cpu::kernel_types::PackedLinear;
use crate::model::Linear;
use std::arch::aarch64::*;
use std::cell::RefCell;

const RB: usize = 8;
const ROW_PAD: usize = 2 * RB;
/// Streams per micro-kernel call (4 * NS accumulators + NS activations + 2
/// weights <= 32 q registers).
const NS_MAX: usize = 5;

pub fn supported() -> bool {
    std::arch::is_aarch64_feature_detected!("neon")
}

/// Columns padded to whole groups of 8 (one q register of int16 activations).
fn padded_cols(cols: usize) -> usize {
    cols.next_multiple_of(8)
}

pub fn pack(l: &Linear) -> PackedLinear {
    let rows_pad = l.rows.next_multiple_of(ROW_PAD);
    let cols8 = padded_cols(l.cols);
    let mut data = vec![0i16; rows_pad * cols8];
    for j in 0..l.rows {
        let (b, r) = (j / RB, j % RB);
        for k in 0..l.cols {
            data[(b * cols8 + k) * RB + r] = i16::from(l.weight[j * l.cols + k]);
        }
    }
    let mut corr = PackedLinear::new_corr(l, 0);
    corr.resize(rows_pad, 0);
    PackedLinear {
        rows: l.rows,
        cols: l.cols,
        data8: Vec::new(),
        data16: data,
        corr,
        rq: l.rq.clone(),
        rq_lanes: Vec::new(),
    }
}

thread_local! {
    /// Sign-extended, zero-padded activations `[n][cols8]`.
    static ACT: RefCell<Vec<i16>> = const { RefCell::new(Vec::new()) };
}

/// `acc[s * rows + j] = bias[j] + sum_k W[j][k] a[s * cols + k]`.
pub fn gemm(p: &PackedLinear, a: &[i8], n: usize, acc: &mut [i32]) {
    let (rows, cols) = (p.rows, p.cols);
    assert!(a.len() >= n * cols && acc.len() >= n * rows);
    assert!(supported(), "neon kernels called on a CPU without NEON");
    let cols8 = padded_cols(cols);
    let rows_pad = p.corr.len();
    assert!(rows_pad.is_multiple_of(ROW_PAD) && p.data16.len() == rows_pad * cols8);
    ACT.with(|buf| {
        let mut buf = buf.borrow_mut();
        buf.clear();
        buf.resize(n * cols8, 0);
        for (d, x) in buf.chunks_exact_mut(cols8).zip(a.chunks_exact(cols)) {
            for (d, &v) in d.iter_mut().zip(x) {
                *d = i16::from(v);
            }
        }
        let mut tile = [[0i32; ROW_PAD]; NS_MAX];
        for r0 in (0..rows_pad).step_by(ROW_PAD) {
            let w = &p.data16[r0 * cols8..(r0 + ROW_PAD) * cols8];
            let corr = &p.corr[r0..r0 + ROW_PAD];
            let nr = (rows - r0).min(ROW_PAD);
            let mut s0 = 0;
            while s0 < n {
                let ns = (n - s0).min(NS_MAX);
                let act = &buf[s0 * cols8..(s0 + ns) * cols8];
                // SAFETY: `supported()` was checked above; the micro-kernel asserts
                // the slice lengths that cover all its reads and writes.
                unsafe {
                    match ns {
                        5 => micro::<5>(w, act, cols8, corr, &mut tile),
                        4 => micro::<4>(w, act, cols8, corr, &mut tile),
                        3 => micro::<3>(w, act, cols8, corr, &mut tile),
                        2 => micro::<2>(w, act, cols8, corr, &mut tile),
                        _ => micro::<1>(w, act, cols8, corr, &mut tile),
                    }
                }
                for (t, s) in tile.iter().zip(s0..s0 + ns) {
                    acc[s * rows + r0..s * rows + r0 + nr].copy_from_slice(&t[..nr]);
                }
                s0 += ns;
            }
        }
    });
}

/// 16 rows x NS streams over all columns.
#[target_feature(enable = "neon")]
fn micro<const NS: usize>(
    w: &[i16],
    act: &[i16],
    cols8: usize,
    corr: &[i32],
    out: &mut [[i32; ROW_PAD]; NS_MAX],
) {
    assert!(w.len() >= ROW_PAD * cols8 && act.len() >= NS * cols8 && corr.len() >= ROW_PAD);
    // SAFETY (all loads and stores below): bounds asserted just above; block 0
    // is `w[..8 * cols8]`, block 1 `w[8 * cols8..16 * cols8]`.
    unsafe {
        let wp0 = w.as_ptr();
        let wp1 = wp0.add(RB * cols8);
        let ap = act.as_ptr();
        let cp = corr.as_ptr();
        let init = [
            vld1q_s32(cp),
            vld1q_s32(cp.add(4)),
            vld1q_s32(cp.add(8)),
            vld1q_s32(cp.add(12)),
        ];
        let mut acc = [init; NS];
        for q in 0..cols8 / 8 {
            let mut x = [vdupq_n_s16(0); NS];
            for (s, x) in x.iter_mut().enumerate() {
                *x = vld1q_s16(ap.add(s * cols8 + 8 * q));
            }
            // One column `k = 8 q + LANE`: its 16 weights times each stream's
            // activation `k`, broadcast from lane LANE.
            macro_rules! column {
                ($lane:literal) => {{
                    let wa = vld1q_s16(wp0.add((8 * q + $lane) * RB));
                    let wb = vld1q_s16(wp1.add((8 * q + $lane) * RB));
                    for s in 0..NS {
                        let a = &mut acc[s];
                        a[0] = vmlal_laneq_s16::<$lane>(a[0], vget_low_s16(wa), x[s]);
                        a[1] = vmlal_high_laneq_s16::<$lane>(a[1], wa, x[s]);
                        a[2] = vmlal_laneq_s16::<$lane>(a[2], vget_low_s16(wb), x[s]);
                        a[3] = vmlal_high_laneq_s16::<$lane>(a[3], wb, x[s]);
                    }
                }};
            }
            column!(0);
            column!(1);
            column!(2);
            column!(3);
            column!(4);
            column!(5);
            column!(6);
            column!(7);
        }
        for (o, a) in out.iter_mut().zip(&acc) {
            for (i, &v) in a.iter().enumerate() {
                vst1q_s32(o.as_mut_ptr().add(4 * i), v);
            }
        }
    }
}
