//! The `.boa` archive container, format versions [`FORMAT_VERSION_OLDEST`] to
//! [`FORMAT_VERSION_NEWEST`].
//!
//! The normative byte layout is `docs/FORMAT.md`. In short (little-endian):
//!
//! ```text
//! header (44 B) | [model blob section (16 B + blob)] | chunk payloads ... | index | footer (40 B)
//! ```
//!
//! The container is codec-agnostic: it stores payload bytes with a codec id and
//! the checksums needed to verify them, and never calls the model. The caller
//! splits the input into chunks of [`ArchiveParams::chunk_len`] bytes (the last
//! one shorter), encodes each chunk, and hands the original and the payload to
//! [`ArchiveWriter`]; a payload that is not smaller than its chunk is replaced
//! by the chunk itself (codec [`Codec::Stored`]), which bounds the expansion
//! (see [`worst_case_len`]).
//!
//! [`ArchiveReader`] validates the header, footer and the whole index (sizes,
//! offsets, counts, checksums) against the file length and hard limits before
//! it allocates anything sized by the file's contents, and then gives random
//! access to chunk payloads, each verified against its checksum.
//!
//! No function of this module panics on any input.

mod format;
mod members;
mod reader;
mod writer;

#[cfg(test)]
mod tests;

use thiserror::Error;

pub use members::{MembersError, Window, member_ranges};
pub use reader::ArchiveReader;
pub use writer::ArchiveWriter;

/// File magic, the first 8 bytes of every archive. The trailing `\x00\x01` is
/// part of the constant, not the format version.
pub const MAGIC: [u8; 8] = *b"BOADET\x00\x01";

/// Footer magic, bytes 24..32 of the footer.
pub const FOOTER_MAGIC: [u8; 8] = *b"BOAEND\x00\x01";

/// The oldest format version this module reads and writes.
pub const FORMAT_VERSION_OLDEST: u16 = 1;

/// The newest format version this module reads and writes. Each version
/// after 1 adds codecs: the codec registry ([`crate::mixing::CODECS`]) gives
/// each codec's first version. A writer uses the oldest version that holds
/// its codecs, so older readers can read what they can.
pub const FORMAT_VERSION_NEWEST: u16 = 11;

/// Header flag bit 0: a model blob section follows the header.
pub const FLAG_MODEL_EMBEDDED: u32 = 1;

/// All flag bits defined by format version 1.
pub const KNOWN_FLAGS: u32 = FLAG_MODEL_EMBEDDED;

/// Length of the header.
pub const HEADER_LEN: u64 = 44;

/// Length of the model blob section's prefix (blob length + blob checksum).
pub const MODEL_PREFIX_LEN: u64 = 16;

/// Length of one index entry.
pub const INDEX_ENTRY_LEN: u64 = 33;

/// Length of the index trailer (total length, chunk count, content checksum,
/// index checksum).
pub const INDEX_TRAILER_LEN: u64 = 32;

/// Length of the footer.
pub const FOOTER_LEN: u64 = 40;

/// Length of an archive of empty input without a model: header, an index with
/// no entries, footer.
pub const MIN_ARCHIVE_LEN: u64 = HEADER_LEN + INDEX_TRAILER_LEN + FOOTER_LEN;

/// Largest allowed chunk length: 64 MiB.
pub const MAX_CHUNK_LEN: u32 = 64 << 20;

/// Largest allowed embedded model blob: 1 GiB.
pub const MAX_MODEL_BLOB_LEN: u64 = 1 << 30;

/// How a chunk's payload is encoded: one row of the codec registry
/// ([`crate::mixing::registry`]).
pub use crate::mixing::registry::Codec;

/// The parameters a writer records in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveParams {
    /// Format version, `FORMAT_VERSION_OLDEST..=FORMAT_VERSION_NEWEST`: the
    /// oldest one whose codecs include every codec the writer will use.
    pub format_version: u16,
    /// Version of the integer arithmetic the neural codec used.
    pub arith_version: u16,
    /// xxh3-128 fingerprint of the model (as the model computes it).
    pub model_fingerprint: [u8; 16],
    /// Length of every chunk but the last, `1..=MAX_CHUNK_LEN`.
    pub chunk_len: u32,
}

