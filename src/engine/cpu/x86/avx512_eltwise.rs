//! AVX-512 element-wise kernels: requantization, the conv step and layer norm.
//!
//! Requantization (`docs/ARITHMETIC.md` §1.1-1.2), eight channels per
//! zmm in 64-bit lanes: `clamp(rshift_round(acc * m, s))` exactly as
//! `intmath::requant_q8` / `requant_q16`, with the per-channel shift as a
//! variable shift (`vpsravq`, arithmetic = floor, as §1.1 requires).
//!
//! The loader guarantees `1 <= s <= 62` and `|acc * m| + 2^(s-1) < 2^63`
//! (§9.2), so the 64-bit lanes never overflow; the scalar tails call the
//! reference functions themselves.
#![deny(clippy::float_arithmetic)]

use crate::engine::Frequencies;
use crate::engine::reference;
use crate::intmath::{Q8_MAX, Q16_MAX, requant_q8, requant_q16};
use crate::model::{LayerNorm, Requant};
use std::arch::x86_64::*;

pub fn supported() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512dq")
        && is_x86_feature_detected!("avx512bw")
}

/// Eight channels `i..i+8` of `rshift_round(acc * m, s)`, with `acc` already widened.
#[inline]
#[target_feature(enable = "avx512f")]
fn round_shift8(prod: __m512i, rq: &Requant, i: usize) -> __m512i {
    debug_assert!(i + 8 <= rq.shift.len());
    // SAFETY: the caller guarantees i + 8 <= len of the shift vector (8 bytes read).
    let s = _mm512_cvtepu8_epi64(unsafe { _mm_loadl_epi64(rq.shift.as_ptr().add(i).cast()) });
    let one = _mm512_set1_epi64(1);
    let half = _mm512_sllv_epi64(one, _mm512_sub_epi64(s, one));
    _mm512_srav_epi64(_mm512_add_epi64(prod, half), s)
}

/// `acc[j] * m[j]` for eight int32 channels as exact 64-bit products.
#[inline]
#[target_feature(enable = "avx512f")]
fn product8(acc: &[i32], rq: &Requant, i: usize) -> __m512i {
    debug_assert!(i + 8 <= acc.len() && i + 8 <= rq.mult.len());
    // SAFETY: the caller guarantees i + 8 <= both lengths (32 bytes read from each).
    let (a, m) = unsafe {
        (
            _mm512_cvtepi32_epi64(_mm256_loadu_si256(acc.as_ptr().add(i).cast())),
            _mm512_cvtepi32_epi64(_mm256_loadu_si256(rq.mult.as_ptr().add(i).cast())),
        )
    };
    // vpmuldq: signed 32 x 32 -> 64 of the low halves (the sign-extended values).
    _mm512_mul_epi32(a, m)
}

#[inline]
#[target_feature(enable = "avx512f")]
fn clamp8(v: __m512i, lim: i64) -> __m512i {
    _mm512_min_epi64(
        _mm512_max_epi64(v, _mm512_set1_epi64(-lim)),
        _mm512_set1_epi64(lim),
    )
}

/// [`crate::engine::reference::requant_to_q8`].
pub fn requant_to_q8(acc: &[i32], rq: &Requant, out: &mut [i8]) {
    assert!(acc.len() >= out.len() && rq.mult.len() >= out.len() && rq.shift.len() >= out.len());
    // SAFETY: only reached through the dispatch table after `supported()`.
    unsafe { requant_to_q8_impl(acc, rq, out) }
}

