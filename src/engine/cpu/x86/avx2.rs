//! AVX2 GEMM: operands sign-extended to 16 bits and multiplied with `vpmaddwd`
//! (two exact 127*127 products summed into each int32 lane). `vpmaddubsw` is never
//! used: it saturates at int16 (§1.3, §10).
//!
//! Weight layout (16-bit): blocks of 8 rows; within a block, for each pair of
//! columns, 8 rows x 2 columns = one 256-bit register. Rows are padded to a
//! multiple of 16 and columns to a multiple of 2 with zeros.
#![deny(clippy::float_arithmetic)]

use super::{groups, interleave_weights};
use crate::engine::cpu::kernel_types::PackedLinear;
use crate::engine::reference::ScanLayer;
use crate::model::{D_STATE, Linear};
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
    let data = interleave_weights(l, RB, 2, rows_pad, i16::from);
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

/// AVX2 selective scan (§6), state-major: for one state `n`, 8 consecutive
/// channels share a ymm; same signature and results as `kernels::scan_step`.
///
/// Exactness: 32-bit lanes for `dt * A_rate` (`< 2^32`, unsigned), the
/// increment (`|dt * x * B| < 2^30`) and the state; 64-bit lanes for `dA * h <
/// 2^47` and `C * h'`. AVX2 has no 64-bit arithmetic shift, but the rounded
/// `(dA*h + 2^15) >> 16` fits int32 (§9.3), and the low 32 bits of a right shift
/// by 16 are bits 16..47 of the operand whether the shift is logical or
/// arithmetic; so a logical shift (even lanes) or a left shift by 16 (odd
/// lanes, bits 16..47 land in the high half) gives the exact result.
pub fn scan_step(
    x: &[i8],
    dt: &[u16],
    b: &[i8],
    c: &[i8],
    p: &ScanLayer,
    h: &mut [i32],
    y_acc: &mut [i64],
) {
    assert!(supported(), "avx2 kernels called on a CPU without AVX2");
    p.check(x, dt, b, c, h, y_acc);
    let full = x.len() - x.len() % 8;
    // SAFETY: feature support and every slice length checked above.
    unsafe { scan_blocks(x, dt, b, c, p, h, y_acc, full) }
    crate::engine::reference::scan_channels_from(full, x, dt, b, c, p, h, y_acc);
}

#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2")]
unsafe fn scan_blocks(
    x: &[i8],
    dt: &[u16],
    b: &[i8],
    c: &[i8],
    p: &ScanLayer,
    h: &mut [i32],
    y_acc: &mut [i64],
    full: usize,
) {
    use crate::model::bounds::DECAY_GAP_MAX;
    let e = x.len();
    let table = super::widen_decay_table(p.decay);
    // SAFETY: `check` asserted `[N][E]` rates and states and `E` entries of x,
    // dt, d_skip and y_acc; loads and stores are at `n * E + ch` with
    // `ch + 8 <= full <= E`; gather indices are `v & 255` into 256 entries.
    unsafe {
        let acount = _mm_set_epi64x(0, p.a_shift as i64);
        let vmax = _mm256_set1_epi32(DECAY_GAP_MAX as i32);
        let lo8 = _mm256_set1_epi32(255);
        let vmin = _mm256_set1_epi32(p.min_exponent as i32);
        let imax = _mm256_set1_epi32(p.inc_max);
        let imin = _mm256_set1_epi32(-p.inc_max);
        let half16 = _mm256_set1_epi64x(1 << 15);
        let s = p.inc_shift as i64;
        let (iadd, icount) = match s {
            1..=30 => (1i32 << (s - 1), s),
            _ => (0, 0), // s = 0: no shift; s >= 31: the increment is 0
        };
        let iadd_v = _mm256_set1_epi32(iadd);
        let icount_x = _mm_set_epi64x(0, icount);
        let inc_zero = s >= 31;
        for ch0 in (0..full).step_by(8) {
            let dt32 = _mm256_cvtepu16_epi32(_mm_loadu_si128(dt.as_ptr().add(ch0).cast()));
            let x32 = _mm256_cvtepi8_epi32(_mm_loadl_epi64(x.as_ptr().add(ch0).cast()));
            let dtx = _mm256_mullo_epi32(dt32, x32);
            // 64-bit sums of C . h': channels ch0 + 0, 2, 4, 6 and ch0 + 1, 3, 5, 7.
            let (mut y_even, mut y_odd) = (_mm256_setzero_si256(), _mm256_setzero_si256());
            for n in 0..D_STATE {
                let off = n * e + ch0;
                let rates =
                    _mm256_cvtepu16_epi32(_mm_loadu_si128(p.a_rate.as_ptr().add(off).cast()));
                let v = _mm256_mullo_epi32(rates, dt32);
                let v = _mm256_max_epu32(_mm256_min_epu32(_mm256_srl_epi32(v, acount), vmax), vmin);
                let t =
                    _mm256_i32gather_epi32::<4>(table.as_ptr().cast(), _mm256_and_si256(v, lo8));
                let da = _mm256_srlv_epi32(t, _mm256_srli_epi32(v, 8));
                let inc = if inc_zero {
                    _mm256_setzero_si256()
                } else {
                    let prod = _mm256_mullo_epi32(dtx, _mm256_set1_epi32(b[n] as i32));
                    let r = _mm256_sra_epi32(_mm256_add_epi32(prod, iadd_v), icount_x);
                    _mm256_max_epi32(_mm256_min_epi32(r, imax), imin)
                };
                let hp = h.as_mut_ptr().add(off);
                let hv = _mm256_loadu_si256(hp as *const _);
                let pe = _mm256_add_epi64(_mm256_mul_epi32(da, hv), half16);
                let po = _mm256_add_epi64(
                    _mm256_mul_epi32(_mm256_srli_epi64(da, 32), _mm256_srli_epi64(hv, 32)),
                    half16,
                );
                let hr = _mm256_blend_epi32::<0b1010_1010>(
                    _mm256_srli_epi64(pe, 16),
                    _mm256_slli_epi64(po, 16),
                );
                let hn = _mm256_add_epi32(hr, inc);
                _mm256_storeu_si256(hp as *mut _, hn);
                let cn = _mm256_set1_epi32(c[n] as i32);
                y_even = _mm256_add_epi64(y_even, _mm256_mul_epi32(cn, hn));
                y_odd = _mm256_add_epi64(y_odd, _mm256_mul_epi32(cn, _mm256_srli_epi64(hn, 32)));
            }
            let (mut even, mut odd) = ([0i64; 4], [0i64; 4]);
            _mm256_storeu_si256(even.as_mut_ptr().cast(), y_even);
            _mm256_storeu_si256(odd.as_mut_ptr().cast(), y_odd);
            for k in 0..4 {
                for (j, sum) in [(2 * k, even[k]), (2 * k + 1, odd[k])] {
                    let ch = ch0 + j;
                    y_acc[ch] = sum + p.d_skip[ch] as i64 * x[ch] as i64;
                }
            }
        }
    }
}
