use super::*;
use crate::coder::{CumulativeFrequencies, decode_all, encode_all};
use proptest::prelude::*;
use std::io::Cursor;

/// A static "model" for tests: b'a' has half the mass, the rest is uniform.
fn table() -> CumulativeFrequencies {
    let mut f = [32_896u32; 256];
    f[usize::from(b'a')] = (1 << 24) - 255 * 32_896;
    CumulativeFrequencies::new(&f).unwrap()
}

fn encode_chunk(cf: &CumulativeFrequencies, chunk: &[u8]) -> Vec<u8> {
    encode_all(chunk, |_| cf)
}

fn decoder(
    cf: &CumulativeFrequencies,
) -> impl FnMut(&ChunkEntry, &[u8]) -> Result<Vec<u8>, BoxError> + '_ {
    move |e, payload| {
        assert_eq!(e.codec, Codec::Neural);
        decode_all(payload, e.original_size as usize, |_| cf).map_err(|e| Box::new(e) as BoxError)
    }
}

fn params(chunk_len: u32) -> ArchiveParams {
    ArchiveParams {
        format_version: 1,
        arith_version: 1,
        model_fingerprint: *b"0123456789abcdef",
        chunk_len,
    }
}

/// Compresses `data` with the static table, storing chunks that do not shrink.
fn build(data: &[u8], chunk_len: u32, model: Option<&[u8]>) -> Vec<u8> {
    let cf = table();
    let mut w = ArchiveWriter::new(Vec::new(), &params(chunk_len), model).unwrap();
    for chunk in data.chunks(chunk_len as usize) {
        let payload = encode_chunk(&cf, chunk);
        w.write_encoded(chunk, Codec::Neural, &payload).unwrap();
    }
    w.finish().unwrap()
}

/// Opens, reads the model and extracts everything, verifying all checksums.
fn full_check(archive: &[u8]) -> Result<(Option<Vec<u8>>, Vec<u8>), ContainerError> {
    let cf = table();
    let mut r = ArchiveReader::from_bytes(archive)?;
    let model = r.read_model_blob()?;
    let mut out = Vec::new();
    let n = r.extract(&mut out, decoder(&cf))?;
    assert_eq!(n, out.len() as u64);
    assert_eq!(n, r.total_len());
    Ok((model, out))
}

/// Compressible and incompressible parts, so both codecs occur.
fn sample(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|i| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            if (i / 50) % 2 == 0 {
                if (x >> 60) == 0 {
                    (x >> 32) as u8
                } else {
                    b'a'
                }
            } else {
                (x >> 56) as u8
            }
        })
        .collect()
}

#[test]
fn layout_constants() {
    assert_eq!(MIN_ARCHIVE_LEN, 116);
    assert_eq!(format::HEADER_SIZE, 44);
    assert_eq!(format::FOOTER_SIZE, 40);
    assert_eq!(format::ENTRY_SIZE, 33);
    assert_eq!(format::TRAILER_SIZE, 32);
}

/// The empty archive, byte by byte, as in docs/FORMAT.md.
#[test]
fn empty_archive_layout() {
    let a = build(&[], 4096, None);
    assert_eq!(a.len() as u64, MIN_ARCHIVE_LEN);
    assert_eq!(&a[0..8], b"BOADET\x00\x01");
    assert_eq!(&a[8..10], &[1, 0]); // format version
    assert_eq!(&a[10..12], &[1, 0]); // arith version
    assert_eq!(&a[12..16], &[0, 0, 0, 0]); // flags
    assert_eq!(&a[16..32], b"0123456789abcdef");
    assert_eq!(&a[32..36], &4096u32.to_le_bytes());
    assert_eq!(&a[36..44], &xxh3_64(&a[0..36]).to_le_bytes());
    // index: no entries; trailer
    assert_eq!(&a[44..52], &0u64.to_le_bytes()); // total length
    assert_eq!(&a[52..60], &0u64.to_le_bytes()); // chunk count
    assert_eq!(&a[60..68], &xxh3_64(b"").to_le_bytes()); // content hash
    assert_eq!(&a[68..76], &xxh3_64(&a[44..68]).to_le_bytes());
    // footer
    assert_eq!(&a[76..84], &44u64.to_le_bytes()); // index offset
    assert_eq!(&a[84..92], &32u64.to_le_bytes()); // index length
    assert_eq!(&a[92..100], &0u64.to_le_bytes()); // chunk count
    assert_eq!(&a[100..108], b"BOAEND\x00\x01");
    assert_eq!(&a[108..116], &xxh3_64(&a[76..108]).to_le_bytes());
    let (model, out) = full_check(&a).unwrap();
    assert!(model.is_none());
    assert!(out.is_empty());
}

