//! Validating archive reader with random access to chunks.

use std::io::{Cursor, Read, Seek, SeekFrom, Write};

use xxhash_rust::xxh3::Xxh3Default;

use super::format::{self, FOOTER_SIZE, HEADER_SIZE};
use super::{
    BoxError, ChunkEntry, Codec, ContainerError, FOOTER_LEN, HEADER_LEN, Header,
    MAX_MODEL_BLOB_LEN, MIN_ARCHIVE_LEN, MODEL_PREFIX_LEN, xxh3_64,
};

/// Where the model blob lies.
#[derive(Debug, Clone, Copy)]
struct BlobInfo {
    offset: u64,
    len: u64,
    hash: u64,
}

/// An opened archive over a [`Read`] + [`Seek`] source.
///
/// [`open`](Self::open) reads and validates the header, the footer and the
/// whole index; afterwards every chunk can be read in any order. Payloads and
/// the model blob are read (and verified) only on request.
#[derive(Debug)]
pub struct ArchiveReader<R> {
    src: R,
    file_len: u64,
    header: Header,
    blob: Option<BlobInfo>,
    entries: Vec<ChunkEntry>,
    total_len: u64,
    content_hash: u64,
}

impl<'a> ArchiveReader<Cursor<&'a [u8]>> {
    /// Opens an archive held in memory.
    pub fn from_bytes(data: &'a [u8]) -> Result<Self, ContainerError> {
        Self::open(Cursor::new(data))
    }
}

fn read_at<R: Read + Seek>(src: &mut R, offset: u64, buf: &mut [u8]) -> Result<(), ContainerError> {
    src.seek(SeekFrom::Start(offset))?;
    src.read_exact(buf)?;
    Ok(())
}

/// Reads `len` bytes at `offset`; the caller has checked that the range lies
/// inside the file, which bounds the allocation by the file length.
fn read_vec_at<R: Read + Seek>(
    src: &mut R,
    offset: u64,
    len: u64,
) -> Result<Vec<u8>, ContainerError> {
    let len = usize::try_from(len).map_err(|_| ContainerError::SizeOverflow)?;
    let mut buf = vec![0u8; len];
    read_at(src, offset, &mut buf)?;
    Ok(buf)
}

