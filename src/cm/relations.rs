//! The relation model of records (codec 18, `docs/FORMAT.md` 9.20): a
//! 32-bit float column that is, in most records, the sum or difference of
//! two columns before it in the same record, or a copy of one (a jet's
//! neutral hadron energy is its hadron energy minus the charged part), is
//! predicted from them: the prediction, its neighbours one and two units in
//! the last place away, and the value nearest it with the word's low bytes
//! as coded are inputs of the mixer.
//!
//! Nothing is stored: every column keeps a score for each candidate
//! relation over the records so far, learned as the decoder learns it.
//! The sums are computed by [`crate::intmath::softfloat`], so they are the
//! same on every machine.
#![deny(clippy::float_arithmetic)]

use super::counter;
use super::logistic::stretch;
use crate::intmath::softfloat::{f32_add, f32_sub};

/// How far back in its record, in 4-byte words, a column's operands lie.
pub const WINDOW: usize = 8;

/// One candidate relation of a word with the words 1 to [`WINDOW`] before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Candidate {
    /// A copy of the word `p` back.
    Copy(u8),
    /// The words `p` and `q` back added (`p < q`, or `p == q` for twice).
    Add(u8, u8),
    /// The word `p` back minus the word `q` back (`p != q`).
    Sub(u8, u8),
}

/// The candidates in score order (ties go to the first): copies, sums, then
/// differences, each by the nearer operand first.
const CANDIDATES: [Candidate; 100] = {
    let mut out = [Candidate::Copy(0); 100];
    let mut n = 0;
    let mut p = 1;
    while p <= WINDOW {
        out[n] = Candidate::Copy(p as u8);
        n += 1;
        p += 1;
    }
    let mut p = 1;
    while p <= WINDOW {
        let mut q = p;
        while q <= WINDOW {
            out[n] = Candidate::Add(p as u8, q as u8);
            n += 1;
            q += 1;
        }
        p += 1;
    }
    let mut p = 1;
    while p <= WINDOW {
        let mut q = 1;
        while q <= WINDOW {
            if p != q {
                out[n] = Candidate::Sub(p as u8, q as u8);
                n += 1;
            }
            q += 1;
        }
        p += 1;
    }
    assert!(n == 100);
    out
};

/// A candidate's score: `s - (s >> SCORE_SHIFT)`, plus [`HIT`] when it gave
/// a word's exact value (0 words count for none). A candidate right in
/// every record scores `HIT << SCORE_SHIFT`.
const SCORE_SHIFT: u32 = 4;
const HIT: u16 = 256;
/// The best candidate predicts only from this score (about a quarter of
/// the recent words right).
const MIN_SCORE: u16 = 1024;

/// The prediction and its neighbours one and two units in the last place
/// away (the integer bit pattern plus 0, 1, -1, 2 and -2): one mixer input
/// each; then, from the word's second byte on, the value nearest the
/// prediction with the low bytes coded so far (its high bytes hold when
/// the word is off by more than the neighbours).
const DELTAS: [u32; 5] = [0, 1, u32::MAX, 2, u32::MAX - 1];
pub const INPUTS: usize = DELTAS.len() + 1;

/// Counters by input, byte in the word, expected bit and score quarter.
const COUNTERS: usize = INPUTS * 4 * 2 * 4;
const COUNTER_LIMIT: u32 = 255;

pub struct Relations {
    stride: usize,
    /// [`CANDIDATES`] scores of each word of the record.
    scores: Vec<u16>,
    /// The current word's predicted value and its score quarter, if any.
    predicted: Option<(u32, usize)>,
    /// Whether the word so far agrees with each of the prediction's
    /// neighbours `P + DELTAS[k]` (the nearest value always does).
    agrees: [bool; DELTAS.len()],
    /// The byte of the word being coded (0 is the lowest).
    byte: usize,
    /// The word's bytes coded so far (below `byte`).
    low: u32,
    counters: [u32; COUNTERS],
    /// The counter of each input for the current bit, if it predicts one.
    active: [Option<usize>; INPUTS],
}

