//! The integer binary32 sum of the relation model (`src/intmath/softfloat.rs`,
//! `docs/ARITHMETIC.md` section 11) against the float unit: here, outside
//! the integer engine's sources, which never use floats
//! (`tests/kernel_scan.rs`).
#![allow(clippy::float_arithmetic)]

use boa_det::intmath::softfloat::{NOT_FINITE, f32_add, f32_sub};
use proptest::prelude::*;

const SIGN: u32 = 0x8000_0000;
const MAGNITUDE: u32 = 0x7FFF_FFFF;
const INFINITY: u32 = 0x7F80_0000;

/// The float unit's sum, where the operands are finite.
fn hardware(a: u32, b: u32) -> u32 {
    (f32::from_bits(a) + f32::from_bits(b)).to_bits()
}

fn check(a: u32, b: u32) {
    let finite = |x: u32| x & INFINITY != INFINITY;
    if finite(a) && finite(b) {
        assert_eq!(f32_add(a, b), hardware(a, b), "{a:#010x} + {b:#010x}");
        assert_eq!(
            f32_sub(a, b),
            hardware(a, b ^ SIGN),
            "{a:#010x} - {b:#010x}"
        );
    } else {
        assert_eq!(f32_add(a, b), NOT_FINITE);
    }
}

#[test]
fn edge_cases_match_the_float_unit() {
    let specials = [
        0u32,
        SIGN,
        1,
        SIGN | 1,
        0x007F_FFFF,
        0x0080_0000,
        0x0080_0001,
        0x00FF_FFFF,
        0x3F80_0000,
        0x3F80_0001,
        0x3FFF_FFFF,
        0x4B80_0000,
        0x4B7F_FFFF,
        0x3300_0000,
        0x3380_0000,
        0x7F7F_FFFF,
        0x7F00_0000,
        0x7F80_0000,
        0x7FC0_0000,
        0x0000_0003,
    ];
    for &a in &specials {
        for &b in &specials {
            for s in [0, SIGN] {
                check(a, b ^ s);
                check(a ^ s, b);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]
    #[test]
    fn random_bit_patterns_match_the_float_unit(a: u32, b: u32) {
        check(a, b);
    }

    // Operands of nearby exponents: cancellation and rounding ties.
    #[test]
    fn nearby_exponents_match_the_float_unit(a: u32, d in 0u32..(30 << 23), neg: bool) {
        let b = (a & MAGNITUDE).saturating_sub(d) | if neg { SIGN } else { 0 };
        check(a, b);
    }
}