#[test]
fn entry_layout() {
    let data = vec![b'a'; 100];
    let a = build(&data, 64, Some(b"MODEL"));
    // header 44, blob prefix 16, blob 5
    assert_eq!(&a[44..52], &5u64.to_le_bytes());
    assert_eq!(&a[52..60], &xxh3_64(b"MODEL").to_le_bytes());
    assert_eq!(&a[60..65], b"MODEL");
    let r = ArchiveReader::from_bytes(&a).unwrap();
    let e0 = *r.entry(0).unwrap();
    let e1 = *r.entry(1).unwrap();
    assert_eq!(e0.offset, 65);
    assert_eq!(e1.offset, 65 + u64::from(e0.compressed_size));
    assert_eq!(e0.codec, Codec::Neural);
    assert_eq!((e0.original_size, e1.original_size), (64, 36));
    let index_offset = e1.offset + u64::from(e1.compressed_size);
    let io = index_offset as usize;
    let ent = &a[io..io + 33];
    assert_eq!(&ent[0..8], &e0.offset.to_le_bytes());
    assert_eq!(&ent[8..12], &e0.compressed_size.to_le_bytes());
    assert_eq!(&ent[12..16], &64u32.to_le_bytes());
    assert_eq!(ent[16], 1);
    assert_eq!(&ent[17..25], &xxh3_64(&data[..64]).to_le_bytes());
    let p0 = &a[65..65 + e0.compressed_size as usize];
    assert_eq!(&ent[25..33], &xxh3_64(p0).to_le_bytes());
    let footer = &a[a.len() - 40..];
    assert_eq!(&footer[0..8], &index_offset.to_le_bytes());
    assert_eq!(&footer[8..16], &(2 * 33 + 32u64).to_le_bytes());
    assert_eq!(&footer[16..24], &2u64.to_le_bytes());
    assert_eq!(r.header().params, params(64));
    assert!(r.header().model_embedded);
    assert_eq!(r.model_blob_len(), Some(5));
}

#[test]
fn round_trips() {
    for &chunk_len in &[1u32, 7, 64, 1000] {
        for &len in &[0usize, 1, 63, 64, 65, 128, 1000, 2500] {
            for model in [None, Some(&b"some model bytes"[..]), Some(&b""[..])] {
                let data = sample(len, len as u64 + u64::from(chunk_len));
                let a = build(&data, chunk_len, model);
                let (m, out) = full_check(&a).unwrap();
                assert_eq!(out, data);
                assert_eq!(m.as_deref(), model);
                let bound = worst_case_len(len as u64, chunk_len, model.map(|m| m.len() as u64));
                assert!(a.len() as u64 <= bound.unwrap());
                let r = ArchiveReader::from_bytes(&a).unwrap();
                assert_eq!(
                    r.chunk_count() as u64,
                    chunk_count(len as u64, chunk_len).unwrap()
                );
                assert_eq!(r.content_hash(), xxh3_64(&data));
                assert_eq!(r.file_len(), a.len() as u64);
            }
        }
    }
}

#[test]
fn both_codecs_used_and_random_access() {
    let data = sample(1000, 3);
    let a = build(&data, 50, None);
    let cf = table();
    let mut r = ArchiveReader::open(Cursor::new(a.clone())).unwrap();
    let codecs: Vec<Codec> = r.entries().iter().map(|e| e.codec).collect();
    assert!(codecs.contains(&Codec::Stored));
    assert!(codecs.contains(&Codec::Neural));
    for i in (0..r.chunk_count()).rev() {
        let chunk = r.read_chunk(i, decoder(&cf)).unwrap();
        assert_eq!(chunk, &data[i * 50..(i + 1) * 50]);
        r.verify_chunk(i, &chunk).unwrap();
    }
    assert!(matches!(
        r.read_payload(20),
        Err(ContainerError::NoSuchChunk {
            index: 20,
            count: 20
        })
    ));
    assert!(matches!(
        r.verify_chunk(0, &data[50..100]),
        Err(ContainerError::ChunkChecksum { index: 0 })
    ));
    assert!(matches!(
        r.verify_chunk(0, &data[..49]),
        Err(ContainerError::DecodedSize {
            index: 0,
            got: 49,
            expected: 50
        })
    ));
}

/// Incompressible input reaches the worst-case bound exactly.
#[test]
fn worst_case_is_exact() {
    let mut x = 99u64;
    let data: Vec<u8> = (0..5000)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (x >> 56) as u8
        })
        .collect();
    let a = build(&data, 256, Some(b"m"));
    assert_eq!(a.len() as u64, 5000 + 44 + 33 * 20 + 32 + 40 + 16 + 1);
    assert_eq!(worst_case_len(5000, 256, Some(1)), Some(a.len() as u64));
    let r = ArchiveReader::from_bytes(&a).unwrap();
    assert!(r.entries().iter().all(|e| e.codec == Codec::Stored));
    assert_eq!(worst_case_len(0, 0, None), None);
    assert_eq!(worst_case_len(u64::MAX, 1, None), None);
}

