//! The kinematic model of codec 13 (`docs/FORMAT.md`, section 9.16): in a
//! line of text whose numbers begin with three decimals `px py pz` (a HepMC
//! `P` line, an LHE particle line), the next number is the energy, and
//! `E = sqrt(px^2 + py^2 + pz^2 + m^2)`. The model computes that value in
//! integers, with the mass `m` last seen for the same particle (found by
//! one of the line's leading integers, the one that has named masses best
//! so far), writes it out in the style of the previous energy of that line
//! type, and predicts the energy's text from it, byte by byte, while it
//! matches. Generators print the energy they computed from the momentum,
//! so the first 14 to 18 of its digits are usually exact.
//!
//! Everything is integer: the decimals are read as 19-digit mantissas with
//! a power of ten, their squares are summed in `u128`, and the root is an
//! integer square root.
#![deny(clippy::float_arithmetic)]

use super::predicted_token::{PredictedToken, is_separator, token_hash};

/// A decimal number as read from text: `(-1)^neg * mant * 10^exp`, with at
/// most 19 significant digits (later digits are dropped), normalized so
/// that equal values compare equal (no trailing zeros; zero is `0 * 10^0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Decimal {
    pub neg: bool,
    pub mant: u64,
    pub exp: i32,
}

/// What a token of a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// Digits with an optional sign.
    Integer(Decimal),
    /// A number with a point or an exponent.
    Real(Decimal),
    Other,
}

/// The longest token read; longer ones are [`Token::Other`].
const MAX_TOKEN: usize = 40;
/// Leading integers of a line that may name the particle.
const MAX_KEYS: usize = 6;
/// Line types (by their first token) told apart, by hash.
const LINE_TYPES: usize = 16;
/// Masses remembered, by hash of line type, key position and key value.
const MASS_SLOTS: usize = 1 << 12;
/// Counters of the input: 32 positions in the token by the expected bit.
const COUNTERS: usize = 64;

/// `10^k` for `k` in `0..=38`.
const POW10: [u128; 39] = {
    let mut t = [1u128; 39];
    let mut k = 1;
    while k < 39 {
        t[k] = t[k - 1] * 10;
        k += 1;
    }
    t
};

/// Reads `s` as a decimal number: `[+-]digits[.digits][(e|E|d|D)[+-]digits]`
/// with at least one digit before the exponent and an exponent of at most
/// three digits. `None` if it is not one.
fn parse(s: &[u8]) -> Option<Token> {
    let (neg, mut rest) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (mut mant, mut exp, mut digits, mut sig, mut point) = (0u64, 0i32, 0u32, 0u32, false);
    while let Some(&c) = rest.first() {
        match c {
            b'0'..=b'9' => {
                digits += 1;
                if mant == 0 && c == b'0' {
                    // A leading zero: only moves the point.
                    if point {
                        exp -= 1;
                    }
                } else if sig < 19 {
                    mant = mant * 10 + u64::from(c - b'0');
                    sig += 1;
                    if point {
                        exp -= 1;
                    }
                } else if !point {
                    exp += 1;
                }
            }
            b'.' if !point => point = true,
            _ => break,
        }
        rest = &rest[1..];
    }
    if digits == 0 {
        return None;
    }
    let mut real = point;
    if let Some((&c, tail)) = rest.split_first() {
        if !matches!(c, b'e' | b'E' | b'd' | b'D') {
            return None;
        }
        real = true;
        let (eneg, tail) = match tail.first() {
            Some(b'-') => (true, &tail[1..]),
            Some(b'+') => (false, &tail[1..]),
            _ => (false, tail),
        };
        if tail.is_empty() || tail.len() > 3 || !tail.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let e = tail.iter().fold(0i32, |a, &d| a * 10 + i32::from(d - b'0'));
        exp += if eneg { -e } else { e };
    }
    let mut d = Decimal { neg, mant, exp };
    if d.mant == 0 {
        d = Decimal::default();
    }
    while d.mant != 0 && d.mant.is_multiple_of(10) {
        d.mant /= 10;
        d.exp += 1;
    }
    Some(if real {
        Token::Real(d)
    } else {
        Token::Integer(d)
    })
}

/// How a number is written, learned from the last energy of a line type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Style {
    /// Positive numbers carry a `+`.
    plus: bool,
    /// `0.ddd` (true) or `d.ddd` (false) before an exponent; without an
    /// exponent, any integer part.
    zero_point: bool,
    /// Digits after the point.
    frac: u8,
    /// The exponent's letter, `e`, `E`, `d` or `D`; 0 for none.
    exp_char: u8,
    /// A `+` before a non-negative exponent.
    exp_plus: bool,
    /// The exponent's digits at least (zero-padded).
    exp_digits: u8,
}

