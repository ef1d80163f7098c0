//! AVX2 element-wise kernels, the same integers as the reference in
//! `engine::kernels`: requantization (narrow and wide accumulators), the conv
//! step, layer norm, the gate and the head's logits-to-frequencies step.
//! Values that need 64 bits are computed four per ymm in 64-bit lanes; the
//! requantization of int32 accumulators takes eight channels at a time as two
//! such halves, the even and the odd channels ([`requant8`]).
//!
//! AVX2 lacks a 64-bit arithmetic right shift, 64-bit min/max and a 64 x 64-bit
//! multiply, so:
//! - `floor(v / 2^s)` is `!((!v) >>> s)` for negative `v` (and `v >>> s`
//!   otherwise), computed branch-free with the sign mask ([`sra64`]);
//! - the clamp uses `vpcmpgtq` and blends ([`clamp64`]);
//! - `a * m` for a 64-bit `a` and a 32-bit `m` is put together from two
//!   unsigned 32 x 32-bit products and a correction for negative `m`, modulo
//!   2^64 ([`mul_i64_i32`]); that is exact wherever the spec proves the true
//!   product fits in 64 bits.
//!
//! The loader guarantees `1 <= s <= 62` and `|acc * m| + 2^(s-1) < 2^63` (§9.2).
//! The 256-entry table lookups (`lut_q8`, `lut_u16`) stay the reference at this
//! level: AVX2 has no byte or word permute across more than 16 bytes, and a
//! `vpshufb` cascade or a gather is no faster than the scalar loads.
#![deny(clippy::float_arithmetic)]

use crate::engine::Frequencies;
use crate::engine::reference;
use crate::intmath::freq::{FREQ_TOTAL, LOGIT_GAP_MAX, LOGIT_MAX};
use crate::intmath::{Q8_MAX, Q16_MAX, requant_q8, requant_q16};
use crate::model::{LayerNorm, Requant};
use std::arch::x86_64::*;

pub fn supported() -> bool {
    is_x86_feature_detected!("avx2")
}

/// `floor(v / 2^s)` per 64-bit lane, `0 <= s < 64`: the arithmetic shift.
#[inline]
#[target_feature(enable = "avx2")]
fn sra64(v: __m256i, s: __m256i) -> __m256i {
    let neg = _mm256_cmpgt_epi64(_mm256_setzero_si256(), v);
    _mm256_xor_si256(_mm256_srlv_epi64(_mm256_xor_si256(v, neg), s), neg)
}

/// `clamp(v, -lim, lim)` per 64-bit lane.
#[inline]
#[target_feature(enable = "avx2")]
fn clamp64(v: __m256i, lim: i64) -> __m256i {
    let (hi, lo) = (_mm256_set1_epi64x(lim), _mm256_set1_epi64x(-lim));
    let v = _mm256_blendv_epi8(v, hi, _mm256_cmpgt_epi64(v, hi));
    _mm256_blendv_epi8(v, lo, _mm256_cmpgt_epi64(lo, v))
}

/// `clamp(rshift_round(v, s), +-lim)` per 64-bit lane (`1 <= s <= 62`).
#[inline]
#[target_feature(enable = "avx2")]
fn round_shift_clamp(v: __m256i, s: __m256i, lim: i64) -> __m256i {
    let one = _mm256_set1_epi64x(1);
    let half = _mm256_sllv_epi64(one, _mm256_sub_epi64(s, one));
    clamp64(sra64(_mm256_add_epi64(v, half), s), lim)
}

