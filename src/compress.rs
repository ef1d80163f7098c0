//! The compressor pipeline: input -> chunks -> batched neural coding -> `.boa`.
//!
//! The input is cut into chunks of `chunk_len` bytes (`docs/FORMAT.md` section
//! 5). Every chunk is an independent stream with a fresh [`StreamState`]
//! primed with [`PRIME_BYTE`]. Chunks are coded in windows of at most
//! `window` chunks, in parallel on the current rayon pool: encoding is one task
//! per chunk, time-batched (all bytes are known, [`encode_chunk`]); decoding
//! steps groups of chunks byte by byte together ([`decode_chunks`]). Each
//! stream's bytes depend only on its chunk and the model, so the archive is the
//! same for any thread count and any window size. Memory is bounded by the
//! window: about `window * chunk_len` bytes of input plus the same of output.

use crate::coder::{CoderError, RangeDecoder, RangeEncoder};
use crate::container::{
    ArchiveParams, ArchiveReader, ArchiveWriter, ChunkEntry, Codec, ContainerError, MAX_CHUNK_LEN,
};
use crate::engine::{Device, Engine, EngineError, Frequencies, PRIME_BYTE};
use crate::mixing::record_stride::{MAX_RECORD_STRIDE, MIN_RECORD_STRIDE};
use crate::mixing::{CODECS, Mixer, Mixing, Stage};
use crate::model::{Fingerprint, Model};
use rayon::prelude::*;
use std::io::{Read, Seek, Write};
use std::ops::Range;
use thiserror::Error;
use xxhash_rust::xxh3::Xxh3Default;

pub mod context_mixing;
pub mod incompressible;

/// Default chunk length: 4 KiB, chosen from measurements with default model v1
/// (docs/FORMAT.md section 5.1).
pub const DEFAULT_CHUNK_LEN: u32 = 4 << 10;

/// Default number of chunks coded together (bounds memory; not derived from
/// the thread count, and the output does not depend on it).
pub const DEFAULT_WINDOW: usize = 256;

/// Where progress goes: called with the number of original bytes just
/// finished, from worker threads, as each chunk is encoded and about every
/// [`PROGRESS_STEP`] bytes of decoding. The sum over a run is the bytes the
/// run coded; a progress bar adds them up.
pub type Progress<'a> = &'a (dyn Fn(u64) + Sync);

/// Where the encoder's progress goes: called from worker threads as each
/// chunk is encoded, with its original length and the length the archive
/// stores for it (its payload, or the chunk itself where that is shorter).
/// A progress bar shows the ratio so far from the sums.
pub type EncodeProgress<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// A [`Progress`] that ignores everything.
pub const NO_PROGRESS: Progress<'static> = &|_| {};

/// Decoded bytes a group of streams accumulates before it reports progress.
pub const PROGRESS_STEP: u64 = 1 << 16;

/// Errors of the pipeline, grouped the way the CLI maps them to exit codes.
#[derive(Debug, Error)]
pub enum PipelineError {
    /// Reading the input or writing the output failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The model is missing, invalid or does not match the archive.
    #[error("{0}")]
    Model(String),
    /// The archive is malformed or fails a check.
    #[error("{0}")]
    Corrupt(String),
    /// Bad parameters (chunk length, byte range).
    #[error("{0}")]
    Usage(String),
    /// Decoding would exceed a [`DecodeLimits`] limit.
    #[error("{0}")]
    Limit(String),
    /// The device cannot run the model, or failed.
    #[error("{0}")]
    Device(#[from] EngineError),
}

impl From<ContainerError> for PipelineError {
    fn from(e: ContainerError) -> Self {
        match e {
            ContainerError::Io(io) => PipelineError::Io(io),
            other => PipelineError::Corrupt(other.to_string()),
        }
    }
}

/// Parameters of [`compress`].
#[derive(Debug, Clone, Copy)]
pub struct CompressOptions {
    /// Chunk length, `1..=MAX_CHUNK_LEN`.
    pub chunk_len: u32,
    /// Store the model file bytes in the archive.
    pub embed_model: bool,
    /// Chunks coded together, `>= 1`.
    pub window: usize,
    /// Mix the match model into the network's frequencies (codec
    /// `NeuralMatchLong`, or `NeuralMatch` without `long_finder`); otherwise
    /// the network alone (codec `Neural`).
    pub match_model: bool,
    /// Whether to add the column finder (codec `NeuralMatchLongColumns`, or
    /// `NeuralMatchColumns` without `long_finder`); only with `match_model`.
    pub records: RecordStride,
    /// Whether the match model has the long finder (codecs `NeuralMatchLong`
    /// and `NeuralMatchLongColumns`, format version 4, the default). `false`
    /// writes codecs `NeuralMatch` and `NeuralMatchColumns`, which readers
    /// since format version 3 read.
    pub long_finder: bool,
    /// Whether a stream with a column finder and the long finder also mixes
    /// in the column histograms (codec `NeuralMatchLongColumnsHist`, format
    /// version 5, the default). `false` writes codec `NeuralMatchLongColumns`
    /// instead, which readers since format version 4 read.
    pub column_histograms: bool,
    /// Whether a stream with the long finder mixes in the text field
    /// histograms instead of a column finder (codec `NeuralMatchLongText`,
    /// format version 6). [`TextFields::Off`] never does, which readers
    /// since format version 5 read.
    pub text_fields: TextFields,
    /// Whether the network's codecs code the mixed table bit by bit with the
    /// context mixer (the `+cm` codecs, format version 7, `-5`).
    pub network_context_mixing: bool,
    /// Whether that mixer takes the kinematic model as an input on text of
    /// fields (codec 13, format version 8, `-6`).
    pub kinematics: bool,
    /// Whether that mixer also takes the counting-field model (codec 14,
    /// format version 9, `-7`).
    pub counting: bool,
    /// Whether that mixer takes the column models on tables of records
    /// (codec 15, format version 9, `-7`).
    pub column_models: bool,
    /// Whether that mixer is the wide mixer: more contexts, longer match
    /// models and on text the field mixer (codecs 16 and 17, format version
    /// 10, `-8`).
    pub wide_mixer: bool,
    /// Whether that mixer takes the relation model on tables of records
    /// (codec 18, format version 11, `-9`).
    pub relations: bool,
    /// Whether the codec trial codes [`TRIAL_LEN`] bytes of a longer first
    /// chunk rather than the whole chunk (`-9`): the chunk is then coded
    /// once more with the choice, but a 1 MiB chunk with three candidates
    /// costs about 1.2 codings in place of 3.
    pub short_trial: bool,
    /// Whether the chunks of a table whose records are too long for
    /// `chunk_len` to hold [`MIN_RECORDS_PER_CHUNK`] of them grow to that many
    /// records (at most [`MAX_GROWN_CHUNK_LEN`]). `false` keeps `chunk_len`
    /// (as `boa-det compress --chunk-size` does).
    pub grow_chunks: bool,
    /// Where the network runs; the archive does not depend on it.
    pub device: Device,
    /// Code with the context-mixing codec in this profile instead of the
    /// network (codec `cm`, format version 7); only `chunk_len`,
    /// `embed_model` and `records` apply then.
    pub context_mixing: Option<&'static crate::cm::Profile>,
}

impl CompressOptions {
    /// What `boa-det compress` uses with no options for `model`: the defaults
    /// with the model's chunk length ([`crate::default_models::compress_chunk_len`]).
    /// Every front end (the CLI, the Python package) starts from these, so
    /// they write the same bytes.
    pub fn for_model(model: &Model) -> CompressOptions {
        CompressOptions {
            chunk_len: crate::default_models::compress_chunk_len(model),
            ..CompressOptions::default()
        }
    }