impl Style {
    /// The style of token `s`, if it is a number with a point.
    fn of(s: &[u8]) -> Option<Style> {
        let plus = s.first() == Some(&b'+');
        let body = s
            .strip_prefix(b"+")
            .or_else(|| s.strip_prefix(b"-"))
            .unwrap_or(s);
        let dot = body.iter().position(|&c| c == b'.')?;
        let int = &body[..dot];
        let after = &body[dot + 1..];
        let frac = after.iter().take_while(|c| c.is_ascii_digit()).count();
        let exp = &after[frac..];
        if int.is_empty() || !int.iter().all(u8::is_ascii_digit) || frac > 18 {
            return None;
        }
        let (exp_char, exp_plus, exp_digits) = match exp.split_first() {
            None => (0, false, 0),
            Some((&c, tail)) => {
                let digits = tail
                    .strip_prefix(b"+")
                    .or_else(|| tail.strip_prefix(b"-"))
                    .unwrap_or(tail);
                if int.len() != 1
                    || !matches!(c, b'e' | b'E' | b'd' | b'D')
                    || digits.is_empty()
                    || digits.len() > 3
                    || !digits.iter().all(u8::is_ascii_digit)
                {
                    return None;
                }
                (c, tail.first() == Some(&b'+'), digits.len() as u8)
            }
        };
        Some(Style {
            plus,
            zero_point: exp_char != 0 && int == b"0",
            frac: frac as u8,
            exp_char,
            exp_plus,
            exp_digits,
        })
    }

    /// Writes the non-negative value `r * 10^x` (`r < 10^20`) in this
    /// style into `out`, rounding half up; its length, or `None` if it does
    /// not fit.
    fn write(&self, r: u128, x: i32, out: &mut [u8; MAX_TOKEN]) -> Option<usize> {
        let mut w = Writer { out, len: 0 };
        if self.plus {
            w.push(b'+')?;
        }
        let frac = u32::from(self.frac);
        if self.exp_char == 0 {
            // Fixed: round r * 10^(x + frac) to an integer.
            let shift = x + frac as i32;
            let q = if r == 0 {
                0
            } else if shift >= 0 {
                r.checked_mul(*POW10.get(shift as usize)?)?
            } else {
                let d = *POW10.get((-shift) as usize)?;
                (r + d / 2) / d
            };
            let p = POW10[frac as usize];
            w.digits(u64::try_from(q / p).ok()?, 1)?;
            w.push(b'.')?;
            w.digits((q % p) as u64, frac)?;
            return Some(w.len);
        }
        // Significant digits, and the exponent of the first.
        let sig = frac + u32::from(!self.zero_point);
        let (mut q, mut e10) = (0u128, 0i32);
        if r != 0 {
            let len = (0..39).find(|&k| POW10[k] > r).unwrap_or(39) as u32;
            if len > sig {
                let d = POW10[(len - sig) as usize];
                q = (r + d / 2) / d;
            } else {
                q = r * POW10[(sig - len) as usize];
            }
            e10 = x + len as i32 - 1;
            if q == POW10[sig as usize] {
                q /= 10;
                e10 += 1;
            }
            if self.zero_point {
                e10 += 1;
            }
        }
        if self.zero_point {
            w.push(b'0')?;
            w.push(b'.')?;
            w.digits(q as u64, sig)?;
        } else {
            let p = POW10[frac as usize];
            w.digits((q / p) as u64, 1)?;
            w.push(b'.')?;
            w.digits((q % p) as u64, frac)?;
        }
        w.push(self.exp_char)?;
        if e10 < 0 {
            w.push(b'-')?;
        } else if self.exp_plus {
            w.push(b'+')?;
        }
        w.digits(u64::from(e10.unsigned_abs()), u32::from(self.exp_digits))?;
        Some(w.len)
    }
}

/// `value` (as [`norm`] gives it) written in the style of `example` (a
/// number with a point), as the model would predict it: for golden inputs
/// and tests.
pub fn write_like(example: &str, value: (u128, i32)) -> Option<String> {
    let mut out = [0u8; MAX_TOKEN];
    let n = Style::of(example.as_bytes())?.write(value.0, value.1, &mut out)?;
    String::from_utf8(out[..n].to_vec()).ok()
}

struct Writer<'a> {
    out: &'a mut [u8; MAX_TOKEN],
    len: usize,
}

