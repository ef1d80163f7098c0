//! Byte histograms mixed into the frequencies, shared by the column
//! histograms ([`super::column_histograms`], codec 7) and the text field
//! histograms ([`super::text_fields`], codec 8): a small histogram per
//! context (a slot), mixed linearly into the incoming table with a weight
//! chosen per slot by the code length each candidate weight would have
//! given so far. The two kinds differ only in how they pick the slot and in
//! their [`MixRule`].
//!
//! Normative description: `docs/FORMAT.md` section 9.12. All arithmetic is on
//! unsigned integers and cannot overflow (bounds are stated inline).
#![deny(clippy::float_arithmetic)]

use crate::intmath::freq::{FREQ_TOTAL, Frequencies, PRECISION_BITS};

/// Distinct bytes a column's histogram holds; a new byte replaces the least
/// counted one. Measured: 8 gave nearly all of an unbounded histogram's gain.
pub const HIST_LEN: usize = 8;
/// A histogram's counts sum to at most this; an update that would pass it
/// first halves every count (rounding down) and removes zero counts.
pub const HIST_TOTAL_MAX: u32 = 255;
/// Number of candidate mixing weights of a [`MixRule`].
pub const N_WEIGHTS: usize = 8;

/// How a histogram becomes a probability and is mixed: each kind of
/// histogram (column, text field) has its own, frozen with its codec.
#[derive(Clone, Copy, Debug)]
pub(super) struct MixRule {
    /// The estimate of byte `x` is `(prior_div * count(x) + 1) /
    /// (prior_div * total + 256)`; `1..=1024`.
    pub prior_div: u64,
    /// The candidate weights in 64ths, increasing, `weights[0] == 0`,
    /// `weights[1] >= 2`, all `<= 63`.
    pub weights: [u32; N_WEIGHTS],
}

/// Weight losses decay by `loss >> LOSS_DECAY_SHIFT` before each new cost
/// (a memory of about 64 bytes of the column). Measured: 5 and 7 did as well.
const LOSS_DECAY_SHIFT: u32 = 6;
/// Fractional bits of code lengths in the weight losses (1/32 bit).
const COST_FRAC_BITS: u32 = 5;
/// Largest code length [`cost`] returns: 24 bits.
const COST_MAX: u32 = PRECISION_BITS << COST_FRAC_BITS;
/// Largest weight loss: the fixed point of `l - (l >> 6) + COST_MAX`.
const LOSS_MAX: u32 = COST_MAX << LOSS_DECAY_SHIFT;
const _: () = assert!(LOSS_MAX <= u16::MAX as u32);

/// `LOG2_FRAC[i] = floor(256 * log2(1 + i / 256))`, by exact integer squaring
/// (so the table is the same on every machine and needs no float).
const LOG2_FRAC: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        // y in [1, 2) as Q30; squaring doubles log2(y), a result >= 2 is
        // one more bit of the fraction.
        let mut y: u64 = (256 + i as u64) << 22;
        let mut r = 0u32;
        let mut bit = 0;
        while bit < 8 {
            y = (y * y) >> 30;
            r <<= 1;
            if y >= 2 << 30 {
                y >>= 1;
                r |= 1;
            }
            bit += 1;
        }
        t[i] = r;
        i += 1;
    }
    t
};

/// `floor(256 * log2(v))` to within the table's resolution, for `1 <= v < 2^32`:
/// the integer part from the leading bit, the fraction from the next 8 bits.
fn log2_q8(v: u32) -> u32 {
    let e = v.max(1).ilog2();
    let mant = (if e >= 8 { v >> (e - 8) } else { v << (8 - e) }) & 0xFF;
    (e << 8) + LOG2_FRAC[mant as usize]
}

/// Code length of a frequency `m` (`1..=2^24` of `2^24`), in units of
/// `2^-COST_FRAC_BITS` bits: at most [`COST_MAX`].
fn cost(m: u32) -> u32 {
    ((PRECISION_BITS << 8) - log2_q8(m).min(PRECISION_BITS << 8)) >> (8 - COST_FRAC_BITS)
}

/// One context's histogram and the losses of the candidate weights: one
/// column here, one text field context in [`super::text_fields`].
#[derive(Clone, Copy, Default)]
struct Histogram {
    /// The bytes held, `syms[..len]`, with their counts (each >= 1).
    syms: [u8; HIST_LEN],
    counts: [u8; HIST_LEN],
    len: u8,
    /// Sum of `counts[..len]`, `<= HIST_TOTAL_MAX`.
    total: u16,
    /// Decayed code length each weight of the [`MixRule`] would have given, in
    /// 1/32 bits; stays `<= LOSS_MAX`.
    losses: [u16; N_WEIGHTS],
}

