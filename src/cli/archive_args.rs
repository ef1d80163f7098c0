//! The options of the archive commands, in groups, so that each command takes
//! exactly the groups that mean something to it: `decompress --record-size`
//! is a usage error, not an option silently ignored.
//!
//! The subcommands (`boa-det decompress ...`) get their groups from clap. The
//! zstd-style form (`boa-det -d ...`) parses every group and then refuses, in
//! [`ArchiveOpts::check_scope`], each option given that its mode does not take.

use super::archive_cmd::{DeviceChoice, Mode};
use super::{CliError, exit};
use crate::compress::{self as pipeline, DecodeLimits};
use crate::container::FORMAT_VERSION_NEWEST;
use crate::engine::Device;
use clap::Args;
use std::path::PathBuf;

/// The inputs: every archive command takes them.
#[derive(Args, Debug, Clone, Default)]
pub struct InputArgs {
    /// Input files (with -r also folders); `-` or none reads standard input.
    pub files: Vec<PathBuf>,
    /// Process the files in folders, recursively (compress: every file not
    /// ending in .boa; the other modes: every .boa file).
    #[arg(short = 'r', long)]
    pub recursive: bool,
}

/// Where a command's output goes: `compress` and `decompress`.
#[derive(Args, Debug, Clone, Default)]
pub struct OutputArgs {
    /// Write the output to FILE (one input only); a device or FIFO is
    /// written into, a regular file or link replaced only with -f.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write to standard output.
    #[arg(short = 'c', long = "stdout")]
    pub stdout: bool,
    /// Overwrite existing output files (a link: the link itself); allow
    /// compressed data on a terminal.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Keep the input files (the default).
    #[arg(short = 'k', long, overrides_with = "rm")]
    pub keep: bool,
    /// Remove each input file once its output is written, synced and
    /// verified; never on a failure, never with -c or a device as output.
    #[arg(long, overrides_with = "keep")]
    pub rm: bool,
}

/// What runs the model: `compress`, `decompress` and `verify`.
#[derive(Args, Debug, Clone, Default)]
pub struct EngineArgs {
    /// Worker threads [default: 0 = all cores]; the output does not depend on it.
    #[arg(short = 'T', long = "threads", value_name = "N")]
    pub threads: Option<usize>,
    /// Model file (default: the built-in model; decoding: the embedded one).
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Compute backend [default: auto].
    #[arg(long, value_enum)]
    pub device: Option<DeviceChoice>,
    /// Chunks coded together (testing; the output does not depend on it).
    #[arg(long, hide = true)]
    pub window: Option<usize>,
}

/// How to encode: `compress` only.
#[derive(Args, Debug, Clone, Default)]
pub struct EncodeArgs {
    /// Compression level, also written -1 to -9 (docs/MODELS.md, "Levels"):
    /// 1 to 3 are the context-mixing codec (codec `cm`, no network, format
    /// version 7; 3 to 5 times faster), 4 is the network with its secondary
    /// models, 5 codes the network's tables with the context mixer (a third
    /// of 4's speed), 6 adds the kinematic model on HEP text, 7 the
    /// counting-field model and on tables the column models, 8 the wide
    /// contexts, 9 on float tables the relation model (the smallest).
    /// Each level is a frozen preset.
    /// [default: 4]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=9))]
    pub level: Option<u8>,
    /// The fastest level (-1).
    #[arg(long, conflicts_with_all = ["level", "best"])]
    pub fast: bool,
    /// The strongest level there is (today -9; it moves up as stronger
    /// levels are added).
    #[arg(long, conflicts_with = "level")]
    pub best: bool,
    /// Store the model in the archive, so it decodes without --model.
    #[arg(long)]
    pub embed_model: bool,
    /// Chunk size in bytes (suffixes K, M: binary), 1 ..= 64M [default: the
    /// built-in model's own (docs/MODELS.md); with --model, 256K, or 4K
    /// under arith v1].
    #[arg(long = "chunk-size", value_name = "SIZE", value_parser = parse_size)]
    pub chunk_size: Option<u32>,
    /// Code with the network alone (codec `neural`), without the match model
    /// that is mixed in by default (codec `neural+match+long`, docs/FORMAT.md
    /// 9.9 to 9.11).
    #[arg(long)]
    pub no_match: bool,
    /// Leave out the match model's long finder: codecs `neural+match` and
    /// `neural+match+columns` (format version 3 at most), for readers older
    /// than format version 4.
    #[arg(long, conflicts_with = "no_match")]
    pub no_long: bool,
    /// Newest archive format version to write, for readers that predate it
    /// (docs/FORMAT.md section 2): 6, the default, may use every codec; 5
    /// leaves out the text field histograms (codec `neural+match+long+text`);
    /// 4 also the column histograms (codec `neural+match+long+columns+hist`);
    /// 3 also the long finder (as --no-long); 2 also the column finder; 1
    /// also the match model (as --no-match).
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=FORMAT_VERSION_NEWEST as i64))]
    pub format_version: Option<u16>,
    /// Record length of a table of fixed-size records, for the column finder
    /// (docs/FORMAT.md 9.10): `auto` (the default) detects it and keeps it
    /// only if a trial on the first 64 KiB is smaller, `off` never uses it, a
    /// number of bytes always does. Without --chunk-size, a chunk holds at
    /// least 32 records (at most 1 MiB).
    #[arg(long, value_name = "auto|off|BYTES",
          value_parser = pipeline::RecordStride::parse, conflicts_with = "no_match")]
    pub record_size: Option<pipeline::RecordStride>,
    /// Text field histograms for lines of space-, tab- or comma-separated
    /// fields (codec `neural+match+long+text`, docs/FORMAT.md 9.13): `auto`
    /// (the default) uses them if a trial on the first chunk is smaller
    /// (against every detected record length too), `on` always does (instead
    /// of the column finder), `off` never does.
    #[arg(long, value_name = "auto|on|off",
          value_parser = pipeline::TextFields::parse, conflicts_with_all = ["no_match", "no_long"])]
    pub text_fields: Option<pipeline::TextFields>,
}

