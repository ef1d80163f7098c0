//! The `boa-det` command line. Errors are one line on stderr and a documented
//! non-zero exit code (see `docs/CLI.md`), never a panic backtrace.

/// `println!` for command output: a closed stdout (`boa-det ... | head`) ends
/// the command quietly with exit 141, as for a process killed by SIGPIPE,
/// instead of the panic `println!` gives. Use it in functions returning
/// `Result<_, CliError>`.
macro_rules! outln {
    ($($t:tt)*) => {
        $crate::cli::write_stdout(format_args!($($t)*), true)?
    };
}

/// `print!` counterpart of [`outln!`].
macro_rules! out {
    ($($t:tt)*) => {
        $crate::cli::write_stdout(format_args!($($t)*), false)?
    };
}

mod analyze_cmd;
mod archive_args;
mod archive_cmd;
mod bench;
mod bench_cmd;
mod bench_external;
mod docs_cmd;
mod examples;
mod inputs;
mod io_util;
mod model_cmd;
mod platform;
mod report;
mod spool;
mod version;

use archive_args::{ArchiveOpts, CompressArgs, DecompressArgs, ListArgs, VerifyArgs};
use archive_cmd::Mode;
use clap::{Args, Parser, Subcommand};
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
    /// Decoding would exceed a limit set with `--max-output` or
    /// `--max-model-steps` (checked before any work).
    pub const LIMIT: u8 = 6;
    /// The compute device failed while running (a GPU error); an unusable
    /// device (`--device cuda` without a driver or for a model its kernels do
    /// not implement) is refused before any work with [`USAGE`].
    pub const DEVICE: u8 = 7;
    /// Standard output was closed by the reader (`boa-det -dc X | head`): exit
    /// quietly with the status a shell gives a process killed by SIGPIPE.
    pub const BROKEN_PIPE: u8 = 141;
}

impl From<crate::engine::EngineError> for CliError {
    fn from(e: crate::engine::EngineError) -> CliError {
        use crate::engine::EngineError as E;
        let code = match &e {
            E::Unavailable(_) | E::Usage(_) => exit::USAGE,
            E::Device(_) => exit::DEVICE,
        };
        CliError::new(code, e.to_string())
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "boa-det",
    version,
    // Our own -V/--version, so that -v can extend it (version.rs).
    disable_version_flag = true,
    about = "Deterministic neural compression for scientific data",
    long_about = "Deterministic neural compression for scientific data.\n\n\
        Without a subcommand it works like zstd: `boa-det FILE` compresses FILE to FILE.boa, \
        `-d` decompresses, `-t` verifies, `-l` lists. See docs/CLI.md.",
    args_conflicts_with_subcommands = true,
    after_help = examples::TOP
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Print the version; with -v also the format and arith versions this
    /// build reads and writes, its built-in models and the kernel level.
    #[arg(short = 'V', long = "version")]
    version: bool,
    #[command(flatten)]
    mode: ModeFlags,
    #[command(flatten)]
    opts: ArchiveOpts,
}

/// The zstd-style short forms of the archive subcommands.
#[derive(Args, Debug)]
#[group(multiple = false)]
struct ModeFlags {
    /// Compress (the default).
    #[arg(short = 'z', long = "compress")]
    compress: bool,
    /// Decompress.
    #[arg(short = 'd', long = "decompress")]
    decompress: bool,
    /// Verify: decode everything and check every checksum.
    #[arg(short = 't', long = "test")]
    test: bool,
    /// List archive information.
    #[arg(short = 'l', long = "list")]
    list: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Compress files (FILE -> FILE.boa; stdin -> stdout).
    #[command(after_help = examples::COMPRESS)]
    Compress(CompressArgs),
    /// Decompress archives (FILE.boa -> FILE; stdin -> stdout).
    #[command(after_help = examples::DECOMPRESS)]
    Decompress(DecompressArgs),
    /// Decode every chunk and check every checksum; non-zero exit if anything is wrong.
    #[command(alias = "test", after_help = examples::VERIFY)]
    Verify(VerifyArgs),
    /// Show sizes, ratio, chunks, codecs, model fingerprint and versions.
    #[command(after_help = examples::LIST)]
    List(ListArgs),
    /// Inspect, generate and measure integer model files.
    #[command(subcommand)]
    Model(model_cmd::ModelCommand),
    /// Generate or check the portability vectors (golden digests).
    #[command(subcommand)]
    Vectors(VectorsCommand),
    /// Benchmark codecs side by side on files, checking every round trip.
    #[command(after_help = examples::BENCH)]
    Bench(bench_cmd::BenchArgs),
    /// Show where the bits go: per table column or text field, under the
    /// default and best levels and xz, with what low mantissa bytes cost.
    #[command(after_help = examples::ANALYZE)]
    Analyze(analyze_cmd::AnalyzeArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = examples::COMPLETIONS)]
    Completions(docs_cmd::CompletionsArgs),
    /// Print the manual page, or write one per command into a folder.
    #[command(after_help = examples::MAN)]
    Man(docs_cmd::ManArgs),
}

