//! Streaming archive writer.

use std::io::Write;

use xxhash_rust::xxh3::Xxh3Default;

use super::format::{self, Footer, Trailer};
use super::{ArchiveParams, ChunkEntry, Codec, ContainerError, MAX_MODEL_BLOB_LEN, xxh3_64};

/// Writes an archive to any [`Write`] as the chunks are produced: the header
/// (and model blob) at creation, each payload when it is given, the index and
/// footer at [`finish`](Self::finish). Nothing is ever seeked back to, so the
/// output can be a pipe.
///
/// After any error the writer refuses further calls
/// ([`ContainerError::WriterFailed`]); the output is then incomplete.
pub struct ArchiveWriter<W: Write> {
    out: W,
    format_version: u16,
    chunk_len: u32,
    /// Bytes written so far (the next payload's offset).
    offset: u64,
    index: Vec<u8>,
    entries: usize,
    total_len: u64,
    content: Box<Xxh3Default>,
    /// Set once a chunk shorter than `chunk_len` was written.
    saw_short: bool,
    failed: bool,
}

impl<W: Write> std::fmt::Debug for ArchiveWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchiveWriter")
            .field("chunk_len", &self.chunk_len)
            .field("offset", &self.offset)
            .field("chunks", &self.entries)
            .field("total_len", &self.total_len)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl<W: Write> ArchiveWriter<W> {
    /// Writes the header and, if `model_blob` is given, the model blob section.
    pub fn new(
        mut out: W,
        params: &ArchiveParams,
        model_blob: Option<&[u8]>,
    ) -> Result<Self, ContainerError> {
        format::check_chunk_len(params.chunk_len)?;
        if !(super::FORMAT_VERSION_OLDEST..=super::FORMAT_VERSION_NEWEST)
            .contains(&params.format_version)
        {
            return Err(ContainerError::UnsupportedVersion {
                version: params.format_version,
            });
        }
        let blob_len = match model_blob {
            Some(blob) => {
                let len = u64::try_from(blob.len()).map_err(|_| ContainerError::SizeOverflow)?;
                if len > MAX_MODEL_BLOB_LEN {
                    return Err(ContainerError::ModelBlobTooLargeToWrite {
                        len: blob.len(),
                        max: MAX_MODEL_BLOB_LEN,
                    });
                }
                Some(len)
            }
            None => None,
        };
        let header = format::encode_header(params, model_blob.is_some());
        out.write_all(&header)?;
        let mut offset = super::HEADER_LEN;
        if let (Some(blob), Some(len)) = (model_blob, blob_len) {
            out.write_all(&len.to_le_bytes())?;
            out.write_all(&xxh3_64(blob).to_le_bytes())?;
            out.write_all(blob)?;
            offset += super::MODEL_PREFIX_LEN + len;
        }
        Ok(Self {
            out,
            format_version: params.format_version,
            chunk_len: params.chunk_len,
            offset,
            index: Vec::new(),
            entries: 0,
            total_len: 0,
            content: Box::new(Xxh3Default::new()),
            saw_short: false,
            failed: false,
        })
    }

    /// Number of bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.offset
    }

    /// Number of chunks written so far.
    pub fn chunks_written(&self) -> usize {
        self.entries
    }

    /// Total original bytes written so far.
    pub fn original_len(&self) -> u64 {
        self.total_len
    }

    /// Writes `original` uncompressed (codec [`Codec::Stored`]).
    pub fn write_stored(&mut self, original: &[u8]) -> Result<ChunkEntry, ContainerError> {
        self.write(original, Codec::Stored, original)
    }

    /// Writes the chunk `original` encoded as `payload` with `codec`, or
    /// `original` itself (codec [`Codec::Stored`]) when `payload` is not
    /// smaller. Returns the entry as recorded (check `codec` to see which).
    pub fn write_encoded(
        &mut self,
        original: &[u8],
        codec: Codec,
        payload: &[u8],
    ) -> Result<ChunkEntry, ContainerError> {
        if codec == Codec::Stored {
            return Err(ContainerError::EncodedAsStored);
        }
        if codec.min_format_version() > self.format_version {
            return Err(ContainerError::CodecNeedsNewerFormat {
                index: self.entries,
                codec: codec.name(),
                needs: codec.min_format_version(),
                version: self.format_version,
            });
        }
        if payload.len() >= original.len() {
            self.write(original, Codec::Stored, original)
        } else if let Some(max) = codec
            .max_claim(payload.len())
            .filter(|&max| original.len() as u64 > max)
        {
            // No range coder output is this short (docs/FORMAT.md 9.6); the
            // reader would reject the archive.
            Err(ContainerError::ClaimExceedsPayload {
                index: self.entries,
                compressed: payload.len() as u32,
                original: original.len() as u32,
                max,
            })
        } else {
            self.write(original, codec, payload)
        }
    }

    fn write(
        &mut self,
        original: &[u8],
        codec: Codec,
        payload: &[u8],
    ) -> Result<ChunkEntry, ContainerError> {
        if self.failed {
            return Err(ContainerError::WriterFailed);
        }
        let index = self.entries;
        if original.is_empty() {
            return Err(ContainerError::EmptyChunk { index });
        }
        let original_size = match u32::try_from(original.len()) {
            Ok(n) if n <= self.chunk_len => n,
            _ => {
                return Err(ContainerError::ChunkTooLong {
                    index,
                    len: original.len(),
                    chunk_len: self.chunk_len,
                });
            }
        };
        if self.saw_short {
            return Err(ContainerError::ChunkAfterShortChunk { index });
        }
        // payload.len() <= original.len() <= chunk_len here.
        let compressed_size =
            u32::try_from(payload.len()).map_err(|_| ContainerError::SizeOverflow)?;
        let original_hash = xxh3_64(original);
        let payload_hash = if codec == Codec::Stored {
            original_hash
        } else {
            xxh3_64(payload)
        };
        let entry = ChunkEntry {
            offset: self.offset,
            compressed_size,
            original_size,
            codec,
            original_hash,
            payload_hash,
        };
        let next_offset = self
            .offset
            .checked_add(u64::from(compressed_size))
            .ok_or(ContainerError::SizeOverflow)?;
        let total_len = self
            .total_len
            .checked_add(u64::from(original_size))
            .ok_or(ContainerError::SizeOverflow)?;
        if let Err(e) = self.out.write_all(payload) {
            self.failed = true;
            return Err(e.into());
        }
        self.offset = next_offset;
        self.saw_short = original_size < self.chunk_len;
        self.total_len = total_len;
        self.content.update(original);
        format::encode_entry(&entry, &mut self.index);
        self.entries += 1;
        Ok(entry)
    }

    /// Writes the index and the footer, flushes, and returns the output.
    pub fn finish(mut self) -> Result<W, ContainerError> {
        if self.failed {
            return Err(ContainerError::WriterFailed);
        }
        let chunk_count = u64::try_from(self.entries).map_err(|_| ContainerError::SizeOverflow)?;
        let index_offset = self.offset;
        format::finish_index(
            &mut self.index,
            &Trailer {
                total_len: self.total_len,
                chunk_count,
                content_hash: self.content.digest(),
            },
        );
        let index_len = format::index_len_for(chunk_count).ok_or(ContainerError::SizeOverflow)?;
        let footer = format::encode_footer(&Footer {
            index_offset,
            index_len,
            chunk_count,
        });
        self.out.write_all(&self.index)?;
        self.out.write_all(&footer)?;
        self.out.flush()?;
        Ok(self.out)
    }
}