    /// Whether these options let the compressor mix in `stage` (the column
    /// finder: given a stride or allowed to detect one).
    pub fn allows(&self, stage: Stage) -> bool {
        match stage {
            Stage::MatchFinders => self.match_model,
            Stage::ColumnFinder => self.records != RecordStride::Off,
            Stage::LongFinder => self.long_finder,
            Stage::ColumnHistograms => self.column_histograms,
            Stage::TextFields => self.text_fields != TextFields::Off,
            Stage::ContextMixing => self.network_context_mixing,
            Stage::Kinematics => self.kinematics,
            Stage::Counting => self.counting,
            Stage::ColumnModels => self.column_models,
            Stage::WideMixer => self.wide_mixer,
            Stage::Relations => self.relations,
        }
    }

    /// These options without `stage`.
    pub fn disallow(mut self, stage: Stage) -> Self {
        match stage {
            Stage::MatchFinders => self.match_model = false,
            Stage::ColumnFinder => self.records = RecordStride::Off,
            Stage::LongFinder => self.long_finder = false,
            Stage::ColumnHistograms => self.column_histograms = false,
            Stage::TextFields => self.text_fields = TextFields::Off,
            Stage::ContextMixing => self.network_context_mixing = false,
            Stage::Kinematics => self.kinematics = false,
            Stage::Counting => self.counting = false,
            Stage::ColumnModels => self.column_models = false,
            Stage::WideMixer => self.wide_mixer = false,
            Stage::Relations => self.relations = false,
        }
        self
    }

    /// These options without what format version `version` cannot hold: the
    /// stages no codec of that version mixes in ([`CODECS`]).
    pub fn for_format_version(self, version: u16) -> Self {
        let held = |stage| {
            CODECS.iter().any(|c| {
                c.min_format_version <= version && c.recipe.is_some_and(|r| r.contains(&stage))
            })
        };
        Stage::ALL
            .into_iter()
            .filter(|&s| !held(s))
            .fold(self, Self::disallow)
    }

    /// Options that write `codec` (a neural codec): exactly its stages, the
    /// text field histograms always if it has them. A codec with a column
    /// finder takes its stride from `records`, which should be
    /// [`RecordStride::Fixed`] (with `Auto`, the trial may still choose the
    /// codec without it).
    pub fn for_codec(self, codec: Codec) -> Self {
        let recipe = codec.spec().recipe.unwrap_or(&[]);
        let mut o = Stage::ALL
            .into_iter()
            .filter(|s| !recipe.contains(s))
            .fold(self, Self::disallow);
        o.match_model = recipe.contains(&Stage::MatchFinders);
        o.long_finder = recipe.contains(&Stage::LongFinder);
        o.column_histograms = recipe.contains(&Stage::ColumnHistograms);
        o.network_context_mixing = recipe.contains(&Stage::ContextMixing);
        o.kinematics = recipe.contains(&Stage::Kinematics);
        o.counting = recipe.contains(&Stage::Counting);
        o.column_models = recipe.contains(&Stage::ColumnModels);
        o.wide_mixer = recipe.contains(&Stage::WideMixer);
        o.relations = recipe.contains(&Stage::Relations);
        if recipe.contains(&Stage::TextFields) {
            o.text_fields = TextFields::Always;
        }
        o
    }
}

/// Records a chunk of a table should hold: the column finder and histograms
/// learn per column, and a chunk of a few wide records teaches them little
/// (measured in `docs/MODELS.md`, "Chunks of wide records").
pub const MIN_RECORDS_PER_CHUNK: usize = 32;
/// Chunks grown for wide records stay at most this long (1 MiB).
pub const MAX_GROWN_CHUNK_LEN: usize = 1 << 20;

/// The chunk length for records of `stride` bytes: `chunk_len`, or
/// [`MIN_RECORDS_PER_CHUNK`] records if that is longer, at most
/// [`MAX_GROWN_CHUNK_LEN`] (and `chunk_len` if that is longer still).
pub fn grown_chunk_len(chunk_len: usize, stride: u32) -> usize {
    let want = (stride as usize).saturating_mul(MIN_RECORDS_PER_CHUNK);
    chunk_len.max(want.min(MAX_GROWN_CHUNK_LEN))
}

impl Default for CompressOptions {
    fn default() -> Self {
        Self {
            chunk_len: DEFAULT_CHUNK_LEN,
            embed_model: false,
            window: DEFAULT_WINDOW,
            match_model: true,
            records: RecordStride::Auto,
            long_finder: true,
            column_histograms: true,
            text_fields: TextFields::Trial,
            network_context_mixing: false,
            kinematics: false,
            counting: false,
            column_models: false,
            wide_mixer: false,
            relations: false,
            short_trial: false,
            grow_chunks: true,
            device: Device::Cpu,
            context_mixing: None,
        }
    }
}

/// When the text field histograms (codec `NeuralMatchLongText`) are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFields {
    /// Never.
    Off,
    /// If a trial encoding of the input's first bytes is smaller with them
    /// than without and than with any detected record stride (the default).
    Trial,
    /// Always (with the long finder), instead of any column finder.
    Always,
}

impl TextFields {
    /// Parses `auto`, `on` or `off`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Trial),
            "on" => Ok(Self::Always),
            "off" => Ok(Self::Off),
            _ => Err(format!("text fields must be auto, on or off, got {s:?}")),
        }
    }
}

/// The record length given to the column finder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordStride {
    /// Detect it ([`crate::mixing::record_stride::record_stride_candidates`]) and use
    /// it if a trial encoding of the first chunks is smaller.
    Auto,
    /// No column finder.
    Off,
    /// Records of this many bytes, `MIN_RECORD_STRIDE..=MAX_RECORD_STRIDE`.
    Fixed(u32),
}

impl RecordStride {
    /// Parses `auto`, `off` or a record length in bytes.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "off" | "0" => Ok(Self::Off),
            n => match n.parse::<u32>() {
                Ok(v) if (MIN_RECORD_STRIDE..=MAX_RECORD_STRIDE).contains(&v) => Ok(Self::Fixed(v)),
                _ => Err(format!(
                    "record size must be auto, off or {MIN_RECORD_STRIDE}..={MAX_RECORD_STRIDE} bytes, got {n:?}"
                )),
            },
        }
    }
}

/// Positions of one chunk given to the engine at once when encoding
/// ([`Engine::step_block`]; on the CPU every linear layer is one GEMM over
/// them). Chosen by measurement (`docs/KERNELS.md`); the output does not
/// depend on it.
pub const ENCODE_BLOCK: usize = crate::engine::cpu::SEQUENCE_BLOCK;

