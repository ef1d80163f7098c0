//! The text field histograms of codec `NeuralMatchLongText`: for text made of
//! lines of space-separated fields (HepMC and LHE event records, CSV-like
//! tables), a small byte histogram per field context, mixed into the
//! frequencies exactly as the column histograms are
//! ([`super::histograms`]).
//!
//! The context of a byte is its line's type (the line's first byte: `P` or
//! `V` in HepMC), its field number in the line, its position in the field,
//! the byte at that position of the same field in the previous line of the
//! same type ("the byte above"), and whether the field so far matched the
//! bytes above it. Why: the fields of event records repeat
//! line after line with a few digits changed (particle and vertex numbers,
//! status codes, exponents), which the network, with no notion of fields,
//! and the match finders, which need an exact context, predict poorly.
//! Measured in `docs/MODELS.md` ("The text field histograms").
//!
//! Like the match finders it only reshapes a valid frequency table into
//! another valid one, deterministically from the chunk's bytes, on the host.
//! Normative description: `docs/FORMAT.md` section 9.13. All arithmetic is on
//! unsigned integers and cannot overflow (bounds are stated inline).
#![deny(clippy::float_arithmetic)]

use super::Predictor;
use super::histograms::{HistogramSlots, MixRule};
use crate::intmath::freq::Frequencies;

/// How the histograms are mixed. A prior of 1/1024 per byte value: a field
/// context's few bytes deserve nearly all of the histogram's mass (measured
/// on inputConvert1: 1/10, as in the column histograms, lost 1.7 %, 1/256
/// 0.2 %). Larger weights than the column histograms' (up to 60/64): many
/// field contexts are nearly certain (measured: 0.2 to 0.4 % better).
const RULE: MixRule = MixRule {
    prior_div: 1024,
    weights: [0, 2, 8, 16, 32, 48, 56, 60],
};

/// Field numbers saturate here: the separators after field `FIELD_CAP`
/// start no new field.
pub const FIELD_CAP: usize = 63;
/// Positions in a field saturate here in the context (the byte above is
/// still found at the exact position).
pub const POS_CAP: u32 = 24;
/// A line's type before its first byte is seen (at a line or chunk start).
const NO_TYPE: usize = 256;
/// The byte above when there is none (no previous line of the type, that
/// line had no such field, or the position is not yet coded).
const NO_ABOVE: usize = 256;
/// Smallest and largest number of histogram slots, in bits.
pub const SLOT_BITS_MIN: u32 = 10;
pub const SLOT_BITS_MAX: u32 = 16;
/// Multiplier of the context hash (2^64 / golden ratio).
const HASH_MUL: u64 = 0x9E37_79B9_7F4A_7C15;

/// Whether `b` ends a field: space, tab or comma.
pub fn is_separator(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b',')
}

/// Histogram slots in bits for a chunk of `len` bytes:
/// `clamp(ceil(log2(len)) - 3, 10, 16)` (an eighth of the chunk length).
pub fn slot_bits(len: usize) -> u32 {
    let ceil_log2 = if len <= 1 {
        0
    } else {
        usize::BITS - (len - 1).leading_zeros()
    };
    ceil_log2
        .saturating_sub(3)
        .clamp(SLOT_BITS_MIN, SLOT_BITS_MAX)
}

/// Where the fields of the current line and of the previous line of each
/// type start: enough to name the context of the next byte.
struct FieldTracker {
    /// The current line's type (its first byte), or [`NO_TYPE`].
    line_type: usize,
    /// The current field number, `<= FIELD_CAP`.
    field: usize,
    /// Bytes of the current field coded so far.
    pos: u32,
    /// Whether every byte of the current field so far equalled the byte
    /// above it (true at a field start).
    same: bool,
    /// `line_starts[f]`: where field `f` of the current line starts, for
    /// `f <= field`.
    line_starts: [u32; FIELD_CAP + 1],
    /// `prev_starts[type * (FIELD_CAP + 1) + f]`: one more than where field
    /// `f` of the last finished line of `type` started, or 0 if none.
    prev_starts: Vec<u32>,
}

impl FieldTracker {
    fn new() -> Self {
        Self {
            line_type: NO_TYPE,
            field: 0,
            pos: 0,
            same: true,
            line_starts: [0; FIELD_CAP + 1],
            prev_starts: vec![0; 256 * (FIELD_CAP + 1)],
        }
    }

    /// The byte above byte `t = hist.len()`: at position `pos` of the
    /// current field in the previous line of the current type, or
    /// [`NO_ABOVE`].
    fn above(&self, hist: &[u8]) -> usize {
        if self.line_type == NO_TYPE {
            return NO_ABOVE;
        }
        let s = self.prev_starts[self.line_type * (FIELD_CAP + 1) + self.field] as usize;
        // s - 1 + pos < t: positions below 2^26 (container::MAX_CHUNK_LEN).
        match (s.checked_sub(1), self.pos as usize) {
            (Some(start), pos) if start + pos < hist.len() => usize::from(hist[start + pos]),
            _ => NO_ABOVE,
        }
    }

