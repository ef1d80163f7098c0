//! The match model of codec `NeuralMatch`: classical predictors that find the
//! last earlier occurrence of the current context in the same chunk and
//! predict the byte that followed it, each with an adaptive table that mixes
//! its prediction into the network's frequencies.
//!
//! Why: the network has a small state and no memory of the exact bytes it has
//! seen, so it misses exact repeats (repeated record headers, padded columns,
//! duplicated lines, fixed-layout table rows), which is what LZ coders live on.
//! Four match finders with minimum orders 1, 2, 4 and 8 recover them for one
//! hash lookup each per byte (measured in `docs/MODELS.md`).
//!
//! A match finder only reshapes a valid frequency table into another valid one,
//! deterministically from the bytes of the chunk coded so far, so encoder and
//! decoder stay in lockstep. It runs on the host after the frequencies are
//! produced, so its result is the same for every backend and thread count.
//!
//! Codec `NeuralMatchColumns` adds a column finder for tables of fixed-size
//! records: it predicts the byte one record above, with a hit rate learned per
//! column. The record length ("stride") is chosen by the compressor and stored
//! in each chunk's payload.
//!
//! Codecs `NeuralMatchLong` and `NeuralMatchLongColumns` add to codecs
//! `NeuralMatch` and `NeuralMatchColumns` a long finder (order 24) that keeps
//! its match through mispredicted bytes: lines or records that repeat with a few bytes
//! changed (LHE/HepMC event lines, say) stay aligned, where the other finders
//! drop the match at the first difference and wait for a new context.
//!
//! Normative description: `docs/FORMAT.md` sections 9.9 to 9.11. All
//! arithmetic is on unsigned integers and cannot overflow (bounds are stated
//! inline).
#![deny(clippy::float_arithmetic)]

use crate::arith::freq::{FREQ_TOTAL, Frequencies};
use crate::column_histograms::ColumnHistograms;
use crate::text_fields::TextFieldHistograms;

/// Minimum match orders of the finders, applied in this order (low orders
/// first, so the most reliable finder acts last and sees the others' boosts).
pub const ORDERS: [usize; 4] = [1, 2, 4, 8];
/// Order of the long finder of codec `NeuralMatchLong`, which acts after the
/// finders of [`ORDERS`]. Measured in `docs/MODELS.md` ("The long finder"):
/// 16 and 28 did as well on the LHE, 12 worse, 32 (all of [`VERIFY_MAX`])
/// much worse.
pub const LONG_ORDER: usize = 24;
/// A recovering match survives this many consecutive misses; the next one
/// drops it. Measured: unlimited cost 0.3 % on a table of 80-byte records
/// (stale pointers), 4 gave back most of the gain on the LHE; 8 did best on both.
pub const RECOVER_MISSES: u32 = 8;
/// A candidate match is verified backwards over at most this many bytes.
pub const VERIFY_MAX: usize = 32;
/// Match lengths saturate here.
pub const LEN_CAP: u32 = 65535;
/// Number of match-length buckets ([`len_bucket`]).
pub const LEN_BUCKETS: usize = 24;
/// Number of confidence buckets ([`conf_bucket`]).
pub const CONF_BUCKETS: usize = 12;
/// Update counts saturate here; the adaptation rate is `2 / (2n + 3)`.
pub const COUNT_LIMIT: u32 = 255;
/// Smallest and largest hashed table sizes, in bits.
pub const TABLE_BITS_MIN: u32 = 10;
pub const TABLE_BITS_MAX: u32 = 18;
/// Multiplier of the context hash (2^64 / golden ratio).
const HASH_MUL: u64 = 0x9E37_79B9_7F4A_7C15;
/// Fixed-point scale of hit probabilities: 16 bits.
const P_ONE: u32 = 1 << 16;

/// Table size in bits of the order-`order` finder for a chunk of `len` bytes:
/// `min(8 * order, clamp(ceil(log2(len)) - 2, 10, 18))`. When it equals
/// `8 * order` the context bytes index the table directly.
pub fn table_bits(order: usize, len: usize) -> u32 {
    let ceil_log2 = if len <= 1 {
        0
    } else {
        usize::BITS - (len - 1).leading_zeros()
    };
    let order_bits = u32::try_from(8 * order).unwrap_or(u32::MAX);
    // A quarter of the chunk length: measured to cost 0.02 % of the ratio
    // against a full-size table, for a quarter of the memory.
    ceil_log2
        .saturating_sub(2)
        .clamp(TABLE_BITS_MIN, TABLE_BITS_MAX)
        .min(order_bits)
}