impl Writer<'_> {
    fn push(&mut self, c: u8) -> Option<()> {
        *self.out.get_mut(self.len)? = c;
        self.len += 1;
        Some(())
    }

    /// `v` in decimal, zero-padded to `width` digits.
    fn digits(&mut self, v: u64, width: u32) -> Option<()> {
        let mut buf = [0u8; 20];
        let mut n = 0;
        let mut v = v;
        while v != 0 || n < width as usize {
            *buf.get_mut(n)? = b'0' + (v % 10) as u8;
            v /= 10;
            n += 1;
        }
        for k in (0..n).rev() {
            self.push(buf[k])?;
        }
        Some(())
    }
}

/// `floor(sqrt(n))`.
fn isqrt(n: u128) -> u128 {
    if n < 2 {
        return n;
    }
    // Newton's iteration from above: x decreases until it is the root.
    let mut x = 1u128 << (128 - n.leading_zeros()).div_ceil(2);
    loop {
        let y = (x + n / x) >> 1;
        if y >= x {
            return x;
        }
        x = y;
    }
}

/// `sqrt(a^2 + b^2 + c^2 + d^2)` as `(r, x)`, the value `r * 10^x` with
/// `r` of 17 to 19 digits (or 0): each term's mantissa scaled to 18 digits
/// (truncating), the squares summed at the largest one's power of ten
/// (truncating the others), then the integer root.
pub fn norm(terms: [Decimal; 4]) -> (u128, i32) {
    let scaled: Vec<(u128, i32)> = terms
        .iter()
        .filter(|d| d.mant != 0)
        .map(|d| {
            let (mut m, mut e) = (u128::from(d.mant), d.exp);
            while m < POW10[17] {
                m *= 10;
                e -= 1;
            }
            while m >= POW10[18] {
                m /= 10;
                e += 1;
            }
            (m * m, 2 * e)
        })
        .collect();
    let Some(top) = scaled.iter().map(|&(_, e)| e).max() else {
        return (0, 0);
    };
    let sum: u128 = scaled
        .iter()
        .map(
            |&(q, e)| match usize::try_from(i64::from(top) - i64::from(e)) {
                Ok(k) if k < POW10.len() => q / POW10[k],
                _ => 0,
            },
        )
        .sum();
    (isqrt(sum), top / 2)
}

/// Where the current line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading the leading integers (the keys).
    Keys,
    /// Read this many decimals (1 or 2) after the keys.
    Momenta(u8),
    /// The energy is next (or being read).
    Energy,
    /// The mass is next.
    Mass,
    /// Nothing more to do in this line.
    Done,
}

/// The model's state in a chunk.
pub struct Kinematics {
    token: [u8; MAX_TOKEN],
    token_len: usize,
    /// The current token is longer than [`MAX_TOKEN`].
    token_long: bool,
    tokens_in_line: u32,
    line_type: usize,
    phase: Phase,
    keys: [u64; MAX_KEYS],
    n_keys: usize,
    momenta: [Decimal; 3],
    /// The energy as the model writes it, how much of it the token so far
    /// has matched, and the input's counters.
    energy: PredictedToken<MAX_TOKEN, COUNTERS>,
    styles: [Option<Style>; LINE_TYPES],
    /// Per line type and key position: how often its last mass was right.
    hits: [[u16; MAX_KEYS]; LINE_TYPES],
    masses: Vec<(u64, Decimal)>,
}

impl Default for Kinematics {
    fn default() -> Self {
        Self::new()
    }
}

impl Kinematics {
    pub fn new() -> Self {
        Self {
            token: [0; MAX_TOKEN],
            token_len: 0,
            token_long: false,
            tokens_in_line: 0,
            line_type: 0,
            phase: Phase::Keys,
            keys: [0; MAX_KEYS],
            n_keys: 0,
            momenta: [Decimal::default(); 3],
            energy: PredictedToken::default(),
            styles: [None; LINE_TYPES],
            hits: [[0; MAX_KEYS]; LINE_TYPES],
            masses: vec![(0, Decimal::default()); MASS_SLOTS],
        }
    }

    /// The stretched prediction of the next bit, given the partial byte `c0`
    /// (with its leading 1) at bit `bit` (0 = most significant), or 0 when
    /// the model expects nothing.
    #[inline]
    pub fn predict(&mut self, c0: u32, bit: u32) -> i32 {
        self.energy
            .input(c0, bit, |t, e| t.min(31) * 2 + e as usize)
    }

    /// Learns the coded bit.
    #[inline]
    pub fn update(&mut self, bit: u32) {
        self.energy.learn(bit);
    }