/// `a * m` per 64-bit lane, for any `a` and `m` a sign-extended int32, modulo
/// 2^64. With `a = a_hi * 2^32 + a_lo` (`a_lo` unsigned) and `m_u = m mod 2^32`:
/// `a * m = a_lo * m_u + (a_hi * m_u mod 2^32) * 2^32 - [m < 0] * a_lo * 2^32`
/// modulo 2^64, each term a `vpmuludq` or a shift.
#[inline]
#[target_feature(enable = "avx2")]
fn mul_i64_i32(a: __m256i, m: __m256i) -> __m256i {
    let low = _mm256_mul_epu32(a, m);
    let cross = _mm256_slli_epi64::<32>(_mm256_mul_epu32(_mm256_srli_epi64::<32>(a), m));
    let m_negative = _mm256_cmpgt_epi64(_mm256_setzero_si256(), m);
    let fix = _mm256_and_si256(_mm256_slli_epi64::<32>(a), m_negative);
    _mm256_sub_epi64(_mm256_add_epi64(low, cross), fix)
}

/// The multipliers (sign-extended) and shifts of channels `i..i+4`.
#[inline]
#[target_feature(enable = "avx2")]
fn mult_shift4(rq: &Requant, i: usize) -> (__m256i, __m256i) {
    debug_assert!(i + 4 <= rq.mult.len() && i + 4 <= rq.shift.len());
    // SAFETY: the callers guarantee i + 4 <= the lengths (16 bytes of mult, 4 of shift).
    unsafe {
        let sh = u32::from_le_bytes(rq.shift[i..i + 4].try_into().expect("4 shifts"));
        (
            _mm256_cvtepi32_epi64(_mm_loadu_si128(rq.mult.as_ptr().add(i).cast())),
            _mm256_cvtepu8_epi64(_mm_cvtsi32_si128(sh as i32)),
        )
    }
}

/// The low 32 bits of each 64-bit lane, in order, as four int32 lanes.
#[inline]
#[target_feature(enable = "avx2")]
fn low_halves(v: __m256i) -> __m128i {
    let packed = _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0));
    _mm256_castsi256_si128(packed)
}

/// `clamp(rshift_round(acc[j] * m[j], s[j]), +-lim)` for channels `i..i+4`, as
/// four int32 lanes in the low 128 bits.
#[inline]
#[target_feature(enable = "avx2")]
fn requant4(acc: __m128i, rq: &Requant, i: usize, lim: i64) -> __m128i {
    let (m, s) = mult_shift4(rq, i);
    let v = _mm256_mul_epi32(_mm256_cvtepi32_epi64(acc), m);
    low_halves(round_shift_clamp(v, s, lim))
}

/// `clamp(rshift_round(acc[j] * m[j], s[j]), +-lim)` for channels `i..i+8`, as
/// eight int32 lanes in order. `vpmuldq` takes the even channels from the low
/// halves of the 64-bit lanes, and the odd ones once shifted down; the odd
/// results go back up and are blended with the even ones (no widening or
/// narrowing shuffles, as in the avx512 epilogue).
#[inline]
#[target_feature(enable = "avx2")]
fn requant8(acc: __m256i, rq: &Requant, i: usize, lim: i64) -> __m256i {
    debug_assert!(i + 8 <= rq.mult.len() && i + 8 <= rq.shift.len());
    // SAFETY: the callers guarantee i + 8 <= the lengths (32 bytes of mult, 8 of shift).
    let (m, s) = unsafe {
        (
            _mm256_loadu_si256(rq.mult.as_ptr().add(i).cast()),
            _mm256_cvtepu8_epi32(_mm_loadl_epi64(rq.shift.as_ptr().add(i).cast())),
        )
    };
    let low32 = _mm256_set1_epi64x(0xFFFF_FFFF);
    let even = _mm256_mul_epi32(acc, m);
    let odd = _mm256_mul_epi32(_mm256_srli_epi64::<32>(acc), _mm256_srli_epi64::<32>(m));
    let even = round_shift_clamp(even, _mm256_and_si256(s, low32), lim);
    let odd = round_shift_clamp(odd, _mm256_srli_epi64::<32>(s), lim);
    _mm256_blend_epi32::<0b1010_1010>(even, _mm256_slli_epi64::<32>(odd))
}

