//! `boa-det model ...`: info, synth, bench.

use super::{CliError, exit};
use crate::engine::{self, CpuEngine, Device, Engine, Frequencies};
use crate::mixing::record_stride::{MAX_RECORD_STRIDE, MIN_RECORD_STRIDE};
use crate::mixing::{Mixing, Stage};
use crate::model::synth::{SynthKind, random_model};
use crate::model::{Dims, Model};
use clap::Subcommand;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Subcommand, Debug)]
pub enum ModelCommand {
    /// Print dims, parameter count, versions and fingerprint of a model file.
    Info { model: PathBuf },
    /// Exact code length (bits/byte) and top-1 accuracy of the integer model on files.
    Eval {
        model: PathBuf,
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Chunk length, as in the archive (each chunk starts from a fresh
        /// state) [default: the one `compress` uses with this model]
        #[arg(long)]
        chunk_size: Option<usize>,
        /// Evaluate at most this many bytes of each file (0 = all).
        #[arg(long, default_value_t = 0)]
        max_bytes: usize,
        /// Print one JSON object per file (exact code length in bits, bytes, top-1 count)
        /// instead of the table.
        #[arg(long)]
        json: bool,
        /// Mix the match model into the network's frequencies, as `compress`
        /// does (codec NeuralMatchLong; with --record-size,
        /// NeuralMatchLongColumnsHist).
        #[arg(long)]
        match_model: bool,
        /// With --match-model: add the column finder and the column histograms
        /// for records of this many bytes.
        #[arg(long, requires = "match_model", value_name = "BYTES",
              value_parser = clap::value_parser!(u32).range(MIN_RECORD_STRIDE as i64..=MAX_RECORD_STRIDE as i64))]
        record_size: Option<u32>,
        /// With --match-model: without the long finder (codecs NeuralMatch
        /// and NeuralMatchColumns, as `compress --no-long`).
        #[arg(long, requires = "match_model")]
        no_long: bool,
        /// With --record-size: without the column histograms (codec
        /// NeuralMatchLongColumns, as `compress --format-version 4`).
        #[arg(long, requires = "record_size")]
        no_hist: bool,
        /// With --match-model and no --record-size: add the text field
        /// histograms (codec NeuralMatchLongText).
        #[arg(long, requires = "match_model", conflicts_with_all = ["record_size", "no_long"])]
        text_fields: bool,
        /// Also write, per byte of the (single) input, the network's and the
        /// coded frequency of that byte out of 2^24: two little-endian u32,
        /// 8 bytes per input byte (for offline model studies,
        /// `quantize/train/tools/mix_probe.py`). Refuses an existing file.
        #[arg(long, value_name = "OUT")]
        dump_frequencies: Option<PathBuf>,
    },
    /// Write a deterministic synthetic model (for tests and benchmarks; it predicts nothing useful).
    Synth {
        #[arg(long, default_value_t = 256)]
        d_model: usize,
        #[arg(long, default_value_t = 1)]
        layers: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        adversarial: bool,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Measure engine steps per second on a synthetic or given model.
    Bench {
        /// Model file; a synthetic model of --d-model/--layers if absent.
        #[arg(long)]
        model: Option<PathBuf>,
        #[arg(long, default_value_t = 256)]
        d_model: usize,
        #[arg(long, default_value_t = 1)]
        layers: usize,
        /// Independent streams stepped together.
        #[arg(long, default_value_t = 1024)]
        streams: usize,
        /// Steps per stream.
        #[arg(long, default_value_t = 8)]
        steps: usize,
        /// Positions per stream and call: above 1, each step is one
        /// `step_block` of this many bytes per stream (the encoder's path).
        #[arg(long, default_value_t = 1)]
        block: usize,
        /// Where the network runs (the plain and --codec benches).
        #[arg(long, value_enum, default_value = "cpu")]
        device: super::archive_cmd::DeviceChoice,
        /// Threads (0 = all cores).
        #[arg(short = 'T', long, default_value_t = 0)]
        threads: usize,
        /// Instead, measure one core's AVX-512 VNNI int8 peak (a tight `vpdpbusd` loop)
        /// and the GEMM rate of the selected kernel level on this model's in_proj.
        #[arg(long)]
        peak: bool,
        /// Instead, time the real codec paths: `--codec-mib` MiB of text (the
        /// portability-vector text, repeated) cut into 4 KiB chunks, encoded
        /// (time-batched) and decoded (chunk groups stepped together), checked,
        /// with MB/s and the share of the VNNI peak (`--peak-gmacs` per core).
        #[arg(long)]
        codec: bool,
        #[arg(long, default_value_t = 1)]
        codec_mib: usize,
        /// With --codec: code with the match model too (codec neural+match+long,
        /// what `compress` writes for input without a record stride or text
        /// fields); without it, the network alone, which the efficiency
        /// figure is about.
        #[arg(long)]
        match_model: bool,
        /// One core's int8 peak in GMAC/s for the efficiency figure (measure it with --peak).
        #[arg(long, default_value_t = 490.0)]
        peak_gmacs: f64,
    },
}

