//! `boa_det._native`: the Python face of the boa-det library (PyO3, abi3).
//!
//! Thin on purpose: every byte comes from the same library, options and codec
//! registry as the `boa-det` CLI (`CompressOptions::for_model`), so Python and
//! the CLI write identical archives. Work runs with the GIL released, on a
//! rayon pool of the requested size; the bytes never depend on it. Errors are
//! `boa_det.BoaError` (a `ValueError`) with the library's message.

use std::fs::File;
use std::io::{BufReader, BufWriter, Cursor, Read, Seek, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use boa_det::compress::{self as pipeline, CompressOptions, PipelineError};
use boa_det::container::{ArchiveReader, Codec, Window, member_ranges};
use boa_det::engine::Device;
use boa_det::model::Model;
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

create_exception!(
    _native,
    BoaError,
    PyValueError,
    "A boa-det failure: bad input, a corrupt archive, a wrong model."
);

fn err(e: impl std::fmt::Display) -> PyErr {
    BoaError::new_err(e.to_string())
}

fn load_model(path: Option<PathBuf>) -> Result<Option<Model>, PyErr> {
    path.map(|p| Model::load(&p).map_err(err)).transpose()
}

/// The supplied model, else the built-in default (what `compress` uses).
fn model_or_default(path: Option<PathBuf>) -> PyResult<Model> {
    if let Some(m) = load_model(path)? {
        return Ok(m);
    }
    let bytes = boa_det::default_models::default_model()
        .ok_or_else(|| err(boa_det::default_models::NO_DEFAULT_MODEL))?;
    Model::from_bytes(bytes).map_err(err)
}

/// Runs `work` without the GIL on a pool of `threads` threads (all cores
/// when `None` or 0).
fn run<T: Send>(
    py: Python<'_>,
    threads: Option<usize>,
    work: impl FnOnce() -> Result<T, PipelineError> + Send,
) -> PyResult<T> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .map_err(err)?;
    py.detach(|| pool.install(work)).map_err(err)
}

/// The byte ranges of the archives `src` holds back to back (one, usually),
/// as `boa-det decompress` reads a file of concatenated archives.
fn members<R: Read + Seek>(src: &mut R) -> Result<Vec<Range<u64>>, PipelineError> {
    member_ranges(src).map_err(|e| PipelineError::Corrupt(e.to_string()))
}

/// Decodes every archive `src` holds into `out`, checking every checksum;
/// with `max_output`, refuses before decoding anything when the archives hold
/// more bytes. Returns the bytes written.
fn decode_all<R: Read + Seek, W: Write>(
    src: &mut R,
    model: &Option<Model>,
    max_output: Option<u64>,
    mut out: W,
) -> Result<u64, PipelineError> {
    let ranges = members(src)?;
    // The limit covers every member, so their indexes are read first (only
    // when there is a limit).
    if let Some(max) = max_output {
        let mut total = 0u64;
        for r in &ranges {
            let reader = ArchiveReader::open(Window::new(&mut *src, r.clone()))?;
            total = total.saturating_add(reader.total_len());
        }
        if total > max {
            return Err(PipelineError::Limit(format!(
                "the archive holds {total} bytes, more than max_output = {max}"
            )));
        }
    }
    let mut n = 0;
    for r in ranges {
        let mut reader = ArchiveReader::open(Window::new(&mut *src, r))?;
        let model = pipeline::resolve_model(&mut reader, model.clone())?;
        n += pipeline::decompress(
            &mut reader,
            model.as_ref(),
            Device::Cpu,
            None,
            &mut out,
            pipeline::DEFAULT_WINDOW,
            pipeline::NO_PROGRESS,
        )?;
    }
    Ok(n)
}

/// The options of `boa-det compress` at `level` (its default without one).
fn options_at(level: Option<u8>, model: &Model) -> PyResult<CompressOptions> {
    let n = level.unwrap_or(boa_det::levels::DEFAULT_LEVEL);
    let level = boa_det::levels::level(n).map_err(BoaError::new_err)?;
    Ok(level.options(model))
}

/// compress(data, model=None, threads=None, level=None) -> bytes
#[pyfunction]
#[pyo3(signature = (data, model=None, threads=None, level=None))]
fn compress<'py>(
    py: Python<'py>,
    data: &[u8],
    model: Option<PathBuf>,
    threads: Option<usize>,
    level: Option<u8>,
) -> PyResult<Bound<'py, PyBytes>> {
    let model = model_or_default(model)?;
    let opts = options_at(level, &model)?;
    let out = run(py, threads, || {
        pipeline::compress_bytes(&model, data, &opts)
    })?;
    Ok(PyBytes::new(py, &out))
}

