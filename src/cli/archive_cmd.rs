//! `compress`, `decompress`, `verify`, `list` (and `-z`, `-d`, `-t`, `-l`).

use super::archive_args::ArchiveOpts;
use super::inputs;
use super::io_util::{Committed, FileId, OutputFile};
use super::report::{self, count};
use super::spool::{self, ReadSeek};
use super::{CliError, exit};
use crate::compress::{self as pipeline, CompressOptions, DecodeCost, DecodeLimits, PipelineError};
use crate::container::{
    ArchiveReader, ContainerError, FORMAT_VERSION_NEWEST, MembersError, Window, member_ranges,
};
use crate::engine::Device;
use crate::levels;
use crate::model::Model;
use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::fs::{File, Metadata};
use std::io::{IsTerminal, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Instant;
use xxhash_rust::xxh3::Xxh3Default;

/// What to do with the inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Compress,
    Decompress,
    Verify,
    List,
}

impl Mode {
    /// The subcommand's name.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Compress => "compress",
            Mode::Decompress => "decompress",
            Mode::Verify => "verify",
            Mode::List => "list",
        }
    }
}

/// `--device`: where the network runs. Archives never depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeviceChoice {
    /// The first NVIDIA GPU when a driver and a GPU are present and this
    /// build's kernels have been verified on a GPU, else the CPU.
    Auto,
    /// The CPU, at the best kernel level it supports (`BOA_DET_KERNELS`).
    Cpu,
    /// The first NVIDIA GPU: an error without a driver or GPU, or when the
    /// GPU fails its known-answer test.
    Cuda,
    /// The CUDA kernels on the host's SIMT emulator (builds with the cargo
    /// feature cuda-emulator; for tests, slow).
    CudaEmulated,
}

impl DeviceChoice {
    /// The engine device for this choice: the one place `--device` is read.
    /// `auto` looks for a GPU once per process.
    pub fn device(self) -> Device {
        static AUTO: std::sync::OnceLock<Device> = std::sync::OnceLock::new();
        match self {
            DeviceChoice::Auto => *AUTO.get_or_init(|| {
                let gpu = Device::Cuda { ordinal: 0 };
                if gpu.available().is_ok() {
                    gpu
                } else {
                    Device::Cpu
                }
            }),
            DeviceChoice::Cpu => Device::Cpu,
            DeviceChoice::Cuda => Device::Cuda { ordinal: 0 },
            DeviceChoice::CudaEmulated => Device::CudaEmulated,
        }
    }
}

impl From<PipelineError> for CliError {
    fn from(e: PipelineError) -> CliError {
        let code = match &e {
            PipelineError::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe => {
                exit::BROKEN_PIPE
            }
            PipelineError::Io(_) => exit::IO,
            PipelineError::Model(_) => exit::MODEL,
            PipelineError::Corrupt(_) => exit::CORRUPT,
            PipelineError::Usage(_) => exit::USAGE,
            PipelineError::Limit(_) => exit::LIMIT,
            PipelineError::Device(d) => return d.clone().into(),
        };
        CliError::new(code, e.to_string())
    }
}

fn with_name(name: &str) -> impl Fn(CliError) -> CliError + '_ {
    move |e| CliError::new(e.code, format!("{name}: {}", e.message))
}

