//! Byte-oriented, carry-propagating range coder (LZMA style) over 256-symbol
//! frequency tables with a fixed total of `2^24` and a 64-bit range.
//!
//! The normative, byte-exact specification is in `docs/FORMAT.md`, section
//! "Range coder". This module is its reference implementation; a port (for
//! example to CUDA) must produce and accept exactly the same bytes.
//!
//! Summary:
//! - A frequency table is 256 `u32` entries, each `>= 1`, summing to exactly
//!   [`TOTAL`] `= 2^24` ([`PRECISION_BITS`] `= 24`). [`CumulativeFrequencies`]
//!   validates a table and holds its 257-entry prefix sum.
//! - [`RangeEncoder`] takes one table and one symbol per step and produces a
//!   byte stream with [`RangeEncoder::finish`].
//! - [`RangeDecoder`] takes the same sequence of tables and returns the
//!   symbols; [`RangeDecoder::finish`] checks that the stream was consumed
//!   exactly, which detects truncation and trailing bytes.
//!
//! The coder is integer-only and never panics, whatever the input bytes.
#![deny(clippy::float_arithmetic)]

use thiserror::Error;

#[cfg(test)]
mod tests;

/// Number of bits of the frequency total.
pub const PRECISION_BITS: u32 = 24;

/// Sum that every frequency table must have: `2^24`.
pub const TOTAL: u32 = 1 << PRECISION_BITS;

/// Binary decisions ([`RangeEncoder::encode_bit`]) are coded with 12-bit
/// probabilities.
pub const BIT_PRECISION_BITS: u32 = 12;
/// The total of a binary decision's two frequencies.
pub const BIT_TOTAL: u32 = 1 << BIT_PRECISION_BITS;

/// The share of the range, out of [`BIT_TOTAL`], that [`RangeEncoder::encode_bit`]
/// gives `bit` when the probability of a 1 is `p1 / 4096` (clamped as it
/// clamps): what the decision costs, `-log2(share / 4096)` bits.
pub fn bit_share(p1: u32, bit: u32) -> u32 {
    let p1 = p1.clamp(1, BIT_TOTAL - 1);
    if bit == 0 { BIT_TOTAL - p1 } else { p1 }
}

/// Normalization threshold: `range` is kept `>= 2^56` between symbols.
const TOP: u64 = 1 << 56;

/// Initial `range` of encoder and decoder.
const INITIAL_RANGE: u64 = u64::MAX;

/// The largest number of bytes past the end of the input that the decoder
/// reads as `0x00` before it reports [`CoderError::Truncated`].
pub const MAX_VIRTUAL_BYTES: usize = 8;

/// Length in bytes of the stream produced for an empty symbol sequence; every
/// valid stream is at least this long.
pub const MIN_STREAM_LEN: usize = 8;

/// The most symbols that a valid stream of `len` bytes can encode, under any
/// tables: a decoder may reject a longer claim before decoding anything.
///
/// Why it holds (`docs/FORMAT.md` 9.6, "Claims a stream cannot hold"): every
/// frequency is `>= 1`, so no symbol has more than `2^24 - 255` of the total,
/// and each symbol multiplies `range` by at most `(2^24 - 255) / 2^24`. A valid
/// stream of `n >= 1` symbols is read exactly, with `len - 8` renormalising
/// shifts of 8 bits each, and ends with `range >= 2^56` after starting below
/// `2^64`. So `n * -log2(1 - 255 / 2^24) <= 8 * (len - 7)`, and since
/// `-log2(1 - x) > x * log2(e)` and `255 * log2(e) > 367`,
/// `n < 8 * (len - 7) * 2^24 / 367`. A stream shorter than
/// [`MIN_STREAM_LEN`] holds nothing.
pub fn max_symbols(len: usize) -> u64 {
    if len < MIN_STREAM_LEN {
        return 0;
    }
    // len < 2^64 / 2^28 on every target that can hold the stream; saturate anyway.
    (len as u64 - 7)
        .saturating_mul(8 << PRECISION_BITS)
        .checked_div(367)
        .unwrap_or(u64::MAX)
}

