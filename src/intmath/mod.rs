//! The integer primitives of the arithmetic (`docs/ARITHMETIC.md`), and the
//! arithmetic versions: v1 and v2 differ only in two constants of the scan (§6).
//!
//! Every function here is total over its documented input range and is defined
//! by exact integer formulas, so any implementation (SIMD, CUDA) that follows
//! the formula reproduces it bit for bit. Rust's `>>` on signed integers is an
//! arithmetic shift (floor division by a power of two); the spec relies on that
//! and the C helpers in `kernels/` spell it out without implementation-defined
//! behaviour.
#![deny(clippy::float_arithmetic)]

pub mod freq;
pub mod softfloat;

/// An arithmetic version. Stored in model files (and so in the fingerprint) and
/// in archive headers. Every version that ever shipped stays implemented, so
/// archives made with it keep decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ArithVersion {
    /// boa-det 0.1.0: the scan's decay exponent may be 0, increments within +-2^14.
    V1,
    /// boa-det 0.2.0: decay exponent at least 1 (every state forgets), increments within +-2^22.
    V2,
}

impl ArithVersion {
    /// The version new models are quantized to.
    pub const NEWEST: ArithVersion = ArithVersion::V2;
    /// The first version.
    pub const OLDEST: ArithVersion = ArithVersion::V1;
    /// Every version this build implements, oldest first.
    pub const ALL: [ArithVersion; 2] = [ArithVersion::V1, ArithVersion::V2];

    /// The version with this number, if this build implements it.
    pub fn from_number(n: u64) -> Option<ArithVersion> {
        Self::ALL.into_iter().find(|v| v.number() as u64 == n)
    }

    /// The number stored in files.
    pub fn number(self) -> u16 {
        match self {
            ArithVersion::V1 => 1,
            ArithVersion::V2 => 2,
        }
    }

    /// Smallest decay exponent `v` of the scan (§6): v2 clamps it to 1 so that
    /// no state keeps its value for ever (a v1 state with `v = 0` decays by only
    /// 2^-16 per byte, which drifts over a long chunk).
    pub fn min_decay_exponent(self) -> u32 {
        match self {
            ArithVersion::V1 => 0,
            ArithVersion::V2 => 1,
        }
    }

    /// Largest |increment| added to a scan state per step (§6). v2's decay is at
    /// most `decay_exp2[1] < 2^16`, which bounds the state 256 times further
    /// below 2^31 than v1's, so its increments get 8 more bits of resolution.
    pub fn inc_max(self) -> i64 {
        match self {
            ArithVersion::V1 => 1 << 14,
            ArithVersion::V2 => 1 << 22,
        }
    }
}

impl std::fmt::Display for ArithVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.number())
    }
}

/// Largest magnitude of an 8-bit activation or weight. -128 is never used, so
/// negation is closed and every kernel can treat the range as symmetric.
pub const Q8_MAX: i32 = 127;

/// Largest magnitude of a 16-bit residual value (the residual stream saturates here).
pub const Q16_MAX: i32 = 32767;

/// Round-half-up shift: `floor((v + 2^(s-1)) / 2^s)` for `s >= 1`, `v` for `s == 0`.
///
/// `s` must be at most 62 and `|v| < 2^62` so the rounding addend cannot overflow.
#[inline(always)]
pub fn rshift_round(v: i64, s: u32) -> i64 {
    if s == 0 {
        v
    } else {
        (v + (1i64 << (s - 1))) >> s
    }
}

/// Saturate to the symmetric 8-bit range `[-127, 127]`.
#[inline(always)]
pub fn clamp_q8(v: i64) -> i8 {
    v.clamp(-(Q8_MAX as i64), Q8_MAX as i64) as i8
}

/// Saturate to the symmetric 16-bit range `[-32767, 32767]`.
#[inline(always)]
pub fn clamp_q16(v: i64) -> i16 {
    v.clamp(-(Q16_MAX as i64), Q16_MAX as i64) as i16
}

/// Requantize an accumulator with a fixed-point multiplier: `rshift_round(acc * m, s)`.
///
/// Preconditions (checked when a model loads): `|acc| < 2^31`, `0 <= m < 2^31`,
/// `1 <= s <= 62`, so `|acc * m| < 2^62` and the sum with the rounding addend fits i64.
#[inline(always)]
pub fn requant(acc: i64, m: i32, s: u8) -> i64 {
    rshift_round(acc * m as i64, s as u32)
}

/// Requantize to an 8-bit activation.
#[inline(always)]
pub fn requant_q8(acc: i64, m: i32, s: u8) -> i8 {
    clamp_q8(requant(acc, m, s))
}

/// Requantize to a 16-bit residual value.
#[inline(always)]
pub fn requant_q16(acc: i64, m: i32, s: u8) -> i16 {
    clamp_q16(requant(acc, m, s))
}

/// Index of an 8-bit value in a 256-entry lookup table: `v + 128`.
#[inline(always)]
pub fn lut_index(v: i8) -> usize {
    (v as i16 + 128) as usize
}

/// `floor(sqrt(n))`, exact for every `u64`.
///
/// Bit-by-bit (digit-by-digit) method: no float, no data-dependent iteration count
/// beyond 32 rounds, and the result is the unique `r` with `r^2 <= n < (r+1)^2`,
/// so every correct implementation agrees.
pub fn isqrt_u64(n: u64) -> u64 {
    let mut rem = n;
    let mut root: u64 = 0;
    let mut bit: u64 = 1 << 62;
    while bit > rem {
        bit >>= 2;
    }
    while bit != 0 {
        if rem >= root + bit {
            rem -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    root
}

/// Floor division by a positive divisor (rounds toward minus infinity).
#[inline(always)]
pub fn floor_div(n: i64, d: i64) -> i64 {
    debug_assert!(d > 0);
    n.div_euclid(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rshift_round_is_round_half_up() {
        assert_eq!(rshift_round(5, 1), 3); // 2.5 -> 3
        assert_eq!(rshift_round(-5, 1), -2); // -2.5 -> -2
        assert_eq!(rshift_round(-6, 2), -1); // -1.5 -> -1
        assert_eq!(rshift_round(-7, 2), -2); // -1.75 -> -2
        assert_eq!(rshift_round(7, 0), 7);
    }

    #[test]
    fn isqrt_edges() {
        for n in 0..10_000u64 {
            let r = isqrt_u64(n);
            assert!(r * r <= n && (r + 1) * (r + 1) > n, "n={n}");
        }
        assert_eq!(isqrt_u64(u64::MAX), 0xFFFF_FFFF);
        assert_eq!(isqrt_u64((1 << 62) - 1), (1 << 31) - 1);
        assert_eq!(isqrt_u64(1 << 62), 1 << 31);
    }

    proptest! {
        #[test]
        fn isqrt_is_floor_sqrt(n in any::<u64>()) {
            let r = isqrt_u64(n) as u128;
            prop_assert!(r * r <= n as u128 && (r + 1) * (r + 1) > n as u128);
        }

        #[test]
        fn rshift_round_matches_i128_formula(v in -(1i64 << 61)..(1i64 << 61), s in 1u32..=62) {
            let exact = ((v as i128) + (1i128 << (s - 1))).div_euclid(1i128 << s);
            prop_assert_eq!(rshift_round(v, s) as i128, exact);
        }

        #[test]
        fn floor_div_floors(n in any::<i32>(), d in 1i64..100_000) {
            let q = floor_div(n as i64, d);
            prop_assert!(q * d <= n as i64 && (q + 1) * d > n as i64);
        }
    }
}