/// Indices of `lens` sorted by decreasing length (stable), so that the
/// streams still active at any time step are a prefix of this order.
fn by_decreasing_len(lens: &[usize]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..lens.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(lens[i]));
    order
}

/// Working memory of one encoding task.
struct EncodeScratch<'m> {
    engine: Box<dyn Engine + 'm>,
    freqs: Vec<Frequencies>,
    inputs: Vec<u8>,
}

/// Encodes byte `p` of `chunk` with the network's table `f`, reshaped by the
/// mixer `m` (which then learns the byte).
fn code_byte(m: &mut Mixer, enc: &mut RangeEncoder, chunk: &[u8], p: usize, f: &mut Frequencies) {
    m.encode(enc, chunk, p, f);
}

/// Encodes one chunk as neural streams, time-batched: the engine input for
/// byte `p` is byte `p - 1` (the priming byte for `p = 0`), all known in
/// advance, so blocks of [`ENCODE_BLOCK`] positions are stepped at once. The
/// network runs once; each of `mixings` gets its own stream (a trial encodes
/// two), returned as framed payloads in the same order.
///
/// A chunk that [`incompressible::looks_incompressible`] judges is not run
/// through the model: each of its "payloads" is the chunk itself, which the
/// archive stores (as it would a payload that does not shrink its chunk).
fn encode_chunk(
    chunk: &[u8],
    mixings: &[Mixing],
    s: &mut EncodeScratch<'_>,
) -> Result<Vec<Vec<u8>>, EngineError> {
    if incompressible::looks_incompressible(chunk) {
        return Ok(vec![chunk.to_vec(); mixings.len()]);
    }
    s.engine.open(1)?;
    let mut coders: Vec<_> = mixings
        .iter()
        .map(|m| {
            (
                Mixer::new(*m, chunk.len()),
                RangeEncoder::with_capacity(chunk.len() / 2 + 16),
            )
        })
        .collect();
    for start in (0..chunk.len()).step_by(ENCODE_BLOCK) {
        let end = (start + ENCODE_BLOCK).min(chunk.len());
        s.inputs.clear();
        if start == 0 {
            s.inputs.push(PRIME_BYTE);
            s.inputs.extend_from_slice(&chunk[..end - 1]);
        } else {
            s.inputs.extend_from_slice(&chunk[start - 1..end - 1]);
        }
        let freqs = &mut s.freqs[..end - start];
        s.engine.step_block(&s.inputs, &[true], freqs)?;
        code_positions(&mut coders, chunk, start, freqs);
    }
    Ok(frame_all(mixings, coders))
}

/// Codes bytes `start..start + tables.len()` of `chunk` with each of
/// `coders`, `tables[k]` being the network's table for byte `start + k`.
fn code_positions(
    coders: &mut [(Mixer, RangeEncoder)],
    chunk: &[u8],
    start: usize,
    tables: &mut [Frequencies],
) {
    for (k, net) in tables.iter_mut().enumerate() {
        let p = start + k;
        // A trial's extra coders reshape copies; the last one (the only
        // one outside a trial) reshapes the network's table in place.
        let Some(((last_m, last_enc), others)) = coders.split_last_mut() else {
            break;
        };
        for (mixer, enc) in others {
            let mut f = net.clone();
            code_byte(mixer, enc, chunk, p, &mut f);
        }
        code_byte(last_m, last_enc, chunk, p, net);
    }
}

/// The framed payloads of a chunk's finished coders, one per mixing.
fn frame_all(mixings: &[Mixing], coders: Vec<(Mixer, RangeEncoder)>) -> Vec<Vec<u8>> {
    mixings
        .iter()
        .zip(coders)
        .map(|(&m, (_, enc))| m.frame(enc.finish()))
        .collect()
}

/// Encodes each chunk as one neural stream with `mixing` on `device`, one
/// rayon task per chunk. Returns the payloads as the archive stores them.
pub fn encode_chunks(
    model: &Model,
    device: Device,
    chunks: &[&[u8]],
    mixing: Mixing,
) -> Result<Vec<Vec<u8>>, EngineError> {
    encode_chunks_reporting(model, device, chunks, mixing, &|_, _| {})
}

/// [`encode_chunks`], reporting each chunk to `progress` as it is done.
fn encode_chunks_reporting(
    model: &Model,
    device: Device,
    chunks: &[&[u8]],
    mixing: Mixing,
    progress: EncodeProgress<'_>,
) -> Result<Vec<Vec<u8>>, EngineError> {
    let report = |c: &[u8], p: &[Vec<u8>]| {
        let stored = p[0].len().min(c.len());
        progress(c.len() as u64, stored as u64)
    };
    Ok(
        encode_chunks_trial(model, device, chunks, &[mixing], &report)?
            .into_iter()
            .map(|mut p| p.swap_remove(0))
            .collect(),
    )
}

/// What [`encode_chunks_trial`] tells about each chunk it has encoded: the
/// chunk and its payloads, one per mixing.
type ChunkReport<'a> = &'a (dyn Fn(&[u8], &[Vec<u8>]) + Sync);

/// Encodes each chunk once per mixing in `mixings` (one network pass per
/// chunk): `result[chunk][mixing]`, giving `report` each chunk and its
/// payloads as they are done (from worker threads).
fn encode_chunks_trial(
    model: &Model,
    device: Device,
    chunks: &[&[u8]],
    mixings: &[Mixing],
    report: ChunkReport<'_>,
) -> Result<Vec<Vec<Vec<u8>>>, EngineError> {
    if device.batches_streams() {
        return encode_chunks_batched(model, device, chunks, mixings, report);
    }
    chunks
        .par_iter()
        .map_init(
            || {
                device.engine(model, 0).map(|engine| EncodeScratch {
                    engine,
                    freqs: vec![Frequencies::default(); ENCODE_BLOCK],
                    inputs: Vec::with_capacity(ENCODE_BLOCK),
                })
            },
            |s, c| {
                let s = s.as_mut().map_err(|e| e.clone())?;
                let payloads = encode_chunk(c, mixings, s)?;
                report(c, &payloads);
                Ok(payloads)
            },
        )
        .collect()
}

/// Positions per stream of one call of the batched encoder: with all chunks
/// as streams, `n * GPU_ENCODE_BLOCK` columns per launch sequence.
pub const GPU_ENCODE_BLOCK: usize = 256;

/// The most chunks one engine of the batched encoder holds: bounds its host
/// tables at `GPU_ENCODE_STREAMS * GPU_ENCODE_BLOCK` KiB (256 MiB), whatever
/// the window.
pub const GPU_ENCODE_STREAMS: usize = 1024;

/// Streams of one engine when they code bits with the context mixer (codecs
/// 10 to 12): each holds about 130 MB of counters and tables, so an engine
/// takes at most this many of them (on the CPU every thread runs one
/// engine, so decoding level 5 needs about 260 MB per thread).
pub const fn context_mixing_streams(device: Device) -> usize {
    match device {
        Device::Cpu => 2,
        _ => 16,
    }
}

