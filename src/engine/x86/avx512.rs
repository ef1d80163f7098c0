//! AVX-512 VNNI GEMM: `vpdpbusd` (u8 x s8 -> s32, four products per lane).
//!
//! Activations `a` in [-127, 127] enter as the unsigned bytes `a + 128` (= `a ^ 0x80`),
//! so the raw sum is `sum_k (a[k] + 128) W[j][k]`; the packed per-row constant
//! `corr[j] = bias[j] - 128 * sum_k W[j][k]` (see `PackedLinear::new_corr`) is the
//! accumulator's initial value, giving exactly §1.3's `bias[j] + sum_k a[k] W[j][k]`
//! modulo 2^32, hence exactly (the true value fits int32, `vpdpbusd` wraps, never saturates).
//!
//! Weight layout: blocks of 16 rows; within a block, for each group of 4 columns,
//! 64 bytes = 16 rows x 4 consecutive columns, so one 512-bit load feeds 16
//! output rows and a broadcast of 4 activation bytes; no horizontal sums.
//! Rows are padded to a multiple of 32 and columns to a multiple of 4 with zeros.
#![deny(clippy::float_arithmetic)]

use super::groups;
use crate::engine::dispatch::PackedLinear;
use crate::model::Linear;
use std::arch::x86_64::*;
use std::cell::RefCell;

/// Rows per register block, and blocks per micro-kernel call.
const RB: usize = 16;
const ROW_PAD: usize = 2 * RB;
/// Streams per micro-kernel call (2 * NS accumulators + 2 weights + 1 broadcast <= 32 zmm).
const NS_MAX: usize = 8;

pub fn supported() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vnni")
}

pub fn pack(l: &Linear) -> PackedLinear {
    let rows_pad = l.rows.next_multiple_of(ROW_PAD);
    let c4 = groups(l.cols, 4);
    let mut data = vec![0i8; rows_pad * c4 * 4];
    for j in 0..l.rows {
        let (b, r) = (j / RB, j % RB);
        for k in 0..l.cols {
            let (q, t) = (k / 4, k % 4);
            data[((b * c4 + q) * RB + r) * 4 + t] = l.weight[j * l.cols + k];
        }
    }
    let mut corr = PackedLinear::new_corr(l, 128);
    corr.resize(rows_pad, 0);
    PackedLinear {
        rows: l.rows,
        cols: l.cols,
        data8: data,
        data16: Vec::new(),
        corr,
    }
}

