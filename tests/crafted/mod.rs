//! The crafted-archive corpus: hostile `.boa` files that a decoder must reject
//! quickly and cleanly. Written by an independent implementation of the
//! container layout of `docs/FORMAT.md` (sections 2 to 7), not by the
//! library's writer, which refuses to write most of them.
//!
//! `tests/crafted_archives.rs` checks that the committed files in
//! `tests/crafted/` are exactly what [`corpus`] generates (and match the
//! hashes in `tests/crafted/manifest.tsv`), then runs each through the real
//! binary. Regenerate with
//! `BOA_DET_WRITE_CRAFTED=1 cargo test --test crafted_archives`.

use xxhash_rust::xxh3::xxh3_64;

/// How the decoder must answer an archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Rejected when opened (`decompress`, `verify` and `list` all fail, exit 5).
    RejectedOnOpen,
    /// Opens (`list` succeeds) but every chunk fails to decode (exit 5).
    BadChunks,
}

impl Expect {
    pub fn name(self) -> &'static str {
        match self {
            Expect::RejectedOnOpen => "rejected-on-open",
            Expect::BadChunks => "bad-chunks",
        }
    }
}

/// One crafted archive.
pub struct Crafted {
    pub name: String,
    pub bytes: Vec<u8>,
    pub expect: Expect,
    pub why: String,
}

/// One chunk as the index will describe it: `claimed` original bytes (whose
/// hash is made up) behind `payload`.
struct ChunkSpec {
    codec: u8,
    claimed: u32,
    payload: Vec<u8>,
}

/// The archive header, index and footer around `chunks`, with every checksum
/// right: only the claims are false.
fn archive(
    format_version: u16,
    fingerprint: [u8; 16],
    chunk_len: u32,
    chunks: &[ChunkSpec],
) -> Vec<u8> {
    let mut a = Vec::new();
    a.extend_from_slice(b"BOADET\x00\x01");
    a.extend_from_slice(&format_version.to_le_bytes());
    a.extend_from_slice(&2u16.to_le_bytes()); // arith version 2 (default v5)
    a.extend_from_slice(&0u32.to_le_bytes()); // flags: no embedded model
    a.extend_from_slice(&fingerprint);
    a.extend_from_slice(&chunk_len.to_le_bytes());
    let h = xxh3_64(&a[..36]);
    a.extend_from_slice(&h.to_le_bytes());
    let mut index = Vec::new();
    let mut total = 0u64;
    for (i, c) in chunks.iter().enumerate() {
        let offset = a.len() as u64;
        a.extend_from_slice(&c.payload);
        index.extend_from_slice(&offset.to_le_bytes());
        index.extend_from_slice(&(c.payload.len() as u32).to_le_bytes());
        index.extend_from_slice(&c.claimed.to_le_bytes());
        index.push(c.codec);
        // A made-up original hash; a stored chunk's must equal its payload's.
        let payload_hash = xxh3_64(&c.payload);
        let original_hash = if c.codec == 0 {
            payload_hash
        } else {
            0x0123_4567_89ab_cdef ^ i as u64
        };
        index.extend_from_slice(&original_hash.to_le_bytes());
        index.extend_from_slice(&payload_hash.to_le_bytes());
        total += u64::from(c.claimed);
    }
    let index_offset = a.len() as u64;
    index.extend_from_slice(&total.to_le_bytes());
    index.extend_from_slice(&(chunks.len() as u64).to_le_bytes());
    index.extend_from_slice(&0xfeed_f00d_u64.to_le_bytes()); // content hash (made up)
    let s = xxh3_64(&index);
    index.extend_from_slice(&s.to_le_bytes());
    a.extend_from_slice(&index);
    let mut footer = Vec::new();
    footer.extend_from_slice(&index_offset.to_le_bytes());
    footer.extend_from_slice(&(index.len() as u64).to_le_bytes());
    footer.extend_from_slice(&(chunks.len() as u64).to_le_bytes());
    footer.extend_from_slice(b"BOAEND\x00\x01");
    let f = xxh3_64(&footer);
    footer.extend_from_slice(&f.to_le_bytes());
    a.extend_from_slice(&footer);
    a
}

