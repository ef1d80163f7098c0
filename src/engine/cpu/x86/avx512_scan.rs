//! AVX-512 selective scan (`docs/ARITHMETIC.md` §6), state-major: for one
//! state `n`, 32 consecutive channels share a register, so the per-state
//! values `B[n]`, `C[n]` are broadcasts and `C . h` sums vertically (no
//! horizontal reductions). Same signature and results as `kernels::scan_step`.
//!
//! Per block of 32 channels and state `n`:
//! - the decay exponent `v` and `dA` in 16-bit lanes (32 per register): `v <=
//!   4096` and `dA <= 65535`, so a register of 32 lanes goes through the 256-entry
//!   table with four `vpermt2w` and three blends;
//! - the increment, the state and its update in 32-bit lanes, exactly (below);
//! - `C[n] * h'` split by bytes and words into three VNNI products
//!   (`vpdpbusd` twice, `vpdpwssd` once) into 32-bit sums; the 64-bit `y` is
//!   assembled once per block.
#![deny(clippy::float_arithmetic)]

use super::avx512::supported;
use crate::engine::reference::ScanLayer;
use crate::model::D_STATE;
use crate::model::bounds::DECAY_GAP_MAX;
use std::arch::x86_64::*;

/// Channels per block: one register of 16-bit lanes.
const BLOCK: usize = 32;

/// The scan step; see the module comment. Why each piece is exact:
///
/// - **Decay exponent.** `dt * A_rate < 2^32` is held as its high and low
///   16-bit halves (`vpmulhuw`, `vpmullw`). For `A_shift` in 4..=16, `v =
///   min((hi << (16 - a)) | (lo >> a), 4096)` once `hi` is capped at `2^(a-4)`
///   (any `hi >= 2^(a-4)` means `v >= 4096`, and the cap keeps the shifted value
///   below 2^16); for 17..=32, `v = min(hi >> (a - 16), 4096)`; for 0..=3 the
///   32-bit product is shifted in 32-bit lanes and narrowed.
/// - **`dA = T[v & 255] >> (v >> 8)`**: `vpermt2w` reads the low six index bits,
///   the blends bits 6 and 7; `vpsrlvw` gives 0 for counts of 16, as the
///   reference's shift of a 16-bit value does.
/// - **Increment**: `|dt * x * B| <= 65535 * 128^2 < 2^30`, so the product and
///   its rounding fit int32; for `inc_shift >= 31` the increment is 0. The clamp
///   is skipped when the model's shift makes it unreachable.
/// - **State**: with `h = hi * 2^16 + lo` (`hi = h >> 16` arithmetic, `lo` the low
///   16 bits unsigned), `round(dA * h / 2^16) = dA * hi + floor(dA * lo / 2^16) +
///   bit 15 of (dA * lo)`. `|dA * hi| <= 65535 * 2^15 < 2^31` (`vpmulld`); the
///   other two are the high and low halves of a 16-bit product (`vpmulhuw`,
///   `vpmullw` on the low word of each lane; `dA`'s high word is 0, so the
///   products of the high words vanish).
/// - **Output**: `h' = 2^16 * H + 2^8 * b1 + b0` with `H` its signed high word and
///   `b1`, `b0` its unsigned low bytes, so `sum_n C[n] h'[n] = 2^16 sum C H +
///   2^8 sum C b1 + sum C b0`; each sum of 16 terms is below 2^27 in int32.
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
    let full = x.len() - x.len() % BLOCK;
    // One instantiation per exponent mode and increment clamp, so that neither
    // choice is a branch inside the loops.
    let mode = Exponent::of(p.a_shift);
    let f = match (mode, increment_clamp_needed(p.inc_shift, p.inc_max)) {
        (Exponent::Wide, false) => scan_blocks::<WIDE, false>,
        (Exponent::Wide, true) => scan_blocks::<WIDE, true>,
        (Exponent::Split { .. }, false) => scan_blocks::<SPLIT, false>,
        (Exponent::Split { .. }, true) => scan_blocks::<SPLIT, true>,
        (Exponent::High { .. }, false) => scan_blocks::<HIGH, false>,
        (Exponent::High { .. }, true) => scan_blocks::<HIGH, true>,
    };
    // SAFETY: feature support and every slice length checked above.
    unsafe { f(x, dt, b, c, p, mode, h, y_acc, full) }
    crate::engine::reference::scan_channels_from(full, x, dt, b, c, p, h, y_acc);
}

/// How the decay exponent is taken from `dt * A_rate` for the layer's `A_shift`.
#[derive(Clone, Copy)]
enum Exponent {
    /// `A_shift` 0..=3: 32-bit lanes.
    Wide,
    /// `A_shift` 4..=16: from both 16-bit halves of the product.
    Split { cap: i16, left: i64, right: i64 },
    /// `A_shift` 17..=32: from the high half alone.
    High { right: i64 },
}