#[target_feature(enable = "avx512f")]
fn requant_to_q8_impl(acc: &[i32], rq: &Requant, out: &mut [i8]) {
    let n = out.len();
    let mut i = 0;
    while i + 8 <= n {
        let v = clamp8(round_shift8(product8(acc, rq, i), rq, i), Q8_MAX as i64);
        // SAFETY: i + 8 <= n = out.len(); vpmovqb writes 8 bytes.
        unsafe { _mm_storel_epi64(out.as_mut_ptr().add(i).cast(), _mm512_cvtepi64_epi8(v)) };
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
    unsafe { requant_to_q16_impl(acc, rq, out) }
}

#[target_feature(enable = "avx512f")]
fn requant_to_q16_impl(acc: &[i32], rq: &Requant, out: &mut [i16]) {
    let n = out.len();
    let mut i = 0;
    while i + 8 <= n {
        let v = clamp8(round_shift8(product8(acc, rq, i), rq, i), Q16_MAX as i64);
        // SAFETY: i + 8 <= n = out.len(); vpmovqw writes 16 bytes.
        unsafe { _mm_storeu_si128(out.as_mut_ptr().add(i).cast(), _mm512_cvtepi64_epi16(v)) };
        i += 8;
    }
    for j in i..n {
        out[j] = requant_q16(acc[j] as i64, rq.mult[j], rq.shift[j]);
    }
}

/// [`crate::engine::reference::requant_wide_to_q8`] (64-bit accumulators: `vpmullq`,
/// exact because the loader proved the product fits 63 bits).
pub fn requant_wide_to_q8(acc: &[i64], rq: &Requant, out: &mut [i8]) {
    assert!(acc.len() >= out.len() && rq.mult.len() >= out.len() && rq.shift.len() >= out.len());
    // SAFETY: only reached through the dispatch table after `supported()`.
    unsafe { requant_wide_impl(acc, rq, out) }
}

#[target_feature(enable = "avx512f,avx512dq")]
fn requant_wide_impl(acc: &[i64], rq: &Requant, out: &mut [i8]) {
    let n = out.len();
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n <= both lengths.
        let (a, m) = unsafe {
            (
                _mm512_loadu_si512(acc.as_ptr().add(i).cast()),
                _mm512_cvtepi32_epi64(_mm256_loadu_si256(rq.mult.as_ptr().add(i).cast())),
            )
        };
        let v = clamp8(round_shift8(_mm512_mullo_epi64(a, m), rq, i), Q8_MAX as i64);
        // SAFETY: as above, 8 bytes written.
        unsafe { _mm_storel_epi64(out.as_mut_ptr().add(i).cast(), _mm512_cvtepi64_epi8(v)) };
        i += 8;
    }
    for j in i..n {
        out[j] = crate::intmath::clamp_q8(crate::intmath::requant(acc[j], rq.mult[j], rq.shift[j]));
    }
}

super::level_gate! {
    /// [`crate::engine::reference::gate`] from this level's kernels (wide
    /// requantization, the `vpermt2b` table where the CPU has it, requantization).
    features: "avx512f,avx512bw",
    level: "avx512",
    kernels: super::GateKernels {
        requant_wide: requant_wide_to_q8,
        lut_q8: if vbmi_supported() {
            lut_q8
        } else {
            reference::lut_q8
        },
        requant_q8: requant_to_q8,
    },
}

/// [`crate::engine::reference::conv_step`] with the weights transposed to
/// `[K][E]` int32 (`weight_t`, see `group::Prepared`): sixteen channels per zmm,
/// exact int32 sums (§9.1 bounds them), then the requantization above.
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
    super::conv_with(16, simd, x, window, weight, weight_t, bias, rq, out)
}

#[target_feature(enable = "avx512f")]
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
    while c + 16 <= e {
        // SAFETY: c + 16 <= e and the caller's asserted lengths cover every read
        // (16 bytes of window rows and x, 16 int32 of weight_t rows and bias).
        let acc = unsafe {
            let mut acc = _mm512_loadu_si512(bias.as_ptr().add(c).cast());
            for t in 0..D_CONV {
                let src = if t < D_CONV - 1 {
                    window.as_ptr().add(t * e + c)
                } else {
                    x.as_ptr().add(c)
                };
                let a = _mm512_cvtepi8_epi32(_mm_loadu_si128(src.cast()));
                let w = _mm512_loadu_si512(weight_t.as_ptr().add(t * e + c).cast());
                acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(w, a));
            }
            acc
        };
        for half in 0..2 {
            let i = c + 8 * half;
            let a = if half == 0 {
                _mm512_castsi512_si256(acc)
            } else {
                _mm512_extracti64x4_epi64::<1>(acc)
            };
            // SAFETY: i + 8 <= e <= mult length.
            let m = unsafe {
                _mm512_cvtepi32_epi64(_mm256_loadu_si256(rq.mult.as_ptr().add(i).cast()))
            };
            let p = _mm512_mul_epi32(_mm512_cvtepi32_epi64(a), m);
            let v = clamp8(round_shift8(p, rq, i), Q8_MAX as i64);
            // SAFETY: i + 8 <= e <= out length; 8 bytes written.
            unsafe { _mm_storel_epi64(out.as_mut_ptr().add(i).cast(), _mm512_cvtepi64_epi8(v)) };
        }
        c += 16;
    }
}

