//! `boa_det._native`: the Python face of the boa-det library (PyO3, abi3).
//!
//! Thin on purpose: every byte comes from the same library, options and codec
//! registry as the `boa-det` CLI (`CompressOptions::for_model`), so Python and
//! the CLI write identical archives. Work runs with the GIL released, on a
//! rayon pool of the requested size; the bytes never depend on it. Errors are
//! `boa_det.BoaError` (a `ValueError`) with the library's message.

use std::path::PathBuf;

use boa_det::compress::{self as pipeline, CompressOptions, DecodeLimits, PipelineError};
use boa_det::container::{ArchiveReader, Codec};
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

fn default_model() -> PyResult<Model> {
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

/// compress(data, model=None, threads=None) -> bytes
#[pyfunction]
#[pyo3(signature = (data, model=None, threads=None))]
fn compress<'py>(
    py: Python<'py>,
    data: &[u8],
    model: Option<PathBuf>,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyBytes>> {
    let input = data;
    let model = match load_model(model)? {
        Some(m) => m,
        None => default_model()?,
    };
    let opts = CompressOptions::for_model(&model);
    let out = run(py, threads, || {
        pipeline::compress_bytes(&model, input, &opts)
    })?;
    Ok(PyBytes::new(py, &out))
}

/// An archive held in memory.
type MemoryReader<'a> = ArchiveReader<std::io::Cursor<&'a [u8]>>;

/// The archive's model: embedded, supplied, or built in.
fn open(
    blob: &[u8],
    model: Option<Model>,
) -> Result<(MemoryReader<'_>, Option<Model>), PipelineError> {
    let mut reader = ArchiveReader::from_bytes(blob)?;
    let model = pipeline::resolve_model(&mut reader, model)?;
    Ok((reader, model))
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
        let (mut reader, model) = open(blob, model)?;
        let limits = DecodeLimits {
            max_output,
            max_model_steps: None,
        };
        limits.check(&reader, None)?;
        let mut out = Vec::with_capacity(reader.total_len().min(1 << 30) as usize);
        pipeline::decompress(
            &mut reader,
            model.as_ref(),
            Device::Cpu,
            None,
            &mut out,
            pipeline::DEFAULT_WINDOW,
            pipeline::NO_PROGRESS,
        )?;
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
    let report = run(py, threads, || {
        let (mut reader, model) = open(blob, model)?;
        Ok(pipeline::verify(
            &mut reader,
            model.as_ref(),
            Device::Cpu,
            pipeline::DEFAULT_WINDOW,
            pipeline::NO_PROGRESS,
        )?)
    })?;
    if report.ok() {
        return Ok(());
    }
    let mut why: Vec<String> = report
        .bad
        .iter()
        .map(|(i, e)| format!("chunk {i}: {e}"))
        .collect();
    if report.bad.is_empty() {
        why.push("the content checksum does not match".into());
    }
    Err(err(format!(
        "{} of {} chunks are bad: {}",
        report.bad.len(),
        report.chunks,
        why.join("; ")
    )))
}

/// info(blob) -> dict: the header and index, read without decoding.
#[pyfunction]
fn info<'py>(py: Python<'py>, blob: &[u8]) -> PyResult<Bound<'py, PyDict>> {
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
    d.set_item(
        "stored_chunks",
        reader
            .entries()
            .iter()
            .filter(|e| e.codec == Codec::Stored)
            .count(),
    )?;
    Ok(d)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("BoaError", m.py().get_type::<BoaError>())?;
    m.add_function(wrap_pyfunction!(compress, m)?)?;
    m.add_function(wrap_pyfunction!(decompress, m)?)?;
    m.add_function(wrap_pyfunction!(verify, m)?)?;
    m.add_function(wrap_pyfunction!(info, m)?)?;
    Ok(())
}
