//! Learned hit rates: how each finder turns its predicted byte into a
//! frequency. A finder offers one byte per position in one of its contexts;
//! the context's adaptive hit probability decides how much mass the byte gets
//! ([`raise`]), and the actual byte then updates that probability.
//!
//! Normative description: `docs/FORMAT.md` section 9.9. All arithmetic is on
//! unsigned integers and cannot overflow (bounds are stated inline).
#![deny(clippy::float_arithmetic)]

use crate::intmath::freq::{FREQ_TOTAL, Frequencies};

/// Update counts saturate here; the adaptation rate is `2 / (2n + 3)`.
pub const COUNT_LIMIT: u32 = 255;
/// Fixed-point scale of hit probabilities: 16 bits.
pub(super) const P_ONE: u32 = 1 << 16;

/// Adaptation rate after `n` updates, in 16 bits: `RATE[n] = floor(2^17 / (2n + 3))`
/// for `n <= COUNT_LIMIT` (a table, so the per-byte update does not divide).
const RATE: [u32; COUNT_LIMIT as usize + 1] = {
    let mut t = [0u32; COUNT_LIMIT as usize + 1];
    let mut n = 0;
    while n < t.len() {
        t[n] = (2 * P_ONE) / (2 * n as u32 + 3);
        n += 1;
    }
    t
};

/// An adaptive hit probability: `p / 2^16` estimates how often the predicted
/// byte is right in one context. `p` stays in `1..2^16`.
#[derive(Clone, Copy, Debug)]
pub(super) struct HitRate {
    pub(super) p: u32,
    pub(super) n: u32,
}

impl HitRate {
    pub(super) const INITIAL: Self = Self { p: P_ONE / 2, n: 0 };

    pub(super) fn update(&mut self, hit: bool) {
        let r = RATE[self.n as usize];
        // Both products are < 2^16 * 2^16 (r < 2^16): no u32 overflow.
        if hit {
            self.p += ((P_ONE - 1 - self.p) * r) >> 16;
        } else {
            self.p -= (self.p * r) >> 16;
        }
        self.p = self.p.max(1);
        self.n = (self.n + 1).min(COUNT_LIMIT);
    }
}

/// The learned hit rates of one finder, per context, and its last offer:
/// what every finder does with its predicted byte.
pub(super) struct HitRates {
    rates: Vec<HitRate>,
    /// The context and byte of the last offer, for [`HitRates::learn`].
    pending: Option<(usize, u8)>,
}

impl HitRates {
    pub(super) fn new(contexts: usize, initial: HitRate) -> Self {
        Self {
            rates: vec![initial; contexts],
            pending: None,
        }
    }

    /// No prediction for this byte.
    pub(super) fn pass(&mut self) {
        self.pending = None;
    }

    /// Predicts `b` in context `ctx`: raises `freq[b]` to the learned hit
    /// rate if that is higher.
    pub(super) fn offer(&mut self, ctx: usize, b: u8, freq: &mut Frequencies) {
        self.pending = Some((ctx, b));
        // The learned hit rate in 24 bits; <= 2^24 - 256.
        let h = self.rates[ctx].p << 8;
        if h > freq.0[b as usize] {
            raise(freq, b, h);
        }
    }

    /// Learns whether the last offer was the actual `byte`.
    pub(super) fn learn(&mut self, byte: u8) {
        if let Some((ctx, b)) = self.pending.take() {
            self.rates[ctx].update(b == byte);
        }
    }
}

/// Raises the frequency of `b` from `freq[b] < h` to about `h`: every other
/// entry is scaled by `w / 2^32` with `w = floor(2^32 (2^24 - h) / (2^24 - freq[b]))`
/// (rounded down, at least 1) and `b` takes the rest, so the total stays
/// exactly `2^24` and every entry stays >= 1.
pub(super) fn raise(freq: &mut Frequencies, b: u8, h: u32) {
    let total = u64::from(FREQ_TOTAL);
    let fb = u64::from(freq.0[b as usize]);
    // total - fb >= 255 (the other entries are >= 1); h > fb gives w < 2^32.
    let w = ((total - u64::from(h)) << 32) / (total - fb);
    // Scale all 256 entries (a branch-free loop the compiler vectorizes),
    // then replace b's: the result is as if b had been skipped.
    let mut sum: u64 = 0;
    for f in freq.0.iter_mut() {
        // f * w < 2^24 * 2^32; the result is <= f.
        let v = ((u64::from(*f) * w) >> 32).max(1);
        *f = v as u32;
        sum += v;
    }
    let others = sum - u64::from(freq.0[b as usize]);
    // others <= total - fb, so b keeps at least its old frequency.
    freq.0[b as usize] = (total - others) as u32;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_rate_stays_in_range() {
        let mut r = HitRate::INITIAL;
        for _ in 0..2000 {
            r.update(true);
        }
        assert!(r.p < P_ONE && r.p > P_ONE - 1000, "{}", r.p);
        for _ in 0..2000 {
            r.update(false);
        }
        assert!(r.p >= 1 && r.p < 1000, "{}", r.p);
    }
}