/// decompress(blob, model=None, threads=None, max_output=None) -> bytes
#[pyfunction]
#[pyo3(signature = (blob, model=None, threads=None, max_output=None))]
fn decompress<'py>(
    py: Python<'py>,
    blob: &[u8],
    model: Option<PathBuf>,
    threads: Option<usize>,
    max_output: Option<u64>,
) -> PyResult<Bound<'py, PyBytes>> {
    let model = load_model(model)?;
    let out = run(py, threads, || {
        let mut out = Vec::new();
        decode_all(&mut Cursor::new(blob), &model, max_output, &mut out)?;
        Ok(out)
    })?;
    Ok(PyBytes::new(py, &out))
}

/// verify(blob, model=None, threads=None) -> None; raises BoaError naming
/// every bad chunk.
#[pyfunction]
#[pyo3(signature = (blob, model=None, threads=None))]
fn verify(
    py: Python<'_>,
    blob: &[u8],
    model: Option<PathBuf>,
    threads: Option<usize>,
) -> PyResult<()> {
    let model = load_model(model)?;
    let problems = run(py, threads, || {
        let mut src = Cursor::new(blob);
        let ranges = members(&mut src)?;
        let several = ranges.len() > 1;
        let mut problems = Vec::new();
        for (k, r) in ranges.into_iter().enumerate() {
            let mut reader = ArchiveReader::open(Window::new(&mut src, r))?;
            let model = pipeline::resolve_model(&mut reader, model.clone())?;
            let report = pipeline::verify(
                &mut reader,
                model.as_ref(),
                Device::Cpu,
                pipeline::DEFAULT_WINDOW,
                pipeline::NO_PROGRESS,
            )?;
            let at = if several {
                format!("archive {k}: ")
            } else {
                String::new()
            };
            problems.extend(
                report
                    .bad
                    .iter()
                    .map(|(i, e)| format!("{at}chunk {i}: {e}")),
            );
            if report.bad.is_empty() && !report.content_ok {
                problems.push(format!("{at}the content checksum does not match"));
            }
        }
        Ok(problems)
    })?;
    if problems.is_empty() {
        Ok(())
    } else {
        Err(err(format!("the archive is bad: {}", problems.join("; "))))
    }
}

/// info(blob) -> dict: the header and index of one archive, read without
/// decoding.
#[pyfunction]
fn info<'py>(py: Python<'py>, blob: &[u8]) -> PyResult<Bound<'py, PyDict>> {
    let n = members(&mut Cursor::new(blob)).map_err(err)?.len();
    if n > 1 {
        return Err(err(format!(
            "the blob holds {n} archives back to back; info describes one (use info_members)"
        )));
    }
    info_of(py, blob)
}

/// info_members(blob) -> list[dict]: `info` of every archive that a blob of
/// concatenated archives holds.
#[pyfunction]
fn info_members<'py>(py: Python<'py>, blob: &[u8]) -> PyResult<Vec<Bound<'py, PyDict>>> {
    members(&mut Cursor::new(blob))
        .map_err(err)?
        .iter()
        .map(|m| info_of(py, &blob[m.start as usize..m.end as usize]))
        .collect()
}

fn info_of<'py>(py: Python<'py>, blob: &[u8]) -> PyResult<Bound<'py, PyDict>> {
    let reader = ArchiveReader::from_bytes(blob).map_err(err)?;
    let h = reader.header();
    let d = PyDict::new(py);
    d.set_item("format_version", h.params.format_version)?;
    d.set_item("arith_version", h.params.arith_version)?;
    let fp: String = h
        .params
        .model_fingerprint
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    d.set_item("model_fingerprint", fp)?;
    d.set_item("model_embedded", h.model_embedded)?;
    d.set_item("chunk_len", h.params.chunk_len)?;
    d.set_item("original_size", reader.total_len())?;
    d.set_item("archive_size", blob.len())?;
    d.set_item("chunks", reader.chunk_count())?;
    let codecs = PyDict::new(py);
    for e in reader.entries() {
        let name = e.codec.name();
        let n: usize = codecs
            .get_item(name)?
            .map(|v| v.extract())
            .transpose()?
            .unwrap_or(0);
        codecs.set_item(name, n + 1)?;
    }
    d.set_item("codecs", codecs)?;
    let stored = reader
        .entries()
        .iter()
        .filter(|e| e.codec == Codec::Stored)
        .count();
    d.set_item("stored_chunks", stored)?;
    Ok(d)
}

/// A file written next to `dest` under a temporary name and renamed over it
/// only when complete and synced; removed on failure, so `dest` is either
/// untouched or whole.
struct AtomicFile {
    temp: PathBuf,
    dest: PathBuf,
    file: Option<BufWriter<File>>,
}