/// `per_engine` capped by [`context_mixing_streams`] when any of `mixings`
/// codes bits.
fn streams_for(
    per_engine: usize,
    device: Device,
    mixings: impl IntoIterator<Item = Mixing>,
) -> usize {
    if mixings.into_iter().any(|m| m.codec().codes_bits()) {
        per_engine.min(context_mixing_streams(device))
    } else {
        per_engine
    }
}

/// The coders of one chunk being encoded by [`encode_chunks_batched`].
struct ChunkCoders {
    coders: Vec<(Mixer, RangeEncoder)>,
}

/// [`encode_chunks_trial`] with one engine for all chunks (a GPU): every
/// chunk the model codes is a stream of one engine, stepped
/// [`GPU_ENCODE_BLOCK`] positions at a time as one call (all `n * t` columns
/// in one launch sequence); the mixing and range coding of each chunk run on
/// the rayon pool between calls. A stream leaves the engine after the block
/// holding its last byte. The tables are the engine's, so the payloads are
/// exactly those of the per-chunk path.
fn encode_chunks_batched(
    model: &Model,
    device: Device,
    chunks: &[&[u8]],
    mixings: &[Mixing],
    report: ChunkReport<'_>,
) -> Result<Vec<Vec<Vec<u8>>>, EngineError> {
    let mut out: Vec<Option<Vec<Vec<u8>>>> = vec![None; chunks.len()];
    // Chunks stored as they are need no model.
    let mut coded = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        if incompressible::looks_incompressible(c) {
            let payloads = vec![c.to_vec(); mixings.len()];
            report(c, &payloads);
            out[i] = Some(payloads);
        } else {
            coded.push(i);
        }
    }
    let per_engine = streams_for(
        device
            .streams_per_engine(coded.len(), 1)
            .min(GPU_ENCODE_STREAMS),
        device,
        mixings.iter().copied(),
    );
    for group in coded.chunks(per_engine.max(1)) {
        let payloads = encode_group_batched(model, device, chunks, group, mixings, report)?;
        for (&i, p) in group.iter().zip(payloads) {
            out[i] = Some(p);
        }
    }
    Ok(out
        .into_iter()
        .map(|p| p.expect("every chunk is stored or coded"))
        .collect())
}

/// The chunks `group` (indices into `chunks`) as the streams of one engine.
fn encode_group_batched(
    model: &Model,
    device: Device,
    chunks: &[&[u8]],
    group: &[usize],
    mixings: &[Mixing],
    report: ChunkReport<'_>,
) -> Result<Vec<Vec<Vec<u8>>>, EngineError> {
    let n = group.len();
    let mut engine = device.engine(model, n)?;
    let lens: Vec<usize> = group.iter().map(|&i| chunks[i].len()).collect();
    let longest = lens.iter().copied().max().unwrap_or(0);
    let mut states: Vec<ChunkCoders> = group
        .iter()
        .map(|&i| ChunkCoders {
            coders: mixings
                .iter()
                .map(|m| {
                    (
                        Mixer::new(*m, chunks[i].len()),
                        RangeEncoder::with_capacity(chunks[i].len() / 2 + 16),
                    )
                })
                .collect(),
        })
        .collect();
    let t = GPU_ENCODE_BLOCK;
    let mut inputs = vec![0u8; n * t];
    let mut freqs = vec![Frequencies::default(); n * t];
    let mut active = vec![true; n];
    for start in (0..longest).step_by(t) {
        for (s, &i) in group.iter().enumerate() {
            active[s] = start < lens[s];
            let row = &mut inputs[s * t..(s + 1) * t];
            row.fill(0);
            if !active[s] {
                continue;
            }
            // The engine input for byte p is byte p - 1 (the priming byte
            // for p = 0); positions past the chunk's end are padding whose
            // tables are not used.
            let c = chunks[i];
            let end = (start + t).min(c.len());
            if start == 0 {
                row[0] = PRIME_BYTE;
                row[1..end].copy_from_slice(&c[..end - 1]);
            } else {
                row[..end - start].copy_from_slice(&c[start - 1..end - 1]);
            }
        }
        engine.step_block(&inputs, &active, &mut freqs)?;
        states
            .par_iter_mut()
            .zip(freqs.par_chunks_mut(t))
            .enumerate()
            .filter(|(s, _)| active[*s])
            .for_each(|(s, (st, tables))| {
                let c = chunks[group[s]];
                let end = (start + t).min(c.len());
                code_positions(&mut st.coders, c, start, &mut tables[..end - start]);
            });
    }
    Ok(states
        .into_iter()
        .zip(group)
        .map(|(st, &i)| {
            let payloads = frame_all(mixings, st.coders);
            report(chunks[i], &payloads);
            payloads
        })
        .collect())
}

/// One range-coded neural stream to decode.
#[derive(Clone, Copy, Debug)]
pub struct EncodedStream<'a> {
    /// The range-coded bytes (the payload without its prefix, if any).
    pub payload: &'a [u8],
    /// The chunk's original length.
    pub len: usize,
    /// What was mixed into the network's frequencies.
    pub mixing: Mixing,
}

impl<'a> EncodedStream<'a> {
    /// The stream of a chunk payload of a neural `codec`, or why it is invalid
    /// (a payload of a codec with a column finder without a valid stride
    /// prefix): [`Mixing::from_payload`].
    pub fn from_payload(codec: Codec, payload: &'a [u8], len: usize) -> Result<Self, String> {
        let (mixing, payload) = Mixing::from_payload(codec, payload)?;
        Ok(Self {
            payload,
            len,
            mixing,
        })
    }
}

/// A stream of a group still being decoded.
struct LiveStream<'a> {
    /// Its index in the group.
    index: usize,
    len: usize,
    decoder: RangeDecoder<'a>,
    mixer: Mixer,
    out: Vec<u8>,
}

/// Streams of one engine from which [`decode_group`] decodes each step's bytes
/// on the rayon pool.
const PARALLEL_DECODE_STREAMS: usize = 64;

/// Decodes the next byte of stream `s` (if it is still live) with the
/// network's table `f`, reshaped by its mixer, and sets `b` to it for the
/// next engine step. `Some` when the stream is done (all bytes, or an error).
fn decode_byte(
    s: Option<&mut LiveStream<'_>>,
    f: &mut Frequencies,
    b: &mut u8,
) -> Option<Result<(), CoderError>> {
    let s = s?;
    match s.mixer.decode(&mut s.decoder, &mut s.out, f) {
        Ok(sym) => {
            *b = sym;
            (s.out.len() == s.len).then_some(Ok(()))
        }
        Err(e) => Some(Err(e)),
    }
}