/// [`CoderError::ClaimTooLong`] unless a `len`-byte stream can hold `claimed` symbols.
pub fn check_claim(len: usize, claimed: u64) -> Result<(), CoderError> {
    let max = max_symbols(len);
    if claimed > max {
        return Err(CoderError::ClaimTooLong { len, claimed, max });
    }
    Ok(())
}

/// Errors of the range coder.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CoderError {
    /// A frequency table has a zero entry.
    #[error("frequency table: symbol {symbol} has frequency 0 (every symbol needs >= 1)")]
    ZeroFrequency {
        /// The first symbol with frequency 0.
        symbol: u8,
    },
    /// A frequency table does not sum to `2^24`.
    #[error("frequency table sums to {sum}, expected 2^24 = 16777216")]
    BadTotal {
        /// The actual sum (computed in `u64`, so it cannot overflow).
        sum: u64,
    },
    /// The stream is shorter than the 8 bytes that initialize the decoder.
    #[error("range-coded stream is {len} bytes, shorter than the minimum of 8")]
    TooShort {
        /// Length of the stream.
        len: usize,
    },
    /// The stream cannot have been produced by the encoder under the given
    /// frequency tables.
    #[error("corrupt range-coded stream (detected after reading {consumed} bytes)")]
    Corrupt {
        /// Bytes of the stream read when the corruption was detected.
        consumed: usize,
    },
    /// The decoder needed more bytes than the stream has.
    #[error("truncated range-coded stream: needed byte {needed} of a {len}-byte stream")]
    Truncated {
        /// Zero-based position of the byte that was needed.
        needed: usize,
        /// Length of the stream.
        len: usize,
    },
    /// More symbols are claimed than a stream of this length can hold
    /// ([`max_symbols`]): rejected before decoding anything.
    #[error(
        "a {len}-byte range-coded stream holds at most {max} symbols, but {claimed} are claimed"
    )]
    ClaimTooLong {
        /// Length of the stream.
        len: usize,
        /// The number of symbols claimed.
        claimed: u64,
        /// [`max_symbols`] of `len`.
        max: u64,
    },
    /// The stream has bytes that the decoder did not consume.
    #[error("range-coded stream has {trailing} trailing bytes (consumed {consumed} of {len})")]
    TrailingBytes {
        /// Bytes consumed by the decoder.
        consumed: usize,
        /// Length of the stream.
        len: usize,
        /// `len - consumed`.
        trailing: usize,
    },
}

/// A validated frequency table and its prefix sums.
///
/// `cum[0] = 0`, `cum[s + 1] = cum[s] + freq[s]`, `cum[256] = 2^24`. Because
/// every frequency is `>= 1`, `cum` is strictly increasing.
#[derive(Clone, PartialEq, Eq)]
pub struct CumulativeFrequencies {
    cum: [u32; 257],
}

impl std::fmt::Debug for CumulativeFrequencies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CumulativeFrequencies")
            .field("cum", &&self.cum[..])
            .finish()
    }
}

impl CumulativeFrequencies {
    /// Validates `freqs` (every entry `>= 1`, sum exactly `2^24`) and builds
    /// the prefix sums.
    pub fn new(freqs: &[u32; 256]) -> Result<Self, CoderError> {
        let mut cum = [0u32; 257];
        let mut sum: u64 = 0;
        for (s, &f) in freqs.iter().enumerate() {
            if f == 0 {
                // `s < 256`, so the conversion cannot fail.
                return Err(CoderError::ZeroFrequency {
                    symbol: u8::try_from(s).unwrap_or(u8::MAX),
                });
            }
            sum += u64::from(f);
            if sum > u64::from(TOTAL) {
                // Keep summing in u64 only to report the full total.
                let total: u64 = freqs.iter().map(|&x| u64::from(x)).sum();
                return Err(CoderError::BadTotal { sum: total });
            }
            // sum <= 2^24 here, so it fits in u32.
            cum[s + 1] = sum as u32;
        }
        if sum != u64::from(TOTAL) {
            return Err(CoderError::BadTotal { sum });
        }
        Ok(Self { cum })
    }

    /// `cum[sym]`: the sum of the frequencies of the symbols below `sym`.
    #[inline]
    pub fn start(&self, sym: u8) -> u32 {
        self.cum[usize::from(sym)]
    }