fn progress_bar(total: Option<u64>, quiet: bool) -> ProgressBar {
    let pb = match total {
        Some(t) => ProgressBar::new(t),
        None => ProgressBar::no_length(),
    };
    if quiet || !std::io::stderr().is_terminal() {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    } else {
        let style = ProgressStyle::with_template(
            "{bar:30} {bytes}/{total_bytes} {msg} {binary_bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        pb.set_style(style);
    }
    pb
}

/// Whether `-r` picks up `path` for `mode`: compression takes every file not
/// already ending in `.boa`, the other modes every file ending in it.
fn wanted(mode: Mode, path: &Path) -> bool {
    let is_archive = path.as_os_str().as_encoded_bytes().ends_with(b".boa");
    (mode == Mode::Compress) != is_archive
}

/// The failures of a run: with several inputs each is reported when it
/// happens and the others go on; the exit code is the first failure's.
struct Failures {
    several: bool,
    first: Option<CliError>,
    count: usize,
}

impl Failures {
    /// Records `e`. A closed standard output ends the run at once.
    fn add(&mut self, e: CliError) -> Result<(), CliError> {
        if e.code == exit::BROKEN_PIPE {
            return Err(e);
        }
        self.count += 1;
        if self.several {
            eprintln!("boa-det: {}", e.message);
        }
        self.first.get_or_insert(e);
        Ok(())
    }

    fn finish(self, inputs: usize) -> Result<(), CliError> {
        match self.first {
            None => Ok(()),
            Some(e) if !self.several => Err(e),
            Some(e) => Err(CliError::new(
                e.code,
                format!("{} of {inputs} inputs failed", self.count),
            )),
        }
    }
}

/// Runs `mode` on every input (docs/CLI.md, "Several inputs").
pub fn run(mode: Mode, opts: ArchiveOpts) -> Result<(), CliError> {
    // A device that cannot run at all is refused before any input is read.
    opts.device().available()?;
    if opts.output.rm && opts.range.range.is_some() {
        return Err(CliError::new(
            exit::USAGE,
            "--rm cannot be used with --range (a part of the archive is not a copy of it)",
        ));
    }
    let named = if opts.input.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        opts.input.files.clone()
    };
    if named.len() > 1 && opts.output.output.is_some() {
        return Err(CliError::new(
            exit::USAGE,
            "-o FILE needs exactly one input",
        ));
    }
    let inputs = inputs::expand(&named, opts.input.recursive, |p| wanted(mode, p));
    if inputs.files.len() > 1 && opts.output.output.is_some() {
        return Err(CliError::new(
            exit::USAGE,
            "-o FILE needs exactly one input",
        ));
    }
    // `-T 0` (rayon's default) uses all cores. A second call (tests running
    // in one process) keeps the first pool.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads())
        .build_global();
    let supplied = match &opts.engine.model {
        Some(p) => Some(Model::load(p)?),
        None => None,
    };
    // Compression needs a model: the supplied one or the built-in default,
    // loaded once for all inputs.
    let compress_model = match (mode, &supplied) {
        (Mode::Compress, None) => Some(super::default_model()?),
        (Mode::Compress, Some(m)) => Some(m.clone()),
        _ => None,
    };
    let count = inputs.files.len() + inputs.errors.len();
    let mut failures = Failures {
        several: count > 1,
        first: None,
        count: 0,
    };
    for e in inputs.errors {
        failures.add(e)?;
    }
    for f in &inputs.files {
        let result = match mode {
            Mode::Compress => {
                let model = compress_model.as_ref().expect("resolved for compression");
                compress_one(f, &opts, model)
            }
            Mode::Decompress => decompress_one(f, &opts, supplied.clone()),
            Mode::Verify => verify_one(f, &opts, supplied.clone()),
            Mode::List => list_one(f, &opts),
        };
        if let Err(e) = result {
            failures.add(e)?;
        }
    }
    failures.finish(count)
}

fn is_stdio(p: &Path) -> bool {
    p.as_os_str() == "-"
}

fn display(p: &Path) -> String {
    if is_stdio(p) {
        "<stdin>".into()
    } else {
        p.display().to_string()
    }
}

/// Where the output goes.
enum Output {
    Stdout(std::io::BufWriter<std::io::Stdout>),
    File(OutputFile),
}

impl Output {
    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Output::Stdout(s) => s,
            Output::File(f) => f.writer(),
        }
    }

    /// Finishes the output; `None` for standard output.
    fn commit(self) -> Result<Option<Committed>, CliError> {
        match self {
            Output::Stdout(mut s) => s.flush().map(|()| None).map_err(|e| {
                let code = if e.kind() == std::io::ErrorKind::BrokenPipe {
                    exit::BROKEN_PIPE
                } else {
                    exit::IO
                };
                CliError::new(code, format!("cannot write stdout: {e}"))
            }),
            Output::File(f) => f.commit().map(Some),
        }
    }
}

/// Opens the output: standard output for none, `-` or `/dev/stdout` (so a
/// redirected standard output is written, never replaced), else `dest` by
/// the rules of [`OutputFile::create`]. `input` is the input's identity.
fn open_output(
    dest: Option<&Path>,
    force: bool,
    binary: bool,
    input: Option<FileId>,
) -> Result<Output, CliError> {
    match dest {
        Some(p) if !is_stdio(p) && p.as_os_str() != "/dev/stdout" => {
            Ok(Output::File(OutputFile::create(p, force, input)?))
        }
        _ => {
            if binary && !force && std::io::stdout().is_terminal() {
                return Err(CliError::new(
                    exit::USAGE,
                    "refusing to write compressed data to a terminal (use -o FILE, redirect, or -f)",
                ));
            }
            Ok(Output::Stdout(std::io::BufWriter::with_capacity(
                1 << 20,
                std::io::stdout(),
            )))
        }
    }
}

/// An opened input file: its metadata (for --rm) and identity.
struct InputFile {
    file: File,
    meta: Metadata,
    id: Option<FileId>,
}

fn open_input_file(input: &Path) -> Result<InputFile, CliError> {
    let name = display(input);
    let cannot = |e: std::io::Error| CliError::new(exit::IO, format!("{name}: cannot read: {e}"));
    let file = File::open(input).map_err(cannot)?;
    let meta = file.metadata().map_err(cannot)?;
    if meta.is_dir() {
        return Err(CliError::new(
            exit::IO,
            format!("{name}: is a directory (use -r to process the files in it)"),
        ));
    }
    let id = FileId::of_open(&file, &meta);
    Ok(InputFile { file, meta, id })
}