/// Bucket of a match length `len >= 1`: the length itself below 16, then one
/// bucket per power of two (16..31 -> 16, 32..63 -> 17, ...), at most 23.
pub fn len_bucket(len: u32) -> usize {
    if len < 16 {
        len as usize
    } else {
        ((12 + len.ilog2()) as usize).min(LEN_BUCKETS - 1)
    }
}

/// Bucket of the frequency `f` (`1..2^24`) of the predicted byte:
/// `min(23 - floor(log2 f), 11)`; bucket 0 is probability >= 1/2.
pub fn conf_bucket(f: u32) -> usize {
    (23u32.saturating_sub(f.max(1).ilog2()) as usize).min(CONF_BUCKETS - 1)
}

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
struct HitRate {
    p: u32,
    n: u32,
}

impl HitRate {
    const INITIAL: Self = Self { p: P_ONE / 2, n: 0 };

    fn update(&mut self, hit: bool) {
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
struct HitRates {
    rates: Vec<HitRate>,
    /// The context and byte of the last offer, for [`HitRates::learn`].
    pending: Option<(usize, u8)>,
}

impl HitRates {
    fn new(contexts: usize, initial: HitRate) -> Self {
        Self {
            rates: vec![initial; contexts],
            pending: None,
        }
    }

    /// No prediction for this byte.
    fn pass(&mut self) {
        self.pending = None;
    }

    /// Predicts `b` in context `ctx`: raises `freq[b]` to the learned hit
    /// rate if that is higher.
    fn offer(&mut self, ctx: usize, b: u8, freq: &mut Frequencies) {
        self.pending = Some((ctx, b));
        // The learned hit rate in 24 bits; <= 2^24 - 256.
        let h = self.rates[ctx].p << 8;
        if h > freq.0[b as usize] {
            raise(freq, b, h);
        }
    }

    /// Learns whether the last offer was the actual `byte`.
    fn learn(&mut self, byte: u8) {
        if let Some((ctx, b)) = self.pending.take() {
            self.rates[ctx].update(b == byte);
        }
    }
}

/// What a match finder does when its predicted byte was wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OnMiss {
    /// Drop the match and look for a new one (the finders of [`ORDERS`]).
    Drop,
    /// Keep the pointer, moved past the wrong byte, and keep predicting from
    /// it, in separate contexts, until a new match of full order is found or
    /// [`RECOVER_MISSES`] more misses in a row (the long finder).
    Recover,
}

/// One match finder of a fixed minimum order.
struct MatchFinder {
    order: usize,
    on_miss: OnMiss,
    /// `table[i]` = position in the chunk of the byte that followed the last
    /// context with index `i`, or 0 if none (position 0 never follows a context).
    table: Vec<u32>,
    bits: u32,
    /// Position of the predicted byte; meaningful when [`MatchFinder::active`].
    ptr: usize,
    /// Current match length (bytes predicted right since the match was found
    /// or last missed): 0 when there is no match, or just after a miss.
    len: u32,
    /// Whether the match has missed since it was found ([`OnMiss::Recover`]
    /// only); it is then kept with `len == 0`.
    missed: bool,
    /// Consecutive misses of a recovering match (`<= RECOVER_MISSES`).
    miss_run: u32,
    rates: HitRates,
}

impl MatchFinder {
    fn new(order: usize, chunk_len: usize) -> Self {
        Self::with_miss_rule(order, chunk_len, OnMiss::Drop)
    }

    /// The long finder of codec `NeuralMatchLong`.
    fn long(chunk_len: usize) -> Self {
        Self::with_miss_rule(LONG_ORDER, chunk_len, OnMiss::Recover)
    }

    fn with_miss_rule(order: usize, chunk_len: usize, on_miss: OnMiss) -> Self {
        let bits = table_bits(order, chunk_len);
        // A recovering finder doubles its contexts: whether it has missed.
        let contexts = match on_miss {
            OnMiss::Drop => LEN_BUCKETS * CONF_BUCKETS,
            OnMiss::Recover => 2 * LEN_BUCKETS * CONF_BUCKETS,
        };
        Self {
            order,
            on_miss,
            table: vec![0; 1 << bits],
            bits,
            ptr: 0,
            len: 0,
            missed: false,
            miss_run: 0,
            rates: HitRates::new(contexts, HitRate::INITIAL),
        }
    }

