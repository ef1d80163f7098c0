//! The mixing layer: classical predictors that reshape the network's
//! frequency table for each byte, one file per predictor, composed in the
//! order a codec's recipe gives ([`registry`]).
//!
//! - [`match_finders`]: the finders of minimum orders 1, 2, 4 and 8 (codec
//!   `NeuralMatch` and its successors), with [`hit_rates`], how every finder
//!   turns its predicted byte into a frequency;
//! - [`long_finder`]: the order-24 finder that keeps its match through
//!   mispredicted bytes;
//! - [`column_finder`]: the byte one record above, for tables of fixed-size
//!   records, whose length the compressor guesses with [`record_stride`];
//! - [`column_histograms`] and [`text_fields`]: byte histograms per table
//!   column and per text field context, both built on [`histograms`];
//! - [`registry`]: the table of codecs and their recipes.
//!
//! A predictor only reshapes a valid frequency table into another valid one,
//! deterministically from the bytes of the chunk coded so far, so encoder and
//! decoder stay in lockstep. It runs on the host after the network's
//! frequencies are produced, so its result is the same for every backend and
//! thread count. [`Mixer`] is the one step the encoder, the decoder and
//! `eval` share: network table in, coded table out.
//!
//! Normative description: `docs/FORMAT.md` sections 9.9 to 9.13. All
//! arithmetic is on unsigned integers and cannot overflow.
#![deny(clippy::float_arithmetic)]

pub mod column_finder;
pub mod column_histograms;
pub mod histograms;
pub mod hit_rates;
pub mod long_finder;
pub mod match_finders;
pub mod record_stride;
pub mod registry;
pub mod text_fields;

pub use registry::{CODECS, Codec, CodecSpec, Mixing, Stage};

use crate::coder::{CoderError, CumulativeFrequencies, RangeDecoder, RangeEncoder};
use crate::intmath::freq::Frequencies;
use column_finder::ColumnFinder;
use column_histograms::ColumnHistograms;
use match_finders::{MatchFinder, ORDERS};
use record_stride::{MAX_RECORD_STRIDE, MIN_RECORD_STRIDE};
use text_fields::TextFieldHistograms;

/// What every predictor of the mixing layer does, once per byte of a chunk.
pub trait Predictor {
    /// Reshapes the valid table `freq` for byte `hist.len()` of the chunk,
    /// given the chunk's bytes `hist` so far; `freq` stays valid (every
    /// entry >= 1, total `2^24`). [`Predictor::update`] comes next.
    fn predict(&mut self, hist: &[u8], freq: &mut Frequencies);
    /// Learns from the actual byte, which `hist` (not empty) now ends with.
    fn update(&mut self, hist: &[u8]);
}

/// One predictor of a [`Mixer`]: an enum rather than `dyn Predictor`, so that
/// the per-byte calls are direct. The histograms, which hold a whole
/// frequency table, are boxed to keep the finders' entries small.
enum AnyPredictor {
    Column(ColumnFinder),
    Match(MatchFinder),
    ColumnHistograms(Box<ColumnHistograms>),
    TextFields(Box<TextFieldHistograms>),
    /// A predictor of no shipped codec: a test's toy codec.
    #[cfg(test)]
    Scratch(Box<dyn Predictor + Send>),
}

impl Predictor for AnyPredictor {
    #[inline]
    fn predict(&mut self, hist: &[u8], freq: &mut Frequencies) {
        match self {
            Self::Column(p) => p.predict(hist, freq),
            Self::Match(p) => p.predict(hist, freq),
            Self::ColumnHistograms(p) => p.predict(hist, freq),
            Self::TextFields(p) => p.predict(hist, freq),
            #[cfg(test)]
            Self::Scratch(p) => p.predict(hist, freq),
        }
    }

    #[inline]
    fn update(&mut self, hist: &[u8]) {
        match self {
            Self::Column(p) => p.update(hist),
            Self::Match(p) => p.update(hist),
            Self::ColumnHistograms(p) => p.update(hist),
            Self::TextFields(p) => p.update(hist),
            #[cfg(test)]
            Self::Scratch(p) => p.update(hist),
        }
    }
}

