//! The long finder of codecs `NeuralMatchLong`, `NeuralMatchLongColumns`,
//! `NeuralMatchLongColumnsHist` and `NeuralMatchLongText`: a match finder
//! ([`super::match_finders`]) of order [`LONG_ORDER`] that keeps its match
//! through mispredicted bytes, acting after the finders of
//! [`super::match_finders::ORDERS`].
//!
//! Why: lines or records that repeat with a few bytes changed (LHE/HepMC
//! event lines, say) stay aligned, where the other finders drop the match at
//! the first difference and wait for a new context.
//!
//! Normative description: `docs/FORMAT.md` section 9.11.
#![deny(clippy::float_arithmetic)]

use super::match_finders::{MatchFinder, OnMiss};

/// Order of the long finder, which acts after the finders of
/// [`super::match_finders::ORDERS`]. Measured in `docs/MODELS.md` ("The long
/// finder"): 16 and 28 did as well on the LHE, 12 worse, 32 (all of
/// [`super::match_finders::VERIFY_MAX`]) much worse.
pub const LONG_ORDER: usize = 24;
/// A recovering match survives this many consecutive misses; the next one
/// drops it. Measured: unlimited cost 0.3 % on a table of 80-byte records
/// (stale pointers), 4 gave back most of the gain on the LHE; 8 did best on both.
pub const RECOVER_MISSES: u32 = 8;

/// The long finder for a chunk of `chunk_len` bytes.
pub(super) fn long_finder(chunk_len: usize) -> MatchFinder {
    MatchFinder::with_miss_rule(LONG_ORDER, chunk_len, OnMiss::Recover)
}

#[cfg(test)]
mod tests {
    use super::super::match_finders::ORDERS;
    use super::super::tests::feed;
    use super::*;

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
        let mut order8 = MatchFinder::new(ORDERS[ORDERS.len() - 1], 1000);
        let mut long = long_finder(1000);
        feed(&mut order8, &data, 0);
        feed(&mut long, &data, 0);
        assert_eq!(order8.len, 0);
        assert!(long.missed && long.len == 0 && long.miss_run == 1);
        assert_eq!(long.ptr, 101, "points at the byte after the change");
        // The next byte is right again: the match continues, still `missed`.
        data.push(block[101]);
        feed(&mut long, &data, data.len() - 1);
        assert!(long.missed && long.len == 1 && long.miss_run == 0 && long.ptr == 102);
        // RECOVER_MISSES wrong bytes in a row keep it; one more drops it.
        for k in 0..=RECOVER_MISSES as usize {
            let l = data.len();
            data.push(block[102 + k] ^ 0xA5);
            feed(&mut long, &data, l);
            assert_eq!(long.active(), k < RECOVER_MISSES as usize, "miss {k}");
        }
    }
}