/// A parsed and verified header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The writer's parameters (the format version is one this build reads).
    pub params: ArchiveParams,
    /// Whether a model blob section follows the header.
    pub model_embedded: bool,
}

/// One entry of the index, describing one chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkEntry {
    /// Absolute file offset of the payload.
    pub offset: u64,
    /// Length of the payload.
    pub compressed_size: u32,
    /// Length of the original chunk.
    pub original_size: u32,
    /// How the payload is encoded.
    pub codec: Codec,
    /// xxh3-64 of the original chunk.
    pub original_hash: u64,
    /// xxh3-64 of the payload.
    pub payload_hash: u64,
}

impl ChunkEntry {
    /// Checks that `data` is the original chunk number `index` described by
    /// this entry (length and xxh3-64).
    pub fn verify_original(&self, index: usize, data: &[u8]) -> Result<(), ContainerError> {
        if u64::try_from(data.len()) != Ok(u64::from(self.original_size)) {
            return Err(ContainerError::DecodedSize {
                index,
                got: data.len(),
                expected: self.original_size,
            });
        }
        if xxh3_64(data) != self.original_hash {
            return Err(ContainerError::ChunkChecksum { index });
        }
        Ok(())
    }
}

/// Boxed error returned by a chunk decoder passed to the reader.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Errors of the container.
#[derive(Debug, Error)]
pub enum ContainerError {
    /// Reading or writing failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),