/// Limits for decoding untrusted archives: `decompress` and `verify`.
#[derive(Args, Debug, Clone, Default)]
pub struct LimitArgs {
    /// Refuse, before any work, to decode an input that would produce more
    /// than SIZE bytes (suffixes K, M, G, T: binary); all members of
    /// concatenated archives together.
    #[arg(long, value_name = "SIZE", value_parser = parse_scaled)]
    pub max_output: Option<u64>,
    /// Refuse, before any work, to decode an input that would take more than
    /// N model steps (one per byte of every chunk coded with the network;
    /// suffixes K, M, G, T: binary).
    #[arg(long, value_name = "N", value_parser = parse_scaled)]
    pub max_model_steps: Option<u64>,
}

impl LimitArgs {
    pub fn limits(&self) -> DecodeLimits {
        DecodeLimits {
            max_output: self.max_output,
            max_model_steps: self.max_model_steps,
        }
    }
}

/// `decompress` only.
#[derive(Args, Debug, Clone, Default)]
pub struct RangeArgs {
    /// Decompress only the original bytes START..END (END may be omitted).
    #[arg(long, value_name = "START..END", value_parser = parse_range)]
    pub range: Option<(u64, Option<u64>)>,
}

/// How much to say: every command.
#[derive(Args, Debug, Clone, Default)]
pub struct Verbosity {
    /// Quiet: no progress bar or summary; -qq also no notices (such as an
    /// input kept in spite of --rm). Errors are always printed.
    #[arg(short = 'q', long, action = clap::ArgAction::Count)]
    pub quiet: u8,
    /// Verbose: a report per input (model, codecs, ratio, time, threads,
    /// kernels); -vv also one line per chunk.
    #[arg(short = 'v', long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// `boa-det compress`.
#[derive(Args, Debug, Clone)]
pub struct CompressArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub encode: EncodeArgs,
    #[command(flatten)]
    pub verbosity: Verbosity,
}

/// `boa-det decompress`.
#[derive(Args, Debug, Clone)]
pub struct DecompressArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub range: RangeArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub verbosity: Verbosity,
}

/// `boa-det verify`.
#[derive(Args, Debug, Clone)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub verbosity: Verbosity,
}

/// `boa-det list`.
#[derive(Args, Debug, Clone)]
pub struct ListArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub verbosity: Verbosity,
}

/// Every group: the zstd-style form's options, and what the archive commands
/// run on (a subcommand's groups, the others left at their defaults).
#[derive(Args, Debug, Clone, Default)]
pub struct ArchiveOpts {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub encode: EncodeArgs,
    #[command(flatten)]
    pub range: RangeArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub verbosity: Verbosity,
}

impl From<CompressArgs> for ArchiveOpts {
    fn from(a: CompressArgs) -> ArchiveOpts {
        ArchiveOpts {
            input: a.input,
            output: a.output,
            engine: a.engine,
            encode: a.encode,
            verbosity: a.verbosity,
            ..ArchiveOpts::default()
        }
    }
}