/// The predictors of one stream (one chunk), in the order of its codec's
/// recipe: what turns the network's table into the coded one; and, for the
/// codecs whose recipe ends in [`Stage::ContextMixing`], the context mixer
/// that codes the table's byte bit by bit.
pub struct Mixer {
    predictors: Vec<AnyPredictor>,
    bits: Option<Box<crate::cm::NetworkCoding>>,
}

impl Mixer {
    /// A fresh mixer for a chunk of `chunk_len` bytes (its actual length)
    /// coded with `mixing`. The stride is clamped to
    /// `MIN_RECORD_STRIDE..=MAX_RECORD_STRIDE` (callers validate it first;
    /// see `docs/FORMAT.md` section 9.10). The network alone has no predictors.
    pub fn new(mixing: Mixing, chunk_len: usize) -> Self {
        // Mixing::new and from_payload give a stride to exactly the recipes
        // that need one.
        let stride = mixing
            .stride()
            .unwrap_or(MIN_RECORD_STRIDE)
            .clamp(MIN_RECORD_STRIDE, MAX_RECORD_STRIDE);
        let mut predictors = Vec::new();
        let mut bits = None;
        for stage in mixing.recipe() {
            match stage {
                Stage::ColumnFinder => {
                    predictors.push(AnyPredictor::Column(ColumnFinder::new(stride)))
                }
                Stage::MatchFinders => predictors.extend(
                    ORDERS
                        .iter()
                        .map(|&o| AnyPredictor::Match(MatchFinder::new(o, chunk_len))),
                ),
                Stage::LongFinder => {
                    predictors.push(AnyPredictor::Match(long_finder::long_finder(chunk_len)))
                }
                Stage::ColumnHistograms => predictors.push(AnyPredictor::ColumnHistograms(
                    Box::new(ColumnHistograms::new(chunk_len, stride)),
                )),
                Stage::TextFields => predictors.push(AnyPredictor::TextFields(Box::new(
                    TextFieldHistograms::new(chunk_len),
                ))),
                Stage::ContextMixing => {
                    let stride = mixing.stride().map_or(0, |_| stride as usize);
                    let fields = crate::cm::FieldModels {
                        kinematics: mixing.has(Stage::Kinematics),
                        counting: mixing.has(Stage::Counting),
                        columns: mixing.has(Stage::ColumnModels),
                        relations: mixing.has(Stage::Relations),
                    };
                    let profile = if mixing.has(Stage::WideMixer) {
                        crate::cm::network::NETWORK_WIDE_PROFILE
                    } else {
                        crate::cm::network::NETWORK_PROFILE
                    };
                    bits = Some(Box::new(crate::cm::NetworkCoding::new(
                        profile, stride, chunk_len, fields,
                    )));
                }
                // Inputs and settings of the context mixer, made with it.
                Stage::Kinematics
                | Stage::Counting
                | Stage::ColumnModels
                | Stage::WideMixer
                | Stage::Relations => {}
            }
        }
        Self { predictors, bits }
    }

    /// Encodes byte `p` of `data` with the network's table `freq`: mixes
    /// it, codes the byte (under the table, or bit by bit by the context
    /// mixer), then learns it.
    #[inline]
    pub fn encode(
        &mut self,
        enc: &mut RangeEncoder,
        data: &[u8],
        p: usize,
        freq: &mut Frequencies,
    ) {
        self.mix(&data[..p], freq);
        match &mut self.bits {
            Some(bits) => bits.encode(enc, freq, data[p]),
            None => match CumulativeFrequencies::new(&freq.0) {
                Ok(cf) => enc.encode(&cf, data[p]),
                // The engine always produces valid tables (ARITHMETIC.md §7)
                // and every predictor keeps them valid (Predictor).
                Err(e) => unreachable!("engine produced an invalid table: {e}"),
            },
        }
        self.learn(&data[..=p]);
    }

    /// Decodes the next byte with the network's table `freq` and appends it
    /// to `hist` (the chunk so far), the inverse of [`Mixer::encode`].
    #[inline]
    pub fn decode(
        &mut self,
        dec: &mut RangeDecoder<'_>,
        hist: &mut Vec<u8>,
        freq: &mut Frequencies,
    ) -> Result<u8, CoderError> {
        self.mix(hist, freq);
        let sym = match &mut self.bits {
            Some(bits) => bits.decode(dec, freq)?,
            None => dec.decode(&CumulativeFrequencies::new(&freq.0)?)?,
        };
        hist.push(sym);
        self.learn(hist);
        Ok(sym)
    }