    /// After byte `b` of the chunk.
    pub fn byte_done(&mut self, b: u8) {
        if is_separator(b) {
            if self.token_len > 0 || self.token_long {
                self.token_done();
            }
            if b == b'\n' {
                self.line_done();
            }
        } else {
            if self.token_len < MAX_TOKEN {
                self.token[self.token_len] = b;
                self.token_len += 1;
            } else {
                self.token_long = true;
            }
            self.energy.follow(b);
        }
    }

    fn line_done(&mut self) {
        self.tokens_in_line = 0;
        self.line_type = 0;
        self.phase = Phase::Keys;
        self.n_keys = 0;
        self.energy.close();
    }

    fn token_done(&mut self) {
        let s = &self.token[..self.token_len];
        let token = if self.token_long {
            Token::Other
        } else {
            parse(s).unwrap_or(Token::Other)
        };
        let first = self.tokens_in_line == 0;
        self.tokens_in_line += 1;
        match (self.phase, token) {
            (Phase::Keys, Token::Integer(_)) => {
                if self.n_keys < MAX_KEYS {
                    self.keys[self.n_keys] = token_hash(s);
                    self.n_keys += 1;
                }
            }
            (Phase::Keys, Token::Real(d)) => {
                self.momenta[0] = d;
                self.phase = Phase::Momenta(1);
            }
            (Phase::Keys, Token::Other) if first => {
                self.line_type = (token_hash(s) % LINE_TYPES as u64) as usize;
            }
            (Phase::Keys, Token::Other) => {}
            (Phase::Momenta(n), Token::Real(d)) => {
                self.momenta[usize::from(n)] = d;
                if n == 2 {
                    self.phase = Phase::Energy;
                    self.predict_energy();
                } else {
                    self.phase = Phase::Momenta(n + 1);
                }
            }
            (Phase::Energy, _) => {
                if let Some(style) = Style::of(s) {
                    self.styles[self.line_type] = Some(style);
                }
                self.energy.close();
                self.phase = Phase::Mass;
            }
            (Phase::Mass, Token::Real(m) | Token::Integer(m)) => {
                self.learn_mass(m);
                self.phase = Phase::Done;
            }
            _ => self.phase = Phase::Done,
        }
        self.token_len = 0;
        self.token_long = false;
    }