    /// Whether the finder has a pointer to predict from.
    fn active(&self) -> bool {
        self.len > 0 || self.missed
    }

    /// Whether the table has one entry per possible context (`bits == 8 * order`).
    fn direct(&self) -> bool {
        self.bits as usize == 8 * self.order
    }

    /// Table index of the context `ctx` (`order` bytes, oldest first): the
    /// bytes as a big-endian number, hashed unless the table indexes directly;
    /// past 8 bytes (the long finder), a multiplicative hash of every byte.
    fn index(&self, ctx: &[u8]) -> usize {
        if self.order > 8 {
            let v = ctx
                .iter()
                .fold(0u64, |v, &b| (v ^ u64::from(b)).wrapping_mul(HASH_MUL));
            return (v >> (64 - self.bits)) as usize;
        }
        let v = ctx.iter().fold(0u64, |v, &b| (v << 8) | u64::from(b));
        if self.direct() {
            v as usize
        } else {
            (v.wrapping_mul(HASH_MUL) >> (64 - self.bits)) as usize
        }
    }

    fn predict(&mut self, hist: &[u8], freq: &mut Frequencies) {
        if !self.active() {
            return self.rates.pass();
        }
        let b = hist[self.ptr];
        // Length bucket 0 is free for a recovering match that just missed
        // (len_bucket(l) = l for 1 <= l < 16).
        let len = if self.len == 0 {
            0
        } else {
            len_bucket(self.len)
        };
        let ctx = (usize::from(self.missed) * LEN_BUCKETS + len) * CONF_BUCKETS
            + conf_bucket(freq.0[b as usize]);
        self.rates.offer(ctx, b, freq);
    }

    fn update(&mut self, hist: &[u8]) {
        let t = hist.len();
        let byte = hist[t - 1];
        self.rates.learn(byte);
        if self.active() && hist[self.ptr] == byte {
            self.len = (self.len + 1).min(LEN_CAP);
            self.ptr += 1;
            self.miss_run = 0;
        } else if self.active() && self.on_miss == OnMiss::Recover && self.miss_run < RECOVER_MISSES
        {
            // ptr < t - 1 before (it predicted byte t - 1), so ptr < t after.
            self.missed = true;
            self.miss_run += 1;
            self.len = 0;
            self.ptr += 1;
        } else {
            self.len = 0;
            self.missed = false;
            self.miss_run = 0;
        }
        if t < self.order {
            return;
        }
        let i = self.index(&hist[t - self.order..]);
        if self.len == 0 {
            let cand = self.table[i] as usize;
            // The common suffix of hist[..cand] and hist[..t], at most VERIFY_MAX.
            let l = (1..=VERIFY_MAX.min(cand))
                .take_while(|&k| hist[cand - k] == hist[t - k])
                .count();
            if l >= self.order {
                self.len = l as u32;
                self.ptr = cand;
                self.missed = false;
                self.miss_run = 0;
            }
        }
        // t < 2^32: chunks are at most 64 MiB (container::MAX_CHUNK_LEN).
        self.table[i] = t as u32;
    }
}

/// Smallest and largest record stride of the column finder.
pub const MIN_RECORD_STRIDE: u32 = 2;
pub const MAX_RECORD_STRIDE: u32 = 1 << 20;
/// Columns beyond this many share hit rates (column `c` uses slot `c % COLUMN_SLOTS`).
pub const COLUMN_SLOTS: usize = 4096;
/// Initial hit probability of the column finder: 1/16. Its contexts are many
/// and sparse, so it starts sceptical (measured: 1/2 costs up to 23 % on text
/// where a wrong stride was forced; 1/16 costs at most 0.7 %).
const COLUMN_P_INITIAL: u32 = P_ONE / 16;

/// Predicts the byte one record above (`stride` bytes back) in a table of
/// fixed-size records. Its hit rate is learned per (column, whether the
/// previous byte equalled the byte above it, network confidence bucket).
struct ColumnFinder {
    stride: usize,
    rates: HitRates,
}

impl ColumnFinder {
    fn new(stride: u32) -> Self {
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

/// What a neural stream mixes into the network's frequencies, which is what
/// its codec says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mixing {
    /// The network alone (codec `Neural`).
    NetworkOnly,
    /// The match finders (codec `NeuralMatch`).
    Match,
    /// The column finder for records of `stride` bytes, then the match
    /// finders (codec `NeuralMatchColumns`).
    MatchColumns { stride: u32 },
    /// The column finder if there is a `stride`, the match finders, then
    /// the long finder (codecs `NeuralMatchLongColumns` and `NeuralMatchLong`).
    MatchLong { stride: Option<u32> },
    /// [`Mixing::MatchLong`] with a `stride`, then the column histograms
    /// (codec `NeuralMatchLongColumnsHist`).
    MatchLongHist { stride: u32 },
    /// [`Mixing::MatchLong`] without a stride, then the text field
    /// histograms (codec `NeuralMatchLongText`).
    MatchLongText,
}

impl Mixing {
    /// The record stride of the column finder, if any.
    pub fn stride(self) -> Option<u32> {
        match self {
            Self::NetworkOnly
            | Self::Match
            | Self::MatchLong { stride: None }
            | Self::MatchLongText => None,
            Self::MatchColumns { stride }
            | Self::MatchLong {
                stride: Some(stride),
            }
            | Self::MatchLongHist { stride } => Some(stride),
        }
    }

