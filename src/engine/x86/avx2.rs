//! AVX2 GEMM: operands sign-extended to 16 bits and multiplied with `vpmaddwd`
//! (two exact 127*127 products summed into each int32 lane). `vpmaddubsw` is never
//! used: it saturates at int16 (§1.3, §10).
//!
//! Weight layout (16-bit): blocks of 8 rows; within a block, for each pair of
//! columns, 8 rows x 2 columns = one 256-bit register. Rows are padded to a
//! multiple of 16 and columns to a multiple of 2 with zeros.
#![deny(clippy::float_arithmetic)]

use super::groups;
use crate::engine::dispatch::PackedLinear;
use crate::model::Linear;
use std::arch::x86_64::*;
use std::cell::RefCell;

const RB: usize = 8;
const ROW_PAD: usize = 2 * RB;
/// Streams per micro-kernel call (2 * NS accumulators + 2 weights + 1 broadcast <= 16 ymm).
const NS_MAX: usize = 5;

pub fn supported() -> bool {
    is_x86_feature_detected!("avx2")
}

pub fn pack(l: &Linear) -> PackedLinear {
    let rows_pad = l.rows.next_multiple_of(ROW_PAD);
    let c2 = groups(l.cols, 2);
    let mut data = vec![0i16; rows_pad * c2 * 2];
    for j in 0..l.rows {
        let (b, r) = (j / RB, j % RB);
        for k in 0..l.cols {
            let (q, t) = (k / 2, k % 2);
            data[((b * c2 + q) * RB + r) * 2 + t] = l.weight[j * l.cols + k] as i16;
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
    }
}

thread_local! {
    /// Sign-extended activations `[n][2 * c2]`.
    static ACT: RefCell<Vec<i16>> = const { RefCell::new(Vec::new()) };
}

/// `acc[s * rows + j] = bias[j] + sum_k W[j][k] a[s * cols + k]`.
pub fn gemm(p: &PackedLinear, a: &[i8], n: usize, acc: &mut [i32]) {
    let (rows, cols) = (p.rows, p.cols);
    assert!(a.len() >= n * cols && acc.len() >= n * rows);
    assert!(supported(), "avx2 kernels called on a CPU without AVX2");
    let c2 = groups(cols, 2);
    let stride = 2 * c2;
    let rows_pad = p.corr.len();
    assert!(rows_pad.is_multiple_of(ROW_PAD) && p.data16.len() == rows_pad * stride);
    ACT.with(|buf| {
        let mut buf = buf.borrow_mut();
        buf.clear();
        buf.resize(n * stride, 0);
        for s in 0..n {
            for (d, &v) in buf[s * stride..s * stride + cols]
                .iter_mut()
                .zip(&a[s * cols..(s + 1) * cols])
            {
                *d = v as i16;
            }
        }
        let mut tile = [[0i32; ROW_PAD]; NS_MAX];
        for b in (0..rows_pad / RB).step_by(2) {
            let w = &p.data16[b * c2 * 16..(b + 2) * c2 * 16];
            let corr = &p.corr[b * RB..(b + 2) * RB];
            let mut s0 = 0;
            while s0 < n {
                let ns = (n - s0).min(NS_MAX);
                let act = &buf[s0 * stride..(s0 + ns) * stride];
                // SAFETY: `supported()` was checked above; the micro-kernel asserts
                // the slice lengths that cover all its reads and writes.
                unsafe {
                    match ns {
                        5 => micro::<5>(w, act, stride, corr, &mut tile),
                        4 => micro::<4>(w, act, stride, corr, &mut tile),
                        3 => micro::<3>(w, act, stride, corr, &mut tile),
                        2 => micro::<2>(w, act, stride, corr, &mut tile),
                        _ => micro::<1>(w, act, stride, corr, &mut tile),
                    }
                }
                let r0 = b * RB;
                let nr = (rows - r0).min(ROW_PAD);
                for (t, s) in tile.iter().zip(s0..s0 + ns) {
                    acc[s * rows + r0..s * rows + r0 + nr].copy_from_slice(&t[..nr]);
                }
                s0 += ns;
            }
        }
    });
}

/// 16 rows x NS streams over all columns.
#[target_feature(enable = "avx2")]
fn micro<const NS: usize>(
    w: &[i16],
    act: &[i16],
    stride: usize,
    corr: &[i32],
    out: &mut [[i32; ROW_PAD]; NS_MAX],
) {
    let c2 = stride / 2;
    assert!(w.len() >= 2 * c2 * 16 && act.len() >= NS * stride && corr.len() >= ROW_PAD);
    // SAFETY (all unaligned loads/stores below): bounds asserted just above.
    unsafe {
        let wp = w.as_ptr();
        let ap = act.as_ptr();
        let c0 = _mm256_loadu_si256(corr.as_ptr() as *const _);
        let c1 = _mm256_loadu_si256(corr.as_ptr().add(RB) as *const _);
        let mut acc0 = [c0; NS];
        let mut acc1 = [c1; NS];
        let w1 = wp.add(c2 * 16);
        for q in 0..c2 {
            let wa = _mm256_loadu_si256(wp.add(q * 16) as *const _);
            let wb = _mm256_loadu_si256(w1.add(q * 16) as *const _);
            for s in 0..NS {
                let x = _mm256_set1_epi32(std::ptr::read_unaligned(
                    ap.add(s * stride + 2 * q) as *const i32
                ));
                acc0[s] = _mm256_add_epi32(acc0[s], _mm256_madd_epi16(x, wa));
                acc1[s] = _mm256_add_epi32(acc1[s], _mm256_madd_epi16(x, wb));
            }
        }
        for s in 0..NS {
            _mm256_storeu_si256(out[s].as_mut_ptr() as *mut _, acc0[s]);
            _mm256_storeu_si256(out[s].as_mut_ptr().add(RB) as *mut _, acc1[s]);
        }
    }
}