/// Stores eight int32 lanes already in [-127, 127] as bytes at `out[..8]` (the
/// saturating packs are exact on that range).
#[inline]
#[target_feature(enable = "avx2")]
fn store8_q8(v: __m256i, out: &mut [i8]) {
    assert!(out.len() >= 8);
    let w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    // SAFETY: 8 bytes written, `out` holds at least 8.
    unsafe { _mm_storel_epi64(out.as_mut_ptr().cast(), _mm_packs_epi16(w, w)) };
}

/// Stores four int32 lanes already in [-127, 127] as bytes (the saturating
/// packs are exact on that range).
#[inline]
#[target_feature(enable = "avx2")]
fn store4_q8(v: __m128i, out: &mut [i8]) {
    let b = _mm_packs_epi16(_mm_packs_epi32(v, v), v);
    let bytes = (_mm_cvtsi128_si32(b) as u32).to_le_bytes();
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = b as i8;
    }
}

/// [`crate::engine::reference::requant_to_q8`].
pub fn requant_to_q8(acc: &[i32], rq: &Requant, out: &mut [i8]) {
    assert!(acc.len() >= out.len() && rq.mult.len() >= out.len() && rq.shift.len() >= out.len());
    // SAFETY: only reached through the dispatch table after `supported()`.
    unsafe { requant_q8_impl(acc, rq, out) }
}

#[target_feature(enable = "avx2")]
fn requant_q8_impl(acc: &[i32], rq: &Requant, out: &mut [i8]) {
    let n = out.len();
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n <= acc.len().
        let a = unsafe { _mm256_loadu_si256(acc.as_ptr().add(i).cast()) };
        store8_q8(requant8(a, rq, i, Q8_MAX as i64), &mut out[i..i + 8]);
        i += 8;
    }
    for j in i..n {
        out[j] = requant_q8(acc[j] as i64, rq.mult[j], rq.shift[j]);
    }
}

/// [`crate::engine::reference::requant_to_q16`].
pub fn requant_to_q16(acc: &[i32], rq: &Requant, out: &mut [i16]) {
    assert!(acc.len() >= out.len() && rq.mult.len() >= out.len() && rq.shift.len() >= out.len());
    // SAFETY: only reached through the dispatch table after `supported()`.
    unsafe { requant_q16_impl(acc, rq, out) }
}

#[target_feature(enable = "avx2")]
fn requant_q16_impl(acc: &[i32], rq: &Requant, out: &mut [i16]) {
    let n = out.len();
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n <= acc.len(), and 16 bytes are written at out[i..i + 8].
        unsafe {
            let a = _mm256_loadu_si256(acc.as_ptr().add(i).cast());
            let v = requant8(a, rq, i, Q16_MAX as i64);
            let w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
            _mm_storeu_si128(out.as_mut_ptr().add(i).cast(), w);
        }
        i += 8;
    }
    for j in i..n {
        out[j] = requant_q16(acc[j] as i64, rq.mult[j], rq.shift[j]);
    }
}

/// [`crate::engine::reference::conv_step`] with the weights transposed to `[K][E]`
/// int32 (see `group::Prepared`): eight channels per ymm, exact int32 sums (§9.1).
pub fn conv_step(
    x: &[i8],
    window: &mut [i8],
    weight: &[i8],
    weight_t: &[i32],
    bias: &[i32],
    rq: &Requant,
    out: &mut [i8],
) {
    // SAFETY: only reached through the dispatch table after `supported()`;
    // `conv_with` checked every length the body reads or writes.
    let simd = |x: &[i8], w: &[i8], wt: &[i32], b: &[i32], rq: &Requant, o: &mut [i8]| unsafe {
        conv_impl(x, w, wt, b, rq, o)
    };
    super::conv_with(8, simd, x, window, weight, weight_t, bias, rq, out)
}

