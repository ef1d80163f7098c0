//! The column histograms of codec `NeuralMatchLongColumnsHist`: for a table
//! of fixed-size records, a small byte histogram per column (byte position in
//! the record), mixed linearly into the frequencies with a weight chosen per
//! column by the code length each candidate weight would have given so far.
//!
//! Why: the network sees the bytes but not which column it is in, and the
//! column finder only predicts the one byte above. A column's bytes usually
//! come from a small set (exponents, flags, small integers, zero padding),
//! which a per-column histogram predicts even when the byte above differs.
//! Measured in `docs/MODELS.md` ("The column histograms").
//!
//! The histograms themselves and their mixing are shared with the text
//! field histograms: [`super::histograms`].
//!
//! Like the match finders it only reshapes a valid frequency table into
//! another valid one, deterministically from the chunk's bytes, on the host.
//! Normative description: `docs/FORMAT.md` section 9.12. All arithmetic is on
//! unsigned integers and cannot overflow (bounds are stated inline).
#![deny(clippy::float_arithmetic)]

use super::Predictor;
use super::histograms::{HistogramSlots, MixRule, N_WEIGHTS};
use crate::intmath::freq::Frequencies;

/// Columns beyond this many share histograms (column `c` uses slot `c % HIST_SLOTS`).
pub const HIST_SLOTS: usize = 16384;
/// The candidate mixing weights, in 64ths: the histogram gets `W / 64` of the
/// probability mass and the incoming table the rest.
pub const WEIGHTS: [u32; N_WEIGHTS] = [0, 2, 4, 8, 16, 24, 32, 48];
/// The histogram's estimate of byte `x` is `(PRIOR_DIV * count(x) + 1) /
/// (PRIOR_DIV * total + 256)`: counts plus a prior of 1/10 per byte value.
const PRIOR_DIV: u64 = 10;

/// The rule of the column histograms (codec 7).
const COLUMN_RULE: MixRule = MixRule {
    prior_div: PRIOR_DIV,
    weights: WEIGHTS,
};

/// The histograms of one stream (one chunk) of records of `stride` bytes.
pub struct ColumnHistograms {
    stride: usize,
    columns: HistogramSlots,
}

impl ColumnHistograms {
    /// Histograms for a chunk of `chunk_len` bytes and records of `stride >= 1`
    /// bytes: `min(stride, chunk_len, HIST_SLOTS)` slots (no more columns
    /// can occur in the chunk).
    pub fn new(chunk_len: usize, stride: u32) -> Self {
        let stride = (stride as usize).max(1);
        let slots = stride.min(chunk_len).clamp(1, HIST_SLOTS);
        Self {
            stride,
            columns: HistogramSlots::new(slots, COLUMN_RULE),
        }
    }
}

impl Predictor for ColumnHistograms {
    /// Mixes the histogram of the column of byte `hist.len()` into `freq`
    /// with its best weight so far. `freq` stays a valid table.
    fn predict(&mut self, hist: &[u8], freq: &mut Frequencies) {
        let slot = (hist.len() % self.stride) % self.columns.len();
        self.columns.predict(slot, freq);
    }

    /// Learns from the actual byte, which `hist` now ends with.
    fn update(&mut self, hist: &[u8]) {
        if let Some(&b) = hist.last() {
            self.columns.update(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intmath::freq::FREQ_TOTAL;
    use crate::mixing::histograms::tests::{is_valid, skewed_table};
    use proptest::prelude::*;

    /// A column that always holds the same byte costs little once learned,
    /// even where the incoming table predicts it badly; columns of noise cost
    /// about what the incoming table gives them.
    #[test]
    #[allow(clippy::float_arithmetic)]
    fn constant_columns_become_cheap_noise_columns_cost_little_more() {
        let stride = 4usize;
        let mut x = 0x1234_5678u32;
        let mut data = Vec::new();
        for _ in 0..400 {
            for _ in 0..3 {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                data.push((x >> 24) as u8);
            }
            data.push(0x42);
        }
        let mut h = ColumnHistograms::new(data.len(), stride as u32);
        let mut late_cost = [0f64; 2];
        for t in 0..data.len() {
            // A uniform table: 2^16 for every byte (cost 8 bits).
            let mut f = Frequencies::default();
            h.predict(&data[..t], &mut f);
            assert!(is_valid(&f));
            if t >= 200 * stride {
                let p = f64::from(f.0[usize::from(data[t])]) / f64::from(FREQ_TOTAL);
                late_cost[usize::from(t % stride == 3)] -= p.log2();
            }
            h.update(&data[..=t]);
        }
        // 200 constant bytes at about a bit each, against 8 under the table
        // (the largest weight, 3/4, leaves the table a quarter of the mass).
        assert!(late_cost[1] < 1.1 * 200.0, "{late_cost:?}");
        // 600 noise bytes at 8 bits each under the uniform table: at most 1 %
        // more with the histograms.
        assert!(late_cost[0] < 600.0 * 8.0 * 1.01, "{late_cost:?}");
    }

    proptest! {
        /// Whatever the incoming table and the bytes, the result is a valid table.
        #[test]
        fn tables_stay_valid(
            data in proptest::collection::vec(prop_oneof![Just(0u8), Just(255u8), any::<u8>()], 1..1500),
            stride in 1u32..40,
            skew in 0u32..24,
        ) {
            let mut h = ColumnHistograms::new(data.len(), stride);
            for t in 0..data.len() {
                let mut f = skewed_table(data[t.saturating_sub(1)], skew);
                h.predict(&data[..t], &mut f);
                prop_assert!(is_valid(&f), "t {}", t);
                h.update(&data[..=t]);
            }
        }
    }
}