#[derive(Subcommand, Debug)]
enum VectorsCommand {
    /// Write models, inputs, manifest.tsv and golden archives into DIR (the committed set is `portability-vectors/`).
    Generate { dir: std::path::PathBuf },
    /// Recompute every digest in DIR with this build's engine, decode and
    /// re-encode every golden archive, and compare.
    Check {
        dir: std::path::PathBuf,
        /// Where the network runs: the digests, the decoding and the
        /// re-encoding of every golden archive (made on the CPU) must come out
        /// the same on it.
        #[arg(long, value_enum, default_value = "cpu")]
        device: archive_cmd::DeviceChoice,
    },
}

fn run_vectors(cmd: VectorsCommand) -> Result<(), CliError> {
    match cmd {
        VectorsCommand::Generate { dir } => crate::vectors::generate(&dir)
            .map_err(|e| CliError::new(exit::IO, format!("{}: {e}", dir.display()))),
        VectorsCommand::Check { dir, device } => {
            let device = device.device();
            device.available()?;
            let n =
                crate::vectors::check(&dir, device).map_err(|e| CliError::new(exit::CORRUPT, e))?;
            outln!(
                "{n} portability vectors match on {device} ({})",
                dir.display()
            );
            let n = crate::vectors::check_archives(&dir, device)
                .map_err(|e| CliError::new(exit::CORRUPT, e))?;
            outln!(
                "{n} golden archives decode and re-encode identically on {device} ({})",
                dir.display()
            );
            let n = crate::vectors::check_builtin_archives(&dir, device)
                .map_err(|e| CliError::new(exit::CORRUPT, e))?;
            outln!(
                "{n} built-in model archives decode and re-encode identically on {device} ({})",
                dir.display()
            );
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

/// Writes command output to stdout (see [`outln!`]).
pub(crate) fn write_stdout(args: std::fmt::Arguments<'_>, newline: bool) -> Result<(), CliError> {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    o.write_fmt(args)
        .and_then(|()| if newline { o.write_all(b"\n") } else { Ok(()) })
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::BrokenPipe => CliError::new(exit::BROKEN_PIPE, ""),
            _ => CliError::new(exit::IO, format!("cannot write to stdout: {e}")),
        })
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

/// The built-in default model, or the error saying none is built in.
pub fn default_model() -> Result<crate::model::Model, CliError> {
    let bytes = crate::default_models::default_model()
        .ok_or_else(|| CliError::new(exit::MODEL, crate::default_models::NO_DEFAULT_MODEL))?;
    Ok(crate::model::Model::from_bytes(bytes)?)
}

/// Runs the CLI with the process arguments.
pub fn main() -> ExitCode {
    let cli = Cli::parse_from(level_flags_as_options(std::env::args_os()));
    if cli.version {
        return exit_code(version::print(cli.opts.verbosity.verbose > 0));
    }
    // An unusable BOA_DET_KERNELS is refused before any work.
    if let Err(e) = crate::engine::cpu::dispatch::selected() {
        eprintln!("boa-det: {e}");
        return ExitCode::from(exit::USAGE);
    }
    // Temporary outputs are removed on SIGINT, SIGTERM and SIGHUP.
    io_util::install_signal_handler();
    let result = match cli.command {
        Some(Command::Model(c)) => model_cmd::run(c),
        Some(Command::Vectors(c)) => run_vectors(c),
        Some(Command::Bench(a)) => bench_cmd::run(a),
        Some(Command::Analyze(a)) => analyze_cmd::run(a),
        Some(Command::Completions(a)) => docs_cmd::completions(a),
        Some(Command::Man(a)) => docs_cmd::man(a),
        Some(Command::Compress(a)) => archive_cmd::run(Mode::Compress, a.into()),
        Some(Command::Decompress(a)) => archive_cmd::run(Mode::Decompress, a.into()),
        Some(Command::Verify(a)) => archive_cmd::run(Mode::Verify, a.into()),
        Some(Command::List(a)) => archive_cmd::run(Mode::List, a.into()),
        None => {
            let m = &cli.mode;
            let mode = if m.decompress {
                Mode::Decompress
            } else if m.test {
                Mode::Verify
            } else if m.list {
                Mode::List
            } else {
                Mode::Compress
            };
            // The zstd-style form parses every option; refuse the ones the
            // mode does not take, as its subcommand would.
            cli.opts
                .check_scope(mode)
                .and_then(|()| archive_cmd::run(mode, cli.opts))
        }
    };
    exit_code(result)
}

/// The arguments with each level flag `-1` to `-9` written as `--level=N`
/// (as xz and zstd take them), up to a `--`.
pub fn level_flags_as_options(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
    let mut after_dashes = false;
    args.into_iter()
        .map(|a| {
            if after_dashes {
                return a;
            }
            if a == "--" {
                after_dashes = true;
                return a;
            }
            match a.to_str().map(str::as_bytes) {
                Some([b'-', d @ b'1'..=b'9']) => format!("--level={}", *d as char).into(),
                _ => a,
            }
        })
        .collect()
}

/// The exit code of a command's result, printing its error.
fn exit_code(result: Result<(), CliError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) if e.code == exit::BROKEN_PIPE => ExitCode::from(e.code),
        Err(e) => {
            eprintln!("boa-det: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}
