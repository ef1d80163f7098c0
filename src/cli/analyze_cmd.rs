//! `boa-det analyze FILE`: where the bits go, per table column or text field,
//! under boa-det's levels and xz ([`crate::analyze`]).

use super::{CliError, exit};
use crate::analyze::{self, Analysis, Layout, TableLayout, layout};
use crate::compress::compress_bytes;
use crate::model::Model;
use std::io::Read;
use std::path::{Path, PathBuf};

/// What the input is, for `--layout`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutChoice {
    /// A `.npy` header, else text if it reads as text, else a table with
    /// `--columns`, a columns sidecar, or the detected record length.
    Auto,
    Table,
    Text,
}

#[derive(clap::Args, Debug)]
pub struct AnalyzeArgs {
    /// The file to analyze (read into memory, at most `--limit` bytes of it).
    pub file: PathBuf,
    /// boa-det levels to measure, comma-separated (default: the default
    /// level and `--best`'s).
    #[arg(long, value_delimiter = ',',
          default_values_t = [crate::levels::DEFAULT_LEVEL, crate::levels::BEST_LEVEL],
          value_parser = clap::value_parser!(u8).range(1..=9))]
    pub levels: Vec<u8>,
    /// Leave out xz -9 (each group's bytes compressed alone).
    #[arg(long)]
    pub no_xz: bool,
    /// How to split the input.
    #[arg(long, value_enum, default_value = "auto")]
    pub layout: LayoutChoice,
    /// A table's record length in bytes (default: from `--columns`, a `.npy`
    /// header, or detected).
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u32).range(1..=(1 << 24)))]
    pub record: Option<u32>,
    /// A table's column width in bytes (every column alike).
    #[arg(long, value_name = "BYTES", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub word: u32,
    /// Bytes before the first record of a table (a header).
    #[arg(long, value_name = "BYTES", default_value_t = 0)]
    pub header: u64,
    /// Column names (and types) of a table: lines `index<TAB>name<TAB>dtype`,
    /// or one name per line. Without it, `NAME.columns.tsv` or
    /// `NAME.columns.txt` beside the file is used if there is one.
    #[arg(long, value_name = "FILE")]
    pub columns: Option<PathBuf>,
    /// Analyze at most this many bytes from the start (suffixes K, M, G).
    #[arg(long, value_name = "BYTES", default_value = "64M", value_parser = parse_size)]
    pub limit: u64,
    /// Groups shown on the terminal and in the chart (the costliest; JSON has all).
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub top: u32,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write the chart as SVG to FILE.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Overwrite an existing `--plot` file.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Model of the network levels (default: the built-in default model).
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Worker threads (0: one per core).
    #[arg(short = 'T', long, default_value_t = 0)]
    pub threads: usize,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let (num, mul) = match s.trim().char_indices().last() {
        Some((i, 'K' | 'k')) => (&s[..i], 1u64 << 10),
        Some((i, 'M' | 'm')) => (&s[..i], 1 << 20),
        Some((i, 'G' | 'g')) => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("`{s}` is not a size in bytes (suffixes K, M, G)"))
}

/// The sidecar column list of `path` (`x.rm.bin` -> `x.rm.columns.tsv`,
/// `x.columns.tsv`, or `.txt`), if one exists.
fn sidecar(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let mut base = name;
    loop {
        for ext in ["columns.tsv", "columns.txt"] {
            let p = path.with_file_name(format!("{base}.{ext}"));
            if p.is_file() {
                return Some(p);
            }
        }
        base = &base[..base.rfind('.')?];
    }
}

fn read_columns(path: &Path) -> Result<Vec<(String, Option<String>)>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::new(exit::IO, format!("cannot read {}: {e}", path.display())))?;
    let cols = layout::parse_columns(&text);
    if cols.is_empty() {
        return Err(CliError::new(
            exit::USAGE,
            format!("{} names no columns", path.display()),
        ));
    }
    Ok(cols)
}