    /// `freq[sym]`.
    #[inline]
    pub fn freq(&self, sym: u8) -> u32 {
        let s = usize::from(sym);
        self.cum[s + 1] - self.cum[s]
    }

    /// The 257 prefix sums.
    #[inline]
    pub fn cumulative(&self) -> &[u32; 257] {
        &self.cum
    }

    /// The unique symbol `s` with `cum[s] <= q < cum[s + 1]`, or `None` when
    /// `q >= 2^24`.
    #[inline]
    pub fn symbol_for(&self, q: u32) -> Option<u8> {
        if q >= TOTAL {
            return None;
        }
        // Number of entries <= q; cum[0] = 0 <= q and cum[256] = 2^24 > q,
        // so this is in 1..=256.
        let pp = self.cum.partition_point(|&c| c <= q);
        u8::try_from(pp.checked_sub(1)?).ok()
    }
}

/// Range encoder. See the module documentation and `docs/FORMAT.md`.
#[derive(Debug, Clone)]
pub struct RangeEncoder {
    /// Low end of the interval, modulo 2^64.
    low: u64,
    /// Bit 64 of the low end: a carry not yet propagated into the output.
    carry: bool,
    range: u64,
    /// The byte waiting for a possible carry.
    cache: u8,
    /// `1 +` the number of `0xFF` bytes waiting behind `cache`.
    cache_size: u64,
    /// True until the first byte has been produced (and dropped).
    first_byte_pending: bool,
    out: Vec<u8>,
}

impl Default for RangeEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl RangeEncoder {
    /// A fresh encoder: `low = 0`, `carry = false`,
    /// `range = 0xFFFF_FFFF_FFFF_FFFF`, `cache = 0`, `cache_size = 1`.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// A fresh encoder whose output buffer has room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            low: 0,
            carry: false,
            range: INITIAL_RANGE,
            cache: 0,
            cache_size: 1,
            first_byte_pending: true,
            out: Vec::with_capacity(capacity),
        }
    }

    /// Encodes `sym` under the table `cf`.
    #[inline]
    pub fn encode(&mut self, cf: &CumulativeFrequencies, sym: u8) {
        // range >= 2^56 between symbols, so r is in 2^32..2^40 and
        // r * cum + r * freq <= r * 2^24 <= range < 2^64.
        // low + carry * 2^64 + range < 2^65 always (docs/FORMAT.md 9.3), so
        // at most one carry is pending: an overflow here cannot happen while
        // `carry` is already set.
        let r = self.range >> PRECISION_BITS;
        let (low, overflow) = self.low.overflowing_add(r * u64::from(cf.start(sym)));
        self.low = low;
        self.carry |= overflow;
        self.range = r * u64::from(cf.freq(sym));
        while self.range < TOP {
            self.range <<= 8;
            self.shift_low();
        }
    }

    /// Encodes one binary decision: `bit` (0 or 1) where the probability of
    /// a 1 is `p1 / 4096`, `p1` in `1..=4095` (clamped into it). The 0 takes
    /// the low `r * (4096 - p1)` of the range, `r = range >> 12`, and the 1
    /// the rest (`docs/FORMAT.md`, section 9.14.6).
    #[inline]
    pub fn encode_bit(&mut self, p1: u32, bit: u32) {
        let bound =
            (self.range >> BIT_PRECISION_BITS) * u64::from(BIT_TOTAL - p1.clamp(1, BIT_TOTAL - 1));
        if bit == 0 {
            self.range = bound;
        } else {
            let (low, overflow) = self.low.overflowing_add(bound);
            self.low = low;
            self.carry |= overflow;
            self.range -= bound;
        }
        while self.range < TOP {
            self.range <<= 8;
            self.shift_low();
        }
    }

    /// Validates `freqs` and encodes `sym` under it.
    pub fn encode_freqs(&mut self, freqs: &[u32; 256], sym: u8) -> Result<(), CoderError> {
        let cf = CumulativeFrequencies::new(freqs)?;
        self.encode(&cf, sym);
        Ok(())
    }

    fn shift_low(&mut self) {
        if self.low < 0xFF00_0000_0000_0000 || self.carry {
            let carry = u8::from(self.carry);
            self.emit(self.cache.wrapping_add(carry));
            for _ in 1..self.cache_size {
                self.emit(0xFFu8.wrapping_add(carry));
            }
            self.cache = (self.low >> 56) as u8;
            self.cache_size = 0;
        }
        self.cache_size += 1;
        self.low = (self.low & 0x00FF_FFFF_FFFF_FFFF) << 8;
        self.carry = false;
    }

    #[inline]
    fn emit(&mut self, byte: u8) {
        if self.first_byte_pending {
            // The first byte is always 0 (the final code value is below the
            // initial `low + range = 2^64 - 1`); it is not written.
            self.first_byte_pending = false;
        } else {
            self.out.push(byte);
        }
    }

    /// Bytes already written to the output (bytes still held in the carry
    /// cache are not counted).
    pub fn bytes_written(&self) -> usize {
        self.out.len()
    }

    /// Flushes (nine `shift_low` calls) and returns the stream.
    pub fn finish(mut self) -> Vec<u8> {
        for _ in 0..9 {
            self.shift_low();
        }
        self.out
    }
}