impl From<DecompressArgs> for ArchiveOpts {
    fn from(a: DecompressArgs) -> ArchiveOpts {
        ArchiveOpts {
            input: a.input,
            output: a.output,
            engine: a.engine,
            range: a.range,
            limits: a.limits,
            verbosity: a.verbosity,
            ..ArchiveOpts::default()
        }
    }
}

impl From<VerifyArgs> for ArchiveOpts {
    fn from(a: VerifyArgs) -> ArchiveOpts {
        ArchiveOpts {
            input: a.input,
            engine: a.engine,
            limits: a.limits,
            verbosity: a.verbosity,
            ..ArchiveOpts::default()
        }
    }
}

impl From<ListArgs> for ArchiveOpts {
    fn from(a: ListArgs) -> ArchiveOpts {
        ArchiveOpts {
            input: a.input,
            verbosity: a.verbosity,
            ..ArchiveOpts::default()
        }
    }
}

impl ArchiveOpts {
    /// The options given, by group, as the user spelt them in `--help`.
    fn given(&self) -> [(Group, Vec<&'static str>); 5] {
        let o = &self.output;
        let e = &self.engine;
        let c = &self.encode;
        let flag = |on: bool, name: &'static str| on.then_some(name);
        [
            (
                Group::Output,
                [
                    flag(o.output.is_some(), "--output"),
                    flag(o.stdout, "--stdout"),
                    flag(o.force, "--force"),
                    flag(o.keep, "--keep"),
                    flag(o.rm, "--rm"),
                ]
                .into_iter()
                .flatten()
                .collect(),
            ),
            (
                Group::Engine,
                [
                    flag(e.threads.is_some(), "--threads"),
                    flag(e.model.is_some(), "--model"),
                    flag(e.device.is_some(), "--device"),
                    flag(e.window.is_some(), "--window"),
                ]
                .into_iter()
                .flatten()
                .collect(),
            ),
            (
                Group::Encode,
                [
                    flag(c.level.is_some(), "--level"),
                    flag(c.fast, "--fast"),
                    flag(c.best, "--best"),
                    flag(c.embed_model, "--embed-model"),
                    flag(c.chunk_size.is_some(), "--chunk-size"),
                    flag(c.no_match, "--no-match"),
                    flag(c.no_long, "--no-long"),
                    flag(c.format_version.is_some(), "--format-version"),
                    flag(c.record_size.is_some(), "--record-size"),
                    flag(c.text_fields.is_some(), "--text-fields"),
                ]
                .into_iter()
                .flatten()
                .collect(),
            ),
            (
                Group::Range,
                flag(self.range.range.is_some(), "--range")
                    .into_iter()
                    .collect(),
            ),
            (
                Group::Limits,
                [
                    flag(self.limits.max_output.is_some(), "--max-output"),
                    flag(self.limits.max_model_steps.is_some(), "--max-model-steps"),
                ]
                .into_iter()
                .flatten()
                .collect(),
            ),
        ]
    }

    /// Refuses the options given that `mode` does not take (the zstd-style
    /// form parses them all); a subcommand's parser already refuses them.
    pub fn check_scope(&self, mode: Mode) -> Result<(), CliError> {
        for (group, names) in self.given() {
            if let Some(name) = names.first()
                && !group.taken_by(mode)
            {
                return Err(CliError::new(
                    exit::USAGE,
                    format!(
                        "{name} does not apply to {} (it is for {})",
                        mode.name(),
                        group.modes()
                    ),
                ));
            }
        }
        Ok(())
    }

    pub fn threads(&self) -> usize {
        self.engine.threads.unwrap_or(0)
    }

    pub fn window(&self) -> usize {
        self.engine.window.unwrap_or(pipeline::DEFAULT_WINDOW)
    }

    pub fn device(&self) -> Device {
        self.engine.device.unwrap_or(DeviceChoice::Auto).device()
    }

    pub fn quiet(&self) -> bool {
        self.verbosity.quiet > 0
    }

    /// Notices (not errors) are printed unless -qq.
    pub fn notices(&self) -> bool {
        self.verbosity.quiet < 2
    }

    /// The -v level, 0 under -q.
    pub fn verbose(&self) -> u8 {
        if self.quiet() {
            0
        } else {
            self.verbosity.verbose
        }
    }
}

/// The option groups of the archive commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    Output,
    Engine,
    Encode,
    Range,
    Limits,
}

