//! NEON element-wise kernels of the aarch64 levels: the requantizations to q8
//! and q16, the conv, the selective scan and the gate. Layer norm, the tables,
//! the wide requantization and the head stay the reference's (scalar aarch64
//! has one-instruction 64-bit multiplies, and these run once per channel).
//!
//! Rounding: `srshl` (`vrshlq_s64`/`vrshlq_s32` by a negative count) and
//! `srshr` add `2^(s-1)` before shifting at unbounded precision, which is
//! §1.2's `rshift_round` exactly; `sqxtn` saturates a 64-bit lane to int32,
//! after which the clamp to the q8 or q16 range gives §1.2's clamp.
#![deny(clippy::float_arithmetic)]

use crate::engine::reference::{self, ScanLayer};
use crate::intmath::{Q8_MAX, Q16_MAX, requant_q8, requant_q16};
use crate::model::{D_STATE, Requant};
use std::arch::aarch64::*;

pub fn supported() -> bool {
    super::neon::supported()
}

/// Four lanes of `clamp(rshift_round(acc * mult, shift), -lim, lim)` for the
/// channels `i..i + 4`.
#[inline]
#[target_feature(enable = "neon")]
fn requant4(acc: int32x4_t, rq: &Requant, i: usize, lim: i32) -> int32x4_t {
    assert!(i + 4 <= rq.mult.len() && i + 4 <= rq.shift.len());
    // SAFETY: 16 bytes of `mult` at `i`, asserted above.
    let m = unsafe { vld1q_s32(rq.mult.as_ptr().add(i)) };
    let s = &rq.shift[i..i + 4];
    let neg = |a: u8, b: u8| {
        let v = [-i64::from(a), -i64::from(b)];
        // SAFETY: 16 bytes read from a local array.
        unsafe { vld1q_s64(v.as_ptr()) }
    };
    let lo = vrshlq_s64(
        vmull_s32(vget_low_s32(acc), vget_low_s32(m)),
        neg(s[0], s[1]),
    );
    let hi = vrshlq_s64(vmull_high_s32(acc, m), neg(s[2], s[3]));
    let v = vcombine_s32(vqmovn_s64(lo), vqmovn_s64(hi));
    vmaxq_s32(vminq_s32(v, vdupq_n_s32(lim)), vdupq_n_s32(-lim))
}

/// Stores four int32 lanes already in [-127, 127] as bytes at `out[..4]`.
#[inline]
#[target_feature(enable = "neon")]
fn store4_q8(v: int32x4_t, out: &mut [i8]) {
    let mut lanes = [0i32; 4];
    // SAFETY: 16 bytes written to a local array.
    unsafe { vst1q_s32(lanes.as_mut_ptr(), v) };
    for (o, v) in out[..4].iter_mut().zip(lanes) {
        *o = v as i8; // in [-127, 127]: exact
    }
}

/// [`crate::engine::reference::requant_to_q8`].
pub fn requant_to_q8(acc: &[i32], rq: &Requant, out: &mut [i8]) {
    assert!(acc.len() >= out.len() && rq.mult.len() >= out.len() && rq.shift.len() >= out.len());
    assert!(supported(), "neon kernels called on a CPU without NEON");
    // SAFETY: NEON checked just above.
    unsafe { requant_q8_impl(acc, rq, out) }
}

#[target_feature(enable = "neon")]
fn requant_q8_impl(acc: &[i32], rq: &Requant, out: &mut [i8]) {
    let n = out.len();
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: i + 4 <= n <= acc.len().
        let a = unsafe { vld1q_s32(acc.as_ptr().add(i)) };
        store4_q8(requant4(a, rq, i, Q8_MAX), &mut out[i..i + 4]);
        i += 4;
    }
    for j in i..n {
        out[j] = requant_q8(acc[j] as i64, rq.mult[j], rq.shift[j]);
    }
}

/// [`crate::engine::reference::requant_to_q16`].
pub fn requant_to_q16(acc: &[i32], rq: &Requant, out: &mut [i16]) {
    assert!(acc.len() >= out.len() && rq.mult.len() >= out.len() && rq.shift.len() >= out.len());
    assert!(supported(), "neon kernels called on a CPU without NEON");
    // SAFETY: NEON checked just above.
    unsafe { requant_q16_impl(acc, rq, out) }
}