/// Removes the input for `--rm`, only once its output is safe: a regular
/// file renamed into place and synced with its folder, and `check` (which
/// proves that the output holds the input) passed, and only if the input did
/// not change meanwhile. Otherwise the input is kept: silently where the
/// output cannot be made safe (standard output, a device), with an error
/// where a check failed.
fn remove_input(
    input: &Path,
    before: &Metadata,
    before_id: Option<FileId>,
    committed: Option<Committed>,
    notices: bool,
    check: impl FnOnce() -> Result<(), CliError>,
) -> Result<(), CliError> {
    let name = display(input);
    let kept = match committed {
        Some(Committed::Regular { durable: true }) => None,
        Some(Committed::Regular { durable: false }) => Some("its output's folder cannot be synced"),
        Some(Committed::Stream) => Some("the output is not a regular file"),
        None => Some("the output is standard output"),
    };
    if let Some(why) = kept {
        if notices {
            eprintln!("boa-det: {name}: kept ({why}), although --rm was given");
        }
        return Ok(());
    }
    check()?;
    let now = std::fs::metadata(input)
        .map_err(|e| CliError::new(exit::IO, format!("{name}: cannot remove: {e}")))?;
    if FileId::of_path(input, &now) != before_id
        || now.len() != before.len()
        || now.modified().ok() != before.modified().ok()
    {
        return Err(CliError::new(
            exit::IO,
            format!("{name}: changed while it was being read; not removed"),
        ));
    }
    std::fs::remove_file(input)
        .map_err(|e| CliError::new(exit::IO, format!("{name}: cannot remove: {e}")))
}

/// Checks the archive written at `path` before --rm removes its input:
/// it opens, holds `len` bytes whose checksum is `hash` (the input's), and
/// every chunk decodes to its checksums.
fn check_written_archive(
    path: &Path,
    model: &Model,
    device: Device,
    len: u64,
    hash: u64,
    window: usize,
) -> Result<(), String> {
    let f = File::open(path).map_err(|e| e.to_string())?;
    let mut reader = ArchiveReader::open(std::io::BufReader::new(f)).map_err(|e| e.to_string())?;
    if reader.total_len() != len || reader.content_hash() != hash {
        return Err("its contents are not the input's".into());
    }
    let model =
        pipeline::resolve_model(&mut reader, Some(model.clone())).map_err(|e| e.to_string())?;
    let rep = pipeline::verify(
        &mut reader,
        model.as_ref(),
        device,
        window,
        pipeline::NO_PROGRESS,
    )
    .map_err(|e| e.to_string())?;
    if rep.ok() {
        Ok(())
    } else {
        Err(format!(
            "{} of {} do not decode",
            rep.bad.len(),
            count(rep.chunks, "chunk")
        ))
    }
}