    // ---- header ----
    /// The file is shorter than the smallest possible archive.
    #[error("file is {len} bytes, shorter than the smallest archive ({min} bytes)")]
    TooShort {
        /// File length.
        len: u64,
        /// [`MIN_ARCHIVE_LEN`].
        min: u64,
    },
    /// The first 8 bytes are not [`MAGIC`].
    #[error("not a boa archive: bad magic bytes at offset 0")]
    BadMagic,
    /// The header checksum does not match.
    #[error("header checksum mismatch (stored {stored:#018x}, computed {computed:#018x})")]
    HeaderChecksum {
        /// Checksum in the file.
        stored: u64,
        /// Checksum of the header bytes.
        computed: u64,
    },
    /// The format version is not one this build reads (or writes).
    #[error(
        "unsupported format version {version} (this build reads and writes versions {FORMAT_VERSION_OLDEST} to {FORMAT_VERSION_NEWEST})"
    )]
    UnsupportedVersion {
        /// The version in the header.
        version: u16,
    },
    /// A chunk uses a codec that the archive's format version does not define.
    #[error(
        "chunk {index}: codec {codec} needs format version {needs}, but the archive is version {version}"
    )]
    CodecNeedsNewerFormat {
        /// Chunk number.
        index: usize,
        /// The codec's name.
        codec: &'static str,
        /// Its first format version.
        needs: u16,
        /// The archive's format version.
        version: u16,
    },
    /// The header has flag bits that version 1 does not define.
    #[error("unknown header flags {flags:#010x}")]
    UnknownFlags {
        /// The flags in the header.
        flags: u32,
    },
    /// The chunk length is 0 or above [`MAX_CHUNK_LEN`].
    #[error("chunk length {chunk_len} out of range 1..={max}")]
    ChunkLenOutOfRange {
        /// The chunk length.
        chunk_len: u32,
        /// [`MAX_CHUNK_LEN`].
        max: u32,
    },

    // ---- footer ----
    /// The last 40 bytes are not a footer.
    #[error(
        "footer magic not found at the end of the file: archive truncated or has trailing data"
    )]
    BadFooterMagic,
    /// The footer checksum does not match.
    #[error("footer checksum mismatch: archive truncated, extended or corrupt")]
    FooterChecksum,
    /// The index length in the footer does not fit the chunk count.
    #[error("index length {index_len} does not match {chunk_count} chunks")]
    IndexLenMismatch {
        /// Index length in the footer.
        index_len: u64,
        /// Chunk count in the footer.
        chunk_count: u64,
    },
    /// The index does not end where the footer starts, or starts inside the header.
    #[error(
        "index at offset {index_offset} with length {index_len} does not fit a {file_len}-byte file"
    )]
    IndexOutOfPlace {
        /// Index offset in the footer.
        index_offset: u64,
        /// Index length in the footer.
        index_len: u64,
        /// File length.
        file_len: u64,
    },

    // ---- model blob ----
    /// The model blob is larger than [`MAX_MODEL_BLOB_LEN`].
    #[error("embedded model blob of {len} bytes exceeds the limit of {max} bytes")]
    ModelBlobTooLarge {
        /// Length in the file.
        len: u64,
        /// [`MAX_MODEL_BLOB_LEN`].
        max: u64,
    },
    /// The model blob would extend past the start of the index.
    #[error(
        "embedded model blob of {len} bytes does not fit before the index at offset {index_offset}"
    )]
    ModelBlobOutOfBounds {
        /// Length in the file.
        len: u64,
        /// Index offset.
        index_offset: u64,
    },
    /// The model blob checksum does not match.
    #[error("embedded model blob checksum mismatch")]
    ModelBlobChecksum,

    // ---- index ----
    /// The index checksum does not match.
    #[error("index checksum mismatch")]
    IndexChecksum,
    /// Footer and index disagree on the chunk count.
    #[error("chunk count mismatch: footer says {footer}, index says {index}")]
    ChunkCountMismatch {
        /// Count in the footer.
        footer: u64,
        /// Count in the index trailer.
        index: u64,
    },
    /// A chunk does not start right after the previous one.
    #[error(
        "chunk {index}: payload offset {found}, expected {expected} (payloads must be contiguous)"
    )]
    ChunkOffset {
        /// Chunk number.
        index: usize,
        /// Offset where it must start.
        expected: u64,
        /// Offset in the index.
        found: u64,
    },
    /// A chunk has an undefined codec id.
    #[error("chunk {index}: unknown codec id {id}")]
    UnknownCodec {
        /// Chunk number.
        index: usize,
        /// The codec id.
        id: u8,
    },
    /// A chunk's original size breaks the chunking rule.
    #[error(
        "chunk {index} of {count}: original size {size} breaks the chunking rule for chunk length {chunk_len} (all but the last chunk are full, the last has 1..=chunk_len bytes)"
    )]
    ChunkOriginalSize {
        /// Chunk number.
        index: usize,
        /// Chunk count.
        count: usize,
        /// Original size in the index.
        size: u32,
        /// Chunk length in the header.
        chunk_len: u32,
    },
    /// A stored chunk's payload size or checksum differs from its original's.
    #[error(
        "chunk {index}: stored chunk with payload size/checksum different from original size/checksum"
    )]
    StoredChunkInconsistent {
        /// Chunk number.
        index: usize,
    },
    /// An encoded chunk is not smaller than its original.
    #[error(
        "chunk {index}: encoded payload of {compressed} bytes is not smaller than the {original}-byte original"
    )]
    PayloadNotSmaller {
        /// Chunk number.
        index: usize,
        /// Payload size.
        compressed: u32,
        /// Original size.
        original: u32,
    },
    /// A neural chunk claims more bytes than its payload can encode
    /// ([`crate::coder::max_symbols`]): no decoder step is spent on it.
    #[error(
        "chunk {index}: a {compressed}-byte neural payload encodes at most {max} bytes, but the index claims {original}"
    )]
    ClaimExceedsPayload {
        /// Chunk number.
        index: usize,
        /// Payload size.
        compressed: u32,
        /// Original size claimed.
        original: u32,
        /// The most the payload can encode.
        max: u64,
    },
    /// The payloads do not end where the index starts.
    #[error("chunk payloads end at offset {end}, but the index starts at {index_offset}")]
    PayloadsEnd {
        /// End of the last payload.
        end: u64,
        /// Index offset.
        index_offset: u64,
    },
    /// The total length in the index differs from the sum of chunk sizes.
    #[error("total length {stored} in the index differs from the sum of chunk sizes {computed}")]
    TotalLenMismatch {
        /// Total in the index.
        stored: u64,
        /// Sum of original sizes.
        computed: u64,
    },

    // ---- chunk data ----
    /// A chunk number past the end.
    #[error("chunk {index} does not exist (archive has {count} chunks)")]
    NoSuchChunk {
        /// Requested chunk.
        index: usize,
        /// Chunk count.
        count: usize,
    },
    /// A payload does not match its checksum.
    #[error("chunk {index}: payload checksum mismatch (compressed data corrupt)")]
    PayloadChecksum {
        /// Chunk number.
        index: usize,
    },
    /// A decoded chunk has the wrong length.
    #[error("chunk {index}: decoded to {got} bytes, expected {expected}")]
    DecodedSize {
        /// Chunk number.
        index: usize,
        /// Decoded length.
        got: usize,
        /// Original size in the index.
        expected: u32,
    },
    /// A decoded chunk does not match its checksum.
    #[error("chunk {index}: decoded data checksum mismatch")]
    ChunkChecksum {
        /// Chunk number.
        index: usize,
    },
    /// The chunk decoder failed.
    #[error("chunk {index}: {codec:?} decoder failed: {source}")]
    Codec {
        /// Chunk number.
        index: usize,
        /// The chunk's codec.
        codec: Codec,
        /// The decoder's error.
        #[source]
        source: BoxError,
    },
    /// The concatenated chunks do not match the content checksum.
    #[error("whole-content checksum mismatch")]
    ContentChecksum,

    // ---- writer ----
    /// The model blob given to the writer exceeds [`MAX_MODEL_BLOB_LEN`].
    #[error("model blob of {len} bytes exceeds the limit of {max} bytes")]
    ModelBlobTooLargeToWrite {
        /// Blob length.
        len: usize,
        /// [`MAX_MODEL_BLOB_LEN`].
        max: u64,
    },
    /// The writer was given an empty chunk.
    #[error("chunk {index} is empty (chunks have 1..=chunk_len bytes)")]
    EmptyChunk {
        /// Chunk number.
        index: usize,
    },
    /// The writer was given a chunk longer than the chunk length.
    #[error("chunk {index} has {len} bytes, more than the chunk length {chunk_len}")]
    ChunkTooLong {
        /// Chunk number.
        index: usize,
        /// Its length.
        len: usize,
        /// The chunk length.
        chunk_len: u32,
    },
    /// The writer was given a chunk after a short (hence last) chunk.
    #[error("chunk {index} follows a chunk shorter than the chunk length, which must be the last")]
    ChunkAfterShortChunk {
        /// Chunk number.
        index: usize,
    },
    /// [`ArchiveWriter::write_encoded`] was called with [`Codec::Stored`].
    #[error("write_encoded called with Codec::Stored; use write_stored")]
    EncodedAsStored,
    /// An earlier write failed; the output is incomplete.
    #[error("an earlier write to this archive failed; the archive is incomplete")]
    WriterFailed,
    /// The archive would exceed `u64` sizes.
    #[error("archive size overflows u64")]
    SizeOverflow,
}

