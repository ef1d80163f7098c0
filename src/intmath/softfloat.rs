//! IEEE-754 binary32 addition in integer arithmetic, for models that predict
//! a float column of a table from other columns of its record (for example
//! a jet's neutral hadron energy as its hadron energy minus the charged
//! part). The float unit is never used, so the prediction is the same on
//! every machine (`docs/ARITHMETIC.md`, section 11).
//!
//! For finite operands the result is the IEEE sum, rounded to nearest with
//! ties to even, subnormals included, overflow to infinity. A NaN or
//! infinite operand gives [`NOT_FINITE`] (a prediction need not follow IEEE
//! there, only be fixed).
#![deny(clippy::float_arithmetic)]

/// The result of an operation with a NaN or infinite operand: the quiet NaN
/// `0x7FC0_0000`.
pub const NOT_FINITE: u32 = 0x7FC0_0000;

const SIGN: u32 = 0x8000_0000;
const MAGNITUDE: u32 = 0x7FFF_FFFF;
const INFINITY: u32 = 0x7F80_0000;

/// `a + b` on the bit patterns of two binary32 numbers.
pub fn f32_add(a: u32, b: u32) -> u32 {
    if a & INFINITY == INFINITY || b & INFINITY == INFINITY {
        return NOT_FINITE;
    }
    // The larger magnitude first (bit patterns of finite numbers order as
    // their magnitudes); on a tie either order gives the same sum.
    let (big, small) = if a & MAGNITUDE >= b & MAGNITUDE {
        (a, b)
    } else {
        (b, a)
    };
    // Significand and exponent: the magnitude is m * 2^(e - 150).
    let unpack = |x: u32| -> (u64, u32) {
        let e = (x >> 23) & 0xFF;
        let f = u64::from(x & 0x7F_FFFF);
        if e == 0 { (f, 1) } else { (f | 1 << 23, e) }
    };
    let (m1, e1) = unpack(big);
    let (m2, e2) = unpack(small);
    let subtract = (a ^ b) & SIGN != 0;
    // Both significands scaled by 2^40; the smaller one aligned to the
    // larger, its lost bits kept as one sticky bit (exact for rounding:
    // the result keeps 24 bits from bit 39 up at least).
    let x1 = u128::from(m1 << 40);
    let d = e1 - e2;
    let x2 = if d >= 64 {
        u128::from(m2 != 0)
    } else {
        let s = m2 << 40;
        u128::from((s >> d) | u64::from(s & ((1u64 << d) - 1) != 0))
    };
    let x = if subtract { x1 - x2 } else { x1 + x2 };
    if x == 0 {
        // x + (-x) is +0; -0 + -0 is -0.
        return a & b & SIGN;
    }
    // The magnitude is x * 2^(e1 - 190); with a 24-bit significand at
    // biased exponent `e`, x >> shift (rounded) is it.
    let top = 127 - x.leading_zeros();
    let e = i64::from(top) + i64::from(e1) - 63;
    let (shift, e) = if e >= 1 {
        (top - 23, e as u32)
    } else {
        // Subnormal: exponent field 0, the scale of exponent 1.
        (41 - e1, 1)
    };
    let mut m = (x >> shift) as u32;
    let rest = x & ((1u128 << shift) - 1);
    let half = 1u128 << (shift - 1);
    if rest > half || (rest == half && m & 1 == 1) {
        m += 1;
    }
    // A significand rounded up to 2^24 carries into the exponent; a
    // subnormal one rounded up to 2^23 becomes the smallest normal.
    let bits = u64::from(e - 1) * (1 << 23) + u64::from(m);
    let magnitude = if bits >= u64::from(INFINITY) {
        INFINITY
    } else {
        bits as u32
    };
    (big & SIGN) | magnitude
}

/// `a - b` on the bit patterns of two binary32 numbers.
pub fn f32_sub(a: u32, b: u32) -> u32 {
    f32_add(a, b ^ SIGN)
}