/// Which part of the archive a byte belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Region {
    Header,
    BlobLen,
    BlobHash,
    Blob,
    Payload(usize),
    Index,
    Footer,
}

fn regions(a: &[u8]) -> Vec<Region> {
    let r = ArchiveReader::from_bytes(a).unwrap();
    let mut map = vec![Region::Index; a.len()];
    map[..44].fill(Region::Header);
    if let Some(len) = r.model_blob_len() {
        map[44..52].fill(Region::BlobLen);
        map[52..60].fill(Region::BlobHash);
        map[60..60 + len as usize].fill(Region::Blob);
    }
    for (i, e) in r.entries().iter().enumerate() {
        let s = e.offset as usize;
        map[s..s + e.compressed_size as usize].fill(Region::Payload(i));
    }
    let n = a.len();
    map[n - 40..].fill(Region::Footer);
    map
}

fn small_archive() -> (Vec<u8>, Vec<u8>) {
    let data = sample(230, 11);
    let a = build(&data, 50, Some(b"tiny model"));
    (a, data)
}

#[test]
fn every_byte_flip_is_detected() {
    let (a, data) = small_archive();
    assert_eq!(full_check(&a).unwrap().1, data);
    let map = regions(&a);
    let r = ArchiveReader::from_bytes(&a).unwrap();
    assert!(r.entries().iter().any(|e| e.codec == Codec::Stored));
    assert!(r.entries().iter().any(|e| e.codec == Codec::Neural));
    for pos in 0..a.len() {
        for x in [0x01u8, 0x80, 0xFF] {
            let mut b = a.clone();
            b[pos] ^= x;
            let err = full_check(&b).expect_err("flip not detected");
            let opened = ArchiveReader::from_bytes(&b);
            match map[pos] {
                Region::Header | Region::BlobLen | Region::Index | Region::Footer => {
                    assert!(opened.is_err(), "pos {pos}: {:?} flip opened", map[pos]);
                }
                Region::BlobHash | Region::Blob => {
                    assert!(
                        matches!(err, ContainerError::ModelBlobChecksum),
                        "pos {pos}: {err}"
                    );
                }
                Region::Payload(i) => {
                    assert!(
                        matches!(err, ContainerError::PayloadChecksum { index } if index == i),
                        "pos {pos}: {err}"
                    );
                }
            }
        }
    }
}

#[test]
fn every_truncation_is_detected() {
    let (a, _) = small_archive();
    for cut in 0..a.len() {
        assert!(ArchiveReader::from_bytes(&a[..cut]).is_err(), "cut {cut}");
        assert!(full_check(&a[..cut]).is_err());
    }
    for extra in [&[0u8][..], b"x", &a[a.len() - 40..]] {
        let mut b = a.clone();
        b.extend_from_slice(extra);
        assert!(ArchiveReader::from_bytes(&b).is_err());
    }
}

/// The range coder's final bytes carry slack: some flips there decode to the
/// same output. The payload checksum still reports them.
#[test]
fn flush_byte_flip_needs_payload_checksum() {
    let data = vec![b'a'; 64];
    let cf = table();
    let payload = encode_chunk(&cf, &data);
    let last = payload.len() - 1;
    let unchanged = (0..8).any(|bit| {
        let mut p = payload.clone();
        p[last] ^= 1 << bit;
        decode_all(&p, data.len(), |_| &cf).ok().as_deref() == Some(&data[..])
    });
    assert!(unchanged, "expected a silent flip in the flush bytes");

    let a = build(&data, 64, None);
    let r = ArchiveReader::from_bytes(&a).unwrap();
    let e = r.entry(0).unwrap();
    assert_eq!(e.codec, Codec::Neural);
    let end = (e.offset + u64::from(e.compressed_size)) as usize;
    for bit in 0..8 {
        let mut b = a.clone();
        b[end - 1] ^= 1 << bit;
        assert!(matches!(
            full_check(&b),
            Err(ContainerError::PayloadChecksum { index: 0 })
        ));
    }
}

