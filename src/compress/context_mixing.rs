//! The compressor pipeline for the context-mixing codec (codec `cm`,
//! [`crate::cm`]): chunks are coded in parallel, each an independent stream,
//! with one record stride chosen for the whole input by a trial. No network
//! runs, so no model is needed to decode (the header still names the model
//! the archive was written beside).

use super::{EncodeProgress, PipelineError, RecordStride, TRIAL_LEN, incompressible, read_full};
use crate::cm::{self, Profile};
use crate::container::{ArchiveParams, ArchiveWriter, ChunkEntry, Codec};
use crate::model::Model;
use rayon::prelude::*;
use std::io::{Read, Write};

/// Bytes of the input's start searched for record strides.
pub const STRIDE_SAMPLE_LEN: usize = 32 << 10;

/// The record stride (0 for none) the context-mixing codec uses for an input
/// starting with `head`: the given one, none, or with
/// [`RecordStride::Auto`] the candidate of
/// [`crate::mixing::record_stride::record_stride_candidates`] (on the first
/// [`STRIDE_SAMPLE_LEN`] bytes) whose trial
/// encoding of [`TRIAL_LEN`] bytes (the second such stretch of `head` if it
/// has one) is smallest, none unless one is smaller than without. A pure
/// function of the input.
pub fn choose_stride(profile: &'static Profile, head: &[u8], records: RecordStride) -> u32 {
    let candidates = match records {
        RecordStride::Off => return 0,
        RecordStride::Fixed(s) => return s,
        // A shorter sample than the network's: the lag scan costs
        // `sample * sample / 4` byte comparisons, which at 128 KiB took a
        // third of a 1 MiB chunk's time at level 1. Strides up to 8 KiB.
        RecordStride::Auto => crate::mixing::record_stride::record_stride_candidates(
            &head[..head.len().min(STRIDE_SAMPLE_LEN)],
        ),
    };
    if candidates.is_empty() {
        return 0;
    }
    let trial = if head.len() >= 2 * TRIAL_LEN {
        &head[TRIAL_LEN..2 * TRIAL_LEN]
    } else {
        &head[..head.len().min(TRIAL_LEN)]
    };
    if incompressible::looks_incompressible(trial) {
        return 0;
    }
    let all: Vec<u32> = std::iter::once(0).chain(candidates).collect();
    let sizes: Vec<usize> = all
        .par_iter()
        .map(|&s| cm::encode(profile, s, trial).len())
        .collect();
    // The smallest; ties go to the earlier candidate (no stride first).
    let k = (0..all.len()).min_by_key(|&k| sizes[k]).unwrap_or(0);
    all[k]
}

/// Encodes one chunk: its payload, or the chunk itself (which the archive
/// stores) when it looks incompressible.
fn encode_chunk(profile: &'static Profile, stride: u32, chunk: &[u8]) -> Vec<u8> {
    if incompressible::looks_incompressible(chunk) {
        chunk.to_vec()
    } else {
        cm::encode(profile, stride, chunk)
    }
}

/// [`super::compress_observed`] with the context-mixing codec in `profile`.
#[allow(clippy::too_many_arguments)]
pub(super) fn compress<W: Write>(
    model: &Model,
    mut input: impl Read,
    out: W,
    chunk_len: usize,
    profile: &'static Profile,
    records: RecordStride,
    embed_model: bool,
    progress: EncodeProgress<'_>,
    on_chunk: &mut dyn FnMut(&ChunkEntry),
) -> Result<(W, u64), PipelineError> {
    // Enough chunks per read to keep every thread busy, and at least the
    // stride trial's sample (the archive depends on neither).
    let threads = rayon::current_num_threads().max(1);
    let window = (2 * threads)
        .max(crate::mixing::record_stride::SAMPLE_LEN.div_ceil(chunk_len))
        .max((2 * TRIAL_LEN).div_ceil(chunk_len));
    let mut buf = vec![0u8; chunk_len * window];
    let mut got = read_full(&mut input, &mut buf)?;
    let stride = choose_stride(profile, &buf[..got], records);
    let params = ArchiveParams {
        format_version: Codec::Cm.min_format_version(),
        arith_version: model.arith.number(),
        model_fingerprint: model.fingerprint().0,
        chunk_len: chunk_len as u32,
    };
    let blob = embed_model.then(|| model.to_bytes());
    let mut writer = ArchiveWriter::new(out, &params, blob.as_deref())?;
    let mut done = 0u64;
    while got > 0 {
        let chunks: Vec<&[u8]> = buf[..got].chunks(chunk_len).collect();
        let payloads: Vec<Vec<u8>> = chunks
            .par_iter()
            .map(|c| {
                let p = encode_chunk(profile, stride, c);
                progress(c.len() as u64, p.len().min(c.len()) as u64);
                p
            })
            .collect();
        for (c, p) in chunks.iter().zip(&payloads) {
            on_chunk(&writer.write_encoded(c, Codec::Cm, p)?);
        }
        done += got as u64;
        if got < buf.len() {
            break;
        }
        got = read_full(&mut input, &mut buf)?;
    }
    Ok((writer.finish()?, done))
}

/// Decodes the context-mixing payloads `(payload, original length)` in
/// parallel; per chunk the bytes or why they cannot be decoded.
pub fn decode_chunks(chunks: &[(&[u8], usize)]) -> Vec<Result<Vec<u8>, cm::CmError>> {
    chunks
        .par_iter()
        .map(|&(p, len)| cm::decode(p, len))
        .collect()
}
