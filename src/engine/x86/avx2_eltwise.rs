//! AVX2 element-wise kernels: requantization and the conv step, four channels
//! per ymm in 64-bit lanes, the same integers as `arith::requant_q8` / `requant_q16`.
//!
//! AVX2 lacks a 64-bit arithmetic right shift and 64-bit min/max, so:
//! `floor(v / 2^s)` is `!((!v) >>> s)` for negative `v` (and `v >>> s` otherwise),
//! computed branch-free with the sign mask; the clamp uses `vpcmpgtq` and blends.
//! The loader guarantees `1 <= s <= 62` and `|acc * m| + 2^(s-1) < 2^63` (§9.2).
#![deny(clippy::float_arithmetic)]

use crate::arith::{Q8_MAX, Q16_MAX, requant_q8, requant_q16};
use crate::model::Requant;
use std::arch::x86_64::*;

pub fn supported() -> bool {
    is_x86_feature_detected!("avx2")
}

/// `clamp(rshift_round(acc[j] * m[j], s[j]), +-lim)` for channels `i..i+4`, as
/// four int32 lanes in the low 128 bits.
#[inline]
#[target_feature(enable = "avx2")]
fn requant4(acc: __m128i, rq: &Requant, i: usize, lim: i64) -> __m128i {
    debug_assert!(i + 4 <= rq.mult.len() && i + 4 <= rq.shift.len());
    // SAFETY: the callers guarantee i + 4 <= the lengths (16 bytes of mult, 4 of shift).
    let (m, s) = unsafe {
        let sh = u32::from_le_bytes(rq.shift[i..i + 4].try_into().expect("4 shifts"));
        (
            _mm256_cvtepi32_epi64(_mm_loadu_si128(rq.mult.as_ptr().add(i).cast())),
            _mm256_cvtepu8_epi64(_mm_cvtsi32_si128(sh as i32)),
        )
    };
    let one = _mm256_set1_epi64x(1);
    let v = _mm256_add_epi64(
        _mm256_mul_epi32(_mm256_cvtepi32_epi64(acc), m),
        _mm256_sllv_epi64(one, _mm256_sub_epi64(s, one)),
    );
    let neg = _mm256_cmpgt_epi64(_mm256_setzero_si256(), v);
    let r = _mm256_xor_si256(_mm256_srlv_epi64(_mm256_xor_si256(v, neg), s), neg);
    let (hi, lo) = (_mm256_set1_epi64x(lim), _mm256_set1_epi64x(-lim));
    let r = _mm256_blendv_epi8(r, hi, _mm256_cmpgt_epi64(r, hi));
    let r = _mm256_blendv_epi8(r, lo, _mm256_cmpgt_epi64(lo, r));
    // the low 32 bits of each lane, in order
    let packed = _mm256_permutevar8x32_epi32(r, _mm256_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0));
    _mm256_castsi256_si128(packed)
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

/// [`crate::engine::kernels::requant_to_q8`].
pub fn requant_to_q8(acc: &[i32], rq: &Requant, out: &mut [i8]) {
    assert!(acc.len() >= out.len() && rq.mult.len() >= out.len() && rq.shift.len() >= out.len());
    // SAFETY: only reached through the dispatch table after `supported()`.
    unsafe { requant_q8_impl(acc, rq, out) }
}

#[target_feature(enable = "avx2")]
fn requant_q8_impl(acc: &[i32], rq: &Requant, out: &mut [i8]) {
    let n = out.len();
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: i + 4 <= n <= acc.len().
        let a = unsafe { _mm_loadu_si128(acc.as_ptr().add(i).cast()) };
        store4_q8(requant4(a, rq, i, Q8_MAX as i64), &mut out[i..i + 4]);
        i += 4;
    }
    for j in i..n {
        out[j] = requant_q8(acc[j] as i64, rq.mult[j], rq.shift[j]);
    }
}

/// [`crate::engine::kernels::requant_to_q16`].
pub fn requant_to_q16(acc: &[i32], rq: &Requant, out: &mut [i16]) {
    assert!(acc.len() >= out.len() && rq.mult.len() >= out.len() && rq.shift.len() >= out.len());
    // SAFETY: only reached through the dispatch table after `supported()`.
    unsafe { requant_q16_impl(acc, rq, out) }
}

#[target_feature(enable = "avx2")]
fn requant_q16_impl(acc: &[i32], rq: &Requant, out: &mut [i16]) {
    let n = out.len();
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: i + 4 <= n <= acc.len(), and 8 bytes are written at out[i..i + 4].
        unsafe {
            let a = _mm_loadu_si128(acc.as_ptr().add(i).cast());
            let v = requant4(a, rq, i, Q16_MAX as i64);
            _mm_storel_epi64(out.as_mut_ptr().add(i).cast(), _mm_packs_epi32(v, v));
        }
        i += 4;
    }
    for j in i..n {
        out[j] = requant_q16(acc[j] as i64, rq.mult[j], rq.shift[j]);
    }
}

/// [`crate::engine::kernels::conv_step`] with the weights transposed to `[K][E]`
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
        for (half, a) in [
            _mm256_castsi256_si128(acc),
            _mm256_extracti128_si256::<1>(acc),
        ]
        .into_iter()
        .enumerate()
        {
            let i = c + 4 * half;
            store4_q8(requant4(a, rq, i, Q8_MAX as i64), &mut out[i..i + 4]);
        }
        c += 8;
    }
}
