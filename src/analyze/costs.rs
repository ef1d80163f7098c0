//! What an archive spends on each byte of its input: the archive's own chunks
//! replayed with their own codecs, models and strides, the coder left out.
//!
//! A byte's cost is `-log2` of the probability the coder gave it (for codecs
//! that code bits, the sum over its eight bits), so a chunk's costs add up to
//! its payload up to the coder's few flush bytes. Floats appear only here,
//! turning the integer shares into bits for the report; the predictions are
//! the archive's, bit for bit.

use crate::cm;
use crate::container::{ArchiveReader, Codec};
use crate::engine::cpu::graph::GROUP;
use crate::mixing::{Mixer, Mixing};
use crate::model::Model;
use rayon::prelude::*;

/// `-log2(numerator / 2^denominator_log2)`: the bits a decision of that
/// probability costs.
fn bits_of_share(numerator: u32, denominator_log2: u32) -> f64 {
    f64::from(denominator_log2) - f64::from(numerator.max(1)).log2()
}

/// A chunk of the input coded by the network: where it starts and what was
/// mixed into the network's tables.
struct NeuralChunk<'a> {
    start: usize,
    data: &'a [u8],
    mixing: Mixing,
}

/// The bits the archive `archive`, which holds `data`, spends on each byte
/// of `data`. `model` is the model the archive was written with (needed only
/// if a chunk runs the network). An error if the archive does not open, does
/// not hold `data`, or names a codec this replay does not know.
pub fn archive_byte_bits(
    model: Option<&Model>,
    archive: &[u8],
    data: &[u8],
) -> Result<Vec<f32>, String> {
    let mut reader = ArchiveReader::from_bytes(archive).map_err(|e| e.to_string())?;
    if reader.total_len() != data.len() as u64 {
        return Err(format!(
            "the archive holds {} bytes, the input has {}",
            reader.total_len(),
            data.len()
        ));
    }
    let mut bits = vec![0f32; data.len()];
    let mut neural = Vec::new();
    let mut context_mixed = Vec::new();
    let mut start = 0usize;
    let entries = reader.entries().to_vec();
    for (index, e) in entries.iter().enumerate() {
        let len = e.original_size as usize;
        let chunk = &data[start..start + len];
        reader
            .verify_chunk(index, chunk)
            .map_err(|e| e.to_string())?;
        let payload = reader.read_payload(index).map_err(|e| e.to_string())?;
        match e.codec {
            Codec::Stored => bits[start..start + len].fill(8.0),
            Codec::Cm => {
                let (profile, stride, _) = cm::parse(&payload).map_err(|e| e.to_string())?;
                context_mixed.push((start, chunk, profile, stride));
            }
            Codec::Zstd => {
                // No per-byte model: the payload spread evenly.
                let per_byte = (payload.len() as f64 * 8.0 / len.max(1) as f64) as f32;
                bits[start..start + len].fill(per_byte);
            }
            codec => {
                let (mixing, _) = Mixing::from_payload(codec, &payload)?;
                neural.push(NeuralChunk {
                    start,
                    data: chunk,
                    mixing,
                });
            }
        }
        start += len;
    }
    let cm_bits: Vec<(usize, Vec<f32>)> = context_mixed
        .par_iter()
        .map(|&(start, chunk, profile, stride)| {
            let mut out = Vec::with_capacity(chunk.len());
            let mut acc = 0f64;
            let mut k = 0;
            cm::bit_shares(profile, stride, chunk, |s| {
                acc += bits_of_share(s, crate::coder::BIT_PRECISION_BITS);
                k += 1;
                if k == 8 {
                    out.push(acc as f32);
                    acc = 0.0;
                    k = 0;
                }
            });
            (start, out)
        })
        .collect();
    for (start, b) in cm_bits {
        bits[start..start + b.len()].copy_from_slice(&b);
    }
    if !neural.is_empty() {
        let model = model.ok_or("the archive runs the network, and no model was given")?;
        let groups: Vec<Vec<(usize, Vec<f32>)>> = neural
            .par_chunks(GROUP)
            .map(|g| replay_group(model, g))
            .collect();
        for (start, b) in groups.into_iter().flatten() {
            bits[start..start + b.len()].copy_from_slice(&b);
        }
    }
    Ok(bits)
}

/// Each chunk's start and per-byte bits, the chunks of `group` stepped
/// together ([`crate::eval::step_chunks`]) with their own mixing.
fn replay_group(model: &Model, group: &[NeuralChunk<'_>]) -> Vec<(usize, Vec<f32>)> {
    let mut mixers: Vec<Mixer> = group
        .iter()
        .map(|c| Mixer::new(c.mixing, c.data.len()))
        .collect();
    let mut bits: Vec<Vec<f32>> = group
        .iter()
        .map(|c| Vec::with_capacity(c.data.len()))
        .collect();
    let chunks: Vec<&[u8]> = group.iter().map(|c| c.data).collect();
    crate::eval::step_chunks(model, &chunks, |i, t, f| {
        let mut cost = 0f64;
        mixers[i].coded_shares(chunks[i], t, f, |num, den| {
            cost += bits_of_share(num, den);
        });
        bits[i].push(cost as f32);
    });
    group.iter().map(|c| c.start).zip(bits).collect()
}