/// A reader that hashes and counts what passes through it.
struct HashingReader<R> {
    inner: R,
    hasher: Xxh3Default,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// The options `compress` writes with: the level's preset (the default
/// level's without one), with the options given on top. The network's
/// options do not apply to a context-mixing level.
fn compress_options(opts: &ArchiveOpts, model: &Model) -> Result<CompressOptions, CliError> {
    let e = &opts.encode;
    let number = if e.fast {
        levels::FASTEST_LEVEL
    } else if e.best {
        levels::BEST_LEVEL
    } else {
        e.level.unwrap_or(levels::DEFAULT_LEVEL)
    };
    let level = levels::level(number).map_err(|m| CliError::new(exit::USAGE, m))?;
    let base = level.options(model);
    if base.context_mixing.is_some() {
        let cm_version = crate::container::Codec::Cm.min_format_version();
        let network_only = [
            (e.no_match, "--no-match"),
            (e.no_long, "--no-long"),
            (e.text_fields.is_some(), "--text-fields"),
            (
                e.format_version.is_some_and(|v| v < cm_version),
                "--format-version below 7",
            ),
        ];
        if let Some((_, name)) = network_only.iter().find(|(given, _)| *given) {
            return Err(CliError::new(
                exit::USAGE,
                format!("{name} does not apply to level {number} (the context-mixing codec)"),
            ));
        }
        return Ok(CompressOptions {
            chunk_len: e.chunk_size.unwrap_or(base.chunk_len),
            embed_model: e.embed_model,
            records: e.record_size.unwrap_or(base.records),
            device: opts.device(),
            ..base
        });
    }
    let format_version = e.format_version.unwrap_or(FORMAT_VERSION_NEWEST);
    Ok(CompressOptions {
        chunk_len: e.chunk_size.unwrap_or(base.chunk_len),
        embed_model: e.embed_model,
        window: opts.window(),
        match_model: !e.no_match,
        records: e.record_size.unwrap_or(base.records),
        long_finder: !e.no_long,
        text_fields: e.text_fields.unwrap_or(base.text_fields),
        grow_chunks: e.chunk_size.is_none(),
        device: opts.device(),
        ..base
    }
    .for_format_version(format_version))
}

fn compress_one(input: &Path, opts: &ArchiveOpts, model: &Model) -> Result<(), CliError> {
    let name = display(input);
    let dest: Option<PathBuf> =
        if opts.output.stdout || (is_stdio(input) && opts.output.output.is_none()) {
            None
        } else if let Some(o) = &opts.output.output {
            Some(o.clone())
        } else {
            let mut s = input.as_os_str().to_owned();
            s.push(".boa");
            Some(PathBuf::from(s))
        };
    let (reader, source): (Box<dyn Read>, Option<InputFile>) = if is_stdio(input) {
        (Box::new(std::io::stdin().lock()), None)
    } else {
        let f = open_input_file(input)?;
        let r = f
            .file
            .try_clone()
            .map_err(|e| CliError::new(exit::IO, format!("{name}: cannot read: {e}")))?;
        (
            Box::new(std::io::BufReader::with_capacity(1 << 20, r)),
            Some(f),
        )
    };
    let id = match &source {
        Some(f) => f.id,
        None => FileId::of_stdin(),
    };
    let total = source.as_ref().map(|f| f.meta.len());
    let mut out =
        open_output(dest.as_deref(), opts.output.force, true, id).map_err(with_name(&name))?;
    let pb = progress_bar(total, opts.quiet());
    let copts = compress_options(opts, model)?;
    let t0 = Instant::now();
    let mut counter = CountingWriter {
        inner: out.writer(),
        n: 0,
    };
    let ratio = RatioSoFar::default();
    let mut hashed = HashingReader {
        inner: reader,
        hasher: Xxh3Default::new(),
    };
    let mut entries = Vec::new();
    let (_, n_in) = pipeline::compress_observed(
        model,
        &mut hashed,
        &mut counter,
        &copts,
        &|original, stored| {
            pb.inc(original);
            pb.set_message(ratio.add(original, stored));
        },
        &mut |e| entries.push(*e),
    )
    .map_err(|e| with_name(&name)(e.into()))?;
    let n_out = counter.n;
    let took = t0.elapsed();
    pb.finish_and_clear();
    let committed = out.commit().map_err(with_name(&name))?;
    if opts.verbose() > 0 {
        let mut lines = vec![
            report::sizes(n_in, n_out),
            format!("model: {}", report::model_label(model.fingerprint())),
            format!("codecs: {}", report::codec_counts(&entries)),
            format!(
                "time: {}, {}",
                report::speed(n_in, took),
                match copts.context_mixing {
                    Some(p) => format!(
                        "{} on cpu, profile {} (no network)",
                        count(rayon::current_num_threads(), "thread"),
                        p.name
                    ),
                    None => report::engine_line(opts.device()),
                }
            ),
        ];
        if opts.verbose() > 1 {
            lines.extend(
                entries
                    .iter()
                    .enumerate()
                    .map(|(i, e)| report::chunk_line(i, e, 0)),
            );
        }
        report::print(&name, &lines);
    } else if !opts.quiet() {
        if n_in == 0 {
            eprintln!("{name}: empty input -> {n_out} bytes");
        } else {
            let secs = took.as_secs_f64().max(1e-9);
            eprintln!(
                "{name}: {n_in} -> {n_out} bytes ({:.2}%), {:.2} MB/s",
                100.0 * n_out as f64 / n_in as f64,
                n_in as f64 / secs / 1e6
            );
        }
    }
    if let (true, Some(src)) = (opts.output.rm, &source) {
        let hash = hashed.hasher.digest();
        remove_input(input, &src.meta, src.id, committed, opts.notices(), || {
            let dest = dest.as_deref().unwrap_or(Path::new("-"));
            // The input is deleted only once the CPU, the reference, decodes
            // the archive: a GPU check would pass an archive that only a
            // faulty GPU can read.
            check_written_archive(dest, model, Device::Cpu, n_in, hash, opts.window()).map_err(
                |why| {
                    CliError::new(
                        exit::CORRUPT,
                        format!(
                            "{name}: kept: the archive written to {} does not verify ({why})",
                            dest.display()
                        ),
                    )
                },
            )
        })?;
    }
    Ok(())
}

/// Counts the archive bytes written.
struct CountingWriter<'a> {
    inner: &'a mut dyn Write,
    n: u64,
}