/// Deterministic filler bytes (a 64-bit LCG), so the corpus is reproducible.
fn filler(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 56) as u8
        })
        .collect()
}

/// The neural codecs: id, name, first format version, and whether the payload
/// starts with a u32 record stride.
const NEURAL: [(u8, &str, u16, bool); 7] = [
    (1, "neural", 1, false),
    (3, "neural-match", 2, false),
    (4, "neural-match-columns", 3, true),
    (5, "neural-match-long", 4, false),
    (6, "neural-match-long-columns", 4, true),
    (7, "neural-match-long-columns-hist", 5, true),
    (8, "neural-match-long-text", 6, false),
];

/// `len` payload bytes for codec `id`: a stride of 8 first where the codec
/// has one, then filler (or zeros).
fn payload(has_stride: bool, len: usize, seed: u64, zeros: bool) -> Vec<u8> {
    let mut p = if zeros {
        vec![0; len]
    } else {
        filler(len, seed)
    };
    if has_stride {
        p[..4].copy_from_slice(&8u32.to_le_bytes());
    }
    p
}

/// The whole corpus. `fingerprint` is the built-in default model's, so that a
/// decoder which accepted the claims would really run the model.
pub fn corpus(fingerprint: [u8; 16]) -> Vec<Crafted> {
    const MIB64: u32 = 64 << 20;
    let mut out = Vec::new();
    // The case: 32 chunks of 64 MiB, each behind a 16-byte payload, for
    // every codec (the stored and zstd ids too).
    for (id, name, version, stride) in NEURAL {
        let chunks: Vec<ChunkSpec> = (0..32)
            .map(|i| ChunkSpec {
                codec: id,
                claimed: MIB64,
                payload: payload(stride, 16, i, false),
            })
            .collect();
        out.push(Crafted {
            name: format!("claim-32x64MiB-16B-{name}"),
            bytes: archive(version, fingerprint, MIB64, &chunks),
            expect: Expect::RejectedOnOpen,
            why: format!("32 chunks of codec {id} claim 64 MiB each behind 16-byte payloads"),
        });
    }
    // A stored chunk must be its payload; the reserved zstd codec opens but
    // this build decodes none of it.
    for (id, name, expect) in [
        (0u8, "stored", Expect::RejectedOnOpen),
        (2, "zstd", Expect::BadChunks),
    ] {
        let chunks: Vec<ChunkSpec> = (0..32)
            .map(|i| ChunkSpec {
                codec: id,
                claimed: MIB64,
                payload: filler(16, i),
            })
            .collect();
        out.push(Crafted {
            name: format!("claim-32x64MiB-16B-{name}"),
            bytes: archive(6, fingerprint, MIB64, &chunks),
            expect,
            why: format!("32 chunks of codec {id} claim 64 MiB each behind 16-byte payloads"),
        });
    }
    // Claims just inside what a payload can encode (`coder::max_symbols`): the
    // archive opens, and each stream must stop at its first failure instead
    // of stepping the model to the claimed length. 8 chunks of every neural
    // codec, 24-byte payloads claiming 256 KiB each.
    for (id, name, version, stride) in NEURAL {
        let chunks: Vec<ChunkSpec> = (0..8)
            .map(|i| ChunkSpec {
                codec: id,
                claimed: 256 << 10,
                payload: payload(stride, 24, 100 + i, false),
            })
            .collect();
        out.push(Crafted {
            name: format!("claim-8x256KiB-24B-{name}"),
            bytes: archive(version, fingerprint, 256 << 10, &chunks),
            expect: Expect::BadChunks,
            why: format!("8 chunks of codec {id} claim 256 KiB each behind 24 random bytes"),
        });
    }
    // All-zero payloads: the decoder reads symbol 0 wherever the table allows,
    // the cheapest path through a stream, so these run furthest before the
    // stream fails. One 1 MiB chunk of every neural codec behind 32 zeros.
    for (id, name, version, stride) in NEURAL {
        let chunks = [ChunkSpec {
            codec: id,
            claimed: 1 << 20,
            payload: payload(stride, 32, 0, true),
        }];
        out.push(Crafted {
            name: format!("claim-1MiB-32B-zeros-{name}"),
            bytes: archive(version, fingerprint, 1 << 20, &chunks),
            expect: Expect::BadChunks,
            why: format!("one chunk of codec {id} claims 1 MiB behind 32 zero bytes"),
        });
    }
    // Codec 9 (cm, format version 7): a payload is a profile byte, a u32
    // stride and the stream, and `cm::max_decoded_len` bounds the claim.
    let cm = |len: usize, seed: u64| {
        let mut p = vec![1u8, 0, 0, 0, 0];
        p.extend(filler(len - 5, seed));
        p
    };
    let chunks: Vec<ChunkSpec> = (0..32)
        .map(|i| ChunkSpec {
            codec: 9,
            claimed: MIB64,
            payload: cm(16, i),
        })
        .collect();
    out.push(Crafted {
        name: "claim-32x64MiB-16B-cm".into(),
        bytes: archive(7, fingerprint, MIB64, &chunks),
        expect: Expect::RejectedOnOpen,
        why: "32 chunks of codec 9 claim 64 MiB each behind 16-byte payloads".into(),
    });
    // Just inside the claim rule (19 stream bytes hold at most 56,760): the
    // decoder runs each stream to its end and the chunks fail their checks.
    let chunks: Vec<ChunkSpec> = (0..8)
        .map(|i| ChunkSpec {
            codec: 9,
            claimed: 48 << 10,
            payload: cm(24, 200 + i),
        })
        .collect();
    // Codecs 10 to 12 (the network's tables coded by the context mixer):
    // their claim rule is codec 9's, so the cases above are refused on
    // opening; just inside it, each stream runs to its end and fails its
    // checks.
    for (id, name, has_stride) in [
        (10u8, "neural-match-long-cm", false),
        (11, "neural-match-long-columns-hist-cm", true),
        (12, "neural-match-long-text-cm", false),
    ] {
        let chunks: Vec<ChunkSpec> = (0..32)
            .map(|i| ChunkSpec {
                codec: id,
                claimed: 256 << 10,
                payload: payload(has_stride, 24, 300 + i, false),
            })
            .collect();
        out.push(Crafted {
            name: format!("claim-32x256KiB-24B-{name}"),
            bytes: archive(7, fingerprint, 256 << 10, &chunks),
            expect: Expect::RejectedOnOpen,
            why: format!("32 chunks of codec {id} claim 256 KiB each behind 24-byte payloads"),
        });
        let chunks: Vec<ChunkSpec> = (0..4)
            .map(|i| ChunkSpec {
                codec: id,
                claimed: 8 << 10,
                payload: payload(has_stride, 24, 400 + i, false),
            })
            .collect();
        out.push(Crafted {
            name: format!("claim-4x8KiB-24B-{name}"),
            bytes: archive(7, fingerprint, 8 << 10, &chunks),
            expect: Expect::BadChunks,
            why: format!("4 chunks of codec {id} claim 8 KiB each behind 24 random bytes"),
        });
    }
    out.push(Crafted {
        name: "claim-8x48KiB-24B-cm".into(),
        bytes: archive(7, fingerprint, 48 << 10, &chunks),
        expect: Expect::BadChunks,
        why: "8 chunks of codec 9 claim 48 KiB each behind 24-byte payloads of random stream bytes"
            .into(),
    });
    out
}