/// The layout `args` ask for, or the one found in `data` (and beside `path`).
fn choose_layout(args: &AnalyzeArgs, path: &Path, data: &[u8]) -> Result<Layout, CliError> {
    let header = usize::try_from(args.header)
        .unwrap_or(usize::MAX)
        .min(data.len());
    let word = args.word as usize;
    let text = match args.layout {
        LayoutChoice::Text => true,
        LayoutChoice::Table => false,
        LayoutChoice::Auto => {
            // Text first: a CSV may share its name with a table's sidecar.
            args.columns.is_none()
                && args.record.is_none()
                && layout::npy_layout(data).is_none()
                && layout::looks_like_text(data)
        }
    };
    if text {
        return Ok(Layout::Text(layout::text_separator(data)));
    }
    if args.record.is_none()
        && args.columns.is_none()
        && args.header == 0
        && let Some(t) = layout::npy_layout(data)
    {
        return Ok(Layout::Table(t));
    }
    let columns = match (&args.columns, args.layout) {
        (Some(p), _) => Some(read_columns(p)?),
        (None, _) if args.record.is_none() => {
            sidecar(path).map(|p| read_columns(&p)).transpose()?
        }
        _ => None,
    };
    if let Some(cols) = columns {
        let t = TableLayout::named(header, word, cols);
        if args.record.is_some_and(|r| r as usize != t.record) {
            return Err(CliError::new(
                exit::USAGE,
                format!(
                    "--record {} disagrees with the {} columns of {} bytes",
                    args.record.unwrap_or(0),
                    t.columns.len(),
                    word
                ),
            ));
        }
        return Ok(Layout::Table(t));
    }
    let record = match args.record {
        Some(r) => r as usize,
        None => {
            let body = &data[header..];
            crate::mixing::record_stride::record_stride_candidates(
                &body[..body.len().min(64 << 10)],
            )
            .first()
            .map_or(word, |&r| r as usize)
        }
    };
    Ok(Layout::Table(TableLayout::uniform(header, record, word)))
}

fn internal(e: impl std::fmt::Display) -> CliError {
    CliError::new(
        exit::CORRUPT,
        format!("internal error: the replay of a fresh archive failed: {e}"),
    )
}

pub fn run(args: AnalyzeArgs) -> Result<(), CliError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .map_err(|e| CliError::new(exit::IO, format!("cannot start threads: {e}")))?;
    pool.install(|| analyze(&args))
}

fn analyze(args: &AnalyzeArgs) -> Result<(), CliError> {
    let path = &args.file;
    let levels = args
        .levels
        .iter()
        .map(|&n| crate::levels::level(n).map_err(|m| CliError::new(exit::USAGE, m)))
        .collect::<Result<Vec<_>, _>>()?;
    let read_err =
        |e: std::io::Error| CliError::new(exit::IO, format!("cannot read {}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(read_err)?;
    let file_len = file.metadata().map_err(read_err)?.len();
    let mut data = Vec::new();
    file.take(args.limit)
        .read_to_end(&mut data)
        .map_err(read_err)?;
    if data.is_empty() {
        return Err(CliError::new(
            exit::USAGE,
            format!("{} is empty", path.display()),
        ));
    }
    let layout = choose_layout(args, path, &data)?;
    let model = match &args.model {
        Some(p) => Model::load(p)?,
        None => super::default_model()?,
    };
    let mut name = path.display().to_string();
    if (data.len() as u64) < file_len {
        name = format!("{name}, first {} of {file_len} bytes", data.len());
    }
    let mut a = Analysis::new(&name, &data, layout);
    for level in levels {
        let archive = compress_bytes(&model, &data, &level.options(&model)).map_err(|e| {
            CliError::new(
                exit::IO,
                format!("compressing at level {}: {e}", level.number),
            )
        })?;
        let bits =
            analyze::costs::archive_byte_bits(Some(&model), &archive, &data).map_err(internal)?;
        a.add_per_byte(
            &format!("boa-det -{}", level.number),
            archive.len() as u64,
            &bits,
        );
    }
    if !args.no_xz {
        let xz = |p: &[u8]| liblzma::encode_all(p, 9).map_or(p.len() as u64, |v| v.len() as u64);
        let whole = xz(&data);
        a.add_groups_alone("xz -9", whole, &data, xz);
    }
    let top = args.top as usize;
    if args.json {
        let json = serde_json::to_string_pretty(&analyze::report::to_json(&a)).map_err(internal)?;
        outln!("{json}");
    } else {
        out!("{}", analyze::report::to_table(&a, top));
    }
    if let Some(p) = &args.plot {
        super::io_util::write_new_file(p, analyze::svg::to_svg(&a, top).as_bytes(), args.force)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_suffixes() {
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("2k"), Ok(2048));
        assert!(
            parse_size("0").is_err()
                && parse_size("x").is_err()
                && parse_size("99999999999G").is_err()
        );
    }
}