/// The ratio so far, from the chunks encoded (on worker threads, in any
/// order): original bytes over the bytes the archive stores for them.
#[derive(Default)]
struct RatioSoFar {
    original: std::sync::atomic::AtomicU64,
    stored: std::sync::atomic::AtomicU64,
}

impl RatioSoFar {
    /// Adds a chunk; returns the progress bar's message.
    fn add(&self, original: u64, stored: u64) -> String {
        use std::sync::atomic::Ordering::Relaxed;
        let o = self.original.fetch_add(original, Relaxed) + original;
        let s = self.stored.fetch_add(stored, Relaxed) + stored;
        format!("ratio {:.3}", o as f64 / s.max(1) as f64)
    }
}

impl Write for CountingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let k = self.inner.write(buf)?;
        self.n += k as u64;
        Ok(k)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// An archive input, seekable: a file, or standard input spooled.
struct ArchiveSource {
    src: Box<dyn ReadSeek>,
    /// The file's metadata; `None` for standard input.
    meta: Option<Metadata>,
    /// The file's identity; `None` for standard input (or where the
    /// platform has none).
    id: Option<FileId>,
    /// The byte ranges of its members (one unless archives were concatenated).
    members: Vec<Range<u64>>,
}

/// One member of an [`ArchiveSource`], opened.
type Member<'a> = ArchiveReader<Window<&'a mut Box<dyn ReadSeek>>>;

impl ArchiveSource {
    fn open(input: &Path) -> Result<ArchiveSource, CliError> {
        let name = display(input);
        let (mut src, meta, id): (Box<dyn ReadSeek>, _, _) = if is_stdio(input) {
            let limit = spool::memory_limit().map_err(|e| CliError::new(exit::USAGE, e))?;
            let src = spool::spool(std::io::stdin().lock(), limit).map_err(|e| {
                CliError::new(
                    exit::IO,
                    format!(
                        "{name}: cannot read (an archive on stdin is spooled to a temporary file past {limit} bytes): {e}"
                    ),
                )
            })?;
            (src, None, None)
        } else {
            let f = open_input_file(input)?;
            (
                Box::new(std::io::BufReader::new(f.file)),
                Some(f.meta),
                f.id,
            )
        };
        let members = member_ranges(&mut src).map_err(|e| {
            let code = match e {
                MembersError::Archive(ContainerError::Io(_)) => exit::IO,
                _ => exit::CORRUPT,
            };
            CliError::new(code, format!("{name}: not a valid .boa archive: {e}"))
        })?;
        Ok(ArchiveSource {
            src,
            meta,
            id,
            members,
        })
    }

    /// Opens member `k` (already validated by [`member_ranges`]).
    fn member(&mut self, k: usize, name: &str) -> Result<Member<'_>, CliError> {
        let range = self.members[k].clone();
        ArchiveReader::open(Window::new(&mut self.src, range))
            .map_err(|e| CliError::new(exit::IO, format!("{name}: cannot read: {e}")))
    }

    /// The original length of every member.
    fn member_lens(&mut self, name: &str) -> Result<Vec<u64>, CliError> {
        (0..self.members.len())
            .map(|k| Ok(self.member(k, name)?.total_len()))
            .collect()
    }

    /// The prefix of member `k`'s `-v` lines: empty for a single archive.
    fn report_prefix(&self, k: usize) -> String {
        if self.members.len() == 1 {
            String::new()
        } else {
            format!("member {}: ", k + 1)
        }
    }

    /// The label of member `k` in messages: the name alone for a single archive.
    fn label(&self, name: &str, k: usize) -> String {
        if self.members.len() == 1 {
            name.to_string()
        } else {
            format!("{name}: member {}", k + 1)
        }
    }
}