/// Range decoder over a complete stream in memory.
#[derive(Debug, Clone)]
pub struct RangeDecoder<'a> {
    data: &'a [u8],
    /// Number of bytes read so far, including virtual bytes past the end.
    pos: usize,
    code: u64,
    range: u64,
}

impl<'a> RangeDecoder<'a> {
    /// Starts decoding `data`: `code` = its first 8 bytes big-endian,
    /// `range = 0xFFFF_FFFF_FFFF_FFFF`. Fails with [`CoderError::TooShort`]
    /// when `data` has fewer than 8 bytes.
    pub fn new(data: &'a [u8]) -> Result<Self, CoderError> {
        let Some(first) = data.first_chunk::<8>() else {
            return Err(CoderError::TooShort { len: data.len() });
        };
        Ok(Self {
            data,
            pos: 8,
            code: u64::from_be_bytes(*first),
            range: INITIAL_RANGE,
        })
    }

    #[inline]
    fn next_byte(&mut self) -> Result<u8, CoderError> {
        let b = match self.data.get(self.pos) {
            Some(&b) => b,
            None if self.pos - self.data.len() < MAX_VIRTUAL_BYTES => 0,
            None => {
                return Err(CoderError::Truncated {
                    needed: self.pos,
                    len: self.data.len(),
                });
            }
        };
        self.pos += 1;
        Ok(b)
    }

    /// Decodes one symbol under the table `cf` (which must be the table the
    /// encoder used for this symbol).
    ///
    /// After an error the decoder's state is unspecified; discard it.
    #[inline]
    pub fn decode(&mut self, cf: &CumulativeFrequencies) -> Result<u8, CoderError> {
        // range >= 2^56, so r >= 2^32.
        let r = self.range >> PRECISION_BITS;
        let q = self.code / r;
        // q >= 2^24 (also when code >= range) cannot come from the encoder.
        let Some(sym) = u32::try_from(q).ok().and_then(|q| cf.symbol_for(q)) else {
            return Err(CoderError::Corrupt { consumed: self.pos });
        };
        // q >= cum[sym], so code >= r * cum[sym]; q < cum[sym] + freq[sym],
        // so the new code is < r * freq[sym] = new range.
        self.code -= r * u64::from(cf.start(sym));
        self.range = r * u64::from(cf.freq(sym));
        while self.range < TOP {
            // code < range < 2^56 here, so the shift cannot overflow.
            self.range <<= 8;
            self.code = (self.code << 8) | u64::from(self.next_byte()?);
        }
        Ok(sym)
    }

    /// Decodes one binary decision coded by [`RangeEncoder::encode_bit`]
    /// with the same `p1`.
    #[inline]
    pub fn decode_bit(&mut self, p1: u32) -> Result<u32, CoderError> {
        let bound =
            (self.range >> BIT_PRECISION_BITS) * u64::from(BIT_TOTAL - p1.clamp(1, BIT_TOTAL - 1));
        let bit = if self.code < bound {
            self.range = bound;
            0
        } else {
            self.code -= bound;
            self.range -= bound;
            // The encoder never leaves the code at or above the range.
            if self.code >= self.range {
                return Err(CoderError::Corrupt { consumed: self.pos });
            }
            1
        };
        while self.range < TOP {
            self.range <<= 8;
            self.code = (self.code << 8) | u64::from(self.next_byte()?);
        }
        Ok(bit)
    }

