//! The network's byte distribution as one more input of the context mixer
//! (the codecs `neural+...+cm`, `docs/FORMAT.md` section 9.15): each bit's
//! probability from the table, by binary decomposition along the byte's
//! path, then the mixer codes the bit.
#![deny(clippy::float_arithmetic)]

use super::profile::{NETWORK_WIDE, PROFILES, Profile};
use super::{CmModel, FieldModels};
use crate::coder::{CoderError, RangeDecoder, RangeEncoder};
use crate::intmath::freq::Frequencies;

/// The profile whose contexts join the network: `cm` (with the network's
/// input, `cm-max`'s extra contexts gained nothing measurable).
pub const NETWORK_PROFILE: &Profile = &PROFILES[1];

/// The profile with the stage `WideMixer` (codecs 16 and 17): `cm`'s
/// contexts and more (strided ones for records), longer match models, and
/// on text the field mixer.
pub const NETWORK_WIDE_PROFILE: &Profile = &NETWORK_WIDE;

/// Codes the bytes of one chunk bit by bit, given the network's (already
/// mixed) table for each byte.
pub struct NetworkCoding {
    model: CmModel,
    /// The table's prefix sums, `cum[s]` = the sum of entries below `s`.
    cum: [u32; 257],
}

impl NetworkCoding {
    /// A fresh coder for a chunk of `len` bytes, with records of `stride`
    /// bytes (0 for none), the contexts of `profile` ([`NETWORK_PROFILE`],
    /// or [`NETWORK_WIDE_PROFILE`] for codecs 16 and 17) and the field
    /// models `fields` (codecs 13 to 17).
    pub fn new(profile: &'static Profile, stride: usize, len: usize, fields: FieldModels) -> Self {
        Self {
            model: CmModel::with_network(profile, stride, len, fields),
            cum: [0; 257],
        }
    }

    fn load(&mut self, freq: &Frequencies) {
        let mut sum = 0u32;
        for (c, &f) in self.cum[1..].iter_mut().zip(freq.0.iter()) {
            // A valid table sums to 2^24: no overflow.
            sum = sum.wrapping_add(f);
            *c = sum;
        }
    }

    /// The network's 12-bit probability that the next bit is 1, given the
    /// bits `c0` of the byte so far after a leading 1, at bit `k` (0 first):
    /// the share of the 1-half in the table's mass under the prefix,
    /// `floor(4096 * upper / both)`, clamped to `1..=4095`.
    #[inline]
    fn bit_probability(&self, c0: u32, k: u32) -> i32 {
        let lo = ((c0 - (1 << k)) << (8 - k)) as usize;
        let mid = lo + (1 << (7 - k));
        let hi = lo + (1 << (8 - k));
        let upper = u64::from(self.cum[hi] - self.cum[mid]);
        let both = u64::from(self.cum[hi] - self.cum[lo]).max(1);
        ((upper << 12) / both).clamp(1, 4095) as i32
    }

    /// Encodes `sym` with the network's table `freq` (valid: every entry at
    /// least 1, total `2^24`).
    pub fn encode(&mut self, enc: &mut RangeEncoder, freq: &Frequencies, sym: u8) {
        self.code_bits(freq, sym, |p1, bit| enc.encode_bit(p1, bit));
    }

    /// The share of the range (out of 4096, [`crate::coder::bit_share`])
    /// that [`NetworkCoding::encode`] gives each bit of `sym`, in order:
    /// the same predictions and learning, no coder.
    pub fn bit_shares(&mut self, freq: &Frequencies, sym: u8, mut share: impl FnMut(u32)) {
        self.code_bits(freq, sym, |p1, bit| share(crate::coder::bit_share(p1, bit)));
    }

    /// Predicts the bits of `sym` (most significant first), hands each to
    /// `code_bit` as `(p1, bit)`, and learns it.
    #[inline]
    fn code_bits(&mut self, freq: &Frequencies, sym: u8, mut code_bit: impl FnMut(u32, u32)) {
        self.load(freq);
        let mut c0 = 1u32;
        for k in 0..8 {
            let bit = u32::from(sym >> (7 - k)) & 1;
            let p = self.model.predict_with_network(self.bit_probability(c0, k));
            code_bit(p as u32, bit);
            self.model.update(bit);
            c0 = (c0 << 1) | bit;
        }
    }

    /// Decodes one byte coded by [`NetworkCoding::encode`] with the same
    /// table.
    pub fn decode(
        &mut self,
        dec: &mut RangeDecoder<'_>,
        freq: &Frequencies,
    ) -> Result<u8, CoderError> {
        self.load(freq);
        let mut c0 = 1u32;
        for k in 0..8 {
            let p = self.model.predict_with_network(self.bit_probability(c0, k));
            let bit = dec.decode_bit(p as u32)?;
            self.model.update(bit);
            c0 = (c0 << 1) | bit;
        }
        Ok((c0 & 0xFF) as u8)
    }
}
