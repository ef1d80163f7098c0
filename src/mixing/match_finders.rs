//! The match finders of codec `NeuralMatch` and its successors: classical
//! predictors that find the last earlier occurrence of the current context
//! in the same chunk and predict the byte that followed it, each with
//! adaptive hit rates ([`super::hit_rates`]) that mix its prediction into
//! the network's frequencies.
//!
//! Why: the network has a small state and no memory of the exact bytes it has
//! seen, so it misses exact repeats (repeated record headers, padded columns,
//! duplicated lines, fixed-layout table rows), which is what LZ coders live on.
//! Four match finders with minimum orders 1, 2, 4 and 8 recover them for one
//! hash lookup each per byte (measured in `docs/MODELS.md`). The long finder
//! ([`super::long_finder`]) is one more of them, of order 24, that keeps its
//! match through mispredicted bytes.
//!
//! Normative description: `docs/FORMAT.md` section 9.9. All arithmetic is on
//! unsigned integers and cannot overflow (bounds are stated inline).
#![deny(clippy::float_arithmetic)]

use super::Predictor;
use super::hit_rates::{HitRate, HitRates};
use super::long_finder::RECOVER_MISSES;
use crate::intmath::freq::Frequencies;

/// Minimum match orders of the finders, applied in this order (low orders
/// first, so the most reliable finder acts last and sees the others' boosts).
pub const ORDERS: [usize; 4] = [1, 2, 4, 8];
/// A candidate match is verified backwards over at most this many bytes.
pub const VERIFY_MAX: usize = 32;
/// Match lengths saturate here.
pub const LEN_CAP: u32 = 65535;
/// Number of match-length buckets ([`len_bucket`]).
pub const LEN_BUCKETS: usize = 24;
/// Number of confidence buckets ([`conf_bucket`]).
pub const CONF_BUCKETS: usize = 12;
/// Update counts saturate here; the adaptation rate is `2 / (2n + 3)`.
/// Smallest and largest hashed table sizes, in bits.
pub const TABLE_BITS_MIN: u32 = 10;
pub const TABLE_BITS_MAX: u32 = 18;
/// Multiplier of the context hash (2^64 / golden ratio).
const HASH_MUL: u64 = 0x9E37_79B9_7F4A_7C15;

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

/// What a match finder does when its predicted byte was wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum OnMiss {
    /// Drop the match and look for a new one (the finders of [`ORDERS`]).
    Drop,
    /// Keep the pointer, moved past the wrong byte, and keep predicting from
    /// it, in separate contexts, until a new match of full order is found or
    /// [`RECOVER_MISSES`] more misses in a row (the long finder).
    Recover,
}

/// One match finder of a fixed minimum order.
pub(super) struct MatchFinder {
    order: usize,
    pub(super) on_miss: OnMiss,
    /// `table[i]` = position in the chunk of the byte that followed the last
    /// context with index `i`, or 0 if none (position 0 never follows a context).
    table: Vec<u32>,
    bits: u32,
    /// Position of the predicted byte; meaningful when [`MatchFinder::active`].
    pub(super) ptr: usize,
    /// Current match length (bytes predicted right since the match was found
    /// or last missed): 0 when there is no match, or just after a miss.
    pub(super) len: u32,
    /// Whether the match has missed since it was found ([`OnMiss::Recover`]
    /// only); it is then kept with `len == 0`.
    pub(super) missed: bool,
    /// Consecutive misses of a recovering match (`<= RECOVER_MISSES`).
    pub(super) miss_run: u32,
    rates: HitRates,
}

impl MatchFinder {
    /// A finder of minimum order `order` (one of [`ORDERS`]) for a chunk of
    /// `chunk_len` bytes, which drops its match at the first miss.
    pub(super) fn new(order: usize, chunk_len: usize) -> Self {
        Self::with_miss_rule(order, chunk_len, OnMiss::Drop)
    }

    pub(super) fn with_miss_rule(order: usize, chunk_len: usize, on_miss: OnMiss) -> Self {
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
    pub(super) fn active(&self) -> bool {
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
}

impl Predictor for MatchFinder {
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

#[cfg(test)]
mod tests {
    use super::super::tests::feed;
    use super::*;
    use crate::mixing::{Codec, Mixer, Mixing};

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
        let mixing = Mixing::new(Codec::NeuralMatch, None).unwrap();
        let mut m = Mixer::new(mixing, data.len());
        let mut cost = [0u64; 3];
        for t in 0..data.len() {
            let mut f = Frequencies::default();
            m.coded(&data, t, &mut f);
            // -log2(f / 2^24) rounded up to whole bits (so at least 1 per byte).
            cost[t / 512] += u64::from(24 - f.0[data[t] as usize].ilog2());
        }
        assert!(cost[0] > 7 * 512, "{cost:?}");
        // Copies 2 and 3 cost about 1 bit per byte, the floor of this measure.
        assert!(cost[1] * 7 < cost[0], "{cost:?}");
        assert!(cost[2] < 520, "{cost:?}");
    }

    /// The finders of codecs 3 and 4 never recover: all four follow a
    /// repeat, and all drop it at the first wrong byte.
    #[test]
    fn order_finders_drop_at_a_miss() {
        let mut data: Vec<u8> = (0..64u8).chain(0..20).collect();
        let mut finders = ORDERS.map(|o| MatchFinder::new(o, 100));
        for f in &mut finders {
            feed(f, &data, 0);
        }
        assert!(finders.iter().all(|f| f.active() && f.ptr == 20));
        data.push(200);
        for f in &mut finders {
            feed(f, &data, data.len() - 1);
        }
        assert!(
            finders
                .iter()
                .all(|f| !f.active() && f.on_miss == OnMiss::Drop)
        );
    }
}