    /// Validates `freqs` and decodes one symbol under it.
    pub fn decode_freqs(&mut self, freqs: &[u32; 256]) -> Result<u8, CoderError> {
        let cf = CumulativeFrequencies::new(freqs)?;
        self.decode(&cf)
    }

    /// Bytes read so far, including bytes read as 0 past the end.
    pub fn consumed(&self) -> usize {
        self.pos
    }

    /// Ends decoding: the stream must have been consumed exactly.
    ///
    /// A stream produced by [`RangeEncoder`] for `n` symbols is read in full,
    /// and not one byte further, by the `n` decode calls. So reading past the
    /// end means truncation ([`CoderError::Truncated`]) and bytes left over
    /// mean trailing garbage ([`CoderError::TrailingBytes`]).
    pub fn finish(self) -> Result<(), CoderError> {
        let len = self.data.len();
        match self.pos.cmp(&len) {
            std::cmp::Ordering::Equal => Ok(()),
            std::cmp::Ordering::Greater => Err(CoderError::Truncated { needed: len, len }),
            std::cmp::Ordering::Less => Err(CoderError::TrailingBytes {
                consumed: self.pos,
                len,
                trailing: len - self.pos,
            }),
        }
    }
}

/// Encodes `symbols`, taking the table for symbol `i` from `table(i)`.
///
/// A convenience for tests and static models; the neural codec drives
/// [`RangeEncoder`] directly.
pub fn encode_all<'t>(
    symbols: &[u8],
    mut table: impl FnMut(usize) -> &'t CumulativeFrequencies,
) -> Vec<u8> {
    let mut enc = RangeEncoder::with_capacity(symbols.len() + MIN_STREAM_LEN);
    for (i, &s) in symbols.iter().enumerate() {
        enc.encode(table(i), s);
    }
    enc.finish()
}

/// Decodes `n` symbols from `data`, taking the table for symbol `i` from
/// `table(i)`, and checks that `data` is consumed exactly.
///
/// A claim above [`max_symbols`] is refused before decoding, and `n` is trusted
/// for the output allocation only up to `data.len() * 8 + 64` symbols
/// reserved up front; the vector grows as needed beyond that.
pub fn decode_all<'t>(
    data: &[u8],
    n: usize,
    mut table: impl FnMut(usize) -> &'t CumulativeFrequencies,
) -> Result<Vec<u8>, CoderError> {
    check_claim(data.len(), n as u64)?;
    let mut dec = RangeDecoder::new(data)?;
    let mut out = Vec::with_capacity(n.min(data.len().saturating_mul(8).saturating_add(64)));
    for i in 0..n {
        out.push(dec.decode(table(i))?);
    }
    dec.finish()?;
    Ok(out)
}

/// Turns arbitrary non-negative weights (up to 256 of them) into a valid table:
/// `1 + w * (2^24 - 256) / sum(w)`, the remainder to the first heaviest symbol;
/// all-zero weights give symbol 0 the whole spare mass. Integer only, for test
/// and fuzz inputs; the engine makes its tables in `intmath::freq`.
pub fn frequencies_from_weights(weights: &[u32]) -> [u32; 256] {
    let weights = &weights[..weights.len().min(256)];
    let wsum: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    let spare = u64::from(TOTAL) - 256;
    let mut f = [1u32; 256];
    if wsum == 0 {
        f[0] += spare as u32;
        return f;
    }
    let mut used = 0u64;
    for (fi, &w) in f.iter_mut().zip(weights) {
        let extra = u64::from(w) * spare / wsum;
        used += extra;
        *fi += extra as u32;
    }
    let imax = (0..weights.len())
        .max_by_key(|&i| (weights[i], std::cmp::Reverse(i)))
        .expect("wsum > 0 means at least one weight");
    f[imax] += (spare - used) as u32;
    f
}