impl Histogram {
    fn count_of(&self, b: u8) -> u32 {
        self.syms[..usize::from(self.len)]
            .iter()
            .position(|&s| s == b)
            .map_or(0, |i| u32::from(self.counts[i]))
    }

    /// Index into the rule's weights of the smallest loss; ties go to the smaller weight.
    fn best_weight(&self) -> usize {
        (0..N_WEIGHTS).min_by_key(|&k| self.losses[k]).unwrap_or(0)
    }

    /// Mixes this histogram into `freq` with its best weight so far.
    /// `freq` stays a valid table.
    fn mix_into(&self, rule: &MixRule, freq: &mut Frequencies) {
        let w = rule.weights[self.best_weight()];
        if w == 0 {
            return;
        }
        let total = u32::from(self.total);
        let base = hist_share(rule, w, 0, total);
        let mut sum: u64 = 0;
        for f in freq.0.iter_mut() {
            // net_share(w, 1) may be 0, but base >= 2 * 2^18 / (1024 * 255 +
            // 256) >= 2 (w >= 2, prior_div <= 1024): every entry stays >= 1.
            *f = net_share(w, *f) + base;
            sum += u64::from(*f);
        }
        let mut top = (0usize, 0u8);
        for i in 0..usize::from(self.len) {
            let (s, c) = (self.syms[i], self.counts[i]);
            let extra = hist_share(rule, w, u32::from(c), total) - base;
            freq.0[usize::from(s)] += extra;
            sum += u64::from(extra);
            if c > top.1 {
                top = (usize::from(s), c);
            }
        }
        // Every term was rounded down, so sum <= 2^24: the rest (< 2^9) goes
        // to the most counted byte (the first of equals), or byte 0.
        freq.0[top.0] += (u64::from(FREQ_TOTAL) - sum) as u32;
    }

    /// Learns the actual byte `b`, whose frequency in the table given to
    /// [`Histogram::mix_into`] was `f`: the loss of every candidate weight,
    /// then the histogram.
    fn learn(&mut self, rule: &MixRule, f: u32, b: u8) {
        let (c, total) = (self.count_of(b), u32::from(self.total));
        for (k, &w) in rule.weights.iter().enumerate() {
            // The byte's frequency had weight `w` been chosen, up to the
            // final remainder: >= 1 (see `mix_into`), <= 2^24.
            let m = net_share(w, f) + hist_share(rule, w, c, total);
            let l = u32::from(self.losses[k]);
            // l <= LOSS_MAX gives l - l/64 + COST_MAX <= LOSS_MAX: fits u16.
            self.losses[k] = (l - (l >> LOSS_DECAY_SHIFT) + cost(m)) as u16;
        }
        self.add(b);
    }

    fn add(&mut self, b: u8) {
        // Make room first, so that no count passes 255 (a u8).
        if u32::from(self.total) >= HIST_TOTAL_MAX {
            self.halve();
        }
        let n = usize::from(self.len);
        if let Some(i) = self.syms[..n].iter().position(|&s| s == b) {
            self.counts[i] += 1;
        } else if n < HIST_LEN {
            self.syms[n] = b;
            self.counts[n] = 1;
            self.len += 1;
        } else {
            // Replace the least counted byte (the first of equals).
            let i = (0..HIST_LEN).min_by_key(|&i| self.counts[i]).unwrap_or(0);
            self.total -= u16::from(self.counts[i]);
            self.syms[i] = b;
            self.counts[i] = 1;
        }
        self.total += 1;
    }

    /// Halves every count, dropping those that reach 0 (order kept).
    fn halve(&mut self) {
        let mut kept = 0;
        let mut total = 0u16;
        for i in 0..usize::from(self.len) {
            let c = self.counts[i] / 2;
            if c > 0 {
                self.syms[kept] = self.syms[i];
                self.counts[kept] = c;
                kept += 1;
                total += u16::from(c);
            }
        }
        self.len = kept as u8;
        self.total = total;
    }
}

/// The frequency the histogram adds to a byte with count `c` at weight `w`
/// (in 64ths): `floor(w * 2^18 * (10 c + 1) / (10 total + 256))`, that is
/// `w / 64` of the histogram's estimate in units of `2^-24`.
fn hist_share(rule: &MixRule, w: u32, c: u32, total: u32) -> u32 {
    let p = rule.prior_div;
    // w < 64, c <= 255, p <= 1024: the numerator is < 2^6 * 2^18 * 2^19 = 2^43 (u64).
    let num = (u64::from(w) << 18) * (p * u64::from(c) + 1);
    let den = p * u64::from(total) + 256;
    // <= w * 2^18 * (p c + 1) / (p c + 256) < 2^24.
    (num / den) as u32
}

