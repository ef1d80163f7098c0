//! Byte-level encoding and parsing of the fixed-layout parts: header, footer,
//! index entries and index trailer. Everything little-endian.

use super::{
    ArchiveParams, ChunkEntry, Codec, ContainerError, FLAG_MODEL_EMBEDDED, FOOTER_LEN,
    FOOTER_MAGIC, FORMAT_VERSION_NEWEST, FORMAT_VERSION_OLDEST, HEADER_LEN, Header,
    INDEX_ENTRY_LEN, INDEX_TRAILER_LEN, KNOWN_FLAGS, MAGIC, MAX_CHUNK_LEN, xxh3_64,
};

pub(crate) const HEADER_SIZE: usize = HEADER_LEN as usize;
pub(crate) const FOOTER_SIZE: usize = FOOTER_LEN as usize;
pub(crate) const ENTRY_SIZE: usize = INDEX_ENTRY_LEN as usize;
pub(crate) const TRAILER_SIZE: usize = INDEX_TRAILER_LEN as usize;

/// Sequential little-endian field reader over a slice whose length the caller
/// has already checked. Reading past the end yields zero bytes instead of
/// panicking (it cannot happen with the length checks in this module).
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        match self.0.split_first_chunk::<N>() {
            Some((head, rest)) => {
                self.0 = rest;
                *head
            }
            None => {
                self.0 = &[];
                [0; N]
            }
        }
    }
    fn u8(&mut self) -> u8 {
        self.bytes::<1>()[0]
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.bytes())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.bytes())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.bytes())
    }
}

pub(crate) fn check_chunk_len(chunk_len: u32) -> Result<(), ContainerError> {
    if chunk_len == 0 || chunk_len > MAX_CHUNK_LEN {
        return Err(ContainerError::ChunkLenOutOfRange {
            chunk_len,
            max: MAX_CHUNK_LEN,
        });
    }
    Ok(())
}

pub(crate) fn encode_header(params: &ArchiveParams, model_embedded: bool) -> [u8; HEADER_SIZE] {
    let mut b = [0u8; HEADER_SIZE];
    let flags = if model_embedded {
        FLAG_MODEL_EMBEDDED
    } else {
        0
    };
    b[0..8].copy_from_slice(&MAGIC);
    b[8..10].copy_from_slice(&params.format_version.to_le_bytes());
    b[10..12].copy_from_slice(&params.arith_version.to_le_bytes());
    b[12..16].copy_from_slice(&flags.to_le_bytes());
    b[16..32].copy_from_slice(&params.model_fingerprint);
    b[32..36].copy_from_slice(&params.chunk_len.to_le_bytes());
    let sum = xxh3_64(&b[..36]);
    b[36..44].copy_from_slice(&sum.to_le_bytes());
    b
}

pub(crate) fn parse_header(b: &[u8; HEADER_SIZE]) -> Result<Header, ContainerError> {
    let mut f = Fields(b);
    if f.bytes::<8>() != MAGIC {
        return Err(ContainerError::BadMagic);
    }
    let version = f.u16();
    let arith_version = f.u16();
    let flags = f.u32();
    let model_fingerprint = f.bytes::<16>();
    let chunk_len = f.u32();
    let stored = f.u64();
    let computed = xxh3_64(&b[..36]);
    if stored != computed {
        return Err(ContainerError::HeaderChecksum { stored, computed });
    }
    if !(FORMAT_VERSION_OLDEST..=FORMAT_VERSION_NEWEST).contains(&version) {
        return Err(ContainerError::UnsupportedVersion { version });
    }
    if flags & !KNOWN_FLAGS != 0 {
        return Err(ContainerError::UnknownFlags { flags });
    }
    check_chunk_len(chunk_len)?;
    Ok(Header {
        params: ArchiveParams {
            format_version: version,
            arith_version,
            model_fingerprint,
            chunk_len,
        },
        model_embedded: flags & FLAG_MODEL_EMBEDDED != 0,
    })
}

/// The footer's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Footer {
    pub index_offset: u64,
    pub index_len: u64,
    pub chunk_count: u64,
}

pub(crate) fn encode_footer(ft: &Footer) -> [u8; FOOTER_SIZE] {
    let mut b = [0u8; FOOTER_SIZE];
    b[0..8].copy_from_slice(&ft.index_offset.to_le_bytes());
    b[8..16].copy_from_slice(&ft.index_len.to_le_bytes());
    b[16..24].copy_from_slice(&ft.chunk_count.to_le_bytes());
    b[24..32].copy_from_slice(&FOOTER_MAGIC);
    let sum = xxh3_64(&b[..32]);
    b[32..40].copy_from_slice(&sum.to_le_bytes());
    b
}

pub(crate) fn parse_footer(b: &[u8; FOOTER_SIZE]) -> Result<Footer, ContainerError> {
    let mut f = Fields(b);
    let index_offset = f.u64();
    let index_len = f.u64();
    let chunk_count = f.u64();
    if f.bytes::<8>() != FOOTER_MAGIC {
        return Err(ContainerError::BadFooterMagic);
    }
    if f.u64() != xxh3_64(&b[..32]) {
        return Err(ContainerError::FooterChecksum);
    }
    Ok(Footer {
        index_offset,
        index_len,
        chunk_count,
    })
}

/// Index length for `count` chunks, `None` on overflow.
pub(crate) fn index_len_for(count: u64) -> Option<u64> {
    count
        .checked_mul(INDEX_ENTRY_LEN)?
        .checked_add(INDEX_TRAILER_LEN)
}