    /// Appends a predictor no shipped codec has (a test's toy codec).
    #[cfg(test)]
    pub(crate) fn push_scratch(&mut self, p: Box<dyn Predictor + Send>) {
        self.predictors.push(AnyPredictor::Scratch(p));
    }

    /// Reshapes the network's `freq` for the next byte, given the chunk's
    /// bytes `hist` so far. Call [`Mixer::learn`] with the actual byte next.
    #[inline]
    pub fn mix(&mut self, hist: &[u8], freq: &mut Frequencies) {
        for p in &mut self.predictors {
            p.predict(hist, freq);
        }
    }

    /// Learns from the actual byte, which `hist` now ends with.
    #[inline]
    pub fn learn(&mut self, hist: &[u8]) {
        if hist.is_empty() {
            return;
        }
        for p in &mut self.predictors {
            p.update(hist);
        }
    }

    /// What the coder spends on byte `p` of `data` (all known) given the
    /// network's table `freq`: hands `share(numerator, log2 of the
    /// denominator)` the probability it codes each decision with (once, out
    /// of `2^24`, for a table codec; eight times, out of `2^12`, for a codec
    /// that codes bits), then learns the byte. For `boa-det analyze`.
    pub fn coded_shares(
        &mut self,
        data: &[u8],
        p: usize,
        freq: &mut Frequencies,
        mut share: impl FnMut(u32, u32),
    ) {
        self.mix(&data[..p], freq);
        match &mut self.bits {
            Some(bits) => bits.bit_shares(freq, data[p], |s| {
                share(s, crate::coder::BIT_PRECISION_BITS)
            }),
            None => share(freq.0[data[p] as usize], crate::coder::PRECISION_BITS),
        }
        self.learn(&data[..=p]);
    }

    /// The coded table of byte `p` of `data` (all known: the encoder and
    /// `eval`): mixes `freq`, the network's table, then learns `data[p]`.
    #[inline]
    pub fn coded(&mut self, data: &[u8], p: usize, freq: &mut Frequencies) {
        self.mix(&data[..p], freq);
        self.learn(&data[..=p]);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::intmath::freq::FREQ_TOTAL;
    use proptest::prelude::*;

    /// Predicts and learns `data[from..]` (after `data[..from]`) with `p`.
    pub(crate) fn feed(p: &mut impl Predictor, data: &[u8], from: usize) {
        for t in from..data.len() {
            let mut f = Frequencies::default();
            p.predict(&data[..t], &mut f);
            p.update(&data[..=t]);
        }
    }

    /// How to add a codec (`registry`'s module doc), followed in a test with
    /// a toy codec that is never shipped: a scratch predictor (the previous
    /// byte again, at probability 1/2 at least), a row of a registry-like
    /// table that names it after codec 5's recipe, and a round trip through
    /// the range coder with the same `Mixer` steps as the encoder and the
    /// decoder. On runs it codes smaller than codec 5 alone.
    #[test]
    fn toy_codec_mixes_and_round_trips() {
        use crate::coder::{CumulativeFrequencies, RangeDecoder, RangeEncoder};

        /// Step 1: the predictor.
        struct Repeat;
        impl Predictor for Repeat {
            fn predict(&mut self, hist: &[u8], freq: &mut Frequencies) {
                if let Some(&b) = hist.last()
                    && freq.0[usize::from(b)] < 1 << 23
                {
                    hit_rates::raise(freq, b, 1 << 23);
                }
            }
            fn update(&mut self, _hist: &[u8]) {}
        }
        /// Step 2: its row, after the shipped codecs.
        struct ToyRow {
            id: u8,
            name: &'static str,
            min_format_version: u16,
            recipe: &'static [Stage],
            scratch: fn() -> Box<dyn Predictor + Send>,
        }
        let toy = ToyRow {
            id: CODECS.len() as u8,
            name: "neural+match+long+repeat",
            min_format_version: crate::container::FORMAT_VERSION_NEWEST + 1,
            recipe: Codec::NeuralMatchLong.spec().recipe.unwrap(),
            scratch: || Box::new(Repeat),
        };
        assert!(Codec::from_id(toy.id).is_none());
        assert!(CODECS.iter().all(|c| c.name != toy.name));
        assert!(
            CODECS
                .iter()
                .all(|c| c.min_format_version < toy.min_format_version)
        );
        let base = Mixing::richest(|s| toy.recipe.contains(&s), None);
        let mixer = |with_toy: bool, len| {
            let mut m = Mixer::new(base, len);
            if with_toy {
                m.push_scratch((toy.scratch)());
            }
            m
        };
        // Runs of random lengths of random bytes.
        let mut x = 5u32;
        let mut data = Vec::new();
        while data.len() < 4000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let run = 1 + (x >> 28) as usize;
            data.extend(std::iter::repeat_n((x >> 16) as u8, run));
        }
        let mut sizes = Vec::new();
        for with_toy in [false, true] {
            // Encode: the network's table (here uniform), mixed, coded.
            let mut m = mixer(with_toy, data.len());
            let mut enc = RangeEncoder::new();
            for p in 0..data.len() {
                let mut f = Frequencies::default();
                m.coded(&data, p, &mut f);
                enc.encode(&CumulativeFrequencies::new(&f.0).unwrap(), data[p]);
            }
            let stream = enc.finish();
            // Decode: mix, decode, learn.
            let mut m = mixer(with_toy, data.len());
            let mut dec = RangeDecoder::new(&stream).unwrap();
            let mut out = Vec::new();
            while out.len() < data.len() {
                let mut f = Frequencies::default();
                m.mix(&out, &mut f);
                out.push(
                    dec.decode(&CumulativeFrequencies::new(&f.0).unwrap())
                        .unwrap(),
                );
                m.learn(&out);
            }
            assert_eq!(out, data, "{}", toy.name);
            sizes.push(stream.len());
        }
        assert!(sizes[1] < sizes[0], "{sizes:?}");
    }