fn load(path: &std::path::Path) -> Result<Model, CliError> {
    Model::load(path).map_err(|e| CliError::new(exit::MODEL, format!("{}: {e}", path.display())))
}

pub fn run(cmd: ModelCommand) -> Result<(), CliError> {
    match cmd {
        ModelCommand::Info { model } => {
            let m = load(&model)?;
            let d = m.dims();
            outln!("file:          {}", model.display());
            outln!("fingerprint:   {}", m.fingerprint());
            outln!("arith version: {}", m.arith);
            outln!("precision:     {} bits", crate::engine::PRECISION_BITS);
            outln!("d_model:       {}", d.d_model);
            outln!("n_layers:      {}", d.n_layers);
            outln!(
                "d_inner:       {}  d_state: {}  d_conv: {}  dt_rank: {}",
                d.d_inner(),
                crate::model::D_STATE,
                crate::model::D_CONV,
                d.dt_rank()
            );
            outln!("parameters:    {}", d.float_parameter_count());
            outln!("description:   {}", m.description);
            Ok(())
        }
        ModelCommand::Eval {
            model,
            files,
            chunk_size,
            max_bytes,
            json,
            match_model,
            record_size,
            no_long,
            no_hist,
            text_fields,
            dump_frequencies,
        } => {
            if dump_frequencies.is_some() && files.len() != 1 {
                return Err(CliError::new(
                    exit::USAGE,
                    "--dump-frequencies takes exactly one input file",
                ));
            }
            let m = load(&model)?;
            let chunk_size = chunk_size
                .unwrap_or(crate::default_models::compress_chunk_len(&m) as usize)
                .max(1);
            // The richest codec of the stages asked for (clap lets
            // --record-size, --no-long and --text-fields come only with
            // --match-model).
            let allowed = |s| match s {
                Stage::MatchFinders => match_model,
                Stage::ColumnFinder => record_size.is_some(),
                Stage::LongFinder => !no_long,
                Stage::ColumnHistograms => !no_hist,
                Stage::TextFields => text_fields,
                // eval measures the coded tables; the context mixer codes
                // bits, which it does not model.
                Stage::ContextMixing
                | Stage::Kinematics
                | Stage::Counting
                | Stage::ColumnModels
                | Stage::WideMixer
                | Stage::Relations => false,
            };
            let mixing = Mixing::richest(allowed, record_size);
            if !json {
                outln!("model {} ({})", m.fingerprint(), model.display());
                outln!(
                    "{:<60} {:>12} {:>10} {:>8} {:>7}",
                    "file",
                    "bytes",
                    "bits/byte",
                    "ratio",
                    "top-1"
                );
            }
            for f in files {
                let data = std::fs::read(&f).map_err(|e| {
                    CliError::new(exit::IO, format!("cannot read {}: {e}", f.display()))
                })?;
                let n = if max_bytes == 0 {
                    data.len()
                } else {
                    data.len().min(max_bytes)
                };
                let r = if let Some(out) = &dump_frequencies {
                    let (r, freqs) = crate::eval::code_length_and_byte_frequencies(
                        &m,
                        &data[..n],
                        chunk_size,
                        mixing,
                    );
                    let mut file = super::io_util::AtomicFile::create(out, false)?;
                    let bytes: Vec<u8> = freqs
                        .iter()
                        .flat_map(|b| [b.network.to_le_bytes(), b.coded.to_le_bytes()])
                        .flatten()
                        .collect();
                    file.writer().write_all(&bytes).map_err(|e| {
                        CliError::new(exit::IO, format!("cannot write {}: {e}", out.display()))
                    })?;
                    file.commit()?;
                    r
                } else {
                    crate::eval::code_length_with(&m, &data[..n], chunk_size, mixing)
                };
                if json {
                    outln!(
                        "{}",
                        serde_json::json!({
                            "file": f.display().to_string(),
                            "model": m.fingerprint().to_string(),
                            "chunk_size": chunk_size,
                            "bytes": r.bytes,
                            "bits": r.bits,
                            "top1": r.top1,
                        })
                    );
                    continue;
                }
                let bpb = r.bits_per_byte();
                outln!(
                    "{:<60} {:>12} {:>10.4} {:>8.3} {:>6.1}%",
                    f.display(),
                    r.bytes,
                    bpb,
                    if bpb > 0.0 { 8.0 / bpb } else { 0.0 },
                    100.0 * r.top1_accuracy()
                );
            }
            Ok(())
        }
        ModelCommand::Synth {
            d_model,
            layers,
            seed,
            adversarial,
            output,
        } => {
            let kind = if adversarial {
                SynthKind::Adversarial
            } else {
                SynthKind::Typical
            };
            let m = random_model(
                Dims {
                    d_model,
                    n_layers: layers,
                },
                kind,
                seed,
            )
            .map_err(|e| CliError::new(exit::USAGE, e.to_string()))?;
            super::io_util::write_new_file(&output, &m.to_bytes(), false)?;
            outln!("{} {}", m.fingerprint(), output.display());
            Ok(())
        }
        ModelCommand::Bench {
            model,
            d_model,
            layers,
            streams,
            steps,
            block,
            device,
            threads,
            peak,
            codec,
            codec_mib,
            match_model,
            peak_gmacs,
        } => {
            let kernels =
                engine::cpu::dispatch::selected().map_err(|e| CliError::new(exit::USAGE, e))?;
            let m = match model {
                Some(p) => load(&p)?,
                None => random_model(
                    Dims {
                        d_model,
                        n_layers: layers,
                    },
                    SynthKind::Typical,
                    1,
                )
                .map_err(|e| CliError::new(exit::USAGE, e.to_string()))?,
            };
            if peak {
                return bench_peak(&m, kernels);
            }
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .map_err(|e| CliError::new(exit::USAGE, e.to_string()))?;
            let device = device.device();
            device.available()?;
            if codec {
                return bench_codec(&m, device, &pool, codec_mib, match_model, peak_gmacs);
            }
            let t = block.max(1);
            // Bytes that vary, so that no table is a constant.
            let bytes: Vec<u8> = (0..streams * t).map(|i| (i * 131 % 251) as u8).collect();
            let (secs, engine_name) = match device {
                Device::Cpu => {
                    let mut e = CpuEngine::with_kernels(&m, kernels);
                    let secs = pool.install(|| time_steps(&mut e, streams, &bytes, steps))?;
                    (secs, format!("cpu {}", kernels.name))
                }
                d => {
                    let mut e = d.engine(&m, streams)?;
                    (
                        time_steps(e.as_mut(), streams, &bytes, steps)?,
                        e.describe(),
                    )
                }
            };
            let total = (streams * t * steps) as f64;
            outln!(
                "engine={engine_name} d_model={} layers={} streams={streams} block={t} steps={steps} threads={}: {:.0} steps/s ({:.3} s)",
                m.dims().d_model,
                m.dims().n_layers,
                pool.current_num_threads(),
                total / secs,
                secs
            );
            Ok(())
        }
    }
}

