//! The `boa-det` command line. Errors are one line on stderr and a documented
//! non-zero exit code (see `docs/CLI.md`), never a panic backtrace.

mod bench_cmd;
mod model_cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Exit codes, documented in `docs/CLI.md`.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// Bad usage or arguments (clap uses 2 too).
    pub const USAGE: u8 = 2;
    /// An input could not be read or an output could not be written.
    pub const IO: u8 = 3;
    /// A model file is invalid, or the archive needs a model we do not have.
    pub const MODEL: u8 = 4;
    /// An archive is corrupt or fails a checksum.
    pub const CORRUPT: u8 = 5;
}

#[derive(Parser, Debug)]
#[command(
    name = "boa-det",
    version,
    about = "Deterministic neural compression for scientific data"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Inspect, generate and measure integer model files.
    #[command(subcommand)]
    Model(model_cmd::ModelCommand),
    /// Generate or check the portability vectors (golden digests).
    #[command(subcommand)]
    Vectors(VectorsCommand),
    /// Benchmark codecs side by side on files, checking every round trip.
    Bench(bench_cmd::BenchArgs),
}

#[derive(Subcommand, Debug)]
enum VectorsCommand {
    /// Write models, inputs and manifest.tsv into DIR (the committed set is `portability-vectors/`).
    Generate { dir: std::path::PathBuf },
    /// Recompute every digest in DIR with this build's engine and compare.
    Check { dir: std::path::PathBuf },
}

fn run_vectors(cmd: VectorsCommand) -> Result<(), CliError> {
    match cmd {
        VectorsCommand::Generate { dir } => crate::vectors::generate(&dir)
            .map_err(|e| CliError::new(exit::IO, format!("{}: {e}", dir.display()))),
        VectorsCommand::Check { dir } => {
            let n = crate::vectors::check(&dir).map_err(|e| CliError::new(exit::CORRUPT, e))?;
            println!("{n} portability vectors match ({})", dir.display());
            Ok(())
        }
    }
}

/// A failure with the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    pub fn new(code: u8, message: impl Into<String>) -> CliError {
        CliError {
            code,
            message: message.into(),
        }
    }
}

impl From<crate::model::ModelError> for CliError {
    fn from(e: crate::model::ModelError) -> CliError {
        CliError::new(exit::MODEL, e.to_string())
    }
}

/// Runs the CLI with the process arguments.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Model(c) => model_cmd::run(c),
        Command::Vectors(c) => run_vectors(c),
        Command::Bench(a) => bench_cmd::run(a),
    };
    match result {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => {
            eprintln!("boa-det: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}