fn decompress_one(
    input: &Path,
    opts: &ArchiveOpts,
    supplied: Option<Model>,
) -> Result<(), CliError> {
    let name = display(input);
    let dest: Option<PathBuf> = if opts.output.stdout
        || (is_stdio(input) && opts.output.output.is_none())
    {
        None
    } else if let Some(o) = &opts.output.output {
        Some(o.clone())
    } else {
        match input.to_str().and_then(|s| s.strip_suffix(".boa")) {
            Some(stem) if !stem.is_empty() && !stem.ends_with('/') => Some(PathBuf::from(stem)),
            _ => {
                return Err(CliError::new(
                    exit::USAGE,
                    format!(
                        "{name}: unknown suffix (expected .boa); use -o FILE or -c to choose the output"
                    ),
                ));
            }
        }
    };
    let mut source = ArchiveSource::open(input)?;
    let lens = source.member_lens(&name)?;
    let total: u64 = lens.iter().sum();
    let want = match opts.range.range {
        None => 0..total,
        Some((a, b)) => {
            let end = b.unwrap_or(total);
            if a > end || end > total {
                return Err(CliError::new(
                    exit::USAGE,
                    format!("{name}: byte range {a}..{end} is outside the archive's {total} bytes"),
                ));
            }
            a..end
        }
    };
    // Each member to decode, with the part of `want` in it (relative to its
    // start; `None` for all of it).
    let mut plan = Vec::new();
    let mut base = 0u64;
    for (k, len) in lens.iter().enumerate() {
        let member = base..base + len;
        base += len;
        let local = want.start.max(member.start)..want.end.min(member.end);
        match opts.range.range {
            None => plan.push((k, None)),
            Some(_) if local.is_empty() => {}
            Some(_) => plan.push((
                k,
                Some(local.start - member.start..local.end - member.start),
            )),
        }
    }
    check_limits(&mut source, &name, opts, &plan)?;
    let id = match &source.meta {
        Some(_) => source.id,
        None => FileId::of_stdin(),
    };
    let mut out =
        open_output(dest.as_deref(), opts.output.force, false, id).map_err(with_name(&name))?;
    let pb = progress_bar(Some(want.end - want.start), opts.quiet());
    let t0 = Instant::now();
    let mut n = 0u64;
    let mut lines = Vec::new();
    for (k, range) in plan {
        let label = source.label(&name, k);
        let base = source.members[k].start;
        let prefix = source.report_prefix(k);
        let mut reader = source.member(k, &name)?;
        let model = pipeline::resolve_model(&mut reader, supplied.clone())
            .map_err(|e| with_name(&label)(e.into()))?;
        // The bar counts decoded bytes: whole chunks, also around a range.
        let decoded = pipeline::decode_len(&reader, range.as_ref());
        pb.inc_length(
            decoded
                - range
                    .as_ref()
                    .map_or(reader.total_len(), |r| r.end - r.start),
        );
        if opts.verbose() > 0 {
            lines.extend(member_report(&reader, &prefix, base, opts.verbose()));
        }
        n += pipeline::decompress(
            &mut reader,
            model.as_ref(),
            opts.device(),
            range,
            out.writer(),
            opts.window(),
            &|d| pb.inc(d),
        )
        .map_err(|e| with_name(&label)(e.into()))?;
    }
    let took = t0.elapsed();
    pb.finish_and_clear();
    let committed = out.commit().map_err(with_name(&name))?;
    if opts.verbose() > 0 {
        lines.insert(0, format!("{n} bytes written"));
        lines.push(format!(
            "time: {}, {}",
            report::speed(n, took),
            report::engine_line(opts.device())
        ));
        report::print(&name, &lines);
    }
    if let (true, Some(meta)) = (opts.output.rm, &source.meta) {
        // Every chunk and each member's content checksum were checked while
        // decoding (a full decode: --range is refused with --rm).
        remove_input(input, meta, source.id, committed, opts.notices(), || Ok(()))?;
    }
    Ok(())
}

/// Refuses, before any output is opened or any chunk decoded, an input whose
/// planned decode (members with their ranges) costs more than the limits
/// allow: all members together.
fn check_limits(
    source: &mut ArchiveSource,
    name: &str,
    opts: &ArchiveOpts,
    plan: &[(usize, Option<Range<u64>>)],
) -> Result<(), CliError> {
    let limits = opts.limits.limits();
    if limits == DecodeLimits::NONE {
        return Ok(());
    }
    let mut cost = DecodeCost::default();
    for (k, range) in plan {
        let reader = source.member(*k, name)?;
        cost = cost.plus(DecodeCost::of(&reader, range.as_ref()));
    }
    limits.admit(cost).map_err(|e| with_name(name)(e.into()))
}

/// The `-v` lines of one member: its sizes, model and codecs (and with
/// `-vv` its chunks); labelled when the input holds several.
fn member_report(reader: &Member<'_>, prefix: &str, base: u64, verbose: u8) -> Vec<String> {
    let fp = crate::model::Fingerprint(reader.header().params.model_fingerprint);
    let mut lines = vec![
        format!(
            "{prefix}{}",
            report::sizes(reader.total_len(), reader.file_len())
        ),
        format!("{prefix}model: {}", report::model_label(fp)),
        format!("{prefix}codecs: {}", report::codec_counts(reader.entries())),
    ];
    if verbose > 1 {
        lines.extend(
            reader
                .entries()
                .iter()
                .enumerate()
                .map(|(i, e)| format!("{prefix}{}", report::chunk_line(i, e, base))),
        );
    }
    lines
}

/// What a verified member holds.
struct Verified {
    chunks: usize,
    bytes: u64,
    model: crate::model::Fingerprint,
    /// The `-v` lines.
    report: Vec<String>,
}