thread_local! {
    /// Offset activations `a ^ 0x80`, `[n][4 * c4]` (padding columns meet zero weights).
    static ACT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// `acc[s * rows + j] = bias[j] + sum_k W[j][k] a[s * cols + k]`.
pub fn gemm(p: &PackedLinear, a: &[i8], n: usize, acc: &mut [i32]) {
    let (rows, cols) = (p.rows, p.cols);
    assert!(a.len() >= n * cols && acc.len() >= n * rows);
    assert!(
        supported(),
        "avx512 kernels called on a CPU without AVX-512 VNNI"
    );
    let c4 = groups(cols, 4);
    let stride = 4 * c4;
    let rows_pad = p.corr.len();
    assert!(rows_pad.is_multiple_of(ROW_PAD) && p.data8.len() == rows_pad * stride);
    ACT.with(|buf| {
        let mut buf = buf.borrow_mut();
        buf.clear();
        buf.resize(n * stride, 0);
        for s in 0..n {
            for (d, &v) in buf[s * stride..s * stride + cols]
                .iter_mut()
                .zip(&a[s * cols..(s + 1) * cols])
            {
                *d = (v as u8) ^ 0x80;
            }
        }
        let mut tile = [[0i32; ROW_PAD]; NS_MAX];
        for b in (0..rows_pad / RB).step_by(2) {
            let w = &p.data8[b * c4 * 64..(b + 2) * c4 * 64];
            let corr = &p.corr[b * RB..(b + 2) * RB];
            let mut s0 = 0;
            while s0 < n {
                let ns = (n - s0).min(NS_MAX);
                let act = &buf[s0 * stride..(s0 + ns) * stride];
                // SAFETY: `supported()` was checked above; the slices cover every
                // address the micro-kernel reads (2 blocks of c4*64 weights, ns rows
                // of `stride` activations, 32 corrections) and writes (ns tiles).
                unsafe {
                    match ns {
                        8 => micro::<8>(w, act, stride, corr, &mut tile),
                        7 => micro::<7>(w, act, stride, corr, &mut tile),
                        6 => micro::<6>(w, act, stride, corr, &mut tile),
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

/// 32 rows x NS streams over all columns.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
fn micro<const NS: usize>(
    w: &[i8],
    act: &[u8],
    stride: usize,
    corr: &[i32],
    out: &mut [[i32; ROW_PAD]; NS_MAX],
) {
    let c4 = stride / 4;
    assert!(w.len() >= 2 * c4 * 64 && act.len() >= NS * stride && corr.len() >= ROW_PAD);
    // SAFETY (all unaligned loads/stores below): bounds asserted just above.
    unsafe {
        let wp = w.as_ptr();
        let ap = act.as_ptr();
        let c0 = _mm512_loadu_si512(corr.as_ptr() as *const _);
        let c1 = _mm512_loadu_si512(corr.as_ptr().add(RB) as *const _);
        let mut acc0 = [c0; NS];
        let mut acc1 = [c1; NS];
        let w1 = wp.add(c4 * 64);
        for q in 0..c4 {
            let wa = _mm512_loadu_si512(wp.add(q * 64) as *const _);
            let wb = _mm512_loadu_si512(w1.add(q * 64) as *const _);
            for s in 0..NS {
                let x = _mm512_set1_epi32(std::ptr::read_unaligned(
                    ap.add(s * stride + 4 * q) as *const i32
                ));
                acc0[s] = _mm512_dpbusd_epi32(acc0[s], x, wa);
                acc1[s] = _mm512_dpbusd_epi32(acc1[s], x, wb);
            }
        }
        for s in 0..NS {
            _mm512_storeu_si512(out[s].as_mut_ptr() as *mut _, acc0[s]);
            _mm512_storeu_si512(out[s].as_mut_ptr().add(RB) as *mut _, acc1[s]);
        }
    }
}

/// Peak int8 MAC rate of one core: a dependency-free stream of `vpdpbusd`
/// (16 independent accumulators). Returns the MACs done and the time taken.
pub fn peak_macs(iters: u64) -> (u64, std::time::Duration) {
    assert!(supported(), "AVX-512 VNNI not supported");
    let t0 = std::time::Instant::now();
    // SAFETY: feature support checked above.
    let sink = unsafe { peak_loop(iters) };
    let took = t0.elapsed();
    std::hint::black_box(sink);
    (iters * 16 * 64, took)
}

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
fn peak_loop(iters: u64) -> i32 {
    let a = _mm512_set1_epi8(3);
    let b = _mm512_set1_epi8(-5);
    let mut acc = [_mm512_setzero_si512(); 16];
    let (a, b) = (std::hint::black_box(a), std::hint::black_box(b));
    for _ in 0..iters {
        for v in acc.iter_mut() {
            *v = _mm512_dpbusd_epi32(*v, a, b);
            // SAFETY: an empty asm block that only claims to read and modify the
            // register, so the compiler can neither fold the loop nor spill it.
            unsafe {
                std::arch::asm!(
                    "/* {0} */",
                    inout(zmm_reg) * v,
                    options(pure, nomem, nostack)
                )
            };
        }
    }
    let mut t = _mm512_setzero_si512();
    for v in acc {
        t = _mm512_add_epi32(t, v);
    }
    _mm512_reduce_add_epi32(t)
}