/// `Exponent`'s variants as const parameters of `scan_blocks` (which also gets
/// the `Exponent` itself, for its shift constants).
const WIDE: u8 = 0;
const SPLIT: u8 = 1;
const HIGH: u8 = 2;

impl Exponent {
    fn of(a_shift: u8) -> Exponent {
        let a = a_shift as i64;
        match a {
            0..=3 => Exponent::Wide,
            4..=16 => Exponent::Split {
                cap: 1 << (a - 4),
                left: 16 - a,
                right: a,
            },
            _ => Exponent::High { right: a - 16 },
        }
    }
}

/// Whether `clamp(rshift_round(p, s), -i, i)` can change any `|p| <= 65535 * 128^2`.
fn increment_clamp_needed(s: u8, inc_max: i32) -> bool {
    const P: i64 = 65535 * 128 * 128;
    let round = |v: i64| crate::intmath::rshift_round(v, s as u32);
    s < 31 && (round(P) > inc_max as i64 || round(-P) < -(inc_max as i64))
}

/// The 32-bit `[N]` broadcast operands of one step: `B[n]`, and `C[n]` placed
/// in byte 0, byte 1 and word 1 of a lane for the three VNNI products.
struct StateOperands {
    b: [i32; D_STATE],
    c_byte0: [i32; D_STATE],
    c_byte1: [i32; D_STATE],
    c_word1: [i32; D_STATE],
}

impl StateOperands {
    /// `inc_zero`: the increment is 0 for every input (`inc_shift >= 31`); a
    /// zero `B` gives exactly that through the ordinary increment code.
    fn new(b: &[i8], c: &[i8], inc_zero: bool) -> StateOperands {
        StateOperands {
            b: std::array::from_fn(|n| if inc_zero { 0 } else { b[n] as i32 }),
            c_byte0: std::array::from_fn(|n| c[n] as u8 as i32),
            c_byte1: std::array::from_fn(|n| (c[n] as u8 as i32) << 8),
            c_word1: std::array::from_fn(|n| ((c[n] as i16 as u16 as u32) << 16) as i32),
        }
    }
}

/// 32 u16 lanes as two registers of 16 u32 lanes (channels 0..16, 16..32).
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn widen_u16(v: __m512i) -> [__m512i; 2] {
    [
        _mm512_cvtepu16_epi32(_mm512_castsi512_si256(v)),
        _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64::<1>(v)),
    ]
}

// Three instructions written as inline asm, because LLVM compiles their
// intrinsics into longer sequences in the loops below (seen in `perf annotate`):
// - `_mm512_mulhi_epu16` reaches LLVM as widen-multiply-shift-narrow, which it
//   rebuilds as two 32-bit-lane halves with widening and narrowing around them
//   (eight instructions instead of one);
// - `_mm512_srlv_epi16` gets a compare and a zero mask for counts of 16 or more,
//   which `vpsrlvw` already turns into 0;
// - `_mm512_dpwssd_epi32` is split into `vpmaddwd` and `vpaddd`.
// Each block reads and writes registers only; the features are enabled by the
// helpers' `target_feature` attributes.