fn verify_member(
    source: &mut ArchiveSource,
    k: usize,
    name: &str,
    opts: &ArchiveOpts,
    supplied: Option<Model>,
    pb: &ProgressBar,
    done: u64,
) -> Result<Verified, CliError> {
    // Members before this one are done, whatever they reported.
    pb.set_position(done);
    let label = source.label(name, k);
    let base = source.members[k].start;
    let prefix = source.report_prefix(k);
    let mut reader = source.member(k, name)?;
    let model =
        pipeline::resolve_model(&mut reader, supplied).map_err(|e| with_name(&label)(e.into()))?;
    let report = match opts.verbose() {
        0 => Vec::new(),
        v => member_report(&reader, &prefix, base, v),
    };
    let rep = pipeline::verify(
        &mut reader,
        model.as_ref(),
        opts.device(),
        opts.window(),
        &|d| pb.inc(d),
    )
    .map_err(|e| with_name(&label)(e.into()))?;
    for (i, why) in &rep.bad {
        let prefix = format!("chunk {i}: ");
        let why = why.strip_prefix(&prefix).unwrap_or(why);
        eprintln!("{label}: chunk {i} is bad: {why}");
    }
    if rep.ok() {
        Ok(Verified {
            chunks: rep.chunks,
            bytes: reader.total_len(),
            model: crate::model::Fingerprint(reader.header().params.model_fingerprint),
            report,
        })
    } else if rep.bad.is_empty() {
        Err(CliError::new(
            exit::CORRUPT,
            format!("{label}: content checksum mismatch"),
        ))
    } else {
        Err(CliError::new(
            exit::CORRUPT,
            format!(
                "{label}: {} of {} are bad",
                rep.bad.len(),
                count(rep.chunks, "chunk")
            ),
        ))
    }
}

fn verify_one(input: &Path, opts: &ArchiveOpts, supplied: Option<Model>) -> Result<(), CliError> {
    let name = display(input);
    let mut source = ArchiveSource::open(input)?;
    let lens = source.member_lens(&name)?;
    let several = lens.len() > 1;
    let plan: Vec<_> = (0..lens.len()).map(|k| (k, None)).collect();
    check_limits(&mut source, &name, opts, &plan)?;
    let t0 = Instant::now();
    let pb = progress_bar(Some(lens.iter().sum()), opts.quiet());
    let mut good = Vec::new();
    let mut failures = Failures {
        several,
        first: None,
        count: 0,
    };
    let mut done = 0;
    for (k, len) in lens.iter().enumerate() {
        match verify_member(&mut source, k, &name, opts, supplied.clone(), &pb, done) {
            Ok(v) => good.push(v),
            Err(e) => failures.add(e)?,
        }
        done += len;
    }
    pb.finish_and_clear();
    if let Some(e) = failures.first {
        return Err(if several {
            CliError::new(
                e.code,
                format!(
                    "{name}: {} of {} members are bad",
                    failures.count,
                    lens.len()
                ),
            )
        } else {
            e
        });
    }
    if !opts.quiet() {
        let mut models: Vec<String> = Vec::new();
        for v in &good {
            let m = v.model.to_string();
            if !models.contains(&m) {
                models.push(m);
            }
        }
        let members = if several {
            format!("{}, ", count(lens.len(), "member"))
        } else {
            String::new()
        };
        eprintln!(
            "{name}: OK ({members}{}, {} bytes, {} {})",
            count(good.iter().map(|v| v.chunks).sum(), "chunk"),
            good.iter().map(|v| v.bytes).sum::<u64>(),
            if models.len() == 1 { "model" } else { "models" },
            models.join(", ")
        );
        if opts.verbose() > 0 {
            let bytes = good.iter().map(|v| v.bytes).sum::<u64>();
            let mut lines: Vec<String> = good.into_iter().flat_map(|v| v.report).collect();
            lines.push(format!(
                "time: {}, {}",
                report::speed(bytes, t0.elapsed()),
                report::engine_line(opts.device())
            ));
            for l in lines {
                eprintln!("  {l}");
            }
        }
    }
    Ok(())
}

/// The ratio line of `list`: original / archive, as `bench` and `model eval`
/// report it, and bits per original byte.
fn list_ratio(indent: &str, total: u64, file_len: u64) -> Result<(), CliError> {
    outln!(
        "{indent}ratio:           {:.3} ({:.3} bits/byte)",
        if file_len == 0 {
            0.0
        } else {
            total as f64 / file_len as f64
        },
        if total == 0 {
            0.0
        } else {
            8.0 * file_len as f64 / total as f64
        }
    );
    Ok(())
}