impl Group {
    fn taken_by(self, mode: Mode) -> bool {
        use Mode::*;
        match self {
            Group::Output => matches!(mode, Compress | Decompress),
            Group::Engine => matches!(mode, Compress | Decompress | Verify),
            Group::Encode => mode == Compress,
            Group::Range => mode == Decompress,
            Group::Limits => matches!(mode, Decompress | Verify),
        }
    }

    /// The modes that take the group, for messages: `a, b and c`.
    fn modes(self) -> String {
        let names: Vec<&str> = [Mode::Compress, Mode::Decompress, Mode::Verify, Mode::List]
            .into_iter()
            .filter(|&m| self.taken_by(m))
            .map(Mode::name)
            .collect();
        match names.split_last() {
            Some((last, [])) => last.to_string(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
            None => String::new(),
        }
    }
}

/// A size with an optional binary suffix: `65536`, `64K`, `1M`, `2G`, `1T`.
fn parse_scaled(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        None => (t, 1u64),
        Some((i, _)) => {
            let m = match t[i..].to_ascii_uppercase().as_str() {
                "K" | "KB" | "KIB" => 1 << 10,
                "M" | "MB" | "MIB" => 1 << 20,
                "G" | "GB" | "GIB" => 1 << 30,
                "T" | "TB" | "TIB" => 1 << 40,
                _ => return Err(format!("bad size {s:?} (use e.g. 65536, 64K, 1M, 2G)")),
            };
            (&t[..i], m)
        }
    };
    let n: u64 = num.parse().map_err(|_| format!("bad size {s:?}"))?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} too large"))
}

fn parse_size(s: &str) -> Result<u32, String> {
    let v = parse_scaled(s)?;
    if v == 0 || v > u64::from(crate::container::MAX_CHUNK_LEN) {
        return Err(format!("chunk size must be 1 ..= 64M, got {s}"));
    }
    Ok(v as u32)
}

fn parse_range(s: &str) -> Result<(u64, Option<u64>), String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("bad range {s:?} (use START..END)"))?;
    let a: u64 = if a.is_empty() {
        0
    } else {
        a.parse().map_err(|_| format!("bad range start {a:?}"))?
    };
    let b = if b.is_empty() {
        None
    } else {
        Some(b.parse().map_err(|_| format!("bad range end {b:?}"))?)
    };
    if let Some(b) = b
        && b < a
    {
        return Err(format!("range end {b} is before start {a}"));
    }
    Ok((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!(parse_scaled("65536"), Ok(65536));
        assert_eq!(parse_scaled("64K"), Ok(64 << 10));
        assert_eq!(parse_scaled("1m"), Ok(1 << 20));
        assert_eq!(parse_scaled("2GiB"), Ok(2 << 30));
        assert_eq!(parse_scaled("3T"), Ok(3 << 40));
        assert!(parse_scaled("1X").is_err());
        assert!(parse_scaled("").is_err());
        assert!(parse_scaled("99999999999T").is_err());
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert!(parse_size("0").is_err());
        assert!(parse_size("65M").is_err());
        assert_eq!(parse_scaled("0"), Ok(0));
    }

    #[test]
    fn ranges_parse() {
        assert_eq!(parse_range("5..9"), Ok((5, Some(9))));
        assert_eq!(parse_range("..9"), Ok((0, Some(9))));
        assert_eq!(parse_range("5.."), Ok((5, None)));
        assert!(parse_range("9..5").is_err());
        assert!(parse_range("9").is_err());
    }

    #[test]
    fn every_group_belongs_to_compress_or_a_decoder() {
        let opts = ArchiveOpts {
            encode: EncodeArgs {
                record_size: Some(pipeline::RecordStride::Off),
                ..EncodeArgs::default()
            },
            ..ArchiveOpts::default()
        };
        assert!(opts.check_scope(Mode::Compress).is_ok());
        let e = opts.check_scope(Mode::Decompress).unwrap_err();
        assert_eq!(e.code, exit::USAGE);
        assert_eq!(
            e.message,
            "--record-size does not apply to decompress (it is for compress)"
        );
        let opts = ArchiveOpts {
            limits: LimitArgs {
                max_output: Some(1),
                max_model_steps: None,
            },
            ..ArchiveOpts::default()
        };
        assert!(opts.check_scope(Mode::Verify).is_ok());
        assert!(opts.check_scope(Mode::Decompress).is_ok());
        assert!(opts.check_scope(Mode::Compress).is_err());
        assert!(opts.check_scope(Mode::List).is_err());
        assert!(ArchiveOpts::default().check_scope(Mode::List).is_ok());
    }
}