#[target_feature(enable = "avx2")]
fn conv_impl(
    x: &[i8],
    window: &[i8],
    weight_t: &[i32],
    bias: &[i32],
    rq: &Requant,
    out: &mut [i8],
) {
    use crate::model::D_CONV;
    let e = x.len();
    let mut c = 0;
    while c + 8 <= e {
        // SAFETY: c + 8 <= e and the caller's asserted lengths cover every read.
        let acc = unsafe {
            let mut acc = _mm256_loadu_si256(bias.as_ptr().add(c).cast());
            for t in 0..D_CONV {
                let src = if t < D_CONV - 1 {
                    window.as_ptr().add(t * e + c)
                } else {
                    x.as_ptr().add(c)
                };
                let a = _mm256_cvtepi8_epi32(_mm_loadl_epi64(src.cast()));
                let w = _mm256_loadu_si256(weight_t.as_ptr().add(t * e + c).cast());
                acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(w, a));
            }
            acc
        };
        store8_q8(requant8(acc, rq, c, Q8_MAX as i64), &mut out[c..c + 8]);
        c += 8;
    }
}

/// [`crate::engine::reference::requant_wide_to_q8`]: 64-bit accumulators times the
/// multiplier by [`mul_i64_i32`] (the loader proved the product fits 63 bits).
pub fn requant_wide_to_q8(acc: &[i64], rq: &Requant, out: &mut [i8]) {
    assert!(acc.len() >= out.len() && rq.mult.len() >= out.len() && rq.shift.len() >= out.len());
    // SAFETY: only reached through the dispatch table after `supported()`.
    unsafe { requant_wide_impl(acc, rq, out) }
}

#[target_feature(enable = "avx2")]
fn requant_wide_impl(acc: &[i64], rq: &Requant, out: &mut [i8]) {
    let n = out.len();
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: i + 4 <= n <= acc.len() (32 bytes read).
        let a = unsafe { _mm256_loadu_si256(acc.as_ptr().add(i).cast()) };
        let (m, s) = mult_shift4(rq, i);
        let v = round_shift_clamp(mul_i64_i32(a, m), s, Q8_MAX as i64);
        store4_q8(low_halves(v), &mut out[i..i + 4]);
        i += 4;
    }
    for j in i..n {
        out[j] = crate::intmath::clamp_q8(crate::intmath::requant(acc[j], rq.mult[j], rq.shift[j]));
    }
}

super::level_gate! {
    /// [`crate::engine::reference::gate`] from this level's wide requantization, the
    /// reference table lookup and this level's requantization to q8.
    features: "avx2",
    level: "avx2",
    kernels: super::GateKernels {
        requant_wide: requant_wide_to_q8,
        lut_q8: reference::lut_q8,
        requant_q8: requant_to_q8,
    },
}

/// [`crate::engine::reference::layer_norm`]: the two sums in vector form (int32
/// lanes for `S`, exact as `|S| < 2^27`; 64-bit lanes for `V`, each `c^2 < 2^32`
/// as an unsigned 32-bit product), the scalar statistics of §4 unchanged, then
/// four outputs per ymm in 64-bit lanes.
///
/// `n = rshift_round(c * inv, 20)` with `inv < 2^40` is split at bit 20 of
/// `inv`: `n = c * inv_hi + rshift_round(c * inv_lo, 20)`, exact because
/// `c * inv_hi * 2^20` is a multiple of 2^20; both products are of int32 values
/// (`vpmuldq`). `n * gamma` (`< 2^51`, §9.4) is [`mul_i64_i32`].
pub fn layer_norm(x: &[i16], ln: &LayerNorm, out: &mut [i8]) {
    assert!(ln.gamma.len() >= x.len() && ln.beta.len() >= x.len() && out.len() >= x.len());
    if !x.len().is_multiple_of(8) {
        return reference::layer_norm(x, ln, out);
    }
    // SAFETY: only reached through the dispatch table after `supported()`; lengths asserted.
    unsafe { layer_norm_impl(x, ln, out) }
}