#[target_feature(enable = "neon")]
fn requant_q16_impl(acc: &[i32], rq: &Requant, out: &mut [i16]) {
    let n = out.len();
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: i + 4 <= n <= acc.len() and <= out.len() (8 bytes written).
        unsafe {
            let a = vld1q_s32(acc.as_ptr().add(i));
            let v = requant4(a, rq, i, Q16_MAX);
            vst1_s16(out.as_mut_ptr().add(i), vmovn_s32(v)); // in [-32767, 32767]
        }
        i += 4;
    }
    for j in i..n {
        out[j] = requant_q16(acc[j] as i64, rq.mult[j], rq.shift[j]);
    }
}

/// [`crate::engine::reference::conv_step`] with the weights transposed to `[K][E]`
/// int32: four channels per q register, exact int32 sums (§9.1).
pub fn conv_step(
    x: &[i8],
    window: &mut [i8],
    weight: &[i8],
    weight_t: &[i32],
    bias: &[i32],
    rq: &Requant,
    out: &mut [i8],
) {
    assert!(supported(), "neon kernels called on a CPU without NEON");
    // SAFETY: NEON checked just above; `conv_with` checked every length the
    // body reads or writes.
    let simd = |x: &[i8], w: &[i8], wt: &[i32], b: &[i32], rq: &Requant, o: &mut [i8]| unsafe {
        conv_impl(x, w, wt, b, rq, o)
    };
    crate::engine::cpu::simd_shared::conv_with(4, simd, x, window, weight, weight_t, bias, rq, out)
}

#[target_feature(enable = "neon")]
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
    while c + 4 <= e {
        // SAFETY: c + 4 <= e and the caller's asserted lengths cover every read.
        let acc = unsafe {
            let mut acc = vld1q_s32(bias.as_ptr().add(c));
            for t in 0..D_CONV {
                let src = if t < D_CONV - 1 {
                    &window[t * e + c..]
                } else {
                    &x[c..]
                };
                let a = [
                    i32::from(src[0]),
                    i32::from(src[1]),
                    i32::from(src[2]),
                    i32::from(src[3]),
                ];
                let w = vld1q_s32(weight_t.as_ptr().add(t * e + c));
                acc = vmlaq_s32(acc, w, vld1q_s32(a.as_ptr()));
            }
            acc
        };
        store4_q8(requant4(acc, rq, c, Q8_MAX), &mut out[c..c + 4]);
        c += 4;
    }
}

crate::engine::cpu::simd_shared::level_gate! {
    /// [`crate::engine::reference::gate`] from the reference wide requantization
    /// and table lookup and this level's requantization to q8.
    features: "neon",
    level: "neon",
    kernels: crate::engine::cpu::simd_shared::GateKernels {
        requant_wide: reference::requant_wide_to_q8,
        lut_q8: reference::lut_q8,
        requant_q8: requant_to_q8,
    },
}

/// NEON selective scan (§6), state-major: for one state `n`, 4 consecutive
/// channels share a q register; same signature and results as
/// [`crate::engine::reference::scan_step`].
///
/// Exactness: 32-bit lanes for `dt * A_rate` (`< 2^32`, unsigned), the
/// increment (`|dt * x * B| < 2^30`) and the state; 64-bit lanes (`smull`) for
/// `dA * h < 2^47` and `C * h'`. The rounded `(dA*h + 2^15) >> 16` fits int32
/// (§9.3), so the narrowing `xtn` keeps it whole. The decay table is read
/// with four scalar loads (NEON has no gather).
pub fn scan_step(
    x: &[i8],
    dt: &[u16],
    b: &[i8],
    c: &[i8],
    p: &ScanLayer,
    h: &mut [i32],
    y_acc: &mut [i64],
) {
    assert!(supported(), "neon kernels called on a CPU without NEON");
    p.check(x, dt, b, c, h, y_acc);
    let full = x.len() - x.len() % 4;
    // SAFETY: feature support and every slice length checked above.
    unsafe { scan_blocks(x, dt, b, c, p, h, y_acc, full) }
    reference::scan_channels_from(full, x, dt, b, c, p, h, y_acc);
}

