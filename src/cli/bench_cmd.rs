//! `boa-det bench`: classical codecs (and any extra codec) side by side on the
//! same files, each result checked by a round trip.

use super::bench::{self, BenchCodec, Format};
use super::bench_external;
use super::{CliError, exit};
use crate::compress::{CompressOptions, compress_bytes, decompress_bytes_on};
use crate::model::Model;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Files to compress; each is read whole into memory.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Output format of the table on stdout.
    #[arg(long, value_enum, default_value = "md")]
    pub format: Format,
    /// Timings per figure; the best (fastest) is reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeats: u32,
    /// Comma-separated codec names to run, in this order (default: every
    /// built-in codec), e.g. `xz-9,zstd-19`. `zpaq-m5` and `paq8px-8` run the
    /// installed programs (`$BOA_BENCH_ZPAQ`, `$BOA_BENCH_PAQ8PX`, else on
    /// `PATH`), only when named.
    #[arg(long, value_delimiter = ',')]
    pub codecs: Option<Vec<String>>,
    /// Model of the boa-det row (default: the built-in default model).
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Worker threads of the boa-det row; a comma-separated list gives one row
    /// per count (`--boa-threads 1,2`: rows `boa-det` and `boa-det-T2`, whose
    /// speeds give the parallel efficiency, printed under the markdown
    /// table). The classical codecs are single-threaded. Alias `--threads`.
    #[arg(long, alias = "threads", default_value = "1", value_delimiter = ',',
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub boa_threads: Vec<u32>,
    /// Where the boa-det rows run the network (the archives are the same on
    /// every device; the speeds are not). A device other than the CPU adds
    /// its name to the row: `boa-det@cuda:0`.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: super::archive_cmd::DeviceChoice,
    /// Compression levels of the boa-det rows (docs/MODELS.md, "Levels"),
    /// comma-separated: one row per level and thread count. The default
    /// level's row is `boa-det`, another level's `boa-det-L1` and so on.
    #[arg(long, default_value = "4", value_delimiter = ',',
          value_parser = clap::value_parser!(u8).range(1..=9))]
    pub levels: Vec<u8>,
}

/// The boa-det neural codec as a benchmark row: the real pipeline
/// (`compress_bytes` / `decompress_bytes` with what `boa-det compress` uses by
/// default, model not embedded) on a private rayon pool of `threads` threads.
struct BoaDet {
    model: Model,
    level: &'static crate::levels::Level,
    threads: usize,
    pool: rayon::ThreadPool,
    device: crate::engine::Device,
}

impl BenchCodec for BoaDet {
    fn name(&self) -> String {
        let mut base = "boa-det".to_string();
        if self.level.number != crate::levels::DEFAULT_LEVEL {
            base += &format!("-L{}", self.level.number);
        }
        if self.threads != 1 {
            base += &format!("-T{}", self.threads);
        }
        match self.device {
            crate::engine::Device::Cpu => base,
            d => format!("{base}@{d}"),
        }
    }
    fn compress(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        let opts = CompressOptions {
            device: self.device,
            ..self.level.options(&self.model)
        };
        self.pool
            .install(|| compress_bytes(&self.model, data, &opts))
            .map_err(|e| e.to_string())
    }
    fn decompress(&self, packed: &[u8], _original_len: usize) -> Result<Vec<u8>, String> {
        self.pool
            .install(|| decompress_bytes_on(packed, Some(self.model.clone()), self.device))
            .map_err(|e| e.to_string())
    }
}

/// Codecs beyond the classical baselines: the boa-det neural codec, one row
/// per thread count.
pub fn extra_codecs(args: &BenchArgs) -> Result<Vec<Box<dyn BenchCodec>>, CliError> {
    let model = match &args.model {
        Some(p) => Model::load(p)?,
        None => super::default_model()?,
    };
    let device = args.device.device();
    device.available()?;
    let mut rows: Vec<Box<dyn BenchCodec>> = Vec::new();
    let levels = args
        .levels
        .iter()
        .map(|&n| crate::levels::level(n).map_err(|m| CliError::new(exit::USAGE, m)))
        .collect::<Result<Vec<_>, _>>()?;
    for (&n, level) in args
        .boa_threads
        .iter()
        .flat_map(|n| levels.iter().map(move |l| (n, l)))
    {
        let threads = n as usize;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| CliError::new(exit::IO, format!("cannot start {threads} threads: {e}")))?;
        rows.push(Box::new(BoaDet {
            model: model.clone(),
            level,
            threads,
            pool,
            device,
        }));
    }
    Ok(rows)
}

fn select(args: &BenchArgs) -> Result<Vec<Box<dyn BenchCodec>>, CliError> {
    let mut all = bench::classical_codecs();
    all.extend(extra_codecs(args)?);
    let Some(wanted) = &args.codecs else {
        return Ok(all);
    };
    // The external programs run only when named: paq8px takes minutes per MB.
    all.extend(
        bench_external::installed()
            .into_iter()
            .map(|e| Box::new(e) as Box<dyn BenchCodec>),
    );
    let mut chosen = Vec::new();
    for name in wanted {
        // A boa-det row on another device (`boa-det@cuda:0`) answers to its
        // name without the device too.
        let named = |c: &dyn BenchCodec| {
            let n = c.name();
            &n == name || n.split('@').next() == Some(name.as_str())
        };
        let Some(i) = all.iter().position(|c| named(c.as_ref())) else {
            if bench_external::known_names().contains(&name.as_str()) {
                return Err(CliError::new(
                    exit::USAGE,
                    format!(
                        "codec {name:?} runs an external program that is not installed \
                         (docs/CLI.md, \"bench\")"
                    ),
                ));
            }
            let known: Vec<String> = all.iter().map(|c| c.name()).collect();
            return Err(CliError::new(
                exit::USAGE,
                format!("unknown codec {name:?} (known: {})", known.join(", ")),
            ));
        };
        chosen.push(all.remove(i));
    }
    Ok(chosen)
}

pub fn run(args: BenchArgs) -> Result<(), CliError> {
    let codecs = select(&args)?;
    let rows = bench::run_bench(&args.files, &codecs, args.repeats as usize);
    out!("{}", bench::render(&rows, args.format));
    let failed = rows.iter().filter(|r| r.error.is_some()).count();
    if failed > 0 {
        return Err(CliError::new(
            exit::CORRUPT,
            format!(
                "{failed} of {} benchmark rows failed (see the check column)",
                rows.len()
            ),
        ));
    }
    Ok(())
}
