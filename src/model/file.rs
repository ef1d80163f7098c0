//! The model file: a safetensors file of integer tensors plus string metadata.
//! See `docs/MODEL_FORMAT.md` for the names, shapes and dtypes.
//!
//! Every tensor of a model is reached through one walk, [`visit_tensors`], in a
//! fixed canonical order. Reading, writing, fingerprinting and synthetic model
//! generation all use that walk, so the list of tensors exists exactly once.
#![deny(clippy::float_arithmetic)]

use super::{D_CONV, D_STATE, Dims, Head, Layer, LayerNorm, Linear, MAX_LAYERS, Model, Requant};
use crate::intmath::ArithVersion;
use crate::intmath::freq::PRECISION_BITS;
use safetensors::tensor::{Dtype, SafeTensors};
use std::collections::{BTreeSet, HashMap};

/// Value of the `format` metadata key.
pub const FORMAT_NAME: &str = "boa-det-int";
/// Version of the model file layout.
pub const FORMAT_VERSION: u32 = 1;
/// Model files larger than this are refused before they are read (the default
/// model is 0.4 MB). It binds before the dims limits do: a model of the largest
/// dims would be about 15 GB.
pub const MAX_MODEL_FILE_BYTES: usize = 1 << 30;

/// Tensors per layer in the canonical walk ([`visit_tensors`]).
pub const TENSORS_PER_LAYER: usize = 45;
/// Tensors outside the layers: embedding, head, tables.
pub const TENSORS_OUTSIDE_LAYERS: usize = 13;
/// Tensors of a model with [`MAX_LAYERS`] layers.
pub const MAX_TENSORS: usize = TENSORS_PER_LAYER * MAX_LAYERS + TENSORS_OUTSIDE_LAYERS;
/// Longest tensor name, with room: `blocks.63.mamba.dt_proj.softplus_lut` has 36 bytes.
pub const MAX_TENSOR_NAME_BYTES: usize = 40;
/// Longest header entry of one tensor,
/// `"NAME":{"dtype":"I16","shape":[a,b,c],"data_offsets":[s,e]},`: 49 bytes of
/// JSON syntax and keys, the name, a 3-letter dtype, at most three dims of at
/// most 5 digits (the widest is `4 * MAX_D_MODEL` = 16384) and two offsets of
/// at most 10 digits (below [`MAX_MODEL_FILE_BYTES`]).
pub const MAX_TENSOR_ENTRY_BYTES: usize = 49 + MAX_TENSOR_NAME_BYTES + 3 + 3 * 5 + 2 * 10;
/// Longest description the tools write into a model file (`boa-det-quantize
/// --description`), in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 8 << 10;
/// Room for the metadata map: 1 KiB for the fixed keys and values, and the
/// description with every byte escaped as `\u00XX` (6 bytes).
pub const MAX_METADATA_BYTES: usize = 1024 + 6 * MAX_DESCRIPTION_BYTES;
/// Longest safetensors header (JSON, padding included) of a model file, the
/// length in its first 8 bytes: what a model of [`MAX_LAYERS`] layers with the
/// longest description needs. A file claiming more is refused before the
/// header is read or parsed (JSON parsing can take many times the header's
/// size in memory).
pub const MAX_HEADER_BYTES: usize = MAX_TENSORS * MAX_TENSOR_ENTRY_BYTES + MAX_METADATA_BYTES;

/// Why a model file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model file: {0}")]
    Io(String),
    #[error("model file too large: {0}")]
    TooLarge(String),
    #[error("model file is not a valid safetensors file: {0}")]
    Safetensors(String),
    #[error("model file metadata: {0}")]
    Metadata(String),
    #[error("model dimensions: {0}")]
    Dims(String),
    #[error("model tensor {name}: {problem}")]
    Tensor { name: String, problem: String },
    #[error("model value out of range: {0}")]
    Range(String),
    #[error("model fails the overflow proof: {0}")]
    Overflow(String),
}