/// A one-instruction helper `$name(a, b)` running `$insn r, a, b`.
macro_rules! asm_binary {
    ($(#[$doc:meta])* $name:ident, $insn:literal, $features:literal) => {
        $(#[$doc])*
        #[inline]
        #[target_feature(enable = $features)]
        fn $name(a: __m512i, b: __m512i) -> __m512i {
            let r: __m512i;
            // SAFETY: register operands only (see above).
            unsafe {
                std::arch::asm!(
                    concat!($insn, " {r}, {a}, {b}"),
                    r = lateout(zmm_reg) r,
                    a = in(zmm_reg) a,
                    b = in(zmm_reg) b,
                    options(pure, nomem, nostack, preserves_flags)
                )
            };
            r
        }
    };
}

asm_binary!(
    /// `vpmulhuw`: the high 16 bits of each unsigned 16-bit product.
    mulhi_epu16,
    "vpmulhuw",
    "avx512f,avx512bw"
);
asm_binary!(
    /// `vpsrlvw`: each 16-bit lane of `a` shifted right by its count in `b` (0 for
    /// counts >= 16).
    srlv_epi16,
    "vpsrlvw",
    "avx512f,avx512bw"
);

/// `vpdpwssd`: `acc` plus the sums of adjacent signed 16-bit products.
#[inline]
#[target_feature(enable = "avx512f,avx512vnni")]
fn dpwssd(mut acc: __m512i, a: __m512i, b: __m512i) -> __m512i {
    // SAFETY: register operands only (see above).
    unsafe {
        std::arch::asm!(
            "vpdpwssd {acc}, {a}, {b}",
            acc = inout(zmm_reg) acc,
            a = in(zmm_reg) a,
            b = in(zmm_reg) b,
            options(pure, nomem, nostack, preserves_flags)
        )
    };
    acc
}

#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn scan_blocks<const MODE: u8, const CLAMP: bool>(
    x: &[i8],
    dt: &[u16],
    b: &[i8],
    c: &[i8],
    p: &ScanLayer,
    mode: Exponent,
    h: &mut [i32],
    y_acc: &mut [i64],
    full: usize,
) {
    let e = x.len();
    let s = p.inc_shift as i64;
    let ops = StateOperands::new(b, c, s >= 31);
    let (iadd, icount) = match s {
        1..=30 => (1i32 << (s - 1), s),
        _ => (0, 0),
    };
    // SAFETY: `check` asserted `[N][E]` rates and states, `E` entries of x, dt,
    // d_skip and y_acc, and a 256-entry table; every load and store below is
    // at `n * E + ch` with `ch + 32 <= full <= E`.
    unsafe {
        let tab: [__m512i; 8] =
            std::array::from_fn(|i| _mm512_loadu_si512(p.decay.as_ptr().add(32 * i).cast()));
        let vmax16 = _mm512_set1_epi16(DECAY_GAP_MAX as i16);
        let vmin16 = _mm512_set1_epi16(p.min_exponent as i16);
        let bit6 = _mm512_set1_epi16(64);
        let bit7 = _mm512_set1_epi16(128);
        let ashift_x = _mm_set_epi64x(0, p.a_shift as i64);
        let vmax32 = _mm512_set1_epi32(DECAY_GAP_MAX as i32);
        let (cap, left_x, right_x) = match mode {
            Exponent::Split { cap, left, right } => (
                _mm512_set1_epi16(cap),
                _mm_set_epi64x(0, left),
                _mm_set_epi64x(0, right),
            ),
            Exponent::High { right } => (
                _mm512_setzero_si512(),
                _mm_setzero_si128(),
                _mm_set_epi64x(0, right),
            ),
            Exponent::Wide => (
                _mm512_setzero_si512(),
                _mm_setzero_si128(),
                _mm_setzero_si128(),
            ),
        };
        let iadd_v = _mm512_set1_epi32(iadd);
        let icount_x = _mm_set_epi64x(0, icount);
        let imax = _mm512_set1_epi32(p.inc_max);
        let imin = _mm512_set1_epi32(-p.inc_max);

        // v for 32 channels (u16 lanes), min_exponent..=4096.
        let exponent = |dt16: __m512i, rates: __m512i| {
            let v = match MODE {
                SPLIT => {
                    let hi = _mm512_min_epu16(mulhi_epu16(dt16, rates), cap);
                    let lo = _mm512_mullo_epi16(dt16, rates);
                    _mm512_min_epu16(
                        _mm512_or_si512(
                            _mm512_sll_epi16(hi, left_x),
                            _mm512_srl_epi16(lo, right_x),
                        ),
                        vmax16,
                    )
                }
                HIGH => {
                    _mm512_min_epu16(_mm512_srl_epi16(mulhi_epu16(dt16, rates), right_x), vmax16)
                }
                _ => {
                    let half = |d: __m256i, r: __m256i| {
                        let prod =
                            _mm512_mullo_epi32(_mm512_cvtepu16_epi32(d), _mm512_cvtepu16_epi32(r));
                        _mm512_cvtepi32_epi16(_mm512_min_epu32(
                            _mm512_srl_epi32(prod, ashift_x),
                            vmax32,
                        ))
                    };
                    let lo = half(_mm512_castsi512_si256(dt16), _mm512_castsi512_si256(rates));
                    let hi = half(
                        _mm512_extracti64x4_epi64::<1>(dt16),
                        _mm512_extracti64x4_epi64::<1>(rates),
                    );
                    _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi)
                }
            };
            _mm512_max_epu16(v, vmin16)
        };
        // dA = T[v & 255] >> (v >> 8) for 32 channels (u16 lanes).
        let decay = |v: __m512i| {
            let l0 = _mm512_permutex2var_epi16(tab[0], v, tab[1]);
            let l1 = _mm512_permutex2var_epi16(tab[2], v, tab[3]);
            let l2 = _mm512_permutex2var_epi16(tab[4], v, tab[5]);
            let l3 = _mm512_permutex2var_epi16(tab[6], v, tab[7]);
            let b6 = _mm512_test_epi16_mask(v, bit6);
            let b7 = _mm512_test_epi16_mask(v, bit7);
            let t = _mm512_mask_blend_epi16(
                b7,
                _mm512_mask_blend_epi16(b6, l0, l1),
                _mm512_mask_blend_epi16(b6, l2, l3),
            );
            srlv_epi16(t, _mm512_srli_epi16::<8>(v))
        };

        // Every dA of one block; initialised once here rather than per block.
        let mut da_block = [_mm512_setzero_si512(); D_STATE];
        for ch0 in (0..full).step_by(BLOCK) {
            let dt16 = _mm512_loadu_si512(dt.as_ptr().add(ch0).cast());
            let dt32 = widen_u16(dt16);
            let dtx = [0, 1].map(|k| {
                let xv = _mm512_cvtepi8_epi32(_mm_loadu_si128(x.as_ptr().add(ch0 + 16 * k).cast()));
                _mm512_mullo_epi32(dt32[k], xv)
            });
            let mut sum_word1 = [_mm512_setzero_si512(); 2];
            let mut sum_byte1 = [_mm512_setzero_si512(); 2];
            let mut sum_byte0 = [_mm512_setzero_si512(); 2];
            // Two passes over the states: first every dA of the block (short,
            // independent chains that the core overlaps), then the updates.
            for (n, da) in da_block.iter_mut().enumerate() {
                let rates = _mm512_loadu_si512(p.a_rate.as_ptr().add(n * e + ch0).cast());
                *da = decay(exponent(dt16, rates));
            }
            for (n, &da16) in da_block.iter().enumerate() {
                let off = n * e + ch0;
                let da = widen_u16(da16);
                let bn = _mm512_set1_epi32(ops.b[n]);
                let (cb0, cb1, cw1) = (
                    _mm512_set1_epi32(ops.c_byte0[n]),
                    _mm512_set1_epi32(ops.c_byte1[n]),
                    _mm512_set1_epi32(ops.c_word1[n]),
                );
                for k in 0..2 {
                    let prod = _mm512_mullo_epi32(dtx[k], bn);
                    let r = _mm512_sra_epi32(_mm512_add_epi32(prod, iadd_v), icount_x);
                    let inc = if CLAMP {
                        _mm512_max_epi32(_mm512_min_epi32(r, imax), imin)
                    } else {
                        r
                    };
                    let hp = h.as_mut_ptr().add(off + 16 * k);
                    let hv = _mm512_loadu_si512(hp as *const _);
                    let high = _mm512_mullo_epi32(da[k], _mm512_srai_epi32::<16>(hv));
                    let low = _mm512_add_epi32(
                        _mm512_mulhi_epu16(hv, da[k]),
                        _mm512_srli_epi32::<15>(_mm512_mullo_epi16(hv, da[k])),
                    );
                    let hn = _mm512_add_epi32(_mm512_add_epi32(high, low), inc);
                    _mm512_storeu_si512(hp as *mut _, hn);
                    sum_byte0[k] = _mm512_dpbusd_epi32(sum_byte0[k], hn, cb0);
                    sum_byte1[k] = _mm512_dpbusd_epi32(sum_byte1[k], hn, cb1);
                    sum_word1[k] = dpwssd(sum_word1[k], hn, cw1);
                }
            }
            // y = 2^16 sum_word1 + 2^8 sum_byte1 + sum_byte0 + D x, 8 channels at a time.
            for k in 0..2 {
                for half in 0..2 {
                    let wide = |v: __m512i| {
                        _mm512_cvtepi32_epi64(if half == 0 {
                            _mm512_castsi512_si256(v)
                        } else {
                            _mm512_extracti64x4_epi64::<1>(v)
                        })
                    };
                    let ch = ch0 + 16 * k + 8 * half;
                    let dx = _mm512_mul_epi32(
                        _mm512_cvtepi32_epi64(_mm256_loadu_si256(p.d_skip.as_ptr().add(ch).cast())),
                        _mm512_cvtepi8_epi64(_mm_loadl_epi64(x.as_ptr().add(ch).cast())),
                    );
                    let y = _mm512_add_epi64(
                        _mm512_add_epi64(
                            _mm512_slli_epi64::<16>(wide(sum_word1[k])),
                            _mm512_slli_epi64::<8>(wide(sum_byte1[k])),
                        ),
                        _mm512_add_epi64(wide(sum_byte0[k]), dx),
                    );
                    _mm512_storeu_si512(y_acc.as_mut_ptr().add(ch).cast(), y);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increment_clamp_rule() {
        // v2 (I = 2^22): the clamp matters below shift 8; v1 (I = 2^14) below 16.
        assert!(increment_clamp_needed(6, 1 << 22));
        assert!(!increment_clamp_needed(8, 1 << 22));
        assert!(increment_clamp_needed(15, 1 << 14));
        assert!(!increment_clamp_needed(16, 1 << 14));
        assert!(!increment_clamp_needed(31, 0));
    }
}