    /// The network alone leaves the table as it is.
    #[test]
    fn network_only_mixes_nothing() {
        let mut m = Mixer::new(Mixing::NETWORK_ONLY, 10);
        let mut f = Frequencies::default();
        m.coded(b"abcdefghij", 3, &mut f);
        assert_eq!(f, Frequencies::default());
    }

    proptest! {
        /// Whatever the table, the history and the learned rates, the result
        /// is a valid table (entries >= 1, total 2^24) and the predicted byte
        /// never loses probability.
        #[test]
        fn predict_keeps_tables_valid(
            hist in proptest::collection::vec(0u8..4, 1..300),
            weights in proptest::collection::vec(1u32..5000, 256),
            big in 0usize..256,
            big_w in 0u32..(1 << 24),
            codec in proptest::sample::select(&Codec::ALL[..]),
            stride in prop_oneof![(0u32..20), Just(u32::MAX)],
        ) {
            let Ok(mixing) = Mixing::new(codec, codec.spec().needs_stride().then_some(stride)) else {
                return Ok(());
            };
            let mut m = Mixer::new(mixing, hist.len());
            for t in 0..hist.len() {
                let mut f = valid_table(&weights, big, big_w);
                let before = f.clone();
                m.mix(&hist[..t], &mut f);
                prop_assert!(f.0.iter().all(|&v| v >= 1));
                prop_assert_eq!(f.0.iter().map(|&v| u64::from(v)).sum::<u64>(), u64::from(FREQ_TOTAL));
                // The histograms' mixing may raise any entry; without them
                // only the offered bytes (one per finder) grow.
                let grew = (0..256).filter(|&i| f.0[i] > before.0[i]).count();
                let histograms = mixing.has(Stage::ColumnHistograms) || mixing.has(Stage::TextFields);
                prop_assert!(histograms || grew <= ORDERS.len() + 2);
                m.learn(&hist[..=t]);
            }
        }
    }

    /// A valid table from arbitrary weights, one of them possibly dominant.
    fn valid_table(weights: &[u32], big: usize, big_w: u32) -> Frequencies {
        let mut w: Vec<u64> = weights.iter().map(|&x| u64::from(x)).collect();
        w[big] += u64::from(big_w) * 64;
        let sum: u64 = w.iter().sum();
        let spare = u64::from(FREQ_TOTAL) - 256;
        let mut f = [0u32; 256];
        let mut used = 0u64;
        for i in 0..256 {
            f[i] = 1 + (w[i] * spare / sum) as u32;
            used += u64::from(f[i]);
        }
        f[big] += (u64::from(FREQ_TOTAL) - used) as u32;
        Frequencies(f)
    }
}