impl Relations {
    /// The model for records of `stride` bytes (a multiple of 4).
    pub fn new(stride: usize) -> Self {
        Self {
            stride,
            scores: vec![0; stride / 4 * CANDIDATES.len()],
            predicted: None,
            agrees: [false; DELTAS.len()],
            byte: 0,
            low: 0,
            counters: [counter::FRESH; COUNTERS],
            active: [None; INPUTS],
        }
    }

    /// The little-endian word at byte offset `at` of `hist`.
    fn word(hist: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([hist[at], hist[at + 1], hist[at + 2], hist[at + 3]])
    }

    /// The operands of the word that starts at `at`: `ops[p - 1]` is the
    /// word `p` back, if it starts at or after `record` (in the record).
    fn operands(hist: &[u8], record: usize, at: usize) -> [Option<u32>; WINDOW] {
        std::array::from_fn(|i| {
            at.checked_sub(4 * (i + 1))
                .filter(|&x| x >= record)
                .map(|x| Self::word(hist, x))
        })
    }

    /// The value of `c` from the word's operands, if it has them.
    fn value(c: Candidate, ops: &[Option<u32>; WINDOW]) -> Option<u32> {
        let op = |p: u8| ops[usize::from(p) - 1];
        Some(match c {
            Candidate::Copy(p) => op(p)?,
            Candidate::Add(p, q) => f32_add(op(p)?, op(q)?),
            Candidate::Sub(p, q) => f32_sub(op(p)?, op(q)?),
        })
    }

    /// Before the byte after `hist`: at a word's first byte, predicts it
    /// with its best candidate.
    pub fn start_byte(&mut self, hist: &[u8]) {
        let pos = hist.len();
        let col = pos % self.stride;
        self.byte = col & 3;
        if self.byte != 0 {
            return;
        }
        self.predicted = None;
        self.agrees = [true; DELTAS.len()];
        self.low = 0;
        let scores = &self.scores[col / 4 * CANDIDATES.len()..][..CANDIDATES.len()];
        let mut best = 0;
        for (k, &s) in scores.iter().enumerate() {
            if s > scores[best] {
                best = k;
            }
        }
        if scores[best] < MIN_SCORE {
            return;
        }
        let ops = Self::operands(hist, pos - col, pos);
        if let Some(v) = Self::value(CANDIDATES[best], &ops) {
            // The score's quarter of its range: 0 to 3.
            let quarter = usize::from(scores[best] >> (SCORE_SHIFT + 8 - 2)).min(3);
            self.predicted = Some((v, quarter));
        }
    }

    /// The stretched predictions of the next bit, given the bits `c0` of
    /// the byte so far after a leading 1, at bit `bit` (0 first); 0 for an
    /// input whose value the word has left.
    #[inline]
    pub fn predict(&mut self, c0: u32, bit: u32, out: &mut [i32; INPUTS]) {
        self.active = [None; INPUTS];
        *out = [0; INPUTS];
        let Some((v, quarter)) = self.predicted else {
            return;
        };
        let nearest = (self.byte > 0).then(|| nearest_with_low(v, self.low, self.byte));
        let values = DELTAS.iter().map(|&d| v.wrapping_add(d)).chain(nearest);
        for (k, value) in values.enumerate() {
            if !self.agrees.get(k).unwrap_or(&true) {
                continue;
            }
            let expected = (value >> (8 * self.byte)) & 0xFF | 0x100;
            if expected >> (8 - bit) != c0 {
                continue;
            }
            let e = ((expected >> (7 - bit)) & 1) as usize;
            let i = ((k * 4 + self.byte) * 2 + e) * 4 + quarter;
            self.active[k] = Some(i);
            out[k] = stretch(counter::p12(self.counters[i]));
        }
    }