pub(crate) fn encode_entry(e: &ChunkEntry, out: &mut Vec<u8>) {
    out.extend_from_slice(&e.offset.to_le_bytes());
    out.extend_from_slice(&e.compressed_size.to_le_bytes());
    out.extend_from_slice(&e.original_size.to_le_bytes());
    out.push(e.codec.id());
    out.extend_from_slice(&e.original_hash.to_le_bytes());
    out.extend_from_slice(&e.payload_hash.to_le_bytes());
}

/// The index trailer's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Trailer {
    pub total_len: u64,
    pub chunk_count: u64,
    pub content_hash: u64,
}

/// Appends the trailer and the index checksum over everything in `index`
/// (which must hold exactly the index entries).
pub(crate) fn finish_index(index: &mut Vec<u8>, t: &Trailer) {
    index.extend_from_slice(&t.total_len.to_le_bytes());
    index.extend_from_slice(&t.chunk_count.to_le_bytes());
    index.extend_from_slice(&t.content_hash.to_le_bytes());
    let sum = xxh3_64(index);
    index.extend_from_slice(&sum.to_le_bytes());
}

/// The parsed, validated index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Index {
    pub entries: Vec<ChunkEntry>,
    pub total_len: u64,
    pub content_hash: u64,
}

/// Parses and validates the index bytes.
///
/// `index` has exactly `index_len_for(footer_count)` bytes (checked by the
/// caller). Payloads must tile `[data_start, index_offset)` in order.
pub(crate) fn parse_index(
    index: &[u8],
    footer_count: u64,
    format_version: u16,
    chunk_len: u32,
    data_start: u64,
    index_offset: u64,
) -> Result<Index, ContainerError> {
    let Some(body_len) = index.len().checked_sub(8) else {
        return Err(ContainerError::IndexChecksum);
    };
    let (body, sum) = index.split_at(body_len);
    if Fields(sum).u64() != xxh3_64(body) {
        return Err(ContainerError::IndexChecksum);
    }
    let Some(entries_len) = body.len().checked_sub(TRAILER_SIZE - 8) else {
        return Err(ContainerError::IndexChecksum);
    };
    let (entry_bytes, trailer) = body.split_at(entries_len);
    let mut t = Fields(trailer);
    let total_len = t.u64();
    let index_count = t.u64();
    let content_hash = t.u64();
    if index_count != footer_count {
        return Err(ContainerError::ChunkCountMismatch {
            footer: footer_count,
            index: index_count,
        });
    }
    let count = entry_bytes.len() / ENTRY_SIZE;
    if u64::try_from(count) != Ok(footer_count) || entry_bytes.len() % ENTRY_SIZE != 0 {
        // The caller sized `index` from `footer_count`; unreachable.
        return Err(ContainerError::IndexLenMismatch {
            index_len: index.len() as u64,
            chunk_count: footer_count,
        });
    }

    // `count <= file_len / 33`, so this allocation is bounded by the file size.
    let mut entries = Vec::with_capacity(count);
    let mut expected_offset = data_start;
    let mut computed_total: u64 = 0;
    for (index, raw) in entry_bytes.chunks_exact(ENTRY_SIZE).enumerate() {
        let mut f = Fields(raw);
        let offset = f.u64();
        let compressed_size = f.u32();
        let original_size = f.u32();
        let codec_id = f.u8();
        let original_hash = f.u64();
        let payload_hash = f.u64();

        if offset != expected_offset {
            return Err(ContainerError::ChunkOffset {
                index,
                expected: expected_offset,
                found: offset,
            });
        }
        let Some(codec) = Codec::from_id(codec_id) else {
            return Err(ContainerError::UnknownCodec {
                index,
                id: codec_id,
            });
        };
        if codec.min_format_version() > format_version {
            return Err(ContainerError::CodecNeedsNewerFormat {
                index,
                codec: codec.name(),
                needs: codec.min_format_version(),
                version: format_version,
            });
        }
        let is_last = index + 1 == count;
        let size_ok = if is_last {
            original_size >= 1 && original_size <= chunk_len
        } else {
            original_size == chunk_len
        };
        if !size_ok {
            return Err(ContainerError::ChunkOriginalSize {
                index,
                count,
                size: original_size,
                chunk_len,
            });
        }
        // Stored payloads are the chunk; every other codec must shrink it.
        if codec == Codec::Stored {
            if compressed_size != original_size || payload_hash != original_hash {
                return Err(ContainerError::StoredChunkInconsistent { index });
            }
        } else if compressed_size >= original_size {
            return Err(ContainerError::PayloadNotSmaller {
                index,
                compressed: compressed_size,
                original: original_size,
            });
        } else if let Some(max) = codec.max_claim(compressed_size as usize) {
            // The payload (with any prefix) bounds the range-coded stream.
            if u64::from(original_size) > max {
                return Err(ContainerError::ClaimExceedsPayload {
                    index,
                    compressed: compressed_size,
                    original: original_size,
                    max,
                });
            }
        }
        expected_offset = expected_offset
            .checked_add(u64::from(compressed_size))
            .ok_or(ContainerError::SizeOverflow)?;
        if expected_offset > index_offset {
            return Err(ContainerError::PayloadsEnd {
                end: expected_offset,
                index_offset,
            });
        }
        computed_total = computed_total
            .checked_add(u64::from(original_size))
            .ok_or(ContainerError::SizeOverflow)?;
        entries.push(ChunkEntry {
            offset,
            compressed_size,
            original_size,
            codec,
            original_hash,
            payload_hash,
        });
    }
    if expected_offset != index_offset {
        return Err(ContainerError::PayloadsEnd {
            end: expected_offset,
            index_offset,
        });
    }
    if computed_total != total_len {
        return Err(ContainerError::TotalLenMismatch {
            stored: total_len,
            computed: computed_total,
        });
    }
    Ok(Index {
        entries,
        total_len,
        content_hash,
    })
}
