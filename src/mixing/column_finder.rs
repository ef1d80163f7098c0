//! The column finder of codecs `NeuralMatchColumns`, `NeuralMatchLongColumns`
//! and `NeuralMatchLongColumnsHist`: for tables of fixed-size records, it
//! predicts the byte one record above, with a hit rate learned per column.
//! The record length ("stride") is chosen by the compressor
//! ([`super::record_stride`]) and stored in each chunk's payload.
//!
//! Normative description: `docs/FORMAT.md` section 9.10. All arithmetic is on
//! unsigned integers and cannot overflow (bounds are stated inline).
#![deny(clippy::float_arithmetic)]

use super::Predictor;
use super::hit_rates::{HitRate, HitRates, P_ONE};
use super::match_finders::{CONF_BUCKETS, conf_bucket};
use crate::intmath::freq::Frequencies;

/// Columns beyond this many share hit rates (column `c` uses slot `c % COLUMN_SLOTS`).
pub const COLUMN_SLOTS: usize = 4096;
/// Initial hit probability of the column finder: 1/16. Its contexts are many
/// and sparse, so it starts sceptical (measured: 1/2 costs up to 23 % on text
/// where a wrong stride was forced; 1/16 costs at most 0.7 %).
const COLUMN_P_INITIAL: u32 = P_ONE / 16;

/// Predicts the byte one record above (`stride` bytes back) in a table of
/// fixed-size records. Its hit rate is learned per (column, whether the
/// previous byte equalled the byte above it, network confidence bucket).
pub(super) struct ColumnFinder {
    stride: usize,
    rates: HitRates,
}

impl ColumnFinder {
    /// A column finder for records of `stride` bytes (already clamped to
    /// the bounds of [`super::record_stride`]).
    pub(super) fn new(stride: u32) -> Self {
        let stride = stride as usize;
        let slots = stride.min(COLUMN_SLOTS);
        let initial = HitRate {
            p: COLUMN_P_INITIAL,
            n: 0,
        };
        Self {
            stride,
            rates: HitRates::new(slots * 2 * CONF_BUCKETS, initial),
        }
    }
}

impl Predictor for ColumnFinder {
    fn predict(&mut self, hist: &[u8], freq: &mut Frequencies) {
        let (t, s) = (hist.len(), self.stride);
        if t < s {
            return self.rates.pass();
        }
        let b = hist[t - s];
        let column = (t % s) % COLUMN_SLOTS;
        let prev_same = usize::from(t > s && hist[t - 1] == hist[t - 1 - s]);
        let ctx = (column * 2 + prev_same) * CONF_BUCKETS + conf_bucket(freq.0[b as usize]);
        self.rates.offer(ctx, b, freq);
    }

    fn update(&mut self, hist: &[u8]) {
        self.rates.learn(hist[hist.len() - 1]);
    }
}

#[cfg(test)]
mod tests {
    use crate::intmath::freq::Frequencies;
    use crate::mixing::{Codec, Mixer, Mixing};

    /// The column finder learns which columns repeat the byte above: a table
    /// whose rows differ only in one column costs far less with it.
    #[test]
    fn column_finder_learns_columns() {
        let mut x = 7u32;
        let mut data = Vec::new();
        for _ in 0..200 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            // 12-byte records: one noisy byte, then fixed bytes.
            data.extend_from_slice(&[(x >> 24) as u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        }
        let cost = |codec, stride| {
            let mut m = Mixer::new(Mixing::new(codec, stride).unwrap(), data.len());
            let mut bits = 0u64;
            for t in 0..data.len() {
                let mut f = Frequencies::default();
                m.coded(&data, t, &mut f);
                bits += u64::from(24 - f.0[data[t] as usize].ilog2());
            }
            bits
        };
        let plain = cost(Codec::NeuralMatch, None);
        let columns = cost(Codec::NeuralMatchColumns, Some(12));
        // The 11 fixed bytes of a row cost about 1 bit each (this measure's
        // floor) once learned; the noisy byte 8 bits.
        assert!(columns < 200 * (8 + 11 + 4), "{columns}");
        assert!(columns < plain, "{columns} vs {plain}");
    }
}
