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
use crate::engine::kernels::ScanLayer;
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

/// AVX-512 selective scan (§6), one channel's 16 states per 512-bit register;
/// same signature and results as `kernels::scan_step`.
///
/// Exactness of the 32-bit lanes: `dt * A_rate < 2^32` (u16 x u16, `vpmulld`
/// keeps the exact low half), `vpsrlvd` by `A_shift <= 32` gives 0 at 32 like the
/// 64-bit shift of a value below 2^32; `|dt * x * B| <= 65535 * 127^2 < 2^30`, so
/// its rounding shift fits int32 for `inc_shift <= 30` and is 0 for
/// `inc_shift >= 31`. `dA * h` (< 2^47) and `C * h'` (< 2^38) use 64-bit lanes.
pub fn scan_step(
    x: &[i8],
    dt: &[u16],
    b: &[i8],
    c: &[i8],
    p: &ScanLayer,
    h: &mut [i32],
    y_acc: &mut [i64],
) {
    assert!(
        supported(),
        "avx512 kernels called on a CPU without AVX-512 VNNI"
    );
    p.check(x, dt, b, c, h, y_acc);
    // SAFETY: feature support and every slice length checked above.
    unsafe { scan_impl(x, dt, b, c, p, h, y_acc) }
}

/// The decay table as eight registers of 32 u16 entries, for [`lookup2`].
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn decay_regs(table: &[u16]) -> [__m512i; 8] {
    assert!(table.len() == 256);
    // SAFETY: 256 u16 = 8 x 64 bytes, asserted above.
    std::array::from_fn(|i| unsafe { _mm512_loadu_si512(table.as_ptr().add(32 * i).cast()) })
}

/// `table[idx]` for the 16 + 16 u32 indices (< 256) of two channels, widened to u32:
/// both index vectors are narrowed into one of 32 u16 lanes, looked up with four
/// `vpermt2w` (64 entries each) and two blends on index bits 6 and 7.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn lookup2(tab: &[__m512i; 8], ia: __m512i, ib: __m512i) -> (__m512i, __m512i) {
    let idx = _mm512_inserti64x4::<1>(
        _mm512_castsi256_si512(_mm512_cvtepi32_epi16(ia)),
        _mm512_cvtepi32_epi16(ib),
    );
    let l0 = _mm512_permutex2var_epi16(tab[0], idx, tab[1]);
    let l1 = _mm512_permutex2var_epi16(tab[2], idx, tab[3]);
    let l2 = _mm512_permutex2var_epi16(tab[4], idx, tab[5]);
    let l3 = _mm512_permutex2var_epi16(tab[6], idx, tab[7]);
    let b6 = _mm512_test_epi16_mask(idx, _mm512_set1_epi16(64));
    let b7 = _mm512_test_epi16_mask(idx, _mm512_set1_epi16(128));
    let lo = _mm512_mask_blend_epi16(b6, l0, l1);
    let hi = _mm512_mask_blend_epi16(b6, l2, l3);
    let t = _mm512_mask_blend_epi16(b7, lo, hi);
    (
        _mm512_cvtepu16_epi32(_mm512_castsi512_si256(t)),
        _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64::<1>(t)),
    )
}