/// Seconds for `steps` calls on `n` fresh streams of `engine`, after one
/// warm-up call: `step` when `bytes` holds one byte per stream, else
/// `step_block` over `bytes.len() / n` positions per stream.
fn time_steps(
    engine: &mut dyn Engine,
    n: usize,
    bytes: &[u8],
    steps: usize,
) -> Result<f64, engine::EngineError> {
    engine.open(n)?;
    let mut out = vec![Frequencies::default(); bytes.len()];
    let active = vec![true; n];
    let mut call = |e: &mut dyn Engine| {
        if bytes.len() == n {
            e.step(bytes, &active, &mut out)
        } else {
            e.step_block(bytes, &active, &mut out)
        }
    };
    call(engine)?; // warm-up
    let t0 = Instant::now();
    for _ in 0..steps {
        call(engine)?;
    }
    Ok(t0.elapsed().as_secs_f64())
}

/// `model bench --codec`: encode and decode speed of the real chunk paths.
fn bench_codec(
    m: &Model,
    device: Device,
    pool: &rayon::ThreadPool,
    mib: usize,
    with_match: bool,
    peak_gmacs: f64,
) -> Result<(), CliError> {
    let text = crate::vectors::text_input();
    let data: Vec<u8> = text
        .iter()
        .copied()
        .cycle()
        .take(mib.max(1) << 20)
        .collect();
    let chunks: Vec<&[u8]> = data
        .chunks(crate::compress::DEFAULT_CHUNK_LEN as usize)
        .collect();
    let t0 = Instant::now();
    let mixing = if with_match {
        Mixing::richest(
            |s| matches!(s, Stage::MatchFinders | Stage::LongFinder),
            None,
        )
    } else {
        Mixing::NETWORK_ONLY
    };
    let payloads = pool.install(|| crate::compress::encode_chunks(m, device, &chunks, mixing))?;
    let enc = t0.elapsed().as_secs_f64();
    let streams: Vec<crate::compress::EncodedStream<'_>> = payloads
        .iter()
        .zip(&chunks)
        .map(|(p, c)| crate::compress::EncodedStream {
            payload: p,
            len: c.len(),
            mixing,
        })
        .collect();
    let t0 = Instant::now();
    let back = pool.install(|| crate::compress::decode_chunks(m, device, &streams))?;
    let dec = t0.elapsed().as_secs_f64();
    for (b, c) in back.iter().zip(&chunks) {
        match b {
            Ok(b) if b == c => {}
            _ => {
                return Err(CliError::new(
                    exit::CORRUPT,
                    "codec bench: round trip failed",
                ));
            }
        }
    }
    let n = data.len() as f64;
    let macs = m.macs_per_byte() as f64;
    let cores = pool.current_num_threads() as f64;
    let peak_bytes = peak_gmacs * 1e9 * cores / macs;
    let engine_name = match device {
        Device::Cpu => format!(
            "cpu {}",
            engine::cpu::dispatch::selected().map_or("none", |k| k.name)
        ),
        d => d.to_string(),
    };
    outln!(
        "engine={engine_name} d_model={} layers={} threads={} {} MiB in {}-byte chunks, {} MAC/byte, {}:",
        m.dims().d_model,
        m.dims().n_layers,
        cores,
        mib.max(1),
        crate::compress::DEFAULT_CHUNK_LEN,
        m.macs_per_byte(),
        if with_match {
            "network + match model (codec 5)"
        } else {
            "network alone (codec 1)"
        }
    );
    outln!(
        "  encode {:.3} MB/s ({:.1}% of the {peak_gmacs} GMAC/s/core peak rate {:.3} MB/s)",
        n / enc / 1e6,
        100.0 * n / enc / peak_bytes,
        peak_bytes / 1e6
    );
    outln!(
        "  decode {:.3} MB/s ({:.1}% of peak); encode/decode speed ratio {:.2}",
        n / dec / 1e6,
        100.0 * n / dec / peak_bytes,
        dec / enc
    );
    Ok(())
}

