//! The counting-field model of codec 14 (`docs/FORMAT.md`, section 9.17):
//! in text of lines and fields, many integer fields count. HepMC particle
//! and vertex ids go 1, 2, 3 and -1, -2, -3, HepMC2 barcodes 10001, 10002,
//! event numbers rise by one. The context mixer's hashed contexts cannot
//! see that (each new number is a new string), so the model remembers, per
//! line type and field, the field's last integer and the step to it, and
//! predicts the next value's text (`last + step`, then the byte that ended
//! the field last time) byte by byte while it matches, as the kinematic
//! model predicts the energy.
//!
//! Everything is `i64` arithmetic on integers of at most 18 digits, so no
//! sum or difference can overflow.
#![deny(clippy::float_arithmetic)]

use super::predicted_token::{PredictedToken, is_separator, token_hash};

/// Digits of the longest integer remembered; longer tokens are not integers
/// to the model.
const MAX_DIGITS: usize = 18;
/// The longest token kept: a sign and [`MAX_DIGITS`] digits.
const MAX_TOKEN: usize = MAX_DIGITS + 1;
/// Fields of a line remembered (the first token is field 0).
const MAX_FIELDS: usize = 16;
/// Line types told apart: 0 for lines that start with an integer, 1 to 15
/// by a hash of a line's first token otherwise.
const LINE_TYPES: usize = 16;
/// Counters of the input: by the step's kind (0, +-1, other), by the
/// position in the predicted text (16 positions, the last one shared), and
/// by the expected bit.
const COUNTERS: usize = 3 * 16 * 2;

/// What the model knows of one field of one line type.
#[derive(Debug, Clone, Copy, Default)]
struct FieldMemory {
    /// Whether the field's last token was an integer.
    known: bool,
    last: i64,
    /// `last` minus the integer before it (0 after the first one).
    step: i64,
    /// The byte that ended the field's last token.
    end: u8,
}

/// The model: [`CountingFields::predict`] and [`CountingFields::update`]
/// per bit, [`CountingFields::byte_done`] per byte, driven by the mixer
/// like every other input.
pub struct CountingFields {
    token: [u8; MAX_TOKEN],
    token_len: usize,
    /// The current token outgrew [`MAX_TOKEN`].
    token_long: bool,
    /// Tokens finished in the current line.
    field: usize,
    line_type: usize,
    memory: [FieldMemory; LINE_TYPES * MAX_FIELDS],
    /// The text predicted for the next token and its terminator, how much
    /// of it the token so far has matched, and the input's counters.
    next: PredictedToken<{ MAX_TOKEN + 1 }, COUNTERS>,
    /// The step's kind of the prediction (the counters' first index).
    kind: usize,
}

impl Default for CountingFields {
    fn default() -> Self {
        Self::new()
    }
}

/// Reads `s` as `-?[0-9]{1,18}`.
fn parse_integer(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > MAX_DIGITS || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // At most 18 digits: below 10^18 < 2^63.
    let v = digits
        .iter()
        .fold(0i64, |a, &d| a * 10 + i64::from(d - b'0'));
    Some(if neg { -v } else { v })
}

impl CountingFields {
    /// A model that has seen nothing: the first line starts.
    pub fn new() -> Self {
        let mut m = Self {
            token: [0; MAX_TOKEN],
            token_len: 0,
            token_long: false,
            field: 0,
            line_type: 0,
            memory: [FieldMemory::default(); LINE_TYPES * MAX_FIELDS],
            next: PredictedToken::default(),
            kind: 0,
        };
        m.arm();
        m
    }

    /// The stretched prediction of the next bit, given the partial byte
    /// `c0` (with its leading 1) at bit `bit`; 0 when the model predicts
    /// nothing or the byte already left the predicted text.
    #[inline]
    pub fn predict(&mut self, c0: u32, bit: u32) -> i32 {
        let kind = self.kind;
        self.next
            .input(c0, bit, |t, e| (kind * 16 + t.min(15)) * 2 + e as usize)
    }

    /// Learns the coded bit.
    #[inline]
    pub fn update(&mut self, bit: u32) {
        self.next.learn(bit);
    }

    /// After byte `b` of the chunk.
    pub fn byte_done(&mut self, b: u8) {
        if !is_separator(b) {
            self.next.follow(b);
            if self.token_len < MAX_TOKEN {
                self.token[self.token_len] = b;
                self.token_len += 1;
            } else {
                self.token_long = true;
            }
            return;
        }
        if self.token_len > 0 || self.token_long {
            self.token_done(b);
        }
        if b == b'\n' {
            self.field = 0;
            self.line_type = 0;
        }
        // Padding before a number (right-aligned columns) re-arms the
        // prediction at every separator.
        self.arm();
    }