/// A payload that decodes to the wrong bytes is caught by the original-data
/// checksum; a payload the decoder rejects is reported as a codec error.
#[test]
fn wrong_payload_is_detected_per_chunk() {
    let cf = table();
    let a1 = vec![b'a'; 40];
    let mut a2 = a1.clone();
    a2[7] = b'b';
    let mut w = ArchiveWriter::new(Vec::new(), &params(40), None).unwrap();
    w.write_encoded(&a1, Codec::Neural, &encode_chunk(&cf, &a2))
        .unwrap();
    // Too short to hold 40 symbols: the writer refuses it, as the reader would.
    assert!(matches!(
        w.write_encoded(&a1, Codec::Neural, &[1, 2, 3]),
        Err(ContainerError::ClaimExceedsPayload {
            index: 1,
            compressed: 3,
            original: 40,
            max: 0
        })
    ));
    w.write_encoded(&a1, Codec::Neural, &[1, 2, 3, 4, 5, 6, 7, 8, 9])
        .unwrap();
    let a = w.finish().unwrap();
    let mut r = ArchiveReader::from_bytes(&a).unwrap();
    assert!(matches!(
        r.read_chunk(0, decoder(&cf)),
        Err(ContainerError::ChunkChecksum { index: 0 })
    ));
    let err = r.read_chunk(1, decoder(&cf)).unwrap_err();
    assert!(
        matches!(
            err,
            ContainerError::Codec {
                index: 1,
                codec: Codec::Neural,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("chunk 1"));
}

#[test]
fn writer_rules() {
    let cf = table();
    assert!(matches!(
        ArchiveWriter::new(Vec::new(), &params(0), None),
        Err(ContainerError::ChunkLenOutOfRange { chunk_len: 0, .. })
    ));
    assert!(matches!(
        ArchiveWriter::new(Vec::new(), &params(MAX_CHUNK_LEN + 1), None),
        Err(ContainerError::ChunkLenOutOfRange { .. })
    ));
    let mut w = ArchiveWriter::new(Vec::new(), &params(4), None).unwrap();
    assert!(matches!(
        w.write_stored(b""),
        Err(ContainerError::EmptyChunk { index: 0 })
    ));
    assert!(matches!(
        w.write_stored(b"abcde"),
        Err(ContainerError::ChunkTooLong {
            index: 0,
            len: 5,
            chunk_len: 4
        })
    ));
    assert!(matches!(
        w.write_encoded(b"abcd", Codec::Stored, b"ab"),
        Err(ContainerError::EncodedAsStored)
    ));
    // Not smaller: stored instead.
    let e = w
        .write_encoded(b"aaaa", Codec::Neural, &encode_chunk(&cf, b"aaaa"))
        .unwrap();
    assert_eq!(e.codec, Codec::Stored);
    let e = w.write_encoded(b"abc", Codec::Zstd, b"ab").unwrap();
    assert_eq!(
        (e.codec, e.compressed_size, e.original_size),
        (Codec::Zstd, 2, 3)
    );
    assert!(matches!(
        w.write_stored(b"x"),
        Err(ContainerError::ChunkAfterShortChunk { index: 2 })
    ));
    assert_eq!(w.chunks_written(), 2);
    assert_eq!(w.original_len(), 7);
    let a = w.finish().unwrap();
    let r = ArchiveReader::from_bytes(&a).unwrap();
    assert_eq!(r.entry(1).unwrap().codec, Codec::Zstd);
}

/// A sink that fails after a number of bytes.
struct Failing(usize);
impl std::io::Write for Failing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0 == 0 {
            return Err(std::io::Error::other("disk full"));
        }
        let n = buf.len().min(self.0);
        self.0 -= n;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn writer_io_failure_poisons() {
    let mut w = ArchiveWriter::new(Failing(50), &params(16), None).unwrap();
    assert!(matches!(
        w.write_stored(&[7; 16]),
        Err(ContainerError::Io(_))
    ));
    assert!(matches!(
        w.write_stored(&[7; 16]),
        Err(ContainerError::WriterFailed)
    ));
    assert!(matches!(w.finish(), Err(ContainerError::WriterFailed)));
    assert!(ArchiveWriter::new(Failing(10), &params(16), None).is_err());
}

// ---- crafted inputs with valid checksums ----

fn with_header(a: &mut [u8], edit: impl FnOnce(&mut [u8])) {
    edit(&mut a[..44]);
    let sum = xxh3_64(&a[..36]);
    a[36..44].copy_from_slice(&sum.to_le_bytes());
}

fn with_footer(a: &mut [u8], edit: impl FnOnce(&mut [u8])) {
    let n = a.len();
    let f = &mut a[n - 40..];
    edit(f);
    let sum = xxh3_64(&f[..32]);
    f[32..40].copy_from_slice(&sum.to_le_bytes());
}

#[test]
fn crafted_headers() {
    let (a, _) = small_archive();
    let mut b = a.clone();
    with_header(&mut b, |h| h[8] = 12);
    assert!(matches!(
        ArchiveReader::from_bytes(&b),
        Err(ContainerError::UnsupportedVersion { version: 12 })
    ));
    // The message states the range this build really reads (it said "1 to 2").
    let too_new = FORMAT_VERSION_NEWEST + 1;
    let mut b = a.clone();
    with_header(&mut b, |h| h[8..10].copy_from_slice(&too_new.to_le_bytes()));
    let err = ArchiveReader::from_bytes(&b).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "unsupported format version {too_new} (this build reads and writes versions 1 to {FORMAT_VERSION_NEWEST})"
        )
    );
    assert_eq!(FORMAT_VERSION_OLDEST, 1);
    let mut b = a.clone();
    with_header(&mut b, |h| h[8] = 0);
    assert!(matches!(
        ArchiveReader::from_bytes(&b),
        Err(ContainerError::UnsupportedVersion { version: 0 })
    ));
    // Version 2 only adds a codec: a version-1 archive relabelled 2 still reads.
    let mut b = a.clone();
    with_header(&mut b, |h| h[8] = 2);
    assert_eq!(full_check(&b).unwrap(), full_check(&a).unwrap());
    let mut b = a.clone();
    with_header(&mut b, |h| h[12] |= 2);
    assert!(matches!(
        ArchiveReader::from_bytes(&b),
        Err(ContainerError::UnknownFlags { flags: 3 })
    ));
    let mut b = a.clone();
    with_header(&mut b, |h| {
        h[32..36].copy_from_slice(&u32::MAX.to_le_bytes())
    });
    assert!(matches!(
        ArchiveReader::from_bytes(&b),
        Err(ContainerError::ChunkLenOutOfRange {
            chunk_len: u32::MAX,
            ..
        })
    ));
    // Different chunk length: the chunking rule fails in the index.
    let mut b = a.clone();
    with_header(&mut b, |h| h[32..36].copy_from_slice(&51u32.to_le_bytes()));
    assert!(matches!(
        ArchiveReader::from_bytes(&b),
        Err(ContainerError::ChunkOriginalSize { index: 0, .. })
    ));
    // Model flag cleared: the blob's bytes are taken for payloads.
    let mut b = a.clone();
    with_header(&mut b, |h| h[12] = 0);
    assert!(matches!(
        ArchiveReader::from_bytes(&b),
        Err(ContainerError::ChunkOffset {
            index: 0,
            expected: 44,
            ..
        })
    ));
    // A huge model blob length.
    let mut b = a.clone();
    b[44..52].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        ArchiveReader::from_bytes(&b),
        Err(ContainerError::ModelBlobTooLarge { len: u64::MAX, .. })
    ));
    let mut b = a.clone();
    b[44..52].copy_from_slice(&MAX_MODEL_BLOB_LEN.to_le_bytes());
    assert!(matches!(
        ArchiveReader::from_bytes(&b),
        Err(ContainerError::ModelBlobOutOfBounds { .. })
    ));
}