/// Lists one archive (a member starting at byte `base` of the file).
fn list_member(
    reader: &Member<'_>,
    indent: &str,
    base: u64,
    verbose: bool,
) -> Result<(), CliError> {
    let h = *reader.header();
    let total = reader.total_len();
    let file_len = reader.file_len();
    outln!("{indent}original size:   {total}");
    outln!("{indent}archive size:    {file_len}");
    list_ratio(indent, total, file_len)?;
    outln!(
        "{indent}chunks:          {} of {} bytes",
        reader.chunk_count(),
        h.params.chunk_len
    );
    outln!(
        "{indent}codecs:          {}",
        report::codec_counts(reader.entries())
    );
    outln!(
        "{indent}model:           {}{}",
        crate::model::Fingerprint(h.params.model_fingerprint),
        match reader.model_blob_len() {
            Some(l) => format!(" (embedded, {l} bytes)"),
            None => String::new(),
        }
    );
    outln!("{indent}format version:  {}", h.params.format_version);
    outln!("{indent}arith version:   {}", h.params.arith_version);
    if verbose {
        for (i, e) in reader.entries().iter().enumerate() {
            outln!("{indent}{}", report::chunk_line(i, e, base));
        }
    }
    Ok(())
}

fn list_one(input: &Path, opts: &ArchiveOpts) -> Result<(), CliError> {
    let name = display(input);
    let mut source = ArchiveSource::open(input)?;
    outln!("{name}");
    if source.members.len() == 1 {
        let reader = source.member(0, &name)?;
        return list_member(&reader, "  ", 0, opts.verbose() > 0);
    }
    let total: u64 = source.member_lens(&name)?.iter().sum();
    let file_len = source.members.last().map_or(0, |r| r.end);
    outln!("  members:         {}", source.members.len());
    outln!("  original size:   {total}");
    outln!("  archive size:    {file_len}");
    list_ratio("  ", total, file_len)?;
    for k in 0..source.members.len() {
        let range = source.members[k].clone();
        outln!("  member {} (bytes {}..{}):", k + 1, range.start, range.end);
        let reader = source.member(k, &name)?;
        list_member(&reader, "    ", range.start, opts.verbose() > 0)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_archive_check_catches_damage_and_other_content() {
        let model = crate::model::synth::random_model(
            crate::model::Dims {
                d_model: 16,
                n_layers: 1,
            },
            crate::model::synth::SynthKind::Typical,
            3,
        )
        .unwrap();
        let data: Vec<u8> = b"a line of text to compress, twice over. ".repeat(40);
        let opts = CompressOptions {
            chunk_len: 256,
            embed_model: false,
            window: 4,
            match_model: true,
            records: pipeline::RecordStride::Off,
            long_finder: true,
            column_histograms: true,
            text_fields: pipeline::TextFields::Off,
            grow_chunks: false,
            device: Device::Cpu,
            context_mixing: None,
            network_context_mixing: false,
            kinematics: false,
            counting: false,
            column_models: false,
            wide_mixer: false,
            relations: false,
            short_trial: false,
        };
        let archive = pipeline::compress_bytes(&model, &data, &opts).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.boa");
        std::fs::write(&path, &archive).unwrap();
        let hash = crate::container::xxh3_64(&data);
        let len = data.len() as u64;
        assert_eq!(
            check_written_archive(&path, &model, Device::Cpu, len, hash, 4),
            Ok(())
        );
        // Another input's checksum or length.
        let err = check_written_archive(&path, &model, Device::Cpu, len, hash ^ 1, 4).unwrap_err();
        assert!(err.contains("not the input"), "{err}");
        assert!(check_written_archive(&path, &model, Device::Cpu, len - 1, hash, 4).is_err());
        // A damaged payload byte (after the 44-byte header): the payload
        // checksum fails, so a chunk does not decode.
        let mut bad = archive.clone();
        bad[50] ^= 0x40;
        std::fs::write(&path, &bad).unwrap();
        let err = check_written_archive(&path, &model, Device::Cpu, len, hash, 4).unwrap_err();
        assert!(err.contains("do not decode"), "{err}");
        // A missing or truncated file.
        std::fs::write(&path, &archive[..archive.len() - 1]).unwrap();
        assert!(check_written_archive(&path, &model, Device::Cpu, len, hash, 4).is_err());
        std::fs::remove_file(&path).unwrap();
        assert!(check_written_archive(&path, &model, Device::Cpu, len, hash, 4).is_err());
    }

    #[test]
    fn recursion_picks_archives_or_the_rest() {
        assert!(wanted(Mode::Compress, Path::new("d/x.txt")));
        assert!(!wanted(Mode::Compress, Path::new("d/x.boa")));
        for m in [Mode::Decompress, Mode::Verify, Mode::List] {
            assert!(wanted(m, Path::new("d/x.boa")));
            assert!(!wanted(m, Path::new("d/x.boa.txt")));
        }
    }

    #[test]
    fn counts_are_pluralised() {
        assert_eq!(count(1, "chunk"), "1 chunk");
        assert_eq!(count(0, "chunk"), "0 chunks");
        assert_eq!(count(2, "member"), "2 members");
    }
}
