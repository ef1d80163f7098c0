//! The context-mixing codec (codec `cm`, `docs/FORMAT.md` section 9.14): a
//! bitwise predictor in the PAQ tradition that needs no network. Counters in
//! hashed contexts of the preceding bytes give each bit's probability, a
//! gated mixer joins them in the logistic domain and two APMs refine the
//! result, which the range coder codes as a binary decision. Everything is
//! integer, so archives decode bit for bit on every machine.
//!
//! It is the fast end of the compression levels: about ten times the
//! network's speed, and a better ratio than xz on HEP text and tables.
//!
//! - [`logistic`]: `squash` and `stretch`;
//! - [`counter`]: adaptive bit probabilities and their hashed table;
//! - [`mix`]: the mixer and the APM;
//! - [`model`]: the contexts, the match model and the predictor;
//! - [`kinematics`], [`counting`]: models of HEP text fields that predict a
//!   token's text ([`predicted_token`]), inputs of the mixer joined to the
//!   network (codecs 13 and 14);
//! - [`profile`]: the frozen configurations a payload names.
#![deny(clippy::float_arithmetic)]

pub mod counter;
pub mod counting;
pub mod kinematics;
pub mod logistic;
pub mod mix;
pub mod model;
pub mod network;
pub mod predicted_token;
pub mod profile;
pub mod relations;

use crate::coder::{CoderError, RangeDecoder, RangeEncoder};
pub use model::{CmModel, FieldModels};
pub use network::NetworkCoding;
pub use profile::{PROFILES, Profile};

/// Bytes before the range-coded stream: the profile id (u8) and the record
/// stride (u32 little-endian, 0 for none).
pub const HEADER_LEN: usize = 5;

/// The longest record stride the column contexts take (the record-stride
/// bound of the network's codecs too; `mixing::record_stride` checks).
pub const MAX_STRIDE: u32 = 1 << 20;

/// Why a payload cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmError {
    /// Shorter than its header.
    TooShort,
    /// A profile id this build does not know.
    UnknownProfile(u8),
    /// A stride above [`MAX_STRIDE`].
    BadStride(u32),
    /// The claimed length cannot come from a stream this short.
    ClaimTooLong { len: usize, payload: usize },
    /// The range-coded stream is corrupt.
    Coder(CoderError),
}

impl std::fmt::Display for CmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooShort => write!(f, "cm payload shorter than its {HEADER_LEN}-byte header"),
            Self::UnknownProfile(id) => write!(f, "unknown cm profile {id}"),
            Self::BadStride(s) => write!(f, "cm record stride {s} above {MAX_STRIDE}"),
            Self::ClaimTooLong { len, payload } => write!(
                f,
                "{len} bytes cannot be coded in a cm stream of {payload} bytes"
            ),
            Self::Coder(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for CmError {}

/// A payload byte holds at most this many coded bytes: each bit costs at
/// least `-log2(4095/4096)` bits, so eight bits of stream hold at most 2,838
/// bytes.
const MAX_BYTES_PER_PAYLOAD_BYTE: usize = 2838;

/// The most original bytes a payload of `payload_len` bytes (header
/// included) can decode to; a chunk index entry claiming more is corrupt.
pub fn max_decoded_len(payload_len: usize) -> u64 {
    max_decoded_len_of_stream(payload_len.saturating_sub(HEADER_LEN))
}

/// The most bytes a stream of `stream_len` bytes of binary decisions codes.
pub fn max_decoded_len_of_stream(stream_len: usize) -> u64 {
    (stream_len as u64 + 1).saturating_mul(MAX_BYTES_PER_PAYLOAD_BYTE as u64)
}

/// Encodes `data` with `profile`, with column contexts for records of
/// `stride` bytes (0 for none; at most [`MAX_STRIDE`]).
pub fn encode(profile: &'static Profile, stride: u32, data: &[u8]) -> Vec<u8> {
    let stride = if stride > MAX_STRIDE { 0 } else { stride };
    let mut enc = RangeEncoder::with_capacity(data.len() / 2 + 16);
    code_bits(profile, stride, data, |p1, bit| enc.encode_bit(p1, bit));
    let stream = enc.finish();
    let mut out = Vec::with_capacity(HEADER_LEN + stream.len());
    out.push(profile.id);
    out.extend_from_slice(&stride.to_le_bytes());
    out.extend_from_slice(&stream);
    out
}

/// Predicts the bits of `data` (most significant first) with `profile` and
/// `stride` (at most [`MAX_STRIDE`]), handing each to `code_bit` as
/// `(p1, bit)`, `p1 / 4096` the probability of a 1: what [`encode`] codes.
#[inline]
fn code_bits(
    profile: &'static Profile,
    stride: u32,
    data: &[u8],
    mut code_bit: impl FnMut(u32, u32),
) {
    let mut m = CmModel::new(profile, stride as usize, data.len());
    for &b in data {
        for k in (0..8).rev() {
            let bit = u32::from(b >> k) & 1;
            code_bit(m.predict() as u32, bit);
            m.update(bit);
        }
    }
}

/// The share of the range (out of 4096, [`crate::coder::bit_share`]) that
/// [`encode`] gives each bit of `data`, in order, eight per byte: what
/// `boa-det analyze` turns into bits per byte. Same model, no coder.
pub fn bit_shares(profile: &'static Profile, stride: u32, data: &[u8], mut share: impl FnMut(u32)) {
    let stride = if stride > MAX_STRIDE { 0 } else { stride };
    code_bits(profile, stride, data, |p1, bit| {
        share(crate::coder::bit_share(p1, bit))
    });
}

/// The profile and stride a payload names, and its stream.
pub fn parse(payload: &[u8]) -> Result<(&'static Profile, u32, &[u8]), CmError> {
    let Some((head, stream)) = payload.split_first_chunk::<HEADER_LEN>() else {
        return Err(CmError::TooShort);
    };
    let profile = profile::by_id(head[0]).ok_or(CmError::UnknownProfile(head[0]))?;
    let stride = u32::from_le_bytes([head[1], head[2], head[3], head[4]]);
    if stride > MAX_STRIDE {
        return Err(CmError::BadStride(stride));
    }
    Ok((profile, stride, stream))
}

/// Decodes a payload of [`encode`] into its `len` original bytes.
pub fn decode(payload: &[u8], len: usize) -> Result<Vec<u8>, CmError> {
    let (profile, stride, stream) = parse(payload)?;
    if len as u64 > max_decoded_len(payload.len()) {
        return Err(CmError::ClaimTooLong {
            len,
            payload: stream.len(),
        });
    }
    let mut dec = RangeDecoder::new(stream).map_err(CmError::Coder)?;
    let mut m = CmModel::new(profile, stride as usize, len);
    for _ in 0..len {
        for _ in 0..8 {
            let bit = dec.decode_bit(m.predict() as u32).map_err(CmError::Coder)?;
            m.update(bit);
        }
    }
    dec.finish().map_err(CmError::Coder)?;
    let mut out = m.into_history();
    out.truncate(len);
    Ok(out)
}

#[cfg(test)]
mod tests;