/// An embedded model is a model file: the container admits no larger blob
/// than the model loader reads.
#[test]
fn model_blob_limit_is_the_model_file_limit() {
    assert_eq!(
        MAX_MODEL_BLOB_LEN,
        crate::model::file::MAX_MODEL_FILE_BYTES as u64
    );
}

#[test]
fn crafted_footers() {
    let (a, _) = small_archive();
    // Huge counts with a matching index length still must fit the file.
    let mut b = a.clone();
    with_footer(&mut b, |f| {
        f[8..16].copy_from_slice(&(33 * (1u64 << 40) + 32).to_le_bytes());
        f[16..24].copy_from_slice(&(1u64 << 40).to_le_bytes());
    });
    assert!(matches!(
        ArchiveReader::from_bytes(&b),
        Err(ContainerError::IndexOutOfPlace { .. })
    ));
    let mut b = a.clone();
    with_footer(&mut b, |f| {
        f[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        f[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    });
    assert!(matches!(
        ArchiveReader::from_bytes(&b),
        Err(ContainerError::IndexLenMismatch { .. })
    ));
    let mut b = a.clone();
    with_footer(&mut b, |f| f[0..8].copy_from_slice(&u64::MAX.to_le_bytes()));
    assert!(matches!(
        ArchiveReader::from_bytes(&b),
        Err(ContainerError::IndexOutOfPlace { .. })
    ));
    // Valid geometry, one chunk fewer: index checksum and count disagree.
    let mut b = a.clone();
    with_footer(&mut b, |f| {
        let off = u64::from_le_bytes(f[0..8].try_into().unwrap());
        let cnt = u64::from_le_bytes(f[16..24].try_into().unwrap());
        f[0..8].copy_from_slice(&(off + 33).to_le_bytes());
        f[8..16].copy_from_slice(&(33 * (cnt - 1) + 32).to_le_bytes());
        f[16..24].copy_from_slice(&(cnt - 1).to_le_bytes());
    });
    assert!(matches!(
        ArchiveReader::from_bytes(&b),
        Err(ContainerError::IndexChecksum)
    ));
}

/// Rewrites the index of `a` after `edit` and fixes its checksum, so that the
/// semantic checks are reached.
fn with_index(a: &mut [u8], edit: impl FnOnce(&mut [u8])) {
    let n = a.len();
    let off = u64::from_le_bytes(a[n - 40..n - 32].try_into().unwrap()) as usize;
    let idx = &mut a[off..n - 40];
    let body = idx.len() - 8;
    edit(&mut idx[..body]);
    let sum = xxh3_64(&idx[..body]);
    idx[body..].copy_from_slice(&sum.to_le_bytes());
}

/// An index edit and the check its error must pass.
type IndexCase = (Box<dyn Fn(&mut [u8])>, fn(&ContainerError) -> bool);

#[test]
fn crafted_indexes() {
    let (a, _) = small_archive();
    let count = ArchiveReader::from_bytes(&a).unwrap().chunk_count();
    let trailer = count * 33;
    let cases: Vec<IndexCase> = vec![
        (Box::new(|i| i[16] = 19), |e| {
            matches!(e, ContainerError::UnknownCodec { index: 0, id: 19 })
        }),
        // Codec 3 (neural+match) is defined from format version 2 on.
        (Box::new(|i| i[16] = 3), |e| {
            matches!(
                e,
                ContainerError::CodecNeedsNewerFormat {
                    index: 0,
                    needs: 2,
                    version: 1,
                    ..
                }
            )
        }),
        (Box::new(|i| i[0] ^= 1), |e| {
            matches!(e, ContainerError::ChunkOffset { index: 0, .. })
        }),
        (Box::new(|i| i[12] = 49), |e| {
            matches!(e, ContainerError::ChunkOriginalSize { index: 0, .. })
        }),
        (Box::new(move |i| i[trailer] ^= 1), |e| {
            matches!(e, ContainerError::TotalLenMismatch { .. })
        }),
        (Box::new(move |i| i[trailer + 8] ^= 1), |e| {
            matches!(e, ContainerError::ChunkCountMismatch { .. })
        }),
        (Box::new(|i| i[8] ^= 1), |e| {
            matches!(
                e,
                ContainerError::StoredChunkInconsistent { .. }
                    | ContainerError::ChunkOffset { index: 1, .. }
            )
        }),
    ];
    for (k, (edit, check)) in cases.into_iter().enumerate() {
        let mut b = a.clone();
        with_index(&mut b, edit);
        let err = ArchiveReader::from_bytes(&b).unwrap_err();
        assert!(check(&err), "case {k}: {err}");
    }
    // Content hash changed: only found once everything is decoded.
    let mut b = a.clone();
    with_index(&mut b, |i| i[trailer + 16] ^= 1);
    assert!(matches!(
        full_check(&b),
        Err(ContainerError::ContentChecksum)
    ));
}

/// A writer takes versions 1 to 11 only, codec 3 only from version 2,
/// codec 4 only from version 3, codecs 5 and 6 only from version 4,
/// codec 7 only from version 5, codec 8 only from version 6, codecs 9 to
/// 12 only from version 7, codec 13 only from version 8, codecs 14 and
/// 15 only from version 9, codecs 16 and 17 only from version 10 and
/// codec 18 only from version 11.
#[test]
fn format_versions_and_codecs() {
    for version in [0u16, 12] {
        let p = ArchiveParams {
            format_version: version,
            ..params(10)
        };
        assert!(matches!(
            ArchiveWriter::new(Vec::new(), &p, None),
            Err(ContainerError::UnsupportedVersion { .. })
        ));
    }
    let cf = table();
    let chunk = b"aaaaaaaaaa";
    let payload = encode_chunk(&cf, chunk);
    let mut w = ArchiveWriter::new(Vec::new(), &params(10), None).unwrap();
    assert!(matches!(
        w.write_encoded(chunk, Codec::NeuralMatch, &payload),
        Err(ContainerError::CodecNeedsNewerFormat {
            needs: 2,
            version: 1,
            ..
        })
    ));
    let p2 = ArchiveParams {
        format_version: 2,
        ..params(10)
    };
    let mut w = ArchiveWriter::new(Vec::new(), &p2, None).unwrap();
    w.write_encoded(chunk, Codec::NeuralMatch, &payload)
        .unwrap();
    w.write_encoded(chunk, Codec::Neural, &payload).unwrap();
    let a = w.finish().unwrap();
    let r = ArchiveReader::from_bytes(&a).unwrap();
    assert_eq!(r.header().params.format_version, 2);
    let codecs: Vec<Codec> = r.entries().iter().map(|e| e.codec).collect();
    assert_eq!(codecs, [Codec::NeuralMatch, Codec::Neural]);

    let mut w = ArchiveWriter::new(Vec::new(), &p2, None).unwrap();
    assert!(matches!(
        w.write_encoded(chunk, Codec::NeuralMatchColumns, &payload),
        Err(ContainerError::CodecNeedsNewerFormat {
            needs: 3,
            version: 2,
            ..
        })
    ));
    let p3 = ArchiveParams {
        format_version: 3,
        ..params(10)
    };
    let mut w = ArchiveWriter::new(Vec::new(), &p3, None).unwrap();
    for c in [Codec::NeuralMatchColumns, Codec::NeuralMatch, Codec::Neural] {
        w.write_encoded(chunk, c, &payload).unwrap();
    }
    let a = w.finish().unwrap();
    let r = ArchiveReader::from_bytes(&a).unwrap();
    assert_eq!(r.header().params.format_version, 3);
    let codecs: Vec<Codec> = r.entries().iter().map(|e| e.codec).collect();
    assert_eq!(
        codecs,
        [Codec::NeuralMatchColumns, Codec::NeuralMatch, Codec::Neural]
    );
    for c in [Codec::NeuralMatchLong, Codec::NeuralMatchLongColumns] {
        let mut w = ArchiveWriter::new(Vec::new(), &p3, None).unwrap();
        assert!(matches!(
            w.write_encoded(chunk, c, &payload),
            Err(ContainerError::CodecNeedsNewerFormat {
                needs: 4,
                version: 3,
                ..
            })
        ));
    }
    let p4 = ArchiveParams {
        format_version: 4,
        ..params(10)
    };
    let mut w = ArchiveWriter::new(Vec::new(), &p4, None).unwrap();
    let four = [
        Codec::NeuralMatchLong,
        Codec::NeuralMatchLongColumns,
        Codec::NeuralMatchColumns,
        Codec::Neural,
    ];
    for c in four {
        w.write_encoded(chunk, c, &payload).unwrap();
    }
    let a = w.finish().unwrap();
    let r = ArchiveReader::from_bytes(&a).unwrap();
    assert_eq!(r.header().params.format_version, 4);
    let codecs: Vec<Codec> = r.entries().iter().map(|e| e.codec).collect();
    assert_eq!(codecs, four);
    let mut w = ArchiveWriter::new(Vec::new(), &p4, None).unwrap();
    assert!(matches!(
        w.write_encoded(chunk, Codec::NeuralMatchLongColumnsHist, &payload),
        Err(ContainerError::CodecNeedsNewerFormat {
            needs: 5,
            version: 4,
            ..
        })
    ));
    let p5 = ArchiveParams {
        format_version: 5,
        ..params(10)
    };
    let mut w = ArchiveWriter::new(Vec::new(), &p5, None).unwrap();
    assert!(matches!(
        w.write_encoded(chunk, Codec::NeuralMatchLongText, &payload),
        Err(ContainerError::CodecNeedsNewerFormat {
            needs: 6,
            version: 5,
            ..
        })
    ));
    let mut w = ArchiveWriter::new(Vec::new(), &p5, None).unwrap();
    let five = [
        Codec::NeuralMatchLongColumnsHist,
        Codec::NeuralMatchLong,
        Codec::NeuralMatch,
    ];
    for c in five {
        w.write_encoded(chunk, c, &payload).unwrap();
    }
    let a = w.finish().unwrap();
    let r = ArchiveReader::from_bytes(&a).unwrap();
    assert_eq!(r.header().params.format_version, 5);
    let codecs: Vec<Codec> = r.entries().iter().map(|e| e.codec).collect();
    assert_eq!(codecs, five);
    let p6 = ArchiveParams {
        format_version: 6,
        ..params(10)
    };
    let mut w = ArchiveWriter::new(Vec::new(), &p6, None).unwrap();
    let six = [
        Codec::NeuralMatchLongText,
        Codec::NeuralMatchLongColumnsHist,
    ];
    for c in six {
        w.write_encoded(chunk, c, &payload).unwrap();
    }
    let a = w.finish().unwrap();
    let r = ArchiveReader::from_bytes(&a).unwrap();
    assert_eq!(r.header().params.format_version, 6);
    let codecs: Vec<Codec> = r.entries().iter().map(|e| e.codec).collect();
    assert_eq!(codecs, six);
    // Codec 9 (cm) only from version 7.
    let mut w = ArchiveWriter::new(Vec::new(), &p6, None).unwrap();
    let cm_payload = crate::cm::encode(&crate::cm::PROFILES[0], 0, chunk);
    assert!(matches!(
        w.write_encoded(chunk, Codec::Cm, &cm_payload),
        Err(ContainerError::CodecNeedsNewerFormat {
            needs: 7,
            version: 6,
            ..
        })
    ));
    // Codec 13 (the kinematic model) only from version 8.
    let p7 = ArchiveParams {
        format_version: 7,
        ..params(10)
    };
    let mut w = ArchiveWriter::new(Vec::new(), &p7, None).unwrap();
    assert!(matches!(
        w.write_encoded(chunk, Codec::NeuralMatchLongTextCmKin, &payload),
        Err(ContainerError::CodecNeedsNewerFormat {
            needs: 8,
            version: 7,
            ..
        })
    ));
    // Codecs 14 and 15 (the counting-field and column models) only from
    // version 9.
    let p8 = ArchiveParams {
        format_version: 8,
        ..params(10)
    };
    let mut w = ArchiveWriter::new(Vec::new(), &p8, None).unwrap();
    assert!(matches!(
        w.write_encoded(chunk, Codec::NeuralMatchLongTextCmKinCount, &payload),
        Err(ContainerError::CodecNeedsNewerFormat {
            needs: 9,
            version: 8,
            ..
        })
    ));
    assert!(matches!(
        w.write_encoded(chunk, Codec::NeuralMatchLongColumnsHistCmCol, &payload),
        Err(ContainerError::CodecNeedsNewerFormat {
            needs: 9,
            version: 8,
            ..
        })
    ));
    // Codecs 16 and 17 (the wide mixer) only from version 10.
    let p9 = ArchiveParams {
        format_version: 9,
        ..params(10)
    };
    let mut w = ArchiveWriter::new(Vec::new(), &p9, None).unwrap();
    for codec in [
        Codec::NeuralMatchLongTextCmKinCountWide,
        Codec::NeuralMatchLongColumnsHistCmColWide,
    ] {
        assert!(matches!(
            w.write_encoded(chunk, codec, &payload),
            Err(ContainerError::CodecNeedsNewerFormat {
                needs: 10,
                version: 9,
                ..
            })
        ));
    }
    // Codec 18 (the relation model) only from version 11.
    let p10 = ArchiveParams {
        format_version: 10,
        ..params(10)
    };
    let mut w = ArchiveWriter::new(Vec::new(), &p10, None).unwrap();
    assert!(matches!(
        w.write_encoded(
            chunk,
            Codec::NeuralMatchLongColumnsHistCmColWideRel,
            &payload
        ),
        Err(ContainerError::CodecNeedsNewerFormat {
            needs: 11,
            version: 10,
            ..
        })
    ));
    for c in Codec::ALL {
        assert_eq!(Codec::from_id(c.id()), Some(c));
    }
    assert_eq!(Codec::from_id(19), None);
}

#[test]
fn streaming_hash_matches_one_shot() {
    let data = sample(10_000, 5);
    let mut h = xxhash_rust::xxh3::Xxh3Default::new();
    for c in data.chunks(333) {
        h.update(c);
    }
    assert_eq!(h.digest(), xxh3_64(&data));
}

#[test]
fn errors_are_descriptive() {
    let e = ArchiveReader::from_bytes(b"hello").unwrap_err();
    assert_eq!(
        e.to_string(),
        "file is 5 bytes, shorter than the smallest archive (116 bytes)"
    );
    let (a, _) = small_archive();
    let e = ArchiveReader::from_bytes(&a[..a.len() - 1]).unwrap_err();
    assert!(e.to_string().contains("truncated"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        prop_assert!(full_check(&data).is_err());
    }

    /// Garbage behind a valid header and in front of a valid-looking footer.
    #[test]
    fn garbage_with_valid_frame(
        body in proptest::collection::vec(any::<u8>(), 0..300),
        count in 0u64..12,
    ) {
        let (a, _) = small_archive();
        let mut b = a[..44].to_vec();
        b.extend_from_slice(&body);
        let index_len = 33 * count + 32;
        let index_offset = (b.len() as u64).saturating_sub(index_len);
        let mut footer = [0u8; 40];
        footer[0..8].copy_from_slice(&index_offset.to_le_bytes());
        footer[8..16].copy_from_slice(&index_len.to_le_bytes());
        footer[16..24].copy_from_slice(&count.to_le_bytes());
        footer[24..32].copy_from_slice(&FOOTER_MAGIC);
        let sum = xxh3_64(&footer[..32]);
        footer[32..40].copy_from_slice(&sum.to_le_bytes());
        b.extend_from_slice(&footer);
        prop_assert!(full_check(&b).is_err());
    }

    #[test]
    fn mutations_detected(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..), 1..6),
    ) {
        let (a, _) = small_archive();
        let mut b = a.clone();
        for (at, x) in edits {
            let i = at.index(b.len());
            b[i] ^= x;
        }
        if b != a {
            prop_assert!(full_check(&b).is_err());
        }
    }

    #[test]
    fn round_trip_prop(
        data in proptest::collection::vec(prop_oneof![3 => Just(b'a'), 1 => any::<u8>()], 0..3000),
        chunk_len in 1u32..700,
        model in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..50)),
    ) {
        let a = build(&data, chunk_len, model.as_deref());
        let (m, out) = full_check(&a).unwrap();
        prop_assert_eq!(out, data.clone());
        prop_assert_eq!(m, model.clone());
        let bound = worst_case_len(data.len() as u64, chunk_len, model.map(|m| m.len() as u64)).unwrap();
        prop_assert!(a.len() as u64 <= bound);
    }
}