#[target_feature(enable = "avx2")]
fn layer_norm_impl(x: &[i16], ln: &LayerNorm, out: &mut [i8]) {
    use crate::intmath::floor_div;
    let d = x.len();
    let load8 = |i: usize| {
        // SAFETY: i + 8 <= d (d is a multiple of 8): 16 bytes read.
        _mm256_cvtepi16_epi32(unsafe { _mm_loadu_si128(x.as_ptr().add(i).cast()) })
    };
    let mut sum = _mm256_setzero_si256();
    for i in (0..d).step_by(8) {
        sum = _mm256_add_epi32(sum, load8(i));
    }
    let mut lanes = [0i32; 8];
    // SAFETY: 32 bytes written into an 8 x i32 array.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), sum) };
    let mean = floor_div(lanes.iter().map(|&v| v as i64).sum(), d as i64);
    let mean32 = _mm256_set1_epi32(mean as i32); // |mean| <= 32768
    let lo32 = _mm256_set1_epi64x(0xFFFF_FFFF);
    let mut sq = _mm256_setzero_si256();
    for i in (0..d).step_by(8) {
        let c = _mm256_sub_epi32(load8(i), mean32);
        let c2 = _mm256_mullo_epi32(c, c); // the exact square as u32
        sq = _mm256_add_epi64(sq, _mm256_and_si256(c2, lo32));
        sq = _mm256_add_epi64(sq, _mm256_srli_epi64::<32>(c2));
    }
    let mut sq_lanes = [0u64; 4];
    // SAFETY: 32 bytes written into a 4 x u64 array.
    unsafe { _mm256_storeu_si256(sq_lanes.as_mut_ptr().cast(), sq) };
    let sq: u64 = sq_lanes.iter().sum();
    let inv = reference::layer_norm_inv_std(sq, d, ln.eps);
    let inv_hi = _mm256_set1_epi64x((inv >> 20) as i64);
    let inv_lo = _mm256_set1_epi64x((inv & ((1 << 20) - 1)) as i64);
    let mean64 = _mm256_set1_epi64x(mean);
    let (half20, twenty) = (_mm256_set1_epi64x(1 << 19), _mm256_set1_epi64x(20));
    let s = _mm256_set1_epi64x(ln.shift as i64);
    for i in (0..d).step_by(4) {
        // SAFETY: i + 4 <= d <= every length asserted by the caller (8 bytes of
        // x and gamma, 16 of beta).
        let (xv, g, b) = unsafe {
            (
                _mm256_cvtepi16_epi64(_mm_loadl_epi64(x.as_ptr().add(i).cast())),
                _mm256_cvtepi16_epi64(_mm_loadl_epi64(ln.gamma.as_ptr().add(i).cast())),
                _mm256_cvtepi32_epi64(_mm_loadu_si128(ln.beta.as_ptr().add(i).cast())),
            )
        };
        let c = _mm256_sub_epi64(xv, mean64);
        let low = sra64(
            _mm256_add_epi64(_mm256_mul_epi32(c, inv_lo), half20),
            twenty,
        );
        let n = _mm256_add_epi64(_mm256_mul_epi32(c, inv_hi), low);
        let v = _mm256_add_epi64(mul_i64_i32(n, g), b);
        store4_q8(
            low_halves(round_shift_clamp(v, s, Q8_MAX as i64)),
            &mut out[i..i + 4],
        );
    }
}

/// [`crate::engine::reference::head_frequencies`]: the logits by [`requant4`]
/// (clamped to `+-LOGIT_MAX`), then §7 eight symbols per ymm: the maximum, the
/// weights `exp2[gap & 255] >> (gap >> 8)` by gather, their sum in 64-bit lanes,
/// `w * scale` by `vpmuludq` on the even and odd lanes, the remainder to the
/// first maximum. The same integers as `intmath::freq::logits_to_frequencies`.
pub fn head_frequencies(acc: &[i32], rq: &Requant, exp2: &[u32; 256], out: &mut Frequencies) {
    assert!(acc.len() >= 256 && rq.mult.len() >= 256 && rq.shift.len() >= 256);
    // SAFETY: only reached through the dispatch table after `supported()`.
    unsafe { head_frequencies_impl(acc, rq, exp2, out) }
}

