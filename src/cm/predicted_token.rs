//! What the token models share (the kinematic model, codec 13, and the
//! counting-field model, codec 14): the predicted text of the next token,
//! how far the coded bytes have followed it, and the counters that turn
//! "the prediction expects bit `e` at byte `t`" into an input of the mixer
//! (`docs/FORMAT.md`, sections 9.16 and 9.17, "The input").
#![deny(clippy::float_arithmetic)]

use super::counter;
use super::logistic::stretch;

/// Whether `b` separates the fields of a line (both token models split
/// lines alike).
pub(super) fn is_separator(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b',' | b'\r' | b'\n')
}

/// Hash of a token's bytes (FNV-1a, 64 bits): the line type of a line that
/// starts with it.
pub(super) fn token_hash(s: &[u8]) -> u64 {
    s.iter().fold(0xCBF2_9CE4_8422_2325, |h, &c| {
        (h ^ u64::from(c)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// The count limit of the counters.
const COUNTER_LIMIT: u32 = 255;

/// A prediction of up to `LEN` bytes and `COUNTERS` counters.
pub struct PredictedToken<const LEN: usize, const COUNTERS: usize> {
    text: [u8; LEN],
    len: usize,
    /// How many bytes of the token followed `text`; `None` once one did not,
    /// or while nothing is predicted.
    matched: Option<usize>,
    counters: [u32; COUNTERS],
    /// The counter of the current bit, if the prediction expects one.
    active: Option<usize>,
}

impl<const LEN: usize, const COUNTERS: usize> Default for PredictedToken<LEN, COUNTERS> {
    fn default() -> Self {
        Self {
            text: [0; LEN],
            len: 0,
            matched: None,
            counters: [counter::FRESH; COUNTERS],
            active: None,
        }
    }
}

impl<const LEN: usize, const COUNTERS: usize> PredictedToken<LEN, COUNTERS> {
    /// The stretched input for the next bit, given the bits of the byte so
    /// far (`c0` with its leading 1) at bit `bit` (0 = most significant):
    /// if `t` bytes matched, `t` is inside the prediction and its byte `t`
    /// agrees with `c0`, the counter `slot(t, e)` for the bit `e` it expects
    /// (and that counter learns the coded bit); otherwise 0.
    #[inline]
    pub fn input(&mut self, c0: u32, bit: u32, slot: impl FnOnce(usize, u32) -> usize) -> i32 {
        self.active = None;
        let Some(t) = self.matched.filter(|&t| t < self.len) else {
            return 0;
        };
        let expected = u32::from(self.text[t]) | 0x100;
        if expected >> (8 - bit) != c0 {
            return 0;
        }
        let i = slot(t, (expected >> (7 - bit)) & 1);
        self.active = Some(i);
        stretch(counter::p12(self.counters[i]))
    }

    /// Learns the coded bit.
    #[inline]
    pub fn learn(&mut self, bit: u32) {
        if let Some(i) = self.active {
            self.counters[i] = counter::update(self.counters[i], bit, COUNTER_LIMIT);
        }
    }

    /// After byte `b` of the token: the match goes on if `b` is the next
    /// predicted byte, and ends otherwise.
    pub fn follow(&mut self, b: u8) {
        if let Some(t) = self.matched {
            self.matched = (t < self.len && self.text[t] == b).then_some(t + 1);
        }
    }

    /// Ends the prediction.
    pub fn close(&mut self) {
        self.matched = None;
    }

    /// Predicts the first `len` bytes of [`PredictedToken::text_mut`] for
    /// the next token.
    pub fn open(&mut self, len: usize) {
        self.len = len.min(LEN);
        self.matched = Some(0);
    }

    /// Where the prediction is written before [`PredictedToken::open`].
    pub fn text_mut(&mut self) -> &mut [u8; LEN] {
        &mut self.text
    }

    /// The predicted text, while its first `t` bytes have matched: `(text,
    /// t)`.
    pub fn following(&self) -> Option<(&[u8], usize)> {
        self.matched.map(|t| (&self.text[..self.len], t))
    }
}