/// The incoming frequency `f` scaled to the network's share `(64 - w) / 64`.
fn net_share(w: u32, f: u32) -> u32 {
    // f <= 2^24, so the product is < 2^30.
    ((64 - w) * f) >> 6
}

/// A stream's histograms under one [`MixRule`], and what the last
/// prediction needs for its update: the slot it used and the table it
/// received. Both kinds of histograms (per column, per text field context)
/// differ only in how they pick the slot.
pub(super) struct HistogramSlots {
    slots: Vec<Histogram>,
    rule: MixRule,
    /// The slot of the last prediction, for [`HistogramSlots::update`].
    pending: Option<usize>,
    /// The frequency table that prediction received (before mixing).
    incoming: Frequencies,
}

impl HistogramSlots {
    /// `n >= 1` empty slots.
    pub(super) fn new(n: usize, rule: MixRule) -> Self {
        Self {
            slots: vec![Histogram::default(); n.max(1)],
            rule,
            pending: None,
            incoming: Frequencies::default(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Mixes the histogram of `slot` (`< len()`) into `freq` with its best
    /// weight so far. `freq` stays a valid table.
    pub(super) fn predict(&mut self, slot: usize, freq: &mut Frequencies) {
        self.pending = Some(slot);
        self.incoming.0 = freq.0;
        self.slots[slot].mix_into(&self.rule, freq);
    }

    /// Learns the actual byte `b` in the slot of the last prediction, if any:
    /// the loss of every candidate weight, then the histogram.
    pub(super) fn update(&mut self, b: u8) {
        if let Some(slot) = self.pending.take() {
            self.slots[slot].learn(&self.rule, self.incoming.0[usize::from(b)], b);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Whether `f` is a table the coder takes: every entry >= 1, sum 2^24.
    pub(crate) fn is_valid(f: &Frequencies) -> bool {
        f.0.iter().all(|&v| v >= 1)
            && f.0.iter().map(|&v| u64::from(v)).sum::<u64>() == u64::from(FREQ_TOTAL)
    }

    /// A table with byte `hot` at nearly all the mass, `2^skew - 1` of it
    /// moved to the next byte, and every other byte at 1: the extremes the
    /// histograms must keep valid.
    pub(crate) fn skewed_table(hot: u8, skew: u32) -> Frequencies {
        let hot = usize::from(hot);
        let mut f = Frequencies([1; 256]);
        f.0[hot] = FREQ_TOTAL - 255;
        if skew > 0 {
            f.0[(hot + 1) % 256] += (1 << skew) - 1;
            f.0[hot] -= (1 << skew) - 1;
        }
        f
    }

    #[test]
    #[allow(clippy::float_arithmetic)]
    fn log2_table_is_the_floor_of_log2() {
        for (i, &v) in LOG2_FRAC.iter().enumerate() {
            let exact = 256.0 * (1.0 + i as f64 / 256.0).log2();
            assert!(
                f64::from(v) <= exact && exact < f64::from(v) + 1.0,
                "{i}: {v} vs {exact}"
            );
        }
        assert_eq!(log2_q8(1), 0);
        assert_eq!(log2_q8(1 << 24), 24 << 8);
        assert_eq!(log2_q8(3), 256 + 149);
        assert_eq!(cost(1 << 24), 0);
        assert_eq!(cost(1 << 23), 1 << COST_FRAC_BITS);
        assert_eq!(cost(1), COST_MAX);
    }

    #[test]
    fn histogram_evicts_the_least_counted_and_halves() {
        let mut c = Histogram::default();
        for b in 0..8u8 {
            for _ in 0..=b {
                c.add(b);
            }
        }
        assert_eq!((c.len, c.total), (8, 36));
        // Byte 0 has the smallest count (1): a ninth byte replaces it.
        c.add(100);
        assert_eq!(c.count_of(0), 0);
        assert_eq!(c.count_of(100), 1);
        assert_eq!(c.total, 36);
        for _ in 0..300 {
            c.add(7);
        }
        assert!(u32::from(c.total) <= HIST_TOTAL_MAX);
        let sum: u32 = c.counts[..usize::from(c.len)]
            .iter()
            .map(|&v| u32::from(v))
            .sum();
        assert_eq!(sum, u32::from(c.total));
        assert!(c.count_of(7) * 2 > u32::from(c.total), "{}", c.count_of(7));
    }
}