    /// A fresh match model for a chunk of `chunk_len` bytes, if any.
    pub fn model(self, chunk_len: usize) -> Option<MatchModel> {
        match self {
            Self::NetworkOnly => None,
            Self::Match => Some(MatchModel::new(chunk_len)),
            Self::MatchColumns { stride } => Some(MatchModel::with_columns(chunk_len, stride)),
            Self::MatchLong { stride } => Some(MatchModel::with_long(chunk_len, stride)),
            Self::MatchLongHist { stride } => Some(MatchModel::with_histograms(chunk_len, stride)),
            Self::MatchLongText => Some(MatchModel::with_text_fields(chunk_len)),
        }
    }
}

/// The match model of one stream (one chunk): the finders of [`ORDERS`],
/// after an optional column finder and before an optional long finder, and
/// optional column or text field histograms last.
pub struct MatchModel {
    column: Option<ColumnFinder>,
    /// The finders of [`ORDERS`], then the long finder if any.
    finders: Vec<MatchFinder>,
    histograms: Option<ColumnHistograms>,
    text: Option<TextFieldHistograms>,
}

impl MatchModel {
    /// A fresh model for a chunk of `chunk_len` bytes (its actual length).
    pub fn new(chunk_len: usize) -> Self {
        Self {
            column: None,
            finders: ORDERS
                .iter()
                .map(|&o| MatchFinder::new(o, chunk_len))
                .collect(),
            histograms: None,
            text: None,
        }
    }

    /// [`MatchModel::new`] plus a column finder for records of `stride`
    /// bytes, clamped to `MIN_RECORD_STRIDE..=MAX_RECORD_STRIDE` (callers
    /// validate it first; see `docs/FORMAT.md` section 9.10).
    pub fn with_columns(chunk_len: usize, stride: u32) -> Self {
        let stride = stride.clamp(MIN_RECORD_STRIDE, MAX_RECORD_STRIDE);
        Self {
            column: Some(ColumnFinder::new(stride)),
            ..Self::new(chunk_len)
        }
    }

    /// The model of codecs `NeuralMatchLong` and `NeuralMatchLongColumns`:
    /// a column finder if there is a `stride` (clamped as in
    /// [`MatchModel::with_columns`]), the finders of [`ORDERS`], then the
    /// long finder.
    pub fn with_long(chunk_len: usize, stride: Option<u32>) -> Self {
        let mut m = match stride {
            Some(s) => Self::with_columns(chunk_len, s),
            None => Self::new(chunk_len),
        };
        m.finders.push(MatchFinder::long(chunk_len));
        m
    }

    /// The model of codec `NeuralMatchLongColumnsHist`: [`MatchModel::with_long`]
    /// with a column finder, then column histograms for the same records.
    pub fn with_histograms(chunk_len: usize, stride: u32) -> Self {
        let stride = stride.clamp(MIN_RECORD_STRIDE, MAX_RECORD_STRIDE);
        Self {
            histograms: Some(ColumnHistograms::new(chunk_len, stride)),
            ..Self::with_long(chunk_len, Some(stride))
        }
    }

    /// The model of codec `NeuralMatchLongText`: [`MatchModel::with_long`]
    /// without a column finder, then the text field histograms.
    pub fn with_text_fields(chunk_len: usize) -> Self {
        Self {
            text: Some(TextFieldHistograms::new(chunk_len)),
            ..Self::with_long(chunk_len, None)
        }
    }