/// Lane `k` of the result is the sum of the eight 64-bit lanes of `v[k]`
/// (a transposed reduction: 21 instructions for eight channels).
#[inline]
#[target_feature(enable = "avx512f")]
fn reduce8(v: &[__m512i; 8]) -> __m512i {
    let pair = |a: __m512i, b: __m512i| {
        _mm512_add_epi64(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b))
    };
    // each 128-bit block of pXY holds [partial of X, partial of Y]
    let (p01, p23, p45, p67) = (
        pair(v[0], v[1]),
        pair(v[2], v[3]),
        pair(v[4], v[5]),
        pair(v[6], v[7]),
    );
    let fold = |a: __m512i, b: __m512i| {
        _mm512_add_epi64(
            _mm512_shuffle_i64x2::<0b10_00_10_00>(a, b),
            _mm512_shuffle_i64x2::<0b11_01_11_01>(a, b),
        )
    };
    fold(fold(p01, p23), fold(p45, p67))
}

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn scan_impl(
    x: &[i8],
    dt: &[u16],
    b: &[i8],
    c: &[i8],
    p: &ScanLayer,
    h: &mut [i32],
    y_acc: &mut [i64],
) {
    let ScanLayer {
        a_rate,
        a_shift,
        inc_shift,
        d_skip,
        decay: decay_table,
        min_exponent,
        inc_max,
    } = *p;
    use crate::model::bounds::DECAY_GAP_MAX;
    let table = super::widen_decay_table(decay_table);
    // SAFETY: the caller asserted the lengths: 16 bytes of b and c, 16 u16
    // rates and 16 i32 states per channel, 256 table entries (gather indices
    // are `v & 255`).
    unsafe {
        let b32 = _mm512_cvtepi8_epi32(_mm_loadu_si128(b.as_ptr() as *const _));
        let c32 = _mm512_cvtepi8_epi32(_mm_loadu_si128(c.as_ptr() as *const _));
        let c_odd = _mm512_srli_epi64(c32, 32);
        let ashift = _mm512_set1_epi32(a_shift as i32);
        let vmax = _mm512_set1_epi32(DECAY_GAP_MAX as i32);
        let lo8 = _mm512_set1_epi32(255);
        let vmin = _mm512_set1_epi32(min_exponent as i32);
        let imax = _mm512_set1_epi32(inc_max);
        let imin = _mm512_set1_epi32(-inc_max);
        let half16 = _mm512_set1_epi64(1 << 15);
        let s = inc_shift as i64;
        let (iadd, icount) = match s {
            0 => (0, 0),
            1..=30 => (1i32 << (s - 1), s),
            _ => (0, 0), // the increment is 0 (see the doc comment)
        };
        let iadd_v = _mm512_set1_epi32(iadd);
        let icount_x = _mm_set_epi64x(0, icount);
        let inc_zero = s >= 31;
        // The decay exponent v (min_exponent..=4096) of a channel's 16 states.
        let exponent = |ch: usize| {
            let rates =
                _mm512_cvtepu16_epi32(_mm256_loadu_si256(a_rate.as_ptr().add(ch * 16) as *const _));
            let v = _mm512_mullo_epi32(rates, _mm512_set1_epi32(dt[ch] as i32));
            _mm512_max_epu32(_mm512_min_epu32(_mm512_srlv_epi32(v, ashift), vmax), vmin)
        };
        // h' = round(dA h / 2^16) + inc for one channel (stored); returns the
        // eight 64-bit partial sums of C . h'.
        let mut update = |ch: usize, da: __m512i| {
            let dtv = dt[ch] as i32;
            let xv = x[ch] as i32;
            let inc = if inc_zero {
                _mm512_setzero_si512()
            } else {
                let p = _mm512_mullo_epi32(b32, _mm512_set1_epi32(dtv * xv));
                let r = _mm512_sra_epi32(_mm512_add_epi32(p, iadd_v), icount_x);
                _mm512_max_epi32(_mm512_min_epi32(r, imax), imin)
            };
            let hp = h.as_mut_ptr().add(ch * 16);
            let hv = _mm512_loadu_si512(hp as *const _);
            let pe = _mm512_mul_epi32(da, hv);
            let po = _mm512_mul_epi32(_mm512_srli_epi64(da, 32), _mm512_srli_epi64(hv, 32));
            let re = _mm512_srai_epi64(_mm512_add_epi64(pe, half16), 16);
            let ro = _mm512_srai_epi64(_mm512_add_epi64(po, half16), 16);
            let hr = _mm512_mask_blend_epi32(0xAAAA, re, _mm512_slli_epi64(ro, 32));
            let hn = _mm512_add_epi32(hr, inc);
            _mm512_storeu_si512(hp as *mut _, hn);
            let ye = _mm512_mul_epi32(c32, hn);
            let yo = _mm512_mul_epi32(c_odd, _mm512_srli_epi64(hn, 32));
            _mm512_add_epi64(ye, yo)
        };
        // Blocks of eight channels: table lookups two channels at a time, one
        // transposed reduction, D * x added in vector form.
        let tab = decay_regs(decay_table);
        let full = x.len() - x.len() % 8;
        for ch0 in (0..full).step_by(8) {
            let mut ys = [_mm512_setzero_si512(); 8];
            for p in 0..4 {
                let (ca, cb) = (ch0 + 2 * p, ch0 + 2 * p + 1);
                let (va, vb) = (exponent(ca), exponent(cb));
                let (ta, tb) = lookup2(&tab, _mm512_and_si512(va, lo8), _mm512_and_si512(vb, lo8));
                ys[2 * p] = update(ca, _mm512_srlv_epi32(ta, _mm512_srli_epi32(va, 8)));
                ys[2 * p + 1] = update(cb, _mm512_srlv_epi32(tb, _mm512_srli_epi32(vb, 8)));
            }
            let dx = _mm512_mul_epi32(
                _mm512_cvtepi32_epi64(_mm256_loadu_si256(d_skip.as_ptr().add(ch0) as *const _)),
                _mm512_cvtepi8_epi64(_mm_loadl_epi64(x.as_ptr().add(ch0) as *const _)),
            );
            _mm512_storeu_si512(
                y_acc.as_mut_ptr().add(ch0) as *mut _,
                _mm512_add_epi64(reduce8(&ys), dx),
            );
        }
        // Remaining channels one at a time, with a gather.
        for ch in full..x.len() {
            let v = exponent(ch);
            let t =
                _mm512_i32gather_epi32::<4>(_mm512_and_si512(v, lo8), table.as_ptr() as *const _);
            let y = update(ch, _mm512_srlv_epi32(t, _mm512_srli_epi32(v, 8)));
            y_acc[ch] = _mm512_reduce_add_epi64(y) + d_skip[ch] as i64 * x[ch] as i64;
        }
    }
}