/// [`crate::engine::reference::layer_norm`]: the two sums in vector form (int32
/// for `S`, exact as `|S| < 2^27`; unsigned 64-bit for `V`, each `c^2 < 2^32`),
/// the scalar statistics of §4 unchanged, then eight outputs per zmm in 64-bit
/// lanes (`vpmullq`: `|c * inv| < 2^56`, `|n * gamma| < 2^51`, §9.4).
pub fn layer_norm(x: &[i16], ln: &LayerNorm, out: &mut [i8]) {
    assert!(ln.gamma.len() >= x.len() && ln.beta.len() >= x.len() && out.len() >= x.len());
    if !x.len().is_multiple_of(16) {
        return reference::layer_norm(x, ln, out);
    }
    // SAFETY: only reached through the dispatch table after `supported()`; lengths asserted.
    unsafe { layer_norm_impl(x, ln, out) }
}

#[target_feature(enable = "avx512f,avx512dq,avx512bw")]
fn layer_norm_impl(x: &[i16], ln: &LayerNorm, out: &mut [i8]) {
    use crate::intmath::floor_div;
    let d = x.len();
    let load16 = |i: usize| {
        // SAFETY: i + 16 <= d (d is a multiple of 16).
        _mm512_cvtepi16_epi32(unsafe { _mm256_loadu_si256(x.as_ptr().add(i).cast()) })
    };
    let mut sum = _mm512_setzero_si512();
    for i in (0..d).step_by(16) {
        sum = _mm512_add_epi32(sum, load16(i));
    }
    let mean = floor_div(_mm512_reduce_add_epi32(sum) as i64, d as i64);
    let mean32 = _mm512_set1_epi32(mean as i32); // |mean| <= 32767
    let lo32 = _mm512_set1_epi64(0xFFFF_FFFF);
    let mut sq = _mm512_setzero_si512();
    for i in (0..d).step_by(16) {
        let c = _mm512_sub_epi32(load16(i), mean32);
        let c2 = _mm512_mullo_epi32(c, c); // the exact square as u32
        sq = _mm512_add_epi64(sq, _mm512_and_si512(c2, lo32));
        sq = _mm512_add_epi64(sq, _mm512_srli_epi64(c2, 32));
    }
    let sq = _mm512_reduce_add_epi64(sq) as u64;
    let inv = _mm512_set1_epi64(reference::layer_norm_inv_std(sq, d, ln.eps) as i64);
    let mean64 = _mm512_set1_epi64(mean);
    let half20 = _mm512_set1_epi64(1 << 19);
    let s = ln.shift as i64;
    let half_s = _mm512_set1_epi64(1i64 << (s - 1));
    let count = _mm_set_epi64x(0, s);
    for i in (0..d).step_by(8) {
        // SAFETY: i + 8 <= d <= every length asserted by the caller.
        let (xv, g, b) = unsafe {
            (
                _mm512_cvtepi16_epi64(_mm_loadu_si128(x.as_ptr().add(i).cast())),
                _mm512_cvtepi16_epi64(_mm_loadu_si128(ln.gamma.as_ptr().add(i).cast())),
                _mm512_cvtepi32_epi64(_mm256_loadu_si256(ln.beta.as_ptr().add(i).cast())),
            )
        };
        let c = _mm512_sub_epi64(xv, mean64);
        let n = _mm512_srai_epi64::<20>(_mm512_add_epi64(_mm512_mullo_epi64(c, inv), half20));
        let v = _mm512_add_epi64(_mm512_mullo_epi64(n, g), b);
        let v = clamp8(
            _mm512_sra_epi64(_mm512_add_epi64(v, half_s), count),
            Q8_MAX as i64,
        );
        // SAFETY: i + 8 <= d <= out.len(); 8 bytes written.
        unsafe { _mm_storel_epi64(out.as_mut_ptr().add(i).cast(), _mm512_cvtepi64_epi8(v)) };
    }
}

