//! `boa-det bench`: classical codecs (and any extra codec) side by side on the
//! same files, each result checked by a round trip.

use super::{CliError, exit};
use crate::bench::{self, Codec, Format};
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
    /// Comma-separated codec names to run, in this order (default: all),
    /// e.g. `xz-9,zstd-19`.
    #[arg(long, value_delimiter = ',')]
    pub codecs: Option<Vec<String>>,
}

/// Codecs beyond the classical baselines. The boa-det neural codec (model file
/// and backend options taken from `args`) is added here.
pub fn extra_codecs(_args: &BenchArgs) -> Result<Vec<Box<dyn Codec>>, CliError> {
    Ok(Vec::new())
}

fn select(args: &BenchArgs) -> Result<Vec<Box<dyn Codec>>, CliError> {
    let mut all = bench::classical_codecs();
    all.extend(extra_codecs(args)?);
    let Some(wanted) = &args.codecs else {
        return Ok(all);
    };
    let mut chosen = Vec::new();
    for name in wanted {
        let Some(i) = all.iter().position(|c| &c.name() == name) else {
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
    print!("{}", bench::render(&rows, args.format));
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