    /// The context of byte `t = hist.len()`, as one number below
    /// `257 * 64 * 25 * 257 * 2 < 2^28`.
    fn context(&self, hist: &[u8]) -> u64 {
        let key = ((self.line_type * (FIELD_CAP + 1) + self.field) * (POS_CAP as usize + 1)
            + self.pos.min(POS_CAP) as usize)
            * (NO_ABOVE + 1)
            + self.above(hist);
        (key * 2 + usize::from(self.same)) as u64
    }

    /// Moves past byte `t`, which `hist` now ends with.
    fn advance(&mut self, hist: &[u8]) {
        let t = hist.len() - 1;
        let b = hist[t];
        let above = self.above(&hist[..t]);
        self.same &= above == usize::from(b);
        if b == b'\n' {
            if self.line_type != NO_TYPE {
                let row = self.line_type * (FIELD_CAP + 1);
                for (f, &start) in self.line_starts[..=self.field].iter().enumerate() {
                    // start < 2^26: no overflow.
                    self.prev_starts[row + f] = start + 1;
                }
            }
            self.line_type = NO_TYPE;
            self.field = 0;
            self.pos = 0;
            self.same = true;
        } else if self.line_type == NO_TYPE {
            // The line's first byte is its type and the start of field 0,
            // which so far matches the line above by definition.
            self.line_type = usize::from(b);
            self.line_starts[0] = t as u32;
            self.pos = 1;
            self.same = true;
        } else if is_separator(b) && self.field < FIELD_CAP {
            self.field += 1;
            self.line_starts[self.field] = (t + 1) as u32;
            self.pos = 0;
            self.same = true;
        } else {
            self.pos = self.pos.saturating_add(1);
        }
    }
}

/// The text field histograms of one stream (one chunk).
pub struct TextFieldHistograms {
    tracker: FieldTracker,
    slots: HistogramSlots,
    bits: u32,
}

impl TextFieldHistograms {
    /// Histograms for a chunk of `chunk_len` bytes ([`slot_bits`] slots).
    pub fn new(chunk_len: usize) -> Self {
        let bits = slot_bits(chunk_len);
        Self {
            tracker: FieldTracker::new(),
            slots: HistogramSlots::new(1 << bits, RULE),
            bits,
        }
    }
}

impl Predictor for TextFieldHistograms {
    /// Mixes the histogram of the context of byte `hist.len()` into `freq`
    /// with its best weight so far. `freq` stays a valid table.
    fn predict(&mut self, hist: &[u8], freq: &mut Frequencies) {
        let key = self.tracker.context(hist);
        let slot = (key.wrapping_mul(HASH_MUL) >> (64 - self.bits)) as usize;
        self.slots.predict(slot, freq);
    }