/// Whether the byte-permute kernels ([`lut_q8`], with `vpermt2b`) can run.
pub fn vbmi_supported() -> bool {
    supported() && is_x86_feature_detected!("avx512vbmi")
}

/// [`crate::engine::reference::lut_q8`]: 64 lookups per step, two `vpermt2b` over
/// the table halves (index `v + 128 = v ^ 0x80`, low 7 bits) and a blend on bit 7.
pub fn lut_q8(table: &[i8], x: &mut [i8]) {
    assert!(table.len() == 256);
    // SAFETY: only reached through the dispatch table after `vbmi_supported()`.
    unsafe { lut_q8_impl(table, x) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
fn lut_q8_impl(table: &[i8], x: &mut [i8]) {
    // SAFETY: table.len() == 256 (asserted by the caller): four 64-byte loads.
    let t: [__m512i; 4] =
        std::array::from_fn(|i| unsafe { _mm512_loadu_si512(table.as_ptr().add(64 * i).cast()) });
    let flip = _mm512_set1_epi8(-128);
    let n = x.len();
    let mut i = 0;
    while i + 64 <= n {
        // SAFETY: i + 64 <= n.
        let v = unsafe { _mm512_loadu_si512(x.as_ptr().add(i).cast()) };
        let idx = _mm512_xor_si512(v, flip);
        let lo = _mm512_permutex2var_epi8(t[0], idx, t[1]);
        let hi = _mm512_permutex2var_epi8(t[2], idx, t[3]);
        let r = _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), lo, hi);
        // SAFETY: as above.
        unsafe { _mm512_storeu_si512(x.as_mut_ptr().add(i).cast(), r) };
        i += 64;
    }
    reference::lut_q8(table, &mut x[i..]);
}

/// [`crate::engine::reference::lut_u16`]: 32 lookups per step, four `vpermt2w`
/// over the table quarters (index `v + 128`, low 6 bits) and blends on bits 6 and 7.
pub fn lut_u16(table: &[u16], x: &[i8], out: &mut [u16]) {
    assert!(table.len() == 256 && out.len() >= x.len());
    // SAFETY: only reached through the dispatch table after `supported()`.
    unsafe { lut_u16_impl(table, x, out) }
}

#[target_feature(enable = "avx512f,avx512bw")]
fn lut_u16_impl(table: &[u16], x: &[i8], out: &mut [u16]) {
    // SAFETY: table.len() == 256 (asserted by the caller): eight 64-byte loads.
    let t: [__m512i; 8] =
        std::array::from_fn(|i| unsafe { _mm512_loadu_si512(table.as_ptr().add(32 * i).cast()) });
    let flip = _mm256_set1_epi8(-128);
    let (bit6, bit7) = (_mm512_set1_epi16(64), _mm512_set1_epi16(128));
    let n = x.len();
    let mut i = 0;
    while i + 32 <= n {
        // SAFETY: i + 32 <= n <= out.len().
        let v = unsafe { _mm256_loadu_si256(x.as_ptr().add(i).cast()) };
        let idx = _mm512_cvtepu8_epi16(_mm256_xor_si256(v, flip));
        let l0 = _mm512_permutex2var_epi16(t[0], idx, t[1]);
        let l1 = _mm512_permutex2var_epi16(t[2], idx, t[3]);
        let l2 = _mm512_permutex2var_epi16(t[4], idx, t[5]);
        let l3 = _mm512_permutex2var_epi16(t[6], idx, t[7]);
        let b6 = _mm512_test_epi16_mask(idx, bit6);
        let r = _mm512_mask_blend_epi16(
            _mm512_test_epi16_mask(idx, bit7),
            _mm512_mask_blend_epi16(b6, l0, l1),
            _mm512_mask_blend_epi16(b6, l2, l3),
        );
        // SAFETY: as above.
        unsafe { _mm512_storeu_si512(out.as_mut_ptr().add(i).cast(), r) };
        i += 32;
    }
    reference::lut_u16(table, &x[i..], &mut out[i..n]);
}