/// A mutable view of one tensor's storage during the canonical walk.
pub enum Slot<'a> {
    I8(&'a mut [i8]),
    I16(&'a mut [i16]),
    I32(&'a mut [i32]),
    U8(&'a mut [u8]),
    U16(&'a mut [u16]),
    U32(&'a mut [u32]),
    U64(&'a mut [u64]),
}

impl Slot<'_> {
    pub fn dtype(&self) -> Dtype {
        match self {
            Slot::I8(_) => Dtype::I8,
            Slot::I16(_) => Dtype::I16,
            Slot::I32(_) => Dtype::I32,
            Slot::U8(_) => Dtype::U8,
            Slot::U16(_) => Dtype::U16,
            Slot::U32(_) => Dtype::U32,
            Slot::U64(_) => Dtype::U64,
        }
    }

    /// Little-endian bytes of the contents.
    pub fn to_le_bytes(&self) -> Vec<u8> {
        match self {
            Slot::I8(v) => v.iter().map(|&x| x as u8).collect(),
            Slot::I16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Slot::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Slot::U8(v) => v.to_vec(),
            Slot::U16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Slot::U32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Slot::U64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }

    /// Overwrites the contents from little-endian bytes of exactly the right length.
    fn fill_from_le_bytes(&mut self, b: &[u8]) {
        macro_rules! fill {
            ($v:expr, $t:ty) => {
                for (x, c) in $v.iter_mut().zip(b.chunks_exact(std::mem::size_of::<$t>())) {
                    *x = <$t>::from_le_bytes(c.try_into().expect("chunk size"));
                }
            };
        }
        match self {
            Slot::I8(v) => fill!(v, i8),
            Slot::I16(v) => fill!(v, i16),
            Slot::I32(v) => fill!(v, i32),
            Slot::U8(v) => v.copy_from_slice(b),
            Slot::U16(v) => fill!(v, u16),
            Slot::U32(v) => fill!(v, u32),
            Slot::U64(v) => fill!(v, u64),
        }
    }
}

type Visitor<'v> = dyn FnMut(&str, &[usize], Slot<'_>) -> Result<(), ModelError> + 'v;

fn visit_requant(p: &str, rq: &mut Requant, f: &mut Visitor) -> Result<(), ModelError> {
    let n = rq.mult.len();
    f(&format!("{p}.mult"), &[n], Slot::I32(&mut rq.mult))?;
    f(&format!("{p}.shift"), &[n], Slot::U8(&mut rq.shift))
}

fn visit_linear(
    p: &str,
    l: &mut Linear,
    shape: &[usize],
    f: &mut Visitor,
) -> Result<(), ModelError> {
    f(&format!("{p}.weight"), shape, Slot::I8(&mut l.weight))?;
    if let Some(b) = l.bias.as_mut() {
        f(&format!("{p}.bias"), &[l.rows], Slot::I32(b))?;
    }
    visit_requant(p, &mut l.rq, f)
}

fn visit_layer_norm(p: &str, ln: &mut LayerNorm, f: &mut Visitor) -> Result<(), ModelError> {
    let d = ln.gamma.len();
    f(&format!("{p}.weight"), &[d], Slot::I16(&mut ln.gamma))?;
    f(&format!("{p}.bias"), &[d], Slot::I32(&mut ln.beta))?;
    f(
        &format!("{p}.shift"),
        &[1],
        Slot::U8(std::slice::from_mut(&mut ln.shift)),
    )?;
    f(
        &format!("{p}.eps"),
        &[1],
        Slot::U64(std::slice::from_mut(&mut ln.eps)),
    )
}

/// Walks every tensor of the model in canonical order with its file name and shape.
pub fn visit_tensors(m: &mut Model, f: &mut Visitor) -> Result<(), ModelError> {
    let dims = m.dims;
    let (d, e, r, n, k, ff) = (
        dims.d_model,
        dims.d_inner(),
        dims.dt_rank(),
        D_STATE,
        D_CONV,
        dims.d_ff(),
    );
    f("embedding.weight", &[256, d], Slot::I16(&mut m.embedding))?;
    for (i, l) in m.layers.iter_mut().enumerate() {
        let b = format!("blocks.{i}");
        let mb = format!("{b}.mamba");
        visit_layer_norm(&format!("{b}.ln1"), &mut l.ln1, f)?;
        visit_linear(&format!("{mb}.in_proj"), &mut l.in_proj, &[2 * e, d], f)?;
        f(
            &format!("{mb}.conv1d.weight"),
            &[e, 1, k],
            Slot::I8(&mut l.conv_weight),
        )?;
        f(
            &format!("{mb}.conv1d.bias"),
            &[e],
            Slot::I32(&mut l.conv_bias),
        )?;
        visit_requant(&format!("{mb}.conv1d"), &mut l.conv_rq, f)?;
        f(
            &format!("{mb}.conv1d.silu_lut"),
            &[256],
            Slot::I8(&mut l.conv_silu),
        )?;
        visit_linear(&format!("{mb}.x_proj"), &mut l.x_proj, &[r + 2 * n, e], f)?;
        visit_linear(&format!("{mb}.dt_proj"), &mut l.dt_proj, &[e, r], f)?;
        f(
            &format!("{mb}.dt_proj.softplus_lut"),
            &[256],
            Slot::U16(&mut l.dt_softplus),
        )?;
        f(&format!("{mb}.A_rate"), &[e, n], Slot::U16(&mut l.a_rate))?;
        f(
            &format!("{mb}.A_shift"),
            &[1],
            Slot::U8(std::slice::from_mut(&mut l.a_shift)),
        )?;
        f(
            &format!("{mb}.inc_shift"),
            &[1],
            Slot::U8(std::slice::from_mut(&mut l.inc_shift)),
        )?;
        f(&format!("{mb}.D"), &[e], Slot::I32(&mut l.d_skip))?;
        visit_requant(&format!("{mb}.y"), &mut l.y_rq, f)?;
        f(
            &format!("{mb}.gate.silu_lut"),
            &[256],
            Slot::I8(&mut l.gate_silu),
        )?;
        visit_requant(&format!("{mb}.gate"), &mut l.gate_rq, f)?;
        visit_linear(&format!("{mb}.out_proj"), &mut l.out_proj, &[d, e], f)?;
        visit_layer_norm(&format!("{b}.ln2"), &mut l.ln2, f)?;
        visit_linear(&format!("{b}.ff.0"), &mut l.ff1, &[ff, d], f)?;
        f(
            &format!("{b}.ff.gelu_lut"),
            &[256],
            Slot::I8(&mut l.ff_gelu),
        )?;
        visit_linear(&format!("{b}.ff.2"), &mut l.ff2, &[d, ff], f)?;
    }
    visit_requant("head.in", &mut m.head.in_rq, f)?;
    visit_linear("head.0", &mut m.head.fc1, &[d, d], f)?;
    visit_linear("head.2", &mut m.head.fc2, &[256, d], f)?;
    f("tables.exp2", &[256], Slot::U32(&mut m.exp2))?;
    f("tables.decay_exp2", &[256], Slot::U16(&mut m.decay_exp2))
}

fn zero_requant(n: usize) -> Requant {
    Requant {
        mult: vec![0; n],
        shift: vec![0; n],
    }
}

fn zero_linear(rows: usize, cols: usize, bias: bool) -> Linear {
    Linear {
        weight: vec![0; rows * cols],
        bias: bias.then(|| vec![0; rows]),
        rows,
        cols,
        rq: zero_requant(rows),
    }
}

fn zero_layer_norm(d: usize) -> LayerNorm {
    LayerNorm {
        gamma: vec![0; d],
        beta: vec![0; d],
        shift: 0,
        eps: 0,
    }
}

/// An all-zero model of the given dims in the newest arithmetic: every tensor
/// allocated with its final shape. It is not valid; [`visit_tensors`] fills it,
/// then it is validated.
pub fn zero_model(dims: Dims) -> Model {
    let (d, e, r, ff) = (dims.d_model, dims.d_inner(), dims.dt_rank(), dims.d_ff());
    let layer = Layer {
        ln1: zero_layer_norm(d),
        in_proj: zero_linear(2 * e, d, false),
        conv_weight: vec![0; e * D_CONV],
        conv_bias: vec![0; e],
        conv_rq: zero_requant(e),
        conv_silu: vec![0; 256],
        x_proj: zero_linear(r + 2 * D_STATE, e, false),
        dt_proj: zero_linear(e, r, true),
        dt_softplus: vec![0; 256],
        a_rate: vec![0; e * D_STATE],
        a_shift: 0,
        inc_shift: 0,
        d_skip: vec![0; e],
        y_rq: zero_requant(e),
        gate_silu: vec![0; 256],
        gate_rq: zero_requant(e),
        out_proj: zero_linear(d, e, false),
        ln2: zero_layer_norm(d),
        ff1: zero_linear(ff, d, true),
        ff_gelu: vec![0; 256],
        ff2: zero_linear(d, ff, true),
    };
    Model {
        arith: ArithVersion::NEWEST,
        dims,
        embedding: vec![0; 256 * d],
        layers: vec![layer; dims.n_layers],
        head: Head {
            in_rq: zero_requant(d),
            fc1: zero_linear(d, d, true),
            fc2: zero_linear(256, d, true),
        },
        exp2: vec![0; 256],
        decay_exp2: vec![0; 256],
        description: String::new(),
        fingerprint: super::Fingerprint([0; 16]),
    }
}

/// JSON string literal (the few characters JSON requires escaped).
fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn dtype_name(d: Dtype) -> &'static str {
    match d {
        Dtype::I8 => "I8",
        Dtype::I16 => "I16",
        Dtype::I32 => "I32",
        Dtype::U8 => "U8",
        Dtype::U16 => "U16",
        Dtype::U32 => "U32",
        _ => "U64",
    }
}

/// Serialises a model to safetensors bytes.
///
/// The header is written here rather than by the safetensors crate so that the
/// bytes are canonical (metadata keys sorted, tensors in canonical order): the
/// same model always gives the same file, which golden files rely on.
pub fn to_bytes(m: &Model) -> Vec<u8> {
    let mut copy = m.clone();
    let mut entries = Vec::new();
    let mut data = Vec::new();
    visit_tensors(&mut copy, &mut |name, shape, slot| {
        let bytes = slot.to_le_bytes();
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        entries.push(format!(
            "{}:{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
            json_string(name),
            dtype_name(slot.dtype()),
            dims.join(","),
            data.len(),
            data.len() + bytes.len()
        ));
        data.extend_from_slice(&bytes);
        Ok(())
    })
    .expect("collecting tensors cannot fail");
    let meta: std::collections::BTreeMap<&str, String> = [
        ("format", FORMAT_NAME.to_string()),
        ("format_version", FORMAT_VERSION.to_string()),
        ("arith_version", m.arith.number().to_string()),
        ("precision_bits", PRECISION_BITS.to_string()),
        ("d_model", m.dims.d_model.to_string()),
        ("n_layers", m.dims.n_layers.to_string()),
        ("description", m.description.clone()),
    ]
    .into_iter()
    .collect();
    let meta_json: Vec<String> = meta
        .iter()
        .map(|(k, v)| format!("{}:{}", json_string(k), json_string(v)))
        .collect();
    let mut header = format!(
        "{{\"__metadata__\":{{{}}},{}}}",
        meta_json.join(","),
        entries.join(",")
    );
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut out = Vec::with_capacity(8 + header.len() + data.len());
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&data);
    out
}

fn meta_number(meta: &HashMap<String, String>, key: &str) -> Result<u64, ModelError> {
    let v = meta
        .get(key)
        .ok_or_else(|| ModelError::Metadata(format!("missing key `{key}`")))?;
    v.parse::<u64>()
        .map_err(|_| ModelError::Metadata(format!("`{key}` = {v:?} is not a number")))
}

fn check_file_len(len: u64) -> Result<(), ModelError> {
    if len > MAX_MODEL_FILE_BYTES as u64 {
        return Err(ModelError::TooLarge(format!(
            "{len} bytes is larger than the {MAX_MODEL_FILE_BYTES}-byte limit"
        )));
    }
    Ok(())
}

/// Checks the header length in a file's first 8 bytes against
/// [`MAX_HEADER_BYTES`] and against the file length, when known.
fn check_header_len(prefix: [u8; 8], file_len: Option<u64>) -> Result<(), ModelError> {
    let n = u64::from_le_bytes(prefix);
    if n > MAX_HEADER_BYTES as u64 {
        return Err(ModelError::TooLarge(format!(
            "its header claims {n} bytes, more than the {MAX_HEADER_BYTES}-byte limit of a model file"
        )));
    }
    match file_len {
        Some(len) if n + 8 > len => Err(ModelError::Safetensors(format!(
            "its header claims {n} bytes, but the file has only {len}"
        ))),
        _ => Ok(()),
    }
}

/// Reads a model file piece by piece, checking each length before reading
/// what it covers: the file length (regular files), the header length in the
/// first 8 bytes, then the data length the parsed header gives. Memory stays
/// within the file's real size, and for a pipe or device within what its
/// header describes (at most [`MAX_MODEL_FILE_BYTES`]), whatever the lengths
/// inside it claim. [`from_bytes`] then checks everything else.
pub fn read(path: &std::path::Path) -> Result<Vec<u8>, ModelError> {
    use std::io::Read;
    let io = |e: std::io::Error| ModelError::Io(format!("cannot read {}: {e}", path.display()));
    let mut f = std::fs::File::open(path).map_err(io)?;
    let meta = f.metadata().map_err(io)?;
    // Pipes and devices have no length: only the header bounds them.
    let file_len = meta.is_file().then_some(meta.len());
    if let Some(len) = file_len {
        check_file_len(len)?;
    }
    let mut bytes = Vec::new();
    (&mut f).take(8).read_to_end(&mut bytes).map_err(io)?;
    let Some(&prefix) = bytes.first_chunk::<8>() else {
        return Ok(bytes); // too short: from_bytes names the problem
    };
    check_header_len(prefix, file_len)?;
    let header_len = u64::from_le_bytes(prefix);
    bytes.reserve_exact(header_len as usize);
    (&mut f)
        .take(header_len)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    let header: safetensors::tensor::Metadata = serde_json::from_slice(&bytes[8..])
        .map_err(|e| ModelError::Safetensors(format!("header: {e}")))?;
    let data_len = header.data_len() as u64;
    check_file_len(8 + header_len + data_len)?;
    if let Some(len) = file_len {
        // The real size, not the claimed one: a short file allocates no more.
        let want = len.min(8 + header_len + data_len + 1) as usize;
        bytes.reserve_exact(want.saturating_sub(bytes.len()));
    }
    // One byte more than the header describes, so that trailing bytes are seen.
    f.take(data_len + 1).read_to_end(&mut bytes).map_err(io)?;
    Ok(bytes)
}

/// Parses safetensors bytes into a validated model.
pub fn from_bytes(bytes: &[u8]) -> Result<Model, ModelError> {
    check_file_len(bytes.len() as u64)?;
    if let Some(prefix) = bytes.first_chunk::<8>() {
        check_header_len(*prefix, Some(bytes.len() as u64))?;
    }
    let (_, header) =
        SafeTensors::read_metadata(bytes).map_err(|e| ModelError::Safetensors(e.to_string()))?;
    let st = SafeTensors::deserialize(bytes).map_err(|e| ModelError::Safetensors(e.to_string()))?;
    let meta = header
        .metadata()
        .clone()
        .ok_or_else(|| ModelError::Metadata("no metadata (not a boa-det integer model?)".into()))?;
    match meta.get("format").map(String::as_str) {
        Some(FORMAT_NAME) => {}
        Some("boa-float") => {
            return Err(ModelError::Metadata(
                "this is a float checkpoint; quantize it first (boa-det-quantize)".into(),
            ));
        }
        other => {
            return Err(ModelError::Metadata(format!(
                "`format` is {other:?}, expected {FORMAT_NAME:?}"
            )));
        }
    }
    let fv = meta_number(&meta, "format_version")?;
    if fv != FORMAT_VERSION as u64 {
        return Err(ModelError::Metadata(format!(
            "model file format version {fv} is not supported (this build reads {FORMAT_VERSION})"
        )));
    }
    let av = meta_number(&meta, "arith_version")?;
    let arith = ArithVersion::from_number(av).ok_or_else(|| {
        ModelError::Metadata(format!(
            "arith version {av} is not supported (this build implements {} to {})",
            ArithVersion::OLDEST,
            ArithVersion::NEWEST
        ))
    })?;
    let p = meta_number(&meta, "precision_bits")?;
    if p != PRECISION_BITS as u64 {
        return Err(ModelError::Metadata(format!(
            "precision_bits {p} must be {PRECISION_BITS}"
        )));
    }
    let d_model = meta_number(&meta, "d_model")?;
    let n_layers = meta_number(&meta, "n_layers")?;
    let dims = Dims {
        d_model: usize::try_from(d_model).unwrap_or(usize::MAX),
        n_layers: usize::try_from(n_layers).unwrap_or(usize::MAX),
    };
    dims.validate()?;

    let mut m = zero_model(dims);
    m.arith = arith;
    let mut expected = BTreeSet::new();
    visit_tensors(&mut m, &mut |name, shape, mut slot| {
        expected.insert(name.to_string());
        let view = st.tensor(name).map_err(|_| ModelError::Tensor {
            name: name.into(),
            problem: "missing".into(),
        })?;
        if view.dtype() != slot.dtype() {
            return Err(ModelError::Tensor {
                name: name.into(),
                problem: format!("dtype {:?}, expected {:?}", view.dtype(), slot.dtype()),
            });
        }
        if view.shape() != shape {
            return Err(ModelError::Tensor {
                name: name.into(),
                problem: format!("shape {:?}, expected {:?}", view.shape(), shape),
            });
        }
        slot.fill_from_le_bytes(view.data());
        Ok(())
    })?;
    if let Some(extra) = st.names().into_iter().find(|n| !expected.contains(*n)) {
        return Err(ModelError::Tensor {
            name: extra.to_string(),
            problem: "unexpected tensor (not part of the integer model)".into(),
        });
    }
    m.description = meta.get("description").cloned().unwrap_or_default();
    m.validated()
}