    pub fn update(&mut self, bit: u32) {
        for i in self.active.into_iter().flatten() {
            self.counters[i] = counter::update(self.counters[i], bit, COUNTER_LIMIT);
        }
    }

    /// After a byte was appended to `hist`: follows which inputs the word
    /// still agrees with, and at a word's last byte scores every candidate
    /// of its column.
    pub fn byte_done(&mut self, hist: &[u8]) {
        let pos = hist.len() - 1;
        let b = hist[pos];
        if let Some((v, _)) = self.predicted {
            for (k, &d) in DELTAS.iter().enumerate() {
                self.agrees[k] &= (v.wrapping_add(d) >> (8 * self.byte)) as u8 == b;
            }
            self.low |= u32::from(b) << (8 * self.byte);
        }
        let col = pos % self.stride;
        if col & 3 != 3 {
            return;
        }
        let at = pos - 3;
        let actual = Self::word(hist, at);
        if actual & 0x7FFF_FFFF == 0 {
            return;
        }
        // The operands are read once for all candidates.
        let ops = Self::operands(hist, at - (col - 3), at);
        let scores = &mut self.scores[(col - 3) / 4 * CANDIDATES.len()..][..CANDIDATES.len()];
        for (s, &c) in scores.iter_mut().zip(&CANDIDATES) {
            let hit = Self::value(c, &ops) == Some(actual);
            *s = *s - (*s >> SCORE_SHIFT) + if hit { HIT } else { 0 };
        }
    }
}

/// The value nearest `v` whose low `byte` bytes are `low` (ties to the
/// larger): `v`'s high bytes with `low`, moved by one unit of the next byte
/// if that is nearer.
fn nearest_with_low(v: u32, low: u32, byte: usize) -> u32 {
    let unit = 1i64 << (8 * byte);
    let c = i64::from(v & !(unit as u32).wrapping_sub(1) | low);
    let d = c - i64::from(v);
    let c = if d > unit / 2 {
        c - unit
    } else if d <= -unit / 2 {
        c + unit
    } else {
        c
    };
    c as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_value_with_the_coded_low_bytes() {
        // A low byte one step over: the next unit up is nearer.
        assert_eq!(nearest_with_low(0x4120_00FF, 0x01, 1), 0x4120_0101);
        assert_eq!(nearest_with_low(0x4120_0101, 0xFF, 1), 0x4120_00FF);
        assert_eq!(nearest_with_low(0x4120_0180, 0x80, 1), 0x4120_0180);
        // Two bytes known; half a unit away goes up.
        assert_eq!(nearest_with_low(0x4120_0000, 0x8000, 2), 0x4120_8000);
        assert_eq!(nearest_with_low(0x4120_0000, 0x8001, 2), 0x411F_8001);
        // Below zero wraps, as the spec's mod 2^32 says.
        assert_eq!(nearest_with_low(0x10, 0xF0, 1), 0xFFFF_FFF0);
        assert_eq!(
            nearest_with_low(0xFFFF_FFF0, 0x10, 1),
            0x1_0000_0010u64 as u32
        );
    }

    /// Records of three floats a, b, a - b: the third is predicted from the
    /// second record on... once its difference has scored enough.
    #[test]
    fn a_difference_column_is_found_and_predicted() {
        let mut rel = Relations::new(12);
        let mut hist = Vec::new();
        let mut predicted = 0;
        for r in 0..64u32 {
            let a = ((100 + 3 * r) as f32).to_bits();
            let b = ((7 + r % 5) as f32).to_bits();
            for x in [a, b, f32_sub(a, b)] {
                for byte in x.to_le_bytes() {
                    rel.start_byte(&hist);
                    if let (8, Some((v, _))) = (hist.len() % 12, rel.predicted) {
                        assert_eq!(v, f32_sub(a, b));
                        predicted += 1;
                    }
                    hist.push(byte);
                    rel.byte_done(&hist);
                }
            }
        }
        assert!(predicted >= 56, "{predicted}");
    }
}