/// The head kernel (`head_frequencies` at every level): `clamp(requant(acc), +-LOGIT_MAX)` then
/// [`crate::intmath::freq::logits_to_frequencies`], in vector form: the same
/// integers (the weights `exp2[gap & 255] >> (gap >> 8)` by gather, their sum in
/// 64-bit lanes, `w * scale < 2^56` by `vpmuludq`, the remainder to the first
/// maximum).
pub fn head_frequencies(acc: &[i32], rq: &Requant, exp2: &[u32; 256], out: &mut Frequencies) {
    assert!(acc.len() >= 256 && rq.mult.len() >= 256 && rq.shift.len() >= 256);
    // SAFETY: only reached through the dispatch table after `supported()`.
    unsafe { head_frequencies_impl(acc, rq, exp2, out) }
}

#[target_feature(enable = "avx512f,avx512dq,avx512bw")]
fn head_frequencies_impl(acc: &[i32], rq: &Requant, exp2: &[u32; 256], out: &mut Frequencies) {
    use crate::intmath::freq::{FREQ_TOTAL, LOGIT_MAX};
    let mut logits = [0i32; 256];
    for i in (0..256).step_by(8) {
        let v = clamp8(round_shift8(product8(acc, rq, i), rq, i), LOGIT_MAX as i64);
        // SAFETY: i + 8 <= 256; vpmovqd writes 32 bytes.
        unsafe { _mm256_storeu_si256(logits.as_mut_ptr().add(i).cast(), _mm512_cvtepi64_epi32(v)) };
    }
    // SAFETY (all loads and stores below): offsets i + 16 <= 256 of 256-entry arrays.
    let load = |i: usize| unsafe { _mm512_loadu_si512(logits.as_ptr().add(i).cast()) };
    let mut mx = load(0);
    for i in (16..256).step_by(16) {
        mx = _mm512_max_epi32(mx, load(i));
    }
    let max = _mm512_reduce_max_epi32(mx);
    let maxv = _mm512_set1_epi32(max);
    let gap_max = _mm512_set1_epi32(crate::intmath::freq::LOGIT_GAP_MAX);
    let lo8 = _mm512_set1_epi32(255);
    let lo32 = _mm512_set1_epi64(0xFFFF_FFFF);
    let mut weights = [0u32; 256];
    let mut total = _mm512_setzero_si512();
    for i in (0..256).step_by(16) {
        let gap = _mm512_min_epi32(_mm512_sub_epi32(maxv, load(i)), gap_max);
        // SAFETY: gather indices are `gap & 255` into the 256-entry table.
        let t = unsafe {
            _mm512_i32gather_epi32::<4>(_mm512_and_si512(gap, lo8), exp2.as_ptr().cast())
        };
        let w = _mm512_srlv_epi32(t, _mm512_srli_epi32::<8>(gap));
        unsafe { _mm512_storeu_si512(weights.as_mut_ptr().add(i).cast(), w) };
        total = _mm512_add_epi64(total, _mm512_and_si512(w, lo32));
        total = _mm512_add_epi64(total, _mm512_srli_epi64::<32>(w));
    }
    let total = _mm512_reduce_add_epi64(total) as u64;
    let scale = _mm512_set1_epi64(((((FREQ_TOTAL - 256) as u64) << 32) / total) as i64);
    let one = _mm512_set1_epi32(1);
    let mut sum = _mm512_setzero_si512();
    let mut first_max = 256;
    for i in (0..256).step_by(16) {
        let w = unsafe { _mm512_loadu_si512(weights.as_ptr().add(i).cast()) };
        let pe = _mm512_mul_epu32(w, scale);
        let po = _mm512_mul_epu32(_mm512_srli_epi64::<32>(w), scale);
        // even lanes: the high half of pe; odd lanes: the high half of po in place
        let f = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64::<32>(pe), po);
        let f = _mm512_add_epi32(f, one);
        unsafe { _mm512_storeu_si512(out.0.as_mut_ptr().add(i).cast(), f) };
        sum = _mm512_add_epi32(sum, f);
        if first_max == 256 {
            let m = _mm512_cmpeq_epi32_mask(load(i), maxv);
            if m != 0 {
                first_max = i + m.trailing_zeros() as usize;
            }
        }
    }
    let sum = _mm512_reduce_add_epi32(sum) as u32;
    out.0[first_max] += FREQ_TOTAL - sum;
}