#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "neon")]
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
    let table = crate::engine::cpu::simd_shared::widen_decay_table(p.decay);
    // The increment is `rshift_round(dtx * b, inc_shift)`; from a shift of 31
    // on it is 0 (`|dtx * b| < 2^30`), which is also what `srshl` gives, but
    // the count must fit the instruction's signed byte, so say so plainly.
    let inc_zero = p.inc_shift >= 31;
    // SAFETY: `check` asserted `[N][E]` rates and states and `E` entries of x,
    // dt, d_skip and y_acc; loads and stores are at `n * E + ch` with
    // `ch + 4 <= full <= E`; table indices are `v & 255` into 256 entries.
    unsafe {
        let a_count = vdupq_n_s32(-i32::from(p.a_shift));
        let inc_count = vdupq_n_s32(-i32::from(p.inc_shift.min(31)));
        let vmax = vdupq_n_u32(DECAY_GAP_MAX as u32);
        let vmin = vdupq_n_u32(p.min_exponent);
        let imax = vdupq_n_s32(p.inc_max);
        let imin = vdupq_n_s32(-p.inc_max);
        for ch0 in (0..full).step_by(4) {
            let dt32 = vmovl_u16(vld1_u16(dt.as_ptr().add(ch0)));
            let xb = [
                i32::from(x[ch0]),
                i32::from(x[ch0 + 1]),
                i32::from(x[ch0 + 2]),
                i32::from(x[ch0 + 3]),
            ];
            let x32 = vld1q_s32(xb.as_ptr());
            let dtx = vmulq_s32(vreinterpretq_s32_u32(dt32), x32);
            let (mut y_lo, mut y_hi) = (vdupq_n_s64(0), vdupq_n_s64(0));
            for n in 0..D_STATE {
                let off = n * e + ch0;
                let rates = vmovl_u16(vld1_u16(p.a_rate.as_ptr().add(off)));
                let v = vshlq_u32(vmulq_u32(rates, dt32), a_count);
                let v = vmaxq_u32(vminq_u32(v, vmax), vmin);
                let mut vl = [0u32; 4];
                vst1q_u32(vl.as_mut_ptr(), v);
                let t = [
                    table[(vl[0] & 255) as usize],
                    table[(vl[1] & 255) as usize],
                    table[(vl[2] & 255) as usize],
                    table[(vl[3] & 255) as usize],
                ];
                let hi_bits = vnegq_s32(vreinterpretq_s32_u32(vshrq_n_u32::<8>(v)));
                let da = vreinterpretq_s32_u32(vshlq_u32(vld1q_u32(t.as_ptr()), hi_bits));
                let inc = if inc_zero {
                    vdupq_n_s32(0)
                } else {
                    let prod = vmulq_s32(dtx, vdupq_n_s32(i32::from(b[n])));
                    vmaxq_s32(vminq_s32(vrshlq_s32(prod, inc_count), imax), imin)
                };
                let hp = h.as_mut_ptr().add(off);
                let hv = vld1q_s32(hp);
                let lo = vrshrq_n_s64::<16>(vmull_s32(vget_low_s32(da), vget_low_s32(hv)));
                let hi = vrshrq_n_s64::<16>(vmull_high_s32(da, hv));
                let hn = vaddq_s32(vcombine_s32(vmovn_s64(lo), vmovn_s64(hi)), inc);
                vst1q_s32(hp, hn);
                let cn = vdupq_n_s32(i32::from(c[n]));
                y_lo = vmlal_s32(y_lo, vget_low_s32(cn), vget_low_s32(hn));
                y_hi = vmlal_high_s32(y_hi, cn, hn);
            }
            let mut y = [0i64; 4];
            vst1q_s64(y.as_mut_ptr(), y_lo);
            vst1q_s64(y.as_mut_ptr().add(2), y_hi);
            for (j, sum) in y.into_iter().enumerate() {
                let ch = ch0 + j;
                y_acc[ch] = sum + p.d_skip[ch] as i64 * x[ch] as i64;
            }
        }
    }
}