impl AtomicFile {
    fn create(dest: &Path, overwrite: bool) -> std::io::Result<AtomicFile> {
        if !overwrite && std::fs::symlink_metadata(dest).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "already exists (pass overwrite=True)",
            ));
        }
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = dest.with_file_name(format!(".{name}.boa-det-{}.tmp", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        Ok(AtomicFile {
            temp,
            dest: dest.to_path_buf(),
            file: Some(BufWriter::new(file)),
        })
    }

    fn writer(&mut self) -> std::io::Result<&mut BufWriter<File>> {
        self.file
            .as_mut()
            .ok_or_else(|| std::io::Error::other("already committed"))
    }

    fn commit(mut self) -> std::io::Result<()> {
        let file = self
            .file
            .take()
            .ok_or_else(|| std::io::Error::other("already committed"))?;
        let result = file
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f| f.sync_all())
            .and_then(|()| std::fs::rename(&self.temp, &self.dest));
        if result.is_err() {
            let _ = std::fs::remove_file(&self.temp);
        }
        result
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Refuses an output that is the input itself (however it is spelt), as the
/// CLI does: writing it would destroy the input.
fn distinct(src: &Path, dst: &Path) -> Result<(), PipelineError> {
    match (std::fs::canonicalize(src), std::fs::canonicalize(dst)) {
        (Ok(a), Ok(b)) if a == b => Err(PipelineError::Usage(format!(
            "{}: the output is the input",
            dst.display()
        ))),
        _ => Ok(()),
    }
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> PipelineError + '_ {
    move |e| {
        PipelineError::Io(std::io::Error::new(
            e.kind(),
            format!("{}: {e}", path.display()),
        ))
    }
}

/// compress_file(src, dst, model=None, threads=None, overwrite=False, level=None) -> int:
/// streams `src` into the archive `dst`, written atomically; returns the
/// bytes read.
#[pyfunction]
#[pyo3(signature = (src, dst, model=None, threads=None, overwrite=false, level=None))]
fn compress_file(
    py: Python<'_>,
    src: PathBuf,
    dst: PathBuf,
    model: Option<PathBuf>,
    threads: Option<usize>,
    overwrite: bool,
    level: Option<u8>,
) -> PyResult<u64> {
    let model = model_or_default(model)?;
    let opts = options_at(level, &model)?;
    run(py, threads, || {
        distinct(&src, &dst)?;
        let input = BufReader::new(File::open(&src).map_err(io_err(&src))?);
        let mut out = AtomicFile::create(&dst, overwrite).map_err(io_err(&dst))?;
        let writer = out.writer().map_err(io_err(&dst))?;
        let (_, n) = pipeline::compress(&model, input, writer, &opts, pipeline::NO_PROGRESS)?;
        out.commit().map_err(io_err(&dst))?;
        Ok(n)
    })
}

/// decompress_file(src, dst, model=None, threads=None, overwrite=False) -> int:
/// decodes the archive(s) in `src` into `dst`, written atomically; returns
/// the bytes written.
#[pyfunction]
#[pyo3(signature = (src, dst, model=None, threads=None, overwrite=false))]
fn decompress_file(
    py: Python<'_>,
    src: PathBuf,
    dst: PathBuf,
    model: Option<PathBuf>,
    threads: Option<usize>,
    overwrite: bool,
) -> PyResult<u64> {
    let model = load_model(model)?;
    run(py, threads, || {
        distinct(&src, &dst)?;
        let mut input = BufReader::new(File::open(&src).map_err(io_err(&src))?);
        let mut out = AtomicFile::create(&dst, overwrite).map_err(io_err(&dst))?;
        let n = decode_all(
            &mut input,
            &model,
            None,
            out.writer().map_err(io_err(&dst))?,
        )?;
        out.commit().map_err(io_err(&dst))?;
        Ok(n)
    })
}

/// default_fingerprint() -> str: the built-in default model's fingerprint (hex).
#[pyfunction]
fn default_fingerprint() -> PyResult<String> {
    let fp = boa_det::default_models::default_fingerprint()
        .ok_or_else(|| err(boa_det::default_models::NO_DEFAULT_MODEL))?;
    Ok(fp.0.iter().map(|b| format!("{b:02x}")).collect())
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add(
        "FORMAT_VERSION_NEWEST",
        boa_det::container::FORMAT_VERSION_NEWEST,
    )?;
    m.add_function(wrap_pyfunction!(default_fingerprint, m)?)?;
    m.add("BoaError", m.py().get_type::<BoaError>())?;
    m.add_function(wrap_pyfunction!(compress, m)?)?;
    m.add_function(wrap_pyfunction!(decompress, m)?)?;
    m.add_function(wrap_pyfunction!(verify, m)?)?;
    m.add_function(wrap_pyfunction!(info, m)?)?;
    m.add_function(wrap_pyfunction!(info_members, m)?)?;
    m.add_function(wrap_pyfunction!(compress_file, m)?)?;
    m.add_function(wrap_pyfunction!(decompress_file, m)?)?;
    Ok(())
}