/// Decodes one group of streams on `engine`, stepping them together byte by
/// byte. A stream leaves the group (the engine's active mask) as soon as it
/// has all its bytes or fails, so a failed stream costs no further model
/// steps (a crafted archive cannot keep the decoder busy on a stream already
/// known to be bad); the others are unaffected. A stream claiming more bytes
/// than its payload can encode ([`crate::coder::max_symbols`]) fails before
/// any step.
fn decode_group(
    engine: &mut dyn Engine,
    streams: &[EncodedStream<'_>],
    progress: Progress<'_>,
) -> Result<Vec<Result<Vec<u8>, CoderError>>, EngineError> {
    let mut results: Vec<Result<Vec<u8>, CoderError>> =
        (0..streams.len()).map(|_| Ok(Vec::new())).collect();
    let mut live: Vec<LiveStream<'_>> = Vec::with_capacity(streams.len());
    for (index, s) in streams.iter().enumerate() {
        let started = crate::coder::check_claim(s.payload.len(), s.len as u64)
            .and_then(|()| RangeDecoder::new(s.payload));
        match started {
            Ok(decoder) if s.len == 0 => results[index] = decoder.finish().map(|()| Vec::new()),
            Ok(decoder) => live.push(LiveStream {
                index,
                len: s.len,
                decoder,
                mixer: Mixer::new(s.mixing, s.len),
                out: Vec::with_capacity(s.len),
            }),
            Err(e) => results[index] = Err(e),
        }
    }
    // Engine stream k is `live[k]`, taken when it ends.
    let mut live: Vec<Option<LiveStream<'_>>> = live.into_iter().map(Some).collect();
    let n = live.len();
    if n == 0 {
        return Ok(results);
    }
    engine.open(n)?;
    let mut active = vec![true; n];
    let mut left = n;
    let mut freqs = vec![Frequencies::default(); n];
    let mut bytes = vec![PRIME_BYTE; n];
    engine.step(&bytes, &active, &mut freqs)?;
    let mut unreported = 0u64;
    // Each step's outcome per stream (`Some` once it is done), reused.
    let mut outcomes: Vec<Option<Result<(), CoderError>>> = Vec::with_capacity(n);
    loop {
        unreported += left as u64;
        if unreported >= PROGRESS_STEP {
            progress(std::mem::take(&mut unreported));
        }
        // Each live stream decodes its byte: in parallel where one engine
        // holds many streams (a GPU), else in order (a CPU group, whose
        // groups already run in parallel).
        if n >= PARALLEL_DECODE_STREAMS {
            live.par_iter_mut()
                .zip(freqs.par_iter_mut())
                .zip(bytes.par_iter_mut())
                .map(|((s, f), b)| decode_byte(s.as_mut(), f, b))
                .collect_into_vec(&mut outcomes);
        } else {
            outcomes.clear();
            outcomes.extend(
                live.iter_mut()
                    .zip(freqs.iter_mut())
                    .zip(bytes.iter_mut())
                    .map(|((s, f), b)| decode_byte(s.as_mut(), f, b)),
            );
        }
        for (k, done) in outcomes.drain(..).enumerate() {
            let Some(outcome) = done else {
                continue;
            };
            active[k] = false;
            left -= 1;
            if let Some(s) = live[k].take() {
                results[s.index] = outcome.and_then(|()| s.decoder.finish()).map(|()| s.out);
            }
        }
        if left == 0 {
            if unreported > 0 {
                progress(unreported);
            }
            return Ok(results);
        }
        engine.step(&bytes, &active, &mut freqs)?;
    }
}

/// Decodes neural streams on `device`. Streams of similar length are grouped
/// ([`Device::streams_per_engine`] per group: on the CPU at most
/// [`crate::engine::cpu::graph::GROUP`], and enough groups to give every
/// thread work); each group is one rayon task with its own engine, which on
/// the CPU keeps its states in cache for the whole chunk. A stream that fails
/// keeps its error; the others are unaffected. Results never depend on the
/// grouping. Only the device itself failing is an `Err`.
pub fn decode_chunks(
    model: &Model,
    device: Device,
    streams: &[EncodedStream<'_>],
) -> Result<Vec<Result<Vec<u8>, CoderError>>, EngineError> {
    decode_chunks_reporting(model, device, streams, NO_PROGRESS)
}

/// [`decode_chunks`], reporting decoded bytes to `progress` as it goes.
fn decode_chunks_reporting(
    model: &Model,
    device: Device,
    streams: &[EncodedStream<'_>],
    progress: Progress<'_>,
) -> Result<Vec<Result<Vec<u8>, CoderError>>, EngineError> {
    let n = streams.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let lens: Vec<usize> = streams.iter().map(|s| s.len).collect();
    let order = by_decreasing_len(&lens);
    let sorted: Vec<EncodedStream<'_>> = order.iter().map(|&i| streams[i]).collect();
    let g = streams_for(
        device.streams_per_engine(n, rayon::current_num_threads()),
        device,
        streams.iter().map(|s| s.mixing),
    );
    let decoded: Vec<Vec<Result<Vec<u8>, CoderError>>> = sorted
        .par_chunks(g)
        .map_init(
            || device.engine(model, 0),
            |engine, grp| {
                let engine = engine.as_mut().map_err(|e| e.clone())?;
                decode_group(engine.as_mut(), grp, progress)
            },
        )
        .collect::<Result<_, EngineError>>()?;
    let mut out: Vec<Option<Result<Vec<u8>, CoderError>>> = (0..n).map(|_| None).collect();
    for (res, &i) in decoded.into_iter().flatten().zip(&order) {
        out[i] = Some(res);
    }
    Ok(out
        .into_iter()
        .map(|r| r.unwrap_or(Err(CoderError::TooShort { len: 0 })))
        .collect())
}

fn read_full<R: Read>(input: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(k) => filled += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Compresses `input` into `out` with `model`. `progress` is called with the
/// number of input bytes done after each window. Returns the output and the
/// number of input bytes.
pub fn compress<R: Read, W: Write>(
    model: &Model,
    input: R,
    out: W,
    opts: &CompressOptions,
    progress: Progress<'_>,
) -> Result<(W, u64), PipelineError> {
    compress_observed(model, input, out, opts, &|n, _| progress(n), &mut |_| {})
}

/// [`compress`], reporting each chunk's original and stored length to
/// `progress` as it is encoded, and calling `on_chunk` with the index entry of
/// every chunk as it is written (its codec shows whether it was stored).
pub fn compress_observed<R: Read, W: Write>(
    model: &Model,
    mut input: R,
    out: W,
    opts: &CompressOptions,
    progress: EncodeProgress<'_>,
    on_chunk: &mut dyn FnMut(&ChunkEntry),
) -> Result<(W, u64), PipelineError> {
    if opts.chunk_len == 0 || opts.chunk_len > MAX_CHUNK_LEN {
        return Err(PipelineError::Usage(format!(
            "chunk size must be 1..={MAX_CHUNK_LEN} bytes, got {}",
            opts.chunk_len
        )));
    }
    let mut chunk_len = opts.chunk_len as usize;
    if let Some(profile) = opts.context_mixing {
        return context_mixing::compress(
            model,
            input,
            out,
            chunk_len,
            profile,
            opts.records,
            opts.embed_model,
            progress,
            on_chunk,
        );
    }
    // The first read holds at least the trial sample, whatever the window, so
    // that the codec choice (and the archive) does not depend on the window.
    let window = opts
        .window
        .max(1)
        .max(crate::mixing::record_stride::SAMPLE_LEN.div_ceil(chunk_len))
        .max(2 * TRIAL_LEN.div_ceil(chunk_len));
    let mut buf = vec![0u8; chunk_len * window];
    let mut got = read_full(&mut input, &mut buf)?;
    let (mixing, mut trial_payloads) = choose_mixing(model, &buf[..got], chunk_len, opts)?;
    if let (true, Some(stride)) = (opts.grow_chunks, mixing.stride()) {
        let grown = grown_chunk_len(chunk_len, stride);
        if grown > chunk_len {
            // The trial's chunks were shorter: encode again. The buffer
            // becomes whole chunks of the new length, at least as long as
            // before, and is filled up if the input has more.
            let more = got == buf.len();
            chunk_len = grown;
            trial_payloads = None;
            buf.resize(buf.len().div_ceil(chunk_len) * chunk_len, 0);
            if more {
                got += read_full(&mut input, &mut buf[got..])?;
            }
        }
    }
    let codec = mixing.codec();
    let params = ArchiveParams {
        format_version: codec.min_format_version(),
        arith_version: model.arith.number(),
        model_fingerprint: model.fingerprint().0,
        // <= max(opts.chunk_len, MAX_GROWN_CHUNK_LEN) <= MAX_CHUNK_LEN.
        chunk_len: chunk_len as u32,
    };
    let blob = opts.embed_model.then(|| model.to_bytes());
    let mut writer = ArchiveWriter::new(out, &params, blob.as_deref())?;
    let mut done: u64 = 0;
    while got > 0 {
        let chunks: Vec<&[u8]> = buf[..got].chunks(chunk_len).collect();
        // The trial already encoded some of the first chunks with the chosen mixing.
        let encode = |c: &[&[u8]]| encode_chunks_reporting(model, opts.device, c, mixing, progress);
        let payloads = match trial_payloads.take() {
            None => encode(&chunks)?,
            Some(t) => {
                let end = t.first + t.payloads.len();
                let done = chunks[t.first..end].iter().map(|c| c.len() as u64);
                let stored = chunks[t.first..end]
                    .iter()
                    .zip(&t.payloads)
                    .map(|(c, p)| p.len().min(c.len()) as u64);
                progress(done.sum(), stored.sum());
                let mut p = encode(&chunks[..t.first])?;
                p.extend(t.payloads);
                p.extend(encode(&chunks[end..])?);
                p
            }
        };
        for (c, p) in chunks.iter().zip(&payloads) {
            on_chunk(&writer.write_encoded(c, codec, p)?);
        }
        done += got as u64;
        if got < buf.len() {
            break;
        }
        got = read_full(&mut input, &mut buf)?;
    }
    Ok((writer.finish()?, done))
}

/// Input bytes the trial encoding of [`RecordStride::Auto`] codes: 64 KiB,
/// rounded up to whole chunks; the second such stretch of the input if it
/// has one, else the first.
pub const TRIAL_LEN: usize = 64 << 10;

/// The payloads a trial encoding made with the chosen mixing: chunks
/// `first..first + payloads.len()` of the first read.
struct TrialPayloads {
    first: usize,
    payloads: Vec<Vec<u8>>,
}

/// Chooses what to mix into the network for the whole input, from its first
/// bytes `head` (at least `record_stride::SAMPLE_LEN` and twice [`TRIAL_LEN`]
/// of them, rounded up to chunks, unless the input is shorter).
/// With [`RecordStride::Auto`], a detected stride is used only if a trial
/// encoding of [`TRIAL_LEN`] bytes with the column finder is smaller than
/// without (with several candidate strides, the smallest of all). With
/// [`TextFields::Trial`], the text field histograms are one more candidate
/// of that trial (and, with [`RecordStride::Off`], the only one). The
/// trial's payloads are returned for reuse. A pure function of
/// the input, so the archive does not depend on the machine.
fn choose_mixing(
    model: &Model,
    head: &[u8],
    chunk_len: usize,
    opts: &CompressOptions,
) -> Result<(Mixing, Option<TrialPayloads>), EngineError> {
    if !opts.match_model {
        return Ok((Mixing::NETWORK_ONLY, None));
    }
    // The richest mixing the options allow, without and with a column
    // finder for records of `stride`; the text field histograms apart.
    let with_stride =
        |stride: Option<u32>| Mixing::richest(|s| s != Stage::TextFields && opts.allows(s), stride);
    let text = Some(Mixing::richest(|s| opts.allows(s), None)).filter(|m| m.has(Stage::TextFields));
    if let (TextFields::Always, Some(text)) = (opts.text_fields, text) {
        return Ok((text, None));
    }
    // The second TRIAL_LEN if the head has it, else the first: files often
    // start with a banner or header unlike the rest (the text header of an
    // LHE file favoured a stride by 0.3 % that its events then lost by 4 %).
    let per_trial = TRIAL_LEN.div_ceil(chunk_len);
    let chunks: Vec<&[u8]> = head.chunks(chunk_len).collect();
    let first = if chunks.len() >= 2 * per_trial {
        per_trial
    } else {
        0
    };
    // A short trial codes TRIAL_LEN bytes of a longer chunk: the second
    // TRIAL_LEN if the head has it, else the first (as above); its payloads
    // are not the chunk's.
    let sample: [&[u8]; 1];
    let short = opts.short_trial && chunk_len > TRIAL_LEN;
    let trial = if short {
        let start = if head.len() >= 2 * TRIAL_LEN {
            TRIAL_LEN
        } else {
            0
        };
        sample = [&head[start..(start + TRIAL_LEN).min(head.len())]];
        &sample[..]
    } else {
        &chunks[first..(first + per_trial).min(chunks.len())]
    };
    let strides = match opts.records {
        RecordStride::Off => Vec::new(),
        RecordStride::Fixed(stride) => return Ok((with_stride(Some(stride)), None)),
        // A trial of chunks that are all stored unseen ties every candidate
        // (the first wins), so looking for record strides would change nothing.
        RecordStride::Auto
            if trial
                .iter()
                .all(|c| incompressible::looks_incompressible(c)) =>
        {
            Vec::new()
        }
        RecordStride::Auto => crate::mixing::record_stride::record_stride_candidates(head),
    };
    if strides.is_empty() && text.is_none() {
        return Ok((with_stride(None), None));
    }
    let candidates: Vec<Mixing> = std::iter::once(with_stride(None))
        .chain(text)
        .chain(strides.into_iter().map(|s| with_stride(Some(s))))
        .collect();
    let mut payloads = encode_chunks_trial(model, opts.device, trial, &candidates, &|_, _| {})?;
    // What the archive would store: a payload that does not shrink its chunk
    // is replaced by the chunk.
    let size = |k: usize| -> usize {
        trial
            .iter()
            .zip(&payloads)
            .map(|(c, p)| p[k].len().min(c.len()))
            .sum()
    };
    // The smallest; ties go to the earlier candidate.
    let k = (0..candidates.len()).min_by_key(|&k| size(k)).unwrap_or(0);
    if short {
        return Ok((candidates[k], None));
    }
    let chosen = payloads.iter_mut().map(|p| p.swap_remove(k)).collect();
    Ok((
        candidates[k],
        Some(TrialPayloads {
            first,
            payloads: chosen,
        }),
    ))
}

/// Compresses a byte slice in memory (convenience for tests and tools).
pub fn compress_bytes(
    model: &Model,
    data: &[u8],
    opts: &CompressOptions,
) -> Result<Vec<u8>, PipelineError> {
    Ok(compress(model, data, Vec::new(), opts, NO_PROGRESS)?.0)
}

/// Whether any chunk of the archive needs the model: a chunk of a codec
/// that runs the network.
pub fn needs_model<R: Read + Seek>(reader: &ArchiveReader<R>) -> bool {
    reader.entries().iter().any(|e| e.codec.is_neural())
}

/// Chooses the model to decode `reader` with: the embedded one, else
/// `supplied`, else a built-in one with the header's fingerprint. A model
/// whose fingerprint differs from the header is refused. Returns `None` only
/// when no chunk needs a model and none is available.
pub fn resolve_model<R: Read + Seek>(
    reader: &mut ArchiveReader<R>,
    supplied: Option<Model>,
) -> Result<Option<Model>, PipelineError> {
    let header = *reader.header();
    let want = Fingerprint(header.params.model_fingerprint);
    let arith = crate::intmath::ArithVersion::from_number(header.params.arith_version as u64)
        .ok_or_else(|| {
            PipelineError::Model(format!(
                "archive uses arith version {}, this build implements {} to {}",
                header.params.arith_version,
                crate::intmath::ArithVersion::OLDEST,
                crate::intmath::ArithVersion::NEWEST
            ))
        })?;
    let check = |m: Model, what: &str| {
        if m.arith != arith {
            Err(PipelineError::Model(format!(
                "{what} is in arith version {}, but the archive header says {arith}",
                m.arith
            )))
        } else if m.fingerprint() == want {
            Ok(m)
        } else {
            Err(PipelineError::Model(format!(
                "{what} has fingerprint {}, but the archive was made with model {want}",
                m.fingerprint()
            )))
        }
    };
    if let Some(blob) = reader.read_model_blob()? {
        let m = Model::from_bytes(&blob)
            .map_err(|e| PipelineError::Corrupt(format!("embedded model is invalid: {e}")))?;
        return check(m, "the embedded model").map(Some);
    }
    if let Some(m) = supplied {
        return check(m, "the model given with --model").map(Some);
    }
    if let Some(bytes) = crate::default_models::lookup(&want) {
        let m = Model::from_bytes(bytes).map_err(|e| PipelineError::Model(e.to_string()))?;
        return check(m, "the built-in model").map(Some);
    }
    if needs_model(reader) {
        return Err(PipelineError::Model(format!(
            "archive needs model {want}, which is not embedded and not built in; pass --model FILE"
        )));
    }
    Ok(None)
}

/// Decodes chunks `indices` (read from `reader`); returns per chunk the
/// verified original bytes or the error.
/// Only the device failing is an `Err`.
fn decode_window<R: Read + Seek>(
    reader: &mut ArchiveReader<R>,
    model: Option<&Model>,
    device: Device,
    indices: Range<usize>,
    progress: Progress<'_>,
) -> Result<Vec<Result<Vec<u8>, String>>, EngineError> {
    let mut results: Vec<Result<Vec<u8>, String>> = Vec::with_capacity(indices.len());
    let mut neural: Vec<(usize, Vec<u8>, usize, Codec)> = Vec::new();
    let mut mixed: Vec<(usize, Vec<u8>, usize)> = Vec::new();
    for i in indices.clone() {
        match reader.read_payload(i) {
            Err(e) => results.push(Err(e.to_string())),
            Ok(p) => {
                let e = reader.entries()[i];
                if e.codec == Codec::Stored {
                    progress(p.len() as u64);
                    results.push(Ok(p));
                } else if e.codec.is_neural() {
                    results.push(Ok(Vec::new()));
                    neural.push((i - indices.start, p, e.original_size as usize, e.codec));
                } else if e.codec == Codec::Cm {
                    results.push(Ok(Vec::new()));
                    mixed.push((i - indices.start, p, e.original_size as usize));
                } else {
                    results.push(Err(format!(
                        "chunk {i}: codec {} is not supported by this build",
                        e.codec.name()
                    )));
                }
            }
        }
    }
    if !mixed.is_empty() {
        let jobs: Vec<(&[u8], usize)> = mixed.iter().map(|(_, p, n)| (&p[..], *n)).collect();
        for ((k, _, n), r) in mixed.iter().zip(context_mixing::decode_chunks(&jobs)) {
            progress(*n as u64);
            let i = indices.start + k;
            results[*k] = r.map_err(|e| format!("chunk {i}: {e}"));
        }
    }
    if !neural.is_empty() {
        let Some(model) = model else {
            for (k, ..) in &neural {
                results[*k] = Err("no model to decode with".into());
            }
            return Ok(results);
        };
        let mut streams: Vec<EncodedStream<'_>> = Vec::with_capacity(neural.len());
        let mut slots: Vec<usize> = Vec::with_capacity(neural.len());
        for (k, p, n, codec) in &neural {
            match EncodedStream::from_payload(*codec, p, *n) {
                Ok(s) => {
                    streams.push(s);
                    slots.push(*k);
                }
                Err(e) => results[*k] = Err(format!("chunk {}: {e}", indices.start + k)),
            }
        }
        for (k, r) in slots
            .into_iter()
            .zip(decode_chunks_reporting(model, device, &streams, progress)?)
        {
            let i = indices.start + k;
            results[k] = r.map_err(|e| format!("chunk {i}: {e}"));
        }
    }
    for (k, r) in results.iter_mut().enumerate() {
        if let Ok(data) = r
            && let Err(e) = reader.verify_chunk(indices.start + k, data)
        {
            *r = Err(e.to_string());
        }
    }
    Ok(results)
}

/// Decompresses the original bytes `range` (all of them when `None`) into
/// `out`, decoding only the chunks that overlap it, `window` chunks at a time.
/// Every decoded chunk is verified; a full extraction also checks the content
/// checksum. Returns the number of bytes written.
pub fn decompress<R: Read + Seek, W: Write>(
    reader: &mut ArchiveReader<R>,
    model: Option<&Model>,
    device: Device,
    range: Option<Range<u64>>,
    mut out: W,
    window: usize,
    progress: Progress<'_>,
) -> Result<u64, PipelineError> {
    let total = reader.total_len();
    let full = range.is_none();
    let range = range.unwrap_or(0..total);
    if range.start > range.end || range.end > total {
        return Err(PipelineError::Usage(format!(
            "byte range {}..{} is outside the archive's {total} bytes",
            range.start, range.end
        )));
    }
    let chunk_len = u64::from(reader.header().params.chunk_len);
    let Range {
        start: first,
        end: last,
    } = chunks_of(reader, &range);
    let mut hasher = Xxh3Default::new();
    let mut written = 0u64;
    let mut start = first;
    while start < last {
        let end = (start + window.max(1)).min(last);
        for (k, r) in decode_window(reader, model, device, start..end, progress)?
            .into_iter()
            .enumerate()
        {
            let data = r.map_err(PipelineError::Corrupt)?;
            let i = (start + k) as u64;
            let chunk_start = i * chunk_len;
            let lo = range
                .start
                .saturating_sub(chunk_start)
                .min(data.len() as u64) as usize;
            let hi = (range.end - chunk_start).min(data.len() as u64) as usize;
            if full {
                hasher.update(&data);
            }
            out.write_all(&data[lo..hi])?;
            written += (hi - lo) as u64;
        }
        start = end;
    }
    out.flush()?;
    if full && hasher.digest() != reader.content_hash() {
        return Err(PipelineError::Corrupt(
            ContainerError::ContentChecksum.to_string(),
        ));
    }
    Ok(written)
}

/// Limits for decoding untrusted archives, in the manner of xz's `--memlimit`:
/// checked against the archive's index before any chunk is read or any model
/// step is taken. A genuine archive can expand a few bytes into a lot (a long
/// run of one byte costs almost nothing), so a service that decodes archives
/// from strangers bounds the work up front with these.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeLimits {
    /// The most original bytes to produce.
    pub max_output: Option<u64>,
    /// The most model steps to take: one per byte of every chunk whose codec
    /// runs the network.
    pub max_model_steps: Option<u64>,
}

impl DecodeLimits {
    /// No limits.
    pub const NONE: DecodeLimits = DecodeLimits {
        max_output: None,
        max_model_steps: None,
    };

    /// Checks decoding the original bytes `range` of `reader` (all of them
    /// when `None`) against the limits, from the index alone.
    pub fn check<R: Read + Seek>(
        &self,
        reader: &ArchiveReader<R>,
        range: Option<&Range<u64>>,
    ) -> Result<(), PipelineError> {
        self.admit(DecodeCost::of(reader, range))
    }

    /// Checks a cost against the limits: for several archives read as one
    /// (concatenated members), the sum of their costs.
    pub fn admit(&self, cost: DecodeCost) -> Result<(), PipelineError> {
        if let Some(max) = self.max_output
            && cost.output > max
        {
            return Err(PipelineError::Limit(format!(
                "decoding would produce {} bytes, over the limit of {max} (--max-output)",
                cost.output
            )));
        }
        if let Some(max) = self.max_model_steps
            && cost.model_steps > max
        {
            return Err(PipelineError::Limit(format!(
                "decoding would take {} model steps, over the limit of {max} (--max-model-steps)",
                cost.model_steps
            )));
        }
        Ok(())
    }
}

/// What decoding part of an archive costs, read from its index alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeCost {
    /// Original bytes produced.
    pub output: u64,
    /// Model steps taken: one per byte of every decoded chunk whose codec runs
    /// a model, the network or the context mixer of codec `cm` (whole
    /// chunks, also around a range).
    pub model_steps: u64,
}

impl DecodeCost {
    /// The cost of decoding the original bytes `range` of `reader` (all of
    /// them when `None`).
    pub fn of<R: Read + Seek>(reader: &ArchiveReader<R>, range: Option<&Range<u64>>) -> DecodeCost {
        let (output, chunks) = match range {
            None => (reader.total_len(), 0..reader.chunk_count()),
            Some(r) => (r.end.saturating_sub(r.start), chunks_of(reader, r)),
        };
        let model_steps = reader.entries()[chunks]
            .iter()
            .filter(|e| e.codec.is_neural() || e.codec == Codec::Cm)
            .map(|e| u64::from(e.original_size))
            .sum();
        DecodeCost {
            output,
            model_steps,
        }
    }

    /// The cost of both (saturating: a sum past `u64::MAX` is over any limit).
    pub fn plus(self, other: DecodeCost) -> DecodeCost {
        DecodeCost {
            output: self.output.saturating_add(other.output),
            model_steps: self.model_steps.saturating_add(other.model_steps),
        }
    }
}

/// The original bytes that decoding `range` (everything when `None`) decodes:
/// its chunks in full. The total of what [`decompress`] reports to its
/// [`Progress`].
pub fn decode_len<R: Read + Seek>(reader: &ArchiveReader<R>, range: Option<&Range<u64>>) -> u64 {
    let chunks = match range {
        None => return reader.total_len(),
        Some(r) => chunks_of(reader, r),
    };
    reader.entries()[chunks]
        .iter()
        .map(|e| u64::from(e.original_size))
        .sum()
}

/// The chunks that hold the original bytes `range` (empty for an empty range).
fn chunks_of<R: Read + Seek>(reader: &ArchiveReader<R>, range: &Range<u64>) -> Range<usize> {
    let chunk_len = u64::from(reader.header().params.chunk_len);
    let first = usize::try_from(range.start / chunk_len).unwrap_or(usize::MAX);
    let last = if range.is_empty() {
        first
    } else {
        usize::try_from(range.end.div_ceil(chunk_len)).unwrap_or(usize::MAX)
    };
    let n = reader.chunk_count();
    first.min(n)..last.min(n)
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Chunks checked.
    pub chunks: usize,
    /// `(chunk index, what is wrong)` for every bad chunk.
    pub bad: Vec<(usize, String)>,
    /// Whether the whole-content checksum matched (false if any chunk is bad).
    pub content_ok: bool,
}

impl VerifyReport {
    /// True when every check passed.
    pub fn ok(&self) -> bool {
        self.bad.is_empty() && self.content_ok
    }
}

/// Decodes every chunk and checks every checksum, collecting all failures.
/// Only the device failing is an `Err`.
pub fn verify<R: Read + Seek>(
    reader: &mut ArchiveReader<R>,
    model: Option<&Model>,
    device: Device,
    window: usize,
    progress: Progress<'_>,
) -> Result<VerifyReport, EngineError> {
    let n = reader.chunk_count();
    let mut bad = Vec::new();
    let mut hasher = Xxh3Default::new();
    let mut start = 0;
    while start < n {
        let end = (start + window.max(1)).min(n);
        for (k, r) in decode_window(reader, model, device, start..end, progress)?
            .into_iter()
            .enumerate()
        {
            match r {
                Ok(d) => hasher.update(&d),
                Err(e) => bad.push((start + k, e)),
            }
        }
        start = end;
    }
    let content_ok = bad.is_empty() && hasher.digest() == reader.content_hash();
    Ok(VerifyReport {
        chunks: n,
        bad,
        content_ok,
    })
}

/// Decompresses a whole archive held in memory (convenience for tests).
pub fn decompress_bytes(archive: &[u8], model: Option<Model>) -> Result<Vec<u8>, PipelineError> {
    decompress_bytes_on(archive, model, Device::Cpu)
}

/// [`decompress_bytes`] with the network on `device`.
pub fn decompress_bytes_on(
    archive: &[u8],
    model: Option<Model>,
    device: Device,
) -> Result<Vec<u8>, PipelineError> {
    let mut reader = ArchiveReader::from_bytes(archive)?;
    let model = resolve_model(&mut reader, model)?;
    let mut out = Vec::new();
    decompress(
        &mut reader,
        model.as_ref(),
        device,
        None,
        &mut out,
        DEFAULT_WINDOW,
        NO_PROGRESS,
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests;