    /// Learns from the actual byte, which `hist` now ends with, and moves
    /// the field tracker past it.
    fn update(&mut self, hist: &[u8]) {
        let Some(&b) = hist.last() else {
            return;
        };
        self.slots.update(b);
        self.tracker.advance(hist);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intmath::freq::FREQ_TOTAL;
    use crate::mixing::histograms::tests::{is_valid, skewed_table};
    use proptest::prelude::*;

    /// The context number of `(line type, field, position, above, same)`.
    fn key(line_type: usize, field: usize, pos: u32, above: usize, same: bool) -> u64 {
        let k = ((line_type * (FIELD_CAP + 1) + field) * (POS_CAP as usize + 1)
            + pos.min(POS_CAP) as usize)
            * (NO_ABOVE + 1)
            + above;
        (2 * k + usize::from(same)) as u64
    }

    /// The tracker's context of the byte after `text`.
    fn context_after(text: &[u8]) -> u64 {
        let mut t = FieldTracker::new();
        for i in 1..=text.len() {
            t.advance(&text[..i]);
        }
        t.context(text)
    }

    #[test]
    fn contexts_follow_the_fields_of_the_previous_line_of_the_type() {
        let a = b"A 12 345\nB 9\n";
        // At a line start: no type, nothing above.
        assert_eq!(context_after(a), key(NO_TYPE, 0, 0, NO_ABOVE, true));
        // Field 0 starts at the type byte: above `A` + 1 is the space.
        assert_eq!(context_after(b"A 12 345\nB 9\nA"), key(65, 0, 1, 32, true));
        // Field 1, position 1: above is `2` of "12" (the B line in between
        // is of another type); `1` matched the `1` above.
        assert_eq!(
            context_after(b"A 12 345\nB 9\nA 1"),
            key(65, 1, 1, 50, true)
        );
        // `6` did not match.
        assert_eq!(
            context_after(b"A 12 345\nB 9\nA 6"),
            key(65, 1, 1, 50, false)
        );
        // Past the end of the field above: the bytes that follow it there
        // (`3` of "345"), by position.
        assert_eq!(context_after(b"A 12 345\nA 128"), key(65, 1, 3, 51, false));
        // Tabs and commas separate fields too; a field starts matching.
        assert_eq!(context_after(b"A 1,2\t3\nA 4,5\t"), key(65, 3, 0, 51, true));
        // A field the previous line did not have: nothing above.
        assert_eq!(context_after(b"A 1\nA 2 "), key(65, 2, 0, NO_ABOVE, true));
        // A type never seen: nothing above, and no match; the first line of
        // a chunk too.
        assert_eq!(context_after(b"A 1\nC 2"), key(67, 1, 1, NO_ABOVE, false));
        assert_eq!(context_after(b"xy"), key(120, 0, 2, NO_ABOVE, false));
        // An empty line records nothing and keeps what the type had.
        assert_eq!(context_after(b"A 12\n\nA 3"), key(65, 1, 1, 50, false));
    }

    #[test]
    fn fields_and_positions_saturate() {
        let many: Vec<u8> = std::iter::once(b'C')
            .chain((0..100).flat_map(|_| [b' ', b'7']))
            .collect();
        // 100 separators: the field stays at FIELD_CAP, whose position grows.
        let k = context_after(&many);
        assert_eq!(
            k,
            key(
                67,
                FIELD_CAP,
                2 * (100 - FIELD_CAP as u32) - 1,
                NO_ABOVE,
                false
            )
        );
        let mut two = many.clone();
        two.push(b'\n');
        two.extend_from_slice(&many);
        // Field FIELD_CAP of the line above started after its 63rd space;
        // the position (75) is capped in the context, not in the lookup,
        // which finds that line's newline; every byte so far matched.
        assert_eq!(context_after(&two), key(67, FIELD_CAP, POS_CAP, 10, true));
        let long: Vec<u8> = b"L ".iter().chain([b'5'; 40].iter()).copied().collect();
        let mut t = long.clone();
        t.push(b'\n');
        t.extend_from_slice(&long[..long.len() - 1]);
        t.push(b'6');
        let k = context_after(&t);
        // Position 40 of field 1: past the line above's field (its newline).
        assert_eq!(k, key(76, 1, 40, 10, false));
    }

    /// Lines whose fields each take a few values in a random order: the
    /// histograms make them much cheaper than a uniform table, and bytes of
    /// noise cost about what the table gives them.
    #[test]
    #[allow(clippy::float_arithmetic)]
    fn few_valued_fields_become_cheap() {
        let mut x = 0x9E37_79B9u32;
        let mut next = || {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            x >> 16
        };
        let mut data = Vec::new();
        for _ in 0..400 {
            let pid = ["22", "211", "-211", "2212"][next() as usize % 4];
            let status = ["1", "2"][next() as usize % 2];
            let noise = next() % 100;
            data.extend_from_slice(format!("P {pid} {noise:02} {status}\n").as_bytes());
        }
        let mut h = TextFieldHistograms::new(data.len());
        let mut cost = 0f64;
        for t in 0..data.len() {
            let mut f = Frequencies::default();
            h.predict(&data[..t], &mut f);
            assert!(is_valid(&f));
            let bits = -(f64::from(f.0[usize::from(data[t])]) / f64::from(FREQ_TOTAL)).log2();
            if t > data.len() / 2 {
                cost += bits;
            }
            h.update(&data[..=t]);
        }
        let half = data.len() - data.len() / 2 - 1;
        // 8 bits a byte under the uniform table. A line holds 2 bits of pid,
        // 1 of status and 6.6 of noise in about 11 bytes, under a bit a byte;
        // the histograms learn that to within 1.5 bits a byte.
        assert!(cost < 1.5 * half as f64, "{cost} bits for {half} bytes");
        // They cannot do better than the information in the lines.
        assert!(cost > 0.6 * half as f64, "{cost} bits for {half} bytes");
    }

    proptest! {
        /// Whatever the incoming table and the bytes, the result is a valid table.
        #[test]
        fn tables_stay_valid(
            data in proptest::collection::vec(
                prop_oneof![Just(b'\n'), Just(b' '), Just(b','), Just(b'P'), any::<u8>()], 1..1500),
            skew in 0u32..24,
        ) {
            let mut h = TextFieldHistograms::new(data.len());
            for t in 0..data.len() {
                let mut f = skewed_table(data[t.saturating_sub(1)], skew);
                h.predict(&data[..t], &mut f);
                prop_assert!(is_valid(&f), "t {}", t);
                h.update(&data[..=t]);
            }
        }
    }
}