    /// Learns the finished token, ended by separator `end`, as the current
    /// field's value.
    fn token_done(&mut self, end: u8) {
        let s = &self.token[..self.token_len];
        let value = if self.token_long {
            None
        } else {
            parse_integer(s)
        };
        if self.field == 0 && value.is_none() {
            self.line_type = 1 + (token_hash(s) % (LINE_TYPES as u64 - 1)) as usize;
        }
        if self.field < MAX_FIELDS {
            let m = &mut self.memory[self.line_type * MAX_FIELDS + self.field];
            match value {
                Some(v) => {
                    // Both below 10^18 in magnitude: no overflow.
                    m.step = if m.known { v - m.last } else { 0 };
                    m.last = v;
                    m.known = true;
                    m.end = end;
                }
                None => m.known = false,
            }
        }
        self.field += 1;
        self.token_len = 0;
        self.token_long = false;
    }

    /// Predicts the next token of the current field from its memory.
    fn arm(&mut self) {
        self.next.close();
        if self.field >= MAX_FIELDS {
            return;
        }
        let m = self.memory[self.line_type * MAX_FIELDS + self.field];
        if !m.known {
            return;
        }
        // |last| < 10^18 and |step| < 2 * 10^18: the sum fits i64.
        let next = m.last + m.step;
        let mut digits = [0u8; 20];
        let mut n = 0;
        let mut v = next.unsigned_abs();
        loop {
            digits[n] = b'0' + (v % 10) as u8;
            n += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        if n > MAX_DIGITS {
            return;
        }
        let text = self.next.text_mut();
        let mut len = 0;
        if next < 0 {
            text[len] = b'-';
            len += 1;
        }
        for k in (0..n).rev() {
            text[len] = digits[k];
            len += 1;
        }
        text[len] = m.end;
        self.kind = match m.step {
            0 => 0,
            -1 | 1 => 1,
            _ => 2,
        };
        self.next.open(len + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes of `text` the model predicted in full before they came
    /// (the prediction still matching when the byte starts).
    fn predicted_bytes(text: &str) -> Vec<u8> {
        let mut m = CountingFields::new();
        let mut hits = Vec::new();
        for &b in text.as_bytes() {
            if let Some((text, t)) = m.next.following()
                && text.get(t) == Some(&b)
            {
                hits.push(b);
            }
            m.byte_done(b);
        }
        hits
    }

    #[test]
    fn integers_parse_within_eighteen_digits() {
        assert_eq!(parse_integer(b"-17"), Some(-17));
        assert_eq!(parse_integer(b"0"), Some(0));
        assert_eq!(
            parse_integer(b"999999999999999999"),
            Some(999_999_999_999_999_999)
        );
        for bad in ["", "-", "1.5", "+3", "1e3", "1000000000000000000", "[1"] {
            assert_eq!(parse_integer(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn counting_ids_are_predicted_with_their_terminator() {
        let text = "P 1 0 2212\nP 2 0 2212\nV -1 0\nP 3 -1 21\nV -2 0\nP 4 -1 21\n";
        // Line 2 repeats line 1's vertex and pdg (a first value predicts
        // itself); line 4's id follows from lines 1 and 2 (step 1), and its
        // pdg matches as far as "2"; line 5 gets V's "-" and its "0\n";
        // line 6 its id (step 1 again) and the "-" of vertex -2.
        let hits = String::from_utf8(predicted_bytes(text)).unwrap();
        assert_eq!(hits, "0 2212\n3 2-0\n4 -");
    }

    #[test]
    fn right_aligned_numbers_match_after_their_padding() {
        // Line 3's "7 " (step 1, and the byte that ended field 0) and each
        // later line's "7\n" after its padding.
        let text = "  5   7\n  6   7\n  7   7\n";
        assert_eq!(predicted_bytes(text), b"7\n7 7\n");
    }

    #[test]
    fn extremes_never_overflow() {
        let big = "999999999999999999 -999999999999999999\n";
        let text = [big, big, "-999999999999999999 999999999999999999\n", big].concat();
        let mut m = CountingFields::new();
        for &b in text.as_bytes() {
            for bit in 0..8 {
                m.predict(1, bit);
                m.update(0);
            }
            m.byte_done(b);
        }
    }
}