impl<R: Read + Seek> ArchiveReader<R> {
    /// Opens and validates an archive. Checks, in order: file length, header
    /// (magic, checksum, version, flags, chunk length), footer (magic,
    /// checksum, index geometry against the file length), the model blob
    /// section's bounds, and the index (checksum, chunk count, contiguous
    /// offsets, the chunking rule, codec ids, size rules, total length).
    /// Nothing is allocated before the sizes it depends on have been checked
    /// against the file length.
    pub fn open(mut src: R) -> Result<Self, ContainerError> {
        let file_len = src.seek(SeekFrom::End(0))?;
        if file_len < MIN_ARCHIVE_LEN {
            return Err(ContainerError::TooShort {
                len: file_len,
                min: MIN_ARCHIVE_LEN,
            });
        }

        let mut hb = [0u8; HEADER_SIZE];
        read_at(&mut src, 0, &mut hb)?;
        let header = format::parse_header(&hb)?;

        let mut fb = [0u8; FOOTER_SIZE];
        let footer_offset = file_len - FOOTER_LEN;
        read_at(&mut src, footer_offset, &mut fb)?;
        let footer = format::parse_footer(&fb)?;

        let index_len = format::index_len_for(footer.chunk_count);
        if index_len != Some(footer.index_len) {
            return Err(ContainerError::IndexLenMismatch {
                index_len: footer.index_len,
                chunk_count: footer.chunk_count,
            });
        }
        let index_end = footer.index_offset.checked_add(footer.index_len);
        if index_end != Some(footer_offset) || footer.index_offset < HEADER_LEN {
            return Err(ContainerError::IndexOutOfPlace {
                index_offset: footer.index_offset,
                index_len: footer.index_len,
                file_len,
            });
        }

        let (blob, data_start) = if header.model_embedded {
            let prefix_end = HEADER_LEN + MODEL_PREFIX_LEN;
            if prefix_end > footer.index_offset {
                return Err(ContainerError::ModelBlobOutOfBounds {
                    len: 0,
                    index_offset: footer.index_offset,
                });
            }
            let mut pb = [0u8; MODEL_PREFIX_LEN as usize];
            read_at(&mut src, HEADER_LEN, &mut pb)?;
            let (len_bytes, hash_bytes) = pb.split_at(8);
            let len = u64::from_le_bytes(len_bytes.try_into().unwrap_or([0xFF; 8]));
            let hash = u64::from_le_bytes(hash_bytes.try_into().unwrap_or([0; 8]));
            if len > MAX_MODEL_BLOB_LEN {
                return Err(ContainerError::ModelBlobTooLarge {
                    len,
                    max: MAX_MODEL_BLOB_LEN,
                });
            }
            // prefix_end + len <= 60 + 2^30: no overflow.
            let end = prefix_end + len;
            if end > footer.index_offset {
                return Err(ContainerError::ModelBlobOutOfBounds {
                    len,
                    index_offset: footer.index_offset,
                });
            }
            (
                Some(BlobInfo {
                    offset: prefix_end,
                    len,
                    hash,
                }),
                end,
            )
        } else {
            (None, HEADER_LEN)
        };

        // index_len <= file_len, checked above: bounded allocation.
        let index_bytes = read_vec_at(&mut src, footer.index_offset, footer.index_len)?;
        let index = format::parse_index(
            &index_bytes,
            footer.chunk_count,
            header.params.format_version,
            header.params.chunk_len,
            data_start,
            footer.index_offset,
        )?;

        Ok(Self {
            src,
            file_len,
            header,
            blob,
            entries: index.entries,
            total_len: index.total_len,
            content_hash: index.content_hash,
        })
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Length of the archive file.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// Number of chunks.
    pub fn chunk_count(&self) -> usize {
        self.entries.len()
    }

    /// All index entries, in order.
    pub fn entries(&self) -> &[ChunkEntry] {
        &self.entries
    }

    /// The entry of chunk `index`.
    pub fn entry(&self, index: usize) -> Result<&ChunkEntry, ContainerError> {
        self.entries.get(index).ok_or(ContainerError::NoSuchChunk {
            index,
            count: self.entries.len(),
        })
    }

    /// Total length of the original content.
    pub fn total_len(&self) -> u64 {
        self.total_len
    }

    /// xxh3-64 of the whole original content.
    pub fn content_hash(&self) -> u64 {
        self.content_hash
    }

    /// Length of the embedded model blob, if any.
    pub fn model_blob_len(&self) -> Option<u64> {
        self.blob.map(|b| b.len)
    }

    /// Reads and verifies the embedded model blob; `None` if there is none.
    ///
    /// The container does not check the blob against the header's model
    /// fingerprint: that is the model loader's job.
    pub fn read_model_blob(&mut self) -> Result<Option<Vec<u8>>, ContainerError> {
        let Some(info) = self.blob else {
            return Ok(None);
        };
        let blob = read_vec_at(&mut self.src, info.offset, info.len)?;
        if xxh3_64(&blob) != info.hash {
            return Err(ContainerError::ModelBlobChecksum);
        }
        Ok(Some(blob))
    }

    /// Reads the payload of chunk `index` and verifies its checksum.
    pub fn read_payload(&mut self, index: usize) -> Result<Vec<u8>, ContainerError> {
        let e = *self.entry(index)?;
        let payload = read_vec_at(&mut self.src, e.offset, u64::from(e.compressed_size))?;
        if xxh3_64(&payload) != e.payload_hash {
            return Err(ContainerError::PayloadChecksum { index });
        }
        Ok(payload)
    }

    /// Checks that `data` is chunk `index` of the original (length and
    /// checksum). Useful when chunks are decoded elsewhere, e.g. in parallel.
    pub fn verify_chunk(&self, index: usize, data: &[u8]) -> Result<(), ContainerError> {
        self.entry(index)?.verify_original(index, data)
    }

    /// Reads chunk `index` and returns its original bytes, verified. Stored
    /// chunks are returned as they are; any other codec is handed to `decode`
    /// with the entry and the verified payload.
    pub fn read_chunk<F>(&mut self, index: usize, decode: F) -> Result<Vec<u8>, ContainerError>
    where
        F: FnOnce(&ChunkEntry, &[u8]) -> Result<Vec<u8>, BoxError>,
    {
        let payload = self.read_payload(index)?;
        let e = *self.entry(index)?;
        if e.codec == Codec::Stored {
            // payload_hash == original_hash and sizes match (checked at open),
            // so the payload checksum has verified the original.
            return Ok(payload);
        }
        let data = decode(&e, &payload).map_err(|source| ContainerError::Codec {
            index,
            codec: e.codec,
            source,
        })?;
        e.verify_original(index, &data)?;
        Ok(data)
    }

    /// Decodes every chunk in order into `out`, verifying each chunk and,
    /// at the end, the whole-content checksum. Returns the number of bytes
    /// written. On error, `out` may already hold the verified chunks before
    /// the failing one.
    pub fn extract<W, F>(&mut self, mut out: W, mut decode: F) -> Result<u64, ContainerError>
    where
        W: Write,
        F: FnMut(&ChunkEntry, &[u8]) -> Result<Vec<u8>, BoxError>,
    {
        let mut hasher = Xxh3Default::new();
        let mut written: u64 = 0;
        for index in 0..self.entries.len() {
            let data = self.read_chunk(index, &mut decode)?;
            hasher.update(&data);
            out.write_all(&data)?;
            written += data.len() as u64;
        }
        out.flush()?;
        if hasher.digest() != self.content_hash {
            return Err(ContainerError::ContentChecksum);
        }
        Ok(written)
    }

    /// Gives back the source.
    pub fn into_inner(self) -> R {
        self.src
    }
}