/// Number of chunks for `input_len` bytes split into `chunk_len`-byte chunks
/// (`ceil(input_len / chunk_len)`); `None` if `chunk_len` is 0.
pub fn chunk_count(input_len: u64, chunk_len: u32) -> Option<u64> {
    if chunk_len == 0 {
        return None;
    }
    Some(input_len.div_ceil(u64::from(chunk_len)))
}

/// The largest archive the writer can produce for `input_len` bytes of input:
///
/// `input_len + 44 + 33 * ceil(input_len / chunk_len) + 32 + 40`
/// `(+ 16 + model_blob_len when a model is embedded)`.
///
/// `None` if `chunk_len` is 0 or the sum overflows.
pub fn worst_case_len(input_len: u64, chunk_len: u32, model_blob_len: Option<u64>) -> Option<u64> {
    let n = chunk_count(input_len, chunk_len)?;
    let model = match model_blob_len {
        Some(len) => MODEL_PREFIX_LEN.checked_add(len)?,
        None => 0,
    };
    input_len
        .checked_add(MIN_ARCHIVE_LEN)?
        .checked_add(n.checked_mul(INDEX_ENTRY_LEN)?)?
        .checked_add(model)
}

/// xxh3-64 with the default seed (0) and secret: every 64-bit checksum of the
/// format.
pub fn xxh3_64(data: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(data)
}
