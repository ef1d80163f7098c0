//! Exact code length of a model on data: what `boa-det model eval` prints.
//!
//! The input is cut into chunks exactly as the archive does (each chunk a fresh
//! stream primed with `PRIME_BYTE`), so the figure is the archive's payload size
//! up to the range coder's few flush bytes. Floats appear only in the final
//! `log2` used for reporting, never in the frequencies.

use crate::engine::{CpuEngine, Engine, FREQ_TOTAL, Frequencies, PRIME_BYTE};
use crate::mixing::{Mixer, Mixing};
use crate::model::Model;

/// Result of evaluating a model on one input.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CodeLength {
    pub bytes: u64,
    /// Ideal code length in bits: sum of `-log2(freq / 2^24)`.
    pub bits: f64,
    /// Bytes that were the model's most probable prediction.
    pub top1: u64,
}

impl CodeLength {
    pub fn bits_per_byte(&self) -> f64 {
        if self.bytes == 0 {
            0.0
        } else {
            self.bits / self.bytes as f64
        }
    }
    pub fn top1_accuracy(&self) -> f64 {
        if self.bytes == 0 {
            0.0
        } else {
            self.top1 as f64 / self.bytes as f64
        }
    }
}

/// Evaluates `model` on `data` cut into `chunk_len` chunks, all stepped together.
pub fn code_length(model: &Model, data: &[u8], chunk_len: usize) -> CodeLength {
    code_length_with(model, data, chunk_len, Mixing::NETWORK_ONLY)
}

/// [`code_length`] with `mixing` applied to the network's frequencies, as the
/// matching codec codes the chunks (its payload prefix, if any, not counted).
pub fn code_length_with(
    model: &Model,
    data: &[u8],
    chunk_len: usize,
    mixing: Mixing,
) -> CodeLength {
    evaluate(model, data, chunk_len, mixing, None)
}

/// The frequencies (out of `2^24`) one byte of the input was coded with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ByteFrequencies {
    /// The network's frequency of the byte, before the match model.
    pub network: u32,
    /// The frequency the byte is coded with (after `mixing`).
    pub coded: u32,
}

/// [`code_length_with`] and, per byte of `data` in input order, the
/// frequencies it summed: the raw material of offline studies that mix a
/// candidate model into the coded table (`boa-det model eval
/// --dump-frequencies`, `quantize/train/tools/mix_probe.py`). One pass.
pub fn code_length_and_byte_frequencies(
    model: &Model,
    data: &[u8],
    chunk_len: usize,
    mixing: Mixing,
) -> (CodeLength, Vec<ByteFrequencies>) {
    let mut per_byte = vec![ByteFrequencies::default(); data.len()];
    let res = evaluate(model, data, chunk_len, mixing, Some(&mut per_byte));
    (res, per_byte)
}

/// Steps every chunk of `data` together and sums the code length; records
/// each byte's frequencies in `per_byte` (indexed by position in `data`) if given.
fn evaluate(
    model: &Model,
    data: &[u8],
    chunk_len: usize,
    mixing: Mixing,
    mut per_byte: Option<&mut [ByteFrequencies]>,
) -> CodeLength {
    let chunk_len = chunk_len.max(1);
    let chunks: Vec<&[u8]> = data.chunks(chunk_len).collect();
    let mut mixers: Vec<Mixer> = chunks.iter().map(|c| Mixer::new(mixing, c.len())).collect();
    let mut res = CodeLength::default();
    let total_log2 = (FREQ_TOTAL as f64).log2();
    step_chunks(model, &chunks, |i, t, f| {
        let c = chunks[i];
        let sym = c[t];
        let network = f[sym as usize];
        mixers[i].coded(c, t, f);
        if let Some(p) = per_byte.as_deref_mut() {
            p[i * chunk_len + t] = ByteFrequencies {
                network,
                coded: f[sym as usize],
            };
        }
        res.bits += total_log2 - (f[sym as usize] as f64).log2();
        let best = f
            .iter()
            .enumerate()
            .max_by_key(|&(k, &v)| (v, std::cmp::Reverse(k)))
            .map(|(k, _)| k);
        res.top1 += (best == Some(sym as usize)) as u64;
        res.bytes += 1;
    });
    res
}

/// Steps the `chunks` together on one CPU engine, each a fresh stream
/// primed with [`PRIME_BYTE`] as the compressor codes it, and hands each
/// byte `t` of chunk `i` to `byte(i, t, table)` with the network's table for
/// it (which the callee may reshape). Shared by [`evaluate`] and
/// `analyze::costs`.
pub(crate) fn step_chunks(
    model: &Model,
    chunks: &[&[u8]],
    mut byte: impl FnMut(usize, usize, &mut Frequencies),
) {
    let n = chunks.len();
    let mut engine = CpuEngine::with_streams(model, n);
    let mut out = vec![Frequencies::default(); n];
    let mut bytes_in = vec![PRIME_BYTE; n];
    let mut live = vec![true; n];
    let longest = chunks.iter().map(|c| c.len()).max().unwrap_or(0);
    for t in 0..longest {
        for (l, c) in live.iter_mut().zip(chunks) {
            *l = c.len() > t;
        }
        if let Err(e) = engine.step(&bytes_in, &live, &mut out) {
            unreachable!("eval steps the CPU engine by the interface's rules: {e}");
        }
        for (i, c) in chunks.iter().enumerate().filter(|(_, c)| c.len() > t) {
            byte(i, t, &mut out[i]);
            bytes_in[i] = c[t];
        }
    }
}