/// `model bench --peak`: the VNNI peak of one core and the achieved GEMM rate.
fn bench_peak(m: &Model, kernels: engine::cpu::dispatch::Kernels) -> Result<(), CliError> {
    #[cfg(target_arch = "x86_64")]
    if engine::cpu::x86::avx512::supported() {
        // Best of 20 short runs: the machine is shared, the best run is the least disturbed.
        let best = (0..20)
            .map(|_| {
                let (macs, took) = engine::cpu::x86::avx512::peak_macs(1 << 21);
                macs as f64 / took.as_secs_f64()
            })
            .fold(0.0, f64::max);
        outln!(
            "vpdpbusd peak (1 core, 16 independent zmm accumulators, best of 20): {:.1} GMAC/s",
            best / 1e9
        );
    } else {
        outln!("vpdpbusd peak: AVX-512 VNNI not supported by this CPU");
    }
    // Achieved: every linear layer of the model as a GEMM over a group (1 core).
    let mut layers: Vec<&crate::model::Linear> = Vec::new();
    for l in &m.layers {
        layers.extend([
            &l.in_proj,
            &l.x_proj,
            &l.dt_proj,
            &l.out_proj,
            &l.ff1,
            &l.ff2,
        ]);
    }
    layers.extend([&m.head.fc1, &m.head.fc2]);
    let packed: Vec<_> = layers.iter().map(|l| (kernels.pack)(l)).collect();
    for group in [1usize, 8, 16, 32, 64] {
        let a = vec![100i8; group * 4 * m.dims().d_model * 4];
        let mut acc = vec![0i32; group * 4 * m.dims().d_model * 4];
        let mut out8 = vec![0i8; acc.len()];
        let macs_per: u64 = layers
            .iter()
            .map(|l| (l.rows * l.cols * group) as u64)
            .sum();
        let reps = (1_000_000_000 / macs_per).max(1);
        // Best of 10 runs of `reps` passes over every layer.
        let rate = |pass: &mut dyn FnMut(&engine::cpu::dispatch::PackedLinear)| {
            let secs = (0..10)
                .map(|_| {
                    let t0 = Instant::now();
                    for _ in 0..reps {
                        packed.iter().for_each(&mut *pass);
                    }
                    t0.elapsed().as_secs_f64()
                })
                .fold(f64::INFINITY, f64::min);
            (macs_per * reps) as f64 / secs / 1e9
        };
        let to_i32 = rate(&mut |p| (kernels.gemm)(p, &a, group, &mut acc));
        let to_q8 = rate(&mut |p| (kernels.gemm_q8)(p, &a, group, &mut out8));
        outln!(
            "kernels={} GEMM over all linear layers, group={group:>2}: {to_i32:.1} GMAC/s to int32, {to_q8:.1} GMAC/s requantized to int8 (1 core, best of 10)",
            kernels.name,
        );
    }
    Ok(())
}
