//! The logistic domain of the context mixer: `squash` maps a log-odds
//! ("stretch") value to a 12-bit probability and `stretch` is its inverse.
//! Both are integer tables (`docs/FORMAT.md`, section 9.14.1); the
//! interpolation table's 33 points are written out below, so no float is
//! ever evaluated.
#![deny(clippy::float_arithmetic)]

/// Probabilities are 12-bit: `1..=4095` out of [`PROB_ONE`].
pub const PROB_BITS: u32 = 12;
/// The probability 1.
pub const PROB_ONE: i32 = 1 << PROB_BITS;
/// Stretched values lie in `-STRETCH_LIMIT..=STRETCH_LIMIT` (log-odds times
/// 256, so about +-8).
pub const STRETCH_LIMIT: i32 = 2047;

/// `4096 / (1 + exp(-(i - 16) / 2))` rounded, for `i` in `0..33`: the
/// logistic function at every 128th stretched value.
const SQUASH_POINTS: [i32; 33] = [
    1, 2, 4, 6, 10, 17, 27, 45, 74, 120, 194, 311, 488, 747, 1102, 1546, 2048, 2550, 2994, 3349,
    3608, 3785, 3902, 3976, 4022, 4051, 4069, 4079, 4086, 4090, 4092, 4094, 4095,
];

/// The probability (`1..=4095`) of the stretched value `d`: linear
/// interpolation between the two neighbouring [`SQUASH_POINTS`], rounding
/// half up; `d` is clamped to `+-STRETCH_LIMIT` first.
#[inline]
pub const fn squash(d: i32) -> i32 {
    let d = if d > STRETCH_LIMIT {
        STRETCH_LIMIT
    } else if d < -STRETCH_LIMIT {
        -STRETCH_LIMIT
    } else {
        d
    };
    // d + 2048 is in 1..=4095: segment i = (d + 2048) / 128, weight w.
    let x = d + 2048;
    let i = (x >> 7) as usize;
    let w = x & 127;
    let v = (SQUASH_POINTS[i] * (128 - w) + SQUASH_POINTS[i + 1] * w + 64) >> 7;
    // The ends of the table are 1 and 4095, so v is already in range; the
    // clamp documents it.
    if v < 1 {
        1
    } else if v > PROB_ONE - 1 {
        PROB_ONE - 1
    } else {
        v
    }
}

/// `STRETCH[p]` for `p` in `0..4096`: the smallest `d` in
/// `-2047..=2047` with `squash(d) >= p` (2047 if none), so that
/// `squash(stretch(p))` is the probability at or just above `p`.
static STRETCH: [i16; 4096] = build_stretch();

const fn build_stretch() -> [i16; 4096] {
    let mut t = [0i16; 4096];
    let mut p = 0usize;
    let mut d = -STRETCH_LIMIT;
    // squash is non-decreasing in d, so one sweep finds every p's d.
    while p < 4096 {
        while d < STRETCH_LIMIT && squash(d) < p as i32 {
            d += 1;
        }
        t[p] = d as i16;
        p += 1;
    }
    t
}

/// The stretched value of the 12-bit probability `p` (`0..4096`; larger
/// values are masked to 12 bits).
#[inline]
pub fn stretch(p: i32) -> i32 {
    i32::from(STRETCH[(p as usize) & 4095])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squash_is_monotone_and_bounded() {
        let mut last = 0;
        for d in -3000..=3000 {
            let p = squash(d);
            assert!((1..=4095).contains(&p));
            assert!(p >= last, "squash({d}) = {p} < {last}");
            last = p;
        }
        assert_eq!(squash(0), 2048);
    }

    #[test]
    fn stretch_inverts_squash() {
        for p in 1..4096 {
            let d = stretch(p);
            assert!(squash(d) >= p || d == STRETCH_LIMIT, "p {p} d {d}");
            if d > -STRETCH_LIMIT {
                assert!(squash(d - 1) < p, "p {p} d {d}");
            }
        }
        assert!(stretch(2048) <= 0 && stretch(2049) >= 0);
        // Symmetric to within one step of the table, away from the ends
        // (where the table's rounding to 1 and 4095 is coarse).
        for p in 64..=4032 {
            assert!((stretch(p) + stretch(4096 - p)).abs() <= 16, "p {p}");
        }
    }
}