#[target_feature(enable = "avx2")]
fn head_frequencies_impl(acc: &[i32], rq: &Requant, exp2: &[u32; 256], out: &mut Frequencies) {
    let mut logits = [0i32; 256];
    for i in (0..256).step_by(4) {
        // SAFETY: i + 4 <= 256 <= acc.len(); 16 bytes read and written.
        unsafe {
            let a = _mm_loadu_si128(acc.as_ptr().add(i).cast());
            let l = requant4(a, rq, i, LOGIT_MAX as i64);
            _mm_storeu_si128(logits.as_mut_ptr().add(i).cast(), l);
        }
    }
    // SAFETY (every load and store below): offsets i + 8 <= 256 of 256-entry arrays.
    let load = |i: usize| unsafe { _mm256_loadu_si256(logits.as_ptr().add(i).cast()) };
    let mut mx = load(0);
    for i in (8..256).step_by(8) {
        mx = _mm256_max_epi32(mx, load(i));
    }
    let mut lanes = [0i32; 8];
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), mx) };
    let max = *lanes.iter().max().expect("8 lanes");
    let maxv = _mm256_set1_epi32(max);
    let gap_max = _mm256_set1_epi32(LOGIT_GAP_MAX);
    let lo8 = _mm256_set1_epi32(255);
    let lo32 = _mm256_set1_epi64x(0xFFFF_FFFF);
    let mut weights = [0u32; 256];
    let mut total = _mm256_setzero_si256();
    for i in (0..256).step_by(8) {
        let gap = _mm256_min_epi32(_mm256_sub_epi32(maxv, load(i)), gap_max);
        // SAFETY: the gather indices are `gap & 255`, inside the 256-entry table.
        let t = unsafe {
            _mm256_i32gather_epi32::<4>(exp2.as_ptr().cast(), _mm256_and_si256(gap, lo8))
        };
        let w = _mm256_srlv_epi32(t, _mm256_srli_epi32::<8>(gap));
        unsafe { _mm256_storeu_si256(weights.as_mut_ptr().add(i).cast(), w) };
        total = _mm256_add_epi64(total, _mm256_and_si256(w, lo32));
        total = _mm256_add_epi64(total, _mm256_srli_epi64::<32>(w));
    }
    let mut total_lanes = [0u64; 4];
    unsafe { _mm256_storeu_si256(total_lanes.as_mut_ptr().cast(), total) };
    let total: u64 = total_lanes.iter().sum();
    // The scale is below 2^32 (total >= 2^31, FREQ_TOTAL <= 2^31), as vpmuludq needs.
    let scale = _mm256_set1_epi64x(((((FREQ_TOTAL - 256) as u64) << 32) / total) as i64);
    let one = _mm256_set1_epi32(1);
    let mut sum = _mm256_setzero_si256();
    let mut first_max = 256;
    for i in (0..256).step_by(8) {
        let w = unsafe { _mm256_loadu_si256(weights.as_ptr().add(i).cast()) };
        let even = _mm256_mul_epu32(w, scale);
        let odd = _mm256_mul_epu32(_mm256_srli_epi64::<32>(w), scale);
        // even lanes: the high half of `even`; odd lanes: the high half of `odd`, in place
        let f = _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(even), odd);
        let f = _mm256_add_epi32(f, one);
        unsafe { _mm256_storeu_si256(out.0.as_mut_ptr().add(i).cast(), f) };
        sum = _mm256_add_epi32(sum, f);
        if first_max == 256 {
            let m = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(load(i), maxv)));
            if m != 0 {
                first_max = i + m.trailing_zeros() as usize;
            }
        }
    }
    let mut sum_lanes = [0u32; 8];
    unsafe { _mm256_storeu_si256(sum_lanes.as_mut_ptr().cast(), sum) };
    let sum = sum_lanes.iter().fold(0u32, |a, &b| a.wrapping_add(b));
    out.0[first_max] += FREQ_TOTAL - sum;
}