    /// Reshapes the network's `freq` for the next byte, given the chunk's bytes
    /// `hist` so far. Call [`MatchModel::update`] with the actual byte next.
    pub fn predict(&mut self, hist: &[u8], freq: &mut Frequencies) {
        // The column finder first: the match finders, more reliable on long
        // repeats, act last (measured: 0.4 % better on a 20-column table).
        if let Some(c) = &mut self.column {
            c.predict(hist, freq);
        }
        for f in &mut self.finders {
            f.predict(hist, freq);
        }
        // Last: the histograms' weights are learned on the finished table.
        if let Some(h) = &mut self.histograms {
            h.predict(hist, freq);
        }
        if let Some(h) = &mut self.text {
            h.predict(hist, freq);
        }
    }

    /// Learns from the actual byte, which `hist` now ends with.
    pub fn update(&mut self, hist: &[u8]) {
        if hist.is_empty() {
            return;
        }
        if let Some(c) = &mut self.column {
            c.update(hist);
        }
        for f in &mut self.finders {
            f.update(hist);
        }
        if let Some(h) = &mut self.histograms {
            h.update(hist);
        }
        if let Some(h) = &mut self.text {
            h.update(hist);
        }
    }
}

/// Raises the frequency of `b` from `freq[b] < h` to about `h`: every other
/// entry is scaled by `w / 2^32` with `w = floor(2^32 (2^24 - h) / (2^24 - freq[b]))`
/// (rounded down, at least 1) and `b` takes the rest, so the total stays
/// exactly `2^24` and every entry stays >= 1.
fn raise(freq: &mut Frequencies, b: u8, h: u32) {
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
    use proptest::prelude::*;

    #[test]
    fn buckets_and_table_sizes() {
        assert_eq!(len_bucket(1), 1);
        assert_eq!(len_bucket(15), 15);
        assert_eq!(len_bucket(16), 16);
        assert_eq!(len_bucket(31), 16);
        assert_eq!(len_bucket(32), 17);
        assert_eq!(len_bucket(2047), 22);
        assert_eq!(len_bucket(LEN_CAP), 23);
        assert_eq!(conf_bucket(1 << 23), 0);
        assert_eq!(conf_bucket((1 << 24) - 1), 0);
        assert_eq!(conf_bucket((1 << 23) - 1), 1);
        assert_eq!(conf_bucket(1), 11);
        assert_eq!(table_bits(1, 65536), 8);
        assert_eq!(table_bits(2, 65536), 14);
        assert_eq!(table_bits(2, 4096), 10);
        assert_eq!(table_bits(2, 1 << 18), 16);
        assert_eq!(table_bits(4, 1), 10);
        assert_eq!(table_bits(4, 65537), 15);
        assert_eq!(table_bits(8, 64 << 20), 18);
        assert!(MatchFinder::new(1, 4096).direct());
        assert!(!MatchFinder::new(2, 65536).direct());
        assert!(MatchFinder::new(2, 1 << 18).direct());
    }

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

    /// A repeat is predicted better with each occurrence: the third copy of a
    /// random block costs far less than the first.
    #[test]
    fn repeats_become_cheap() {
        let mut block = vec![0u8; 512];
        let mut x = 0x1234_5678u32;
        for b in &mut block {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            *b = (x >> 24) as u8;
        }
        let data: Vec<u8> = block.iter().chain(&block).chain(&block).copied().collect();
        let mut m = MatchModel::new(data.len());
        let mut cost = [0u64; 3];
        for t in 0..data.len() {
            let mut f = Frequencies::default();
            m.predict(&data[..t], &mut f);
            // -log2(f / 2^24) rounded up to whole bits (so at least 1 per byte).
            cost[t / 512] += u64::from(24 - f.0[data[t] as usize].ilog2());
            m.update(&data[..=t]);
        }
        assert!(cost[0] > 7 * 512, "{cost:?}");
        // Copies 2 and 3 cost about 1 bit per byte, the floor of this measure.
        assert!(cost[1] * 7 < cost[0], "{cost:?}");
        assert!(cost[2] < 520, "{cost:?}");
    }

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
        let cost = |mut m: MatchModel| {
            let mut bits = 0u64;
            for t in 0..data.len() {
                let mut f = Frequencies::default();
                m.predict(&data[..t], &mut f);
                bits += u64::from(24 - f.0[data[t] as usize].ilog2());
                m.update(&data[..=t]);
            }
            bits
        };
        let plain = cost(MatchModel::new(data.len()));
        let columns = cost(MatchModel::with_columns(data.len(), 12));
        // The 11 fixed bytes of a row cost about 1 bit each (this measure's
        // floor) once learned; the noisy byte 8 bits.
        assert!(columns < 200 * (8 + 11 + 4), "{columns}");
        assert!(columns < plain, "{columns} vs {plain}");
    }