    /// The slot of the mass for key position `j` of this line.
    fn mass_slot(&self, j: usize) -> usize {
        let h = self.keys[j]
            ^ ((self.line_type * MAX_KEYS + j) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (h.wrapping_mul(0xBF58_476D_1CE4_E5B9) >> 52) as usize % MASS_SLOTS
    }

    /// The mass of the particle of this line: the one stored for the key
    /// position whose masses were right most often (the first of equals)
    /// among those that have one stored for this line's key; zero if none.
    fn mass_guess(&self) -> Decimal {
        let hits = &self.hits[self.line_type];
        let mut best: Option<(u16, Decimal)> = None;
        for (j, &h) in hits.iter().enumerate().take(self.n_keys) {
            let (key, m) = self.masses[self.mass_slot(j)];
            if key == self.keys[j] && best.is_none_or(|(b, _)| h > b) {
                best = Some((h, m));
            }
        }
        best.map_or(Decimal::default(), |(_, m)| m)
    }

    fn predict_energy(&mut self) {
        self.energy.close();
        let Some(style) = self.styles[self.line_type] else {
            return;
        };
        let mass = self.mass_guess();
        let (r, x) = norm([self.momenta[0], self.momenta[1], self.momenta[2], mass]);
        if let Some(len) = style.write(r, x, self.energy.text_mut()) {
            self.energy.open(len);
        }
    }

    fn learn_mass(&mut self, m: Decimal) {
        let m = Decimal { neg: false, ..m };
        for j in 0..self.n_keys {
            let slot = self.mass_slot(j);
            let (key, old) = self.masses[slot];
            if key == self.keys[j] && old == m {
                let h = &mut self.hits[self.line_type];
                if h[j] == u16::MAX {
                    h.iter_mut().for_each(|v| *v >>= 1);
                }
                h[j] += 1;
            }
            self.masses[slot] = (self.keys[j], m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real(s: &str) -> Decimal {
        match parse(s.as_bytes()) {
            Some(Token::Real(d)) => d,
            t => panic!("{s}: {t:?}"),
        }
    }

    #[test]
    fn numbers_parse_normalized() {
        assert_eq!(
            real("1.5e+02"),
            Decimal {
                neg: false,
                mant: 15,
                exp: 1
            }
        );
        assert_eq!(
            real("-0.00150"),
            Decimal {
                neg: true,
                mant: 15,
                exp: -4
            }
        );
        assert_eq!(real("0.58437780464E+02"), real("5.8437780464e1"));
        assert_eq!(real("0.0000000000000000e+00"), Decimal::default());
        assert_eq!(
            parse(b"2212"),
            Some(Token::Integer(Decimal {
                neg: false,
                mant: 2212,
                exp: 0
            }))
        );
        assert_eq!(parse(b"0."), Some(Token::Real(Decimal::default())));
        for bad in ["", "-", "e5", "1e", "1e1234", "[1,2]", "@", "1.2.3", "P"] {
            assert!(
                !matches!(
                    parse(bad.as_bytes()),
                    Some(Token::Real(_) | Token::Integer(_))
                ),
                "{bad}"
            );
        }
        // 25 digits: the 19 first kept, the point moved.
        assert_eq!(
            real("1234567890123456789012.5"),
            Decimal {
                neg: false,
                mant: 1234567890123456789,
                exp: 3
            }
        );
    }

    #[test]
    fn styles_write_what_they_read() {
        for s in [
            "3.8339240101714319e+02",
            "0.58437780464E+02",
            "+1.2500000000e-03",
            "0.10775103667E+01",
            "123.4560",
            "5.0000000000000000e+03",
        ] {
            let style = Style::of(s.as_bytes()).unwrap();
            let d = real(s);
            let mut out = [0u8; MAX_TOKEN];
            let n = style.write(u128::from(d.mant), d.exp, &mut out).unwrap();
            assert_eq!(std::str::from_utf8(&out[..n]).unwrap(), s);
        }
        // Rounding half up, with a carry into the exponent.
        let style = Style::of(b"1.00e+00").unwrap();
        let mut out = [0u8; MAX_TOKEN];
        let n = style.write(99_951, -3, &mut out).unwrap();
        assert_eq!(&out[..n], b"1.00e+02");
        let n = style.write(0, 0, &mut out).unwrap();
        assert_eq!(&out[..n], b"0.00e+00");
        // Not styles: a letter that is no exponent, a bad exponent, 19
        // digits after the point, no integer part, two digits before it.
        for bad in [
            "1.5x12",
            "1.5e+ab",
            "1.0000000000000000000e+00",
            ".5",
            "12.5e+01",
        ] {
            assert_eq!(Style::of(bad.as_bytes()), None, "{bad}");
        }
        // A fixed value whose integer part needs more than 64 bits.
        let fixed = Style::of(b"1.5").unwrap();
        assert_eq!(fixed.write(1, 30, &mut out), None);
    }

    #[test]
    fn norms_are_exact_roots() {
        assert_eq!(isqrt(0), 0);
        assert_eq!(isqrt(15), 3);
        assert_eq!(isqrt(16), 4);
        assert_eq!(isqrt(u128::MAX), u128::from(u64::MAX));
        // 3-4-5, and 2-3-6 with a mass of 0 (7).
        let (r, x) = norm([
            real("3.0"),
            real("4.0"),
            Decimal::default(),
            Decimal::default(),
        ]);
        assert_eq!(r * POW10[(x + 18) as usize], 5 * POW10[18]);
        let (r, x) = norm([real("-2e1"), real("3e1"), real("6e1"), Decimal::default()]);
        assert_eq!((r, x), (7 * POW10[17], -16));
        assert_eq!(norm([Decimal::default(); 4]), (0, 0));
    }

    /// Feeds `text` and returns the predicted energy string at each `P`
    /// line's energy.
    #[test]
    fn predicts_the_energy_of_a_hepmc_line() {
        let mut k = Kinematics::new();
        let lines = [
            "P 3 1 21 1.2215491262437774e+00 1.0849198938568980e+00 3.8338891992889677e+02 3.8339240101714319e+02 0.0000000000000000e+00 61\n",
            "P 4 3 211 -1.0e+00 2.0e+00 2.0e+00 3.0026539889282216e+00 1.3957000000000000e-01 1\n",
            "P 5 3 211 1.0e+00 2.0e+00 2.0e+00 3.0026539889282216e+00 1.3957000000000000e-01 1\n",
        ];
        let mut predicted = Vec::new();
        for l in lines {
            for &b in l.as_bytes() {
                if let Some((text, 0)) = k.energy.following()
                    && k.phase == Phase::Energy
                    && k.token_len == 0
                {
                    predicted.push(String::from_utf8(text.to_vec()).unwrap());
                }
                k.byte_done(b);
            }
        }
        // The first line teaches the style; the third the mass of a 211.
        assert_eq!(predicted.len(), 2, "{predicted:?}");
        assert_eq!(predicted[0], "3.0000000000000000e+00");
        assert_eq!(predicted[1], "3.0032448759466818e+00");
        // sqrt(9 + 0.13957^2) = 3.00324487594668177...
    }
}