    /// Predicts and learns `data[from..]` (after `data[..from]`) with `m`.
    fn feed(m: &mut MatchModel, data: &[u8], from: usize) {
        for t in from..data.len() {
            let mut f = Frequencies::default();
            m.predict(&data[..t], &mut f);
            m.update(&data[..=t]);
        }
    }

    /// The long finder keeps its match through a changed byte: after a copy
    /// of a random block with one byte changed, it still points into the first
    /// copy and predicts the byte after the change, while the order-8 finder
    /// has dropped its match; a run of RECOVER_MISSES + 1 misses drops it.
    #[test]
    fn long_finder_recovers_then_drops() {
        let mut block = vec![0u8; 200];
        let mut x = 99u32;
        for b in &mut block {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            *b = (x >> 24) as u8;
        }
        let mut data = block.clone();
        data.extend_from_slice(&block[..100]);
        data.push(block[100] ^ 0x55);
        let mut m = MatchModel::with_long(1000, None);
        feed(&mut m, &data, 0);
        let (order8, long) = (&m.finders[ORDERS.len() - 1], &m.finders[ORDERS.len()]);
        assert_eq!(order8.len, 0);
        assert!(long.missed && long.len == 0 && long.miss_run == 1);
        assert_eq!(long.ptr, 101, "points at the byte after the change");
        // The next byte is right again: the match continues, still `missed`.
        data.push(block[101]);
        feed(&mut m, &data, data.len() - 1);
        let long = &m.finders[ORDERS.len()];
        assert!(long.missed && long.len == 1 && long.miss_run == 0 && long.ptr == 102);
        // RECOVER_MISSES wrong bytes in a row keep it; one more drops it.
        for k in 0..=RECOVER_MISSES as usize {
            let l = data.len();
            data.push(block[102 + k] ^ 0xA5);
            feed(&mut m, &data, l);
            let long = &m.finders[ORDERS.len()];
            assert_eq!(long.active(), k < RECOVER_MISSES as usize, "miss {k}");
        }
    }

    /// The finders of codecs 3 and 4 never recover: all four follow a
    /// repeat, and all drop it at the first wrong byte.
    #[test]
    fn order_finders_drop_at_a_miss() {
        let mut data: Vec<u8> = (0..64u8).chain(0..20).collect();
        let mut m = MatchModel::new(100);
        feed(&mut m, &data, 0);
        assert!(m.finders.iter().all(|f| f.active() && f.ptr == 20));
        data.push(200);
        feed(&mut m, &data, data.len() - 1);
        assert!(
            m.finders
                .iter()
                .all(|f| !f.active() && f.on_miss == OnMiss::Drop)
        );
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
            stride in prop_oneof![Just(None), (0u32..20).prop_map(Some), Just(Some(u32::MAX))],
            long in any::<bool>(),
            histograms in any::<bool>(),
        ) {
            let mut m = match (long, stride) {
                (true, Some(s)) if histograms => MatchModel::with_histograms(hist.len(), s),
                (true, stride) => MatchModel::with_long(hist.len(), stride),
                (false, None) => MatchModel::new(hist.len()),
                (false, Some(s)) => MatchModel::with_columns(hist.len(), s),
            };
            for t in 0..hist.len() {
                let mut f = valid_table(&weights, big, big_w);
                let before = f.clone();
                m.predict(&hist[..t], &mut f);
                prop_assert!(f.0.iter().all(|&v| v >= 1));
                prop_assert_eq!(f.0.iter().map(|&v| u64::from(v)).sum::<u64>(), u64::from(FREQ_TOTAL));
                // The histograms' mixing may raise any entry; without them
                // only the offered bytes (one per finder) grow.
                let grew = (0..256).filter(|&i| f.0[i] > before.0[i]).count();
                prop_assert!(m.histograms.is_some() || grew <= ORDERS.len() + 2);
                m.update(&hist[..=t]);
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
