//! The CUDA device: [`CudaEngine`] runs the forward graph as the kernels of
//! `kernels/` (arith v1 and v2, bit-identical to the CPU engine), behind the
//! same [`Engine`] interface, on any [`Gpu`]: a real one through the driver
//! ([`driver::DriverGpu`]) or, with the cargo feature `cuda-emulator`, the
//! SIMT emulator that runs the same kernels on the host
//! ([`emulator::EmulatedGpu`]).
//!
//! A call steps `n` streams by `t` bytes each (`t = 1` for [`Engine::step`]):
//! the `n * t` (stream, position) columns go through every layer as one
//! launch sequence, the linear layers as GEMMs over all columns, the conv and
//! scan kernels walking each stream's positions in order. So an encoder's
//! block of `t` positions costs one launch sequence, not `t`. See
//! `docs/CUDA.md`.
#![deny(clippy::float_arithmetic)]

use crate::engine::Frequencies;
use crate::engine::interface::{Engine, EngineError, Liveness};
use crate::intmath::ArithVersion;
use crate::model::{D_CONV, D_STATE, Dims, LayerNorm, Linear, MAX_D_MODEL, MAX_LAYERS, Model};

#[cfg(feature = "c-shim")]
pub mod c_shim;
pub mod driver;
#[cfg(feature = "cuda-emulator")]
pub mod emulator;
pub mod gpu;
mod host;

pub use driver::context;
use gpu::{Arg, DevBuf, Gpu, KernelSig, Shape};

/// The most streams one engine holds.
pub const MAX_STREAMS: usize = 65535;

/// The most columns (streams x positions) of one launch sequence; a wider
/// block runs in pieces. Keeps the GEMM grid's second dimension
/// (columns / 32) within CUDA's 65535.
pub const MAX_COLUMNS: usize = 1 << 20;

/// Below this many columns the one-thread-per-output GEMV replaces the tiled
/// GEMM (whose 32-column tiles would be mostly empty). Never changes a value.
pub const GEMV_BELOW: usize = 32;

/// Whether these kernels have passed `tests/device/run.sh` on a real GPU. Until
/// they have, `--device auto` keeps to the CPU (an explicit `--device cuda`
/// still runs them, after the known-answer test): an archive that only a
/// faulty GPU could read must never be the default outcome. Set it in the
/// commit that records the device script's results (`docs/CUDA.md`).
pub const HARDWARE_VERIFIED: bool = false;

/// The arith versions the kernels implement (`docs/CUDA.md`).
pub const ARITH_VERSIONS: &[ArithVersion] = &[ArithVersion::V1, ArithVersion::V2];

/// PTX of the forward kernels (`kernels/boa_forward.cu`).
pub const FORWARD_PTX: &str = include_str!("../../../kernels/ptx/boa_forward.ptx");
/// PTX of the batched range coder (`kernels/boa_coder.cu`).
pub const CODER_PTX: &str = include_str!("../../../kernels/ptx/boa_coder.ptx");

const BLOCK: u32 = 256;
/// Columns per block of the warp-per-column kernels (layer norm, frequencies).
const WARPS_PER_BLOCK: u32 = 8;
const TILE: u32 = 32;
const OUT_Q8: u32 = 0;
const OUT_Q8_RELU: u32 = 1;
const OUT_Q16: u32 = 2;
const OUT_LOGIT: u32 = 3;
const OUT_Q16_ADD: u32 = 4;

/// Errors of the CUDA backend.
#[derive(Debug, thiserror::Error)]
pub enum CudaError {
    #[error("CUDA unavailable: {0}")]
    Unavailable(String),
    #[error("CUDA error: {0}")]
    Driver(String),
    #[error("CUDA backend: {0}")]
    Usage(String),
    /// The model needs what the kernels do not implement.
    #[error("CUDA kernels: {0}")]
    Unsupported(String),
}

impl From<CudaError> for EngineError {
    fn from(e: CudaError) -> EngineError {
        match e {
            CudaError::Unavailable(_) | CudaError::Unsupported(_) => {
                EngineError::Unavailable(e.to_string())
            }
            CudaError::Driver(_) => EngineError::Device(e.to_string()),
            CudaError::Usage(m) => EngineError::Usage(m),
        }
    }
}

/// Refuses a model the kernels do not implement: an arith version outside
/// [`ARITH_VERSIONS`], or dims beyond the loader's limits (which the kernels
/// are written and tested for).
pub fn check_model(model: &Model) -> Result<(), CudaError> {
    if !ARITH_VERSIONS.contains(&model.arith) {
        return Err(CudaError::Unsupported(format!(
            "the CUDA kernels implement arith v{}; this model is arith v{} (use --device cpu)",
            ARITH_VERSIONS
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", v"),
            model.arith
        )));
    }
    let d = model.dims;
    if d.d_model > MAX_D_MODEL || d.n_layers > MAX_LAYERS {
        return Err(CudaError::Unsupported(format!(
            "d_model {} x {} layers is beyond the kernels' limits (d_model <= {MAX_D_MODEL}, \
             layers <= {MAX_LAYERS}; use --device cpu)",
            d.d_model, d.n_layers
        )));
    }
    Ok(())
}

fn check_streams(n: usize) -> Result<(), CudaError> {
    if n <= MAX_STREAMS {
        Ok(())
    } else {
        Err(CudaError::Usage(format!(
            "stream count {n} must be at most {MAX_STREAMS}"
        )))
    }
}

struct DevRequant {
    mult: DevBuf<i32>,
    shift: DevBuf<u8>,
}

struct DevLinear {
    w: DevBuf<i8>,
    /// Zeros where the layer has no bias.
    bias: DevBuf<i32>,
    rq: DevRequant,
    rows: u32,
    cols: u32,
}

struct DevLayerNorm {
    gamma: DevBuf<i16>,
    beta: DevBuf<i32>,
    shift: u32,
    eps: u64,
}

struct DevLayer {
    ln1: DevLayerNorm,
    in_proj: DevLinear,
    conv_w: DevBuf<i8>,
    conv_b: DevBuf<i32>,
    conv_rq: DevRequant,
    conv_silu: DevBuf<i8>,
    x_proj: DevLinear,
    dt_proj: DevLinear,
    softplus: DevBuf<u16>,
    /// `[E][N]`, as the model stores it.
    a_rate: DevBuf<u16>,
    a_shift: u32,
    inc_shift: u32,
    d_skip: DevBuf<i32>,
    y_rq: DevRequant,
    gate_silu: DevBuf<i8>,
    gate_rq: DevRequant,
    out_proj: DevLinear,
    ln2: DevLayerNorm,
    ff1: DevLinear,
    gelu: DevBuf<i8>,
    ff2: DevLinear,
}

/// The model's weights and tables on the device.
struct DevModel {
    layers: Vec<DevLayer>,
    embedding: DevBuf<i16>,
    head_in: DevRequant,
    fc1: DevLinear,
    fc2: DevLinear,
    exp2: DevBuf<u32>,
    decay: DevBuf<u16>,
    /// An unused table for the GEMM's `lut` argument when it has none.
    no_lut: DevBuf<i8>,
}

fn up_rq(g: &mut dyn Gpu, rq: &crate::model::Requant) -> Result<DevRequant, CudaError> {
    Ok(DevRequant {
        mult: DevBuf::from_slice(g, &rq.mult)?,
        shift: DevBuf::from_slice(g, &rq.shift)?,
    })
}

fn up_linear(g: &mut dyn Gpu, l: &Linear) -> Result<DevLinear, CudaError> {
    let bias = match &l.bias {
        Some(b) => DevBuf::from_slice(g, b)?,
        None => DevBuf::zeros(g, l.rows)?,
    };
    Ok(DevLinear {
        w: DevBuf::from_slice(g, &l.weight)?,
        bias,
        rq: up_rq(g, &l.rq)?,
        rows: l.rows as u32,
        cols: l.cols as u32,
    })
}

fn up_ln(g: &mut dyn Gpu, ln: &LayerNorm) -> Result<DevLayerNorm, CudaError> {
    Ok(DevLayerNorm {
        gamma: DevBuf::from_slice(g, &ln.gamma)?,
        beta: DevBuf::from_slice(g, &ln.beta)?,
        shift: ln.shift as u32,
        eps: ln.eps,
    })
}

impl DevModel {
    fn upload(g: &mut dyn Gpu, model: &Model) -> Result<DevModel, CudaError> {
        let mut layers = Vec::with_capacity(model.layers.len());
        for l in &model.layers {
            layers.push(DevLayer {
                ln1: up_ln(g, &l.ln1)?,
                in_proj: up_linear(g, &l.in_proj)?,
                conv_w: DevBuf::from_slice(g, &l.conv_weight)?,
                conv_b: DevBuf::from_slice(g, &l.conv_bias)?,
                conv_rq: up_rq(g, &l.conv_rq)?,
                conv_silu: DevBuf::from_slice(g, &l.conv_silu)?,
                x_proj: up_linear(g, &l.x_proj)?,
                dt_proj: up_linear(g, &l.dt_proj)?,
                softplus: DevBuf::from_slice(g, &l.dt_softplus)?,
                a_rate: DevBuf::from_slice(g, &l.a_rate)?,
                a_shift: l.a_shift as u32,
                inc_shift: l.inc_shift as u32,
                d_skip: DevBuf::from_slice(g, &l.d_skip)?,
                y_rq: up_rq(g, &l.y_rq)?,
                gate_silu: DevBuf::from_slice(g, &l.gate_silu)?,
                gate_rq: up_rq(g, &l.gate_rq)?,
                out_proj: up_linear(g, &l.out_proj)?,
                ln2: up_ln(g, &l.ln2)?,
                ff1: up_linear(g, &l.ff1)?,
                gelu: DevBuf::from_slice(g, &l.ff_gelu)?,
                ff2: up_linear(g, &l.ff2)?,
            });
        }
        Ok(DevModel {
            layers,
            embedding: DevBuf::from_slice(g, &model.embedding)?,
            head_in: up_rq(g, &model.head.in_rq)?,
            fc1: up_linear(g, &model.head.fc1)?,
            fc2: up_linear(g, &model.head.fc2)?,
            exp2: DevBuf::from_slice(g, &model.exp2)?,
            decay: DevBuf::from_slice(g, &model.decay_exp2)?,
            no_lut: DevBuf::zeros(g, 256)?,
        })
    }
}

/// One layer's recurrent state of every stream.
struct DevState {
    /// `[n, K-1, E]`
    window: DevBuf<i8>,
    /// `[n, E, N]`
    h: DevBuf<i32>,
}

/// Working buffers for up to `cap` columns, `[columns, features]`.
struct Columns {
    cap: usize,
    bytes: DevBuf<u8>,
    x: DevBuf<i16>,
    u: DevBuf<i8>,
    xz: DevBuf<i8>,
    xc: DevBuf<i8>,
    xdbl: DevBuf<i8>,
    dt8: DevBuf<i8>,
    g: DevBuf<i8>,
    mo: DevBuf<i16>,
    f: DevBuf<i8>,
    h1: DevBuf<i8>,
    logits: DevBuf<i32>,
    freqs: DevBuf<u32>,
}

impl Columns {
    fn alloc(g: &mut dyn Gpu, dims: Dims, cap: usize) -> Result<Columns, CudaError> {
        let (d, e, ff, xo) = (dims.d_model, dims.d_inner(), dims.d_ff(), dims.x_proj_out());
        Ok(Columns {
            cap,
            bytes: DevBuf::zeros(g, cap)?,
            x: DevBuf::zeros(g, cap * d)?,
            u: DevBuf::zeros(g, cap * d)?,
            xz: DevBuf::zeros(g, cap * 2 * e)?,
            xc: DevBuf::zeros(g, cap * e)?,
            xdbl: DevBuf::zeros(g, cap * xo)?,
            dt8: DevBuf::zeros(g, cap * e)?,
            g: DevBuf::zeros(g, cap * e)?,
            mo: DevBuf::zeros(g, cap * d)?,
            f: DevBuf::zeros(g, cap * ff)?,
            h1: DevBuf::zeros(g, cap * d)?,
            logits: DevBuf::zeros(g, cap * 256)?,
            freqs: DevBuf::zeros(g, cap * 256)?,
        })
    }

    fn free(self, g: &mut dyn Gpu) {
        self.bytes.free(g);
        for b in [self.x, self.mo] {
            b.free(g);
        }
        for b in [
            self.u, self.xz, self.xc, self.xdbl, self.dt8, self.g, self.f, self.h1,
        ] {
            b.free(g);
        }
        self.logits.free(g);
        self.freqs.free(g);
    }
}

/// Grid-stride launch over `total` elements.
fn grid_for(total: u64) -> Shape {
    Shape {
        grid: [total.div_ceil(BLOCK as u64).clamp(1, 1 << 20) as u32, 1, 1],
        block: BLOCK,
    }
}

/// One warp per column.
fn warp_per_column(cols: u32) -> Shape {
    Shape {
        grid: [cols.div_ceil(WARPS_PER_BLOCK).max(1), 1, 1],
        block: BLOCK,
    }
}

/// The forward step for a batch of independent streams on one GPU.
pub struct CudaEngine {
    gpu: Box<dyn Gpu>,
    model: DevModel,
    dims: Dims,
    /// The arith version's scan constants (§6): smallest decay exponent, increment bound.
    min_exponent: u32,
    inc_max: i32,
    states: Vec<DevState>,
    /// Per stream, 1 while it has not ended (the conv and scan kernels leave
    /// an ended stream's state alone).
    active: DevBuf<u8>,
    cols: Option<Columns>,
    liveness: Liveness,
    n_streams: usize,
    /// Host copies: the tables of the last piece, the bytes of a piece, the
    /// active flags of a call (kept, so that a step allocates nothing).
    flat: Vec<u32>,
    piece: Vec<u8>,
    flags: Vec<u8>,
    /// The linear layers on the int8 tensor cores (`boa_gemm_mma_k`), else
    /// with `__dp4a` (`boa_gemm_k`). The same integers either way.
    tensor_cores: bool,
    /// Launch sequences recorded as graphs and replayed ([`Self::run_columns`]).
    graphs: bool,
    /// The shape `(n, t)` whose launch sequence the GPU's graph holds; `None`
    /// whenever a buffer it names may have moved.
    graph: Option<(usize, usize)>,
}

/// Graphs unless `BOA_CUDA_GRAPHS=0`, read once (a benchmarking knob).
fn graphs_default() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("BOA_CUDA_GRAPHS").as_deref() != Ok("0"))
}

/// The GEMM kernel from `BOA_CUDA_GEMM` (`mma`, the default, or `dp4a`),
/// read once: a benchmarking knob, results never depend on it.
fn tensor_cores_default() -> bool {
    static MMA: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *MMA.get_or_init(|| std::env::var("BOA_CUDA_GEMM").as_deref() != Ok("dp4a"))
}

impl CudaEngine {
    /// Uploads `model` to the GPU with `ordinal` and opens `n_streams` fresh
    /// streams. A model the kernels do not implement ([`check_model`]) is
    /// refused before the driver is touched.
    pub fn new(model: &Model, n_streams: usize, ordinal: usize) -> Result<CudaEngine, CudaError> {
        check_model(model)?;
        check_streams(n_streams)?;
        CudaEngine::on(Box::new(driver::DriverGpu::new(ordinal)?), model, n_streams)
    }

    /// The same engine on the SIMT emulator, resuming threads in `schedule`.
    #[cfg(feature = "cuda-emulator")]
    pub fn emulated(
        model: &Model,
        n_streams: usize,
        schedule: emulator::Schedule,
    ) -> Result<CudaEngine, CudaError> {
        check_model(model)?;
        check_streams(n_streams)?;
        CudaEngine::on(
            Box::new(emulator::EmulatedGpu::new(schedule)),
            model,
            n_streams,
        )
    }

    /// The engine on `gpu`.
    pub fn on(
        mut gpu: Box<dyn Gpu>,
        model: &Model,
        n_streams: usize,
    ) -> Result<CudaEngine, CudaError> {
        check_model(model)?;
        check_streams(n_streams)?;
        let dev = DevModel::upload(gpu.as_mut(), model)?;
        let mut engine = CudaEngine {
            model: dev,
            dims: model.dims,
            min_exponent: model.arith.min_decay_exponent(),
            inc_max: model.arith.inc_max() as i32,
            states: Vec::new(),
            active: DevBuf::zeros(gpu.as_mut(), 0)?,
            cols: None,
            liveness: Liveness::new(0),
            n_streams: 0,
            flat: Vec::new(),
            piece: Vec::new(),
            flags: Vec::new(),
            tensor_cores: tensor_cores_default(),
            graphs: graphs_default(),
            graph: None,
            gpu,
        };
        engine.reopen(n_streams)?;
        Ok(engine)
    }

    /// Runs the linear layers on the tensor cores (`true`) or with `__dp4a`.
    pub fn use_tensor_cores(&mut self, on: bool) {
        self.tensor_cores = on;
        self.graph = None;
    }

    /// Records launch sequences as graphs and replays them (`true`), or
    /// launches every kernel each call.
    pub fn use_graphs(&mut self, on: bool) {
        self.graphs = on;
        self.graph = None;
    }

    /// Replaces the batch with `n` fresh streams (zero state).
    pub fn reopen(&mut self, n: usize) -> Result<(), CudaError> {
        check_streams(n)?;
        // The states and flags may move: the recorded graph names them.
        self.graph = None;
        let g = self.gpu.as_mut();
        if n == self.n_streams && !self.states.is_empty() {
            for st in &self.states {
                st.window.clear(g)?;
                st.h.clear(g)?;
            }
        } else {
            for st in self.states.drain(..) {
                st.window.free(g);
                st.h.free(g);
            }
            let e = self.dims.d_inner();
            for _ in 0..self.dims.n_layers {
                self.states.push(DevState {
                    window: DevBuf::zeros(g, n * (D_CONV - 1) * e)?,
                    h: DevBuf::zeros(g, n * e * D_STATE)?,
                });
            }
            let old = std::mem::replace(&mut self.active, DevBuf::zeros(g, n)?);
            old.free(g);
        }
        self.n_streams = n;
        self.liveness = Liveness::new(n);
        Ok(())
    }

    /// Working buffers for at least `cols` columns (grown, never per step).
    fn ensure_columns(&mut self, cols: usize) -> Result<(), CudaError> {
        if self.cols.as_ref().is_some_and(|c| c.cap >= cols) {
            return Ok(());
        }
        self.graph = None;
        let g = self.gpu.as_mut();
        if let Some(old) = self.cols.take() {
            old.free(g);
        }
        self.cols = Some(Columns::alloc(g, self.dims, cols.next_multiple_of(64))?);
        Ok(())
    }

    /// Steps every stream by `t` bytes (`bytes` stream-major, `n * t` of
    /// them) as one launch sequence, and downloads the `n * t` tables into
    /// `self.flat`. Ended streams are computed in the GEMMs but their state
    /// is left alone.
    ///
    /// With graphs on, the launch sequence of a shape `(n, t)` is recorded
    /// once (a CUDA graph) and replayed for every later call of that shape:
    /// one graph launch instead of `4 + 10 * layers` launches per call. A
    /// GPU that cannot capture runs the launches directly from then on.
    fn run_columns(&mut self, bytes: &[u8], t: usize) -> Result<(), CudaError> {
        let n = self.n_streams;
        let ncols = n * t;
        self.ensure_columns(ncols)?;
        let b = self.cols.as_ref().expect("allocated above");
        b.bytes.write(self.gpu.as_mut(), bytes)?;
        if self.graphs && self.graph != Some((n, t)) {
            self.graph = None;
            if self.gpu.begin_capture().is_ok() {
                let recorded = self.launch_sequence(t);
                let ended = self.gpu.end_capture();
                recorded?;
                match ended {
                    Ok(()) => self.graph = Some((n, t)),
                    Err(_) => self.graphs = false,
                }
            } else {
                self.graphs = false;
            }
        }
        if self.graphs && self.graph == Some((n, t)) {
            self.gpu.replay()?;
        } else {
            self.launch_sequence(t)?;
        }
        let b = self.cols.as_ref().expect("allocated above");
        self.flat.resize(ncols * 256, 0);
        b.freqs.read_into(self.gpu.as_ref(), &mut self.flat)
    }

    /// Launches (or, while capturing, records) the forward graph over the
    /// `n * t` columns whose bytes are in the `bytes` buffer.
    fn launch_sequence(&mut self, t: usize) -> Result<(), CudaError> {
        let n = self.n_streams;
        let ncols = n * t;
        let dims = self.dims;
        let (d, e, r, xo, ffw) = (
            dims.d_model as u32,
            dims.d_inner() as u32,
            dims.dt_rank() as u32,
            dims.x_proj_out() as u32,
            dims.d_ff() as u32,
        );
        let (tt, nn) = (t as u32, n as u32);
        let m = &self.model;
        let b = self.cols.as_ref().expect("allocated above");
        let mut p = Pass {
            g: self.gpu.as_mut(),
            cols: ncols as u32,
            no_lut: &m.no_lut,
            mma: self.tensor_cores,
        };
        let cd = ncols as u64 * d as u64;
        let ne = n as u64 * e as u64;
        p.launch(
            &gpu::EMBED,
            grid_for(cd),
            &[
                b.bytes.arg(),
                m.embedding.arg(),
                b.x.arg(),
                Arg::U32(d),
                p.cols(),
            ],
        )?;
        for (l, st) in m.layers.iter().zip(&self.states) {
            p.layer_norm(&l.ln1, &b.x, d, &b.u)?;
            p.gemm(&l.in_proj, &b.u, d, OUT_Q8, None, b.xz.arg(), 2 * e)?;
            p.launch(
                &gpu::CONV,
                grid_for(ne),
                &[
                    b.xz.arg(),
                    st.window.arg(),
                    l.conv_w.arg(),
                    l.conv_b.arg(),
                    l.conv_rq.mult.arg(),
                    l.conv_rq.shift.arg(),
                    l.conv_silu.arg(),
                    b.xc.arg(),
                    self.active.arg(),
                    Arg::U32(e),
                    Arg::U32(nn),
                    Arg::U32(tt),
                ],
            )?;
            p.gemm(&l.x_proj, &b.xc, e, OUT_Q8, None, b.xdbl.arg(), xo)?;
            // dt_proj reads the first dt_rank bytes of each xdbl row.
            p.gemm(&l.dt_proj, &b.xdbl, xo, OUT_Q8, None, b.dt8.arg(), e)?;
            p.launch(
                &gpu::SCAN,
                grid_for(ne),
                &[
                    b.xc.arg(),
                    b.dt8.arg(),
                    l.softplus.arg(),
                    b.xdbl.arg(),
                    Arg::U32(xo),
                    Arg::U32(r),
                    l.a_rate.arg(),
                    Arg::U32(l.a_shift),
                    Arg::U32(l.inc_shift),
                    Arg::U32(self.min_exponent),
                    Arg::S32(self.inc_max),
                    l.d_skip.arg(),
                    m.decay.arg(),
                    st.h.arg(),
                    l.y_rq.mult.arg(),
                    l.y_rq.shift.arg(),
                    b.xz.arg(),
                    l.gate_silu.arg(),
                    l.gate_rq.mult.arg(),
                    l.gate_rq.shift.arg(),
                    b.g.arg(),
                    self.active.arg(),
                    Arg::U32(e),
                    Arg::U32(nn),
                    Arg::U32(tt),
                ],
            )?;
            p.gemm(&l.out_proj, &b.g, e, OUT_Q16, None, b.mo.arg(), d)?;
            p.layer_norm(&l.ln2, &b.mo, d, &b.u)?;
            p.gemm(&l.ff1, &b.u, d, OUT_Q8, Some(&l.gelu), b.f.arg(), ffw)?;
            // ff2 with the residual add in its epilogue: x = clamp_q16(x + ff2).
            p.gemm(&l.ff2, &b.f, ffw, OUT_Q16_ADD, None, b.x.arg(), d)?;
        }
        p.launch(
            &gpu::HEAD_IN,
            grid_for(cd),
            &[
                b.x.arg(),
                m.head_in.mult.arg(),
                m.head_in.shift.arg(),
                b.u.arg(),
                Arg::U32(d),
                p.cols(),
            ],
        )?;
        p.gemm(&m.fc1, &b.u, d, OUT_Q8_RELU, None, b.h1.arg(), d)?;
        p.gemm(&m.fc2, &b.h1, d, OUT_LOGIT, None, b.logits.arg(), 256)?;
        p.launch(
            &gpu::FREQS,
            warp_per_column(p.cols),
            &[b.logits.arg(), m.exp2.arg(), b.freqs.arg(), p.cols()],
        )
    }

    /// Steps the active streams by the `t` bytes each of `bytes` (stream-major)
    /// and writes their tables to `out[s * t + k]`, in pieces of at most
    /// [`MAX_COLUMNS`] columns.
    fn run_block(
        &mut self,
        bytes: &[u8],
        t: usize,
        active: &[bool],
        out: &mut [Frequencies],
    ) -> Result<(), CudaError> {
        self.flags.clear();
        self.flags.extend(active.iter().map(|&a| u8::from(a)));
        self.active.write(self.gpu.as_mut(), &self.flags)?;
        let w_max = (MAX_COLUMNS / self.n_streams.max(1)).max(1);
        let mut k0 = 0;
        while k0 < t {
            let k1 = (k0 + w_max).min(t);
            let mut piece = std::mem::take(&mut self.piece);
            let res = if k0 == 0 && k1 == t {
                self.run_columns(bytes, t)
            } else {
                host::gather_positions(bytes, t, k0, k1, &mut piece);
                self.run_columns(&piece, k1 - k0)
            };
            self.piece = piece;
            res?;
            host::scatter_active(&self.flat, active, t, k0, k1 - k0, out);
            k0 = k1;
        }
        Ok(())
    }

    /// Downloads every layer's state of the batch, `(window, h)` per layer.
    fn download_states(&self) -> Result<Vec<host::BatchLayerState>, CudaError> {
        let g = self.gpu.as_ref();
        self.states
            .iter()
            .map(|st| Ok((st.window.read(g, st.window.len)?, st.h.read(g, st.h.len)?)))
            .collect()
    }
}

/// The launches of one call over `cols` columns.
struct Pass<'a> {
    g: &'a mut dyn Gpu,
    cols: u32,
    /// The GEMM's `lut` argument when it has none.
    no_lut: &'a DevBuf<i8>,
    /// The tensor-core GEMM for 32 columns and more.
    mma: bool,
}

impl Pass<'_> {
    fn cols(&self) -> Arg {
        Arg::U32(self.cols)
    }

    fn launch(&mut self, k: &KernelSig, shape: Shape, args: &[Arg]) -> Result<(), CudaError> {
        gpu::check_args(k, args)?;
        self.g.launch(k, shape, args)
    }

    /// `out[c][j] = epilogue(lin . a[c][0..K])` for every column `c`, `a`
    /// with row stride `lda`, `out` with `ldo`: the tiled GEMM (on the tensor
    /// cores or with `__dp4a`), or the GEMV below [`GEMV_BELOW`] columns.
    #[allow(clippy::too_many_arguments)]
    fn gemm(
        &mut self,
        lin: &DevLinear,
        a: &DevBuf<i8>,
        lda: u32,
        mode: u32,
        lut: Option<&DevBuf<i8>>,
        out: Arg,
        ldo: u32,
    ) -> Result<(), CudaError> {
        let cols = self.cols;
        let (k, shape): (&KernelSig, Shape) = if (cols as usize) < GEMV_BELOW {
            (&gpu::GEMV, grid_for(lin.rows as u64 * cols as u64))
        } else if self.mma {
            let grid = [lin.rows.div_ceil(2 * TILE), cols.div_ceil(TILE), 1];
            (&gpu::GEMM_MMA, Shape { grid, block: BLOCK })
        } else {
            let grid = [lin.rows.div_ceil(TILE), cols.div_ceil(TILE), 1];
            (&gpu::GEMM, Shape { grid, block: BLOCK })
        };
        let args = [
            lin.w.arg(),
            lin.bias.arg(),
            lin.rq.mult.arg(),
            lin.rq.shift.arg(),
            a.arg(),
            Arg::U32(lda),
            Arg::U32(0),
            Arg::U32(lin.rows),
            Arg::U32(lin.cols),
            Arg::U32(mode),
            lut.unwrap_or(self.no_lut).arg(),
            Arg::U32(lut.is_some().into()),
            out,
            Arg::U32(ldo),
            Arg::U32(cols),
        ];
        self.launch(k, shape, &args)
    }

    fn layer_norm(
        &mut self,
        ln: &DevLayerNorm,
        x: &DevBuf<i16>,
        d: u32,
        out: &DevBuf<i8>,
    ) -> Result<(), CudaError> {
        let args = [
            x.arg(),
            Arg::U32(d),
            ln.gamma.arg(),
            ln.beta.arg(),
            Arg::U32(ln.shift),
            Arg::U64(ln.eps),
            out.arg(),
            self.cols(),
        ];
        self.launch(&gpu::LAYER_NORM, warp_per_column(self.cols), &args)
    }
}

impl Engine for CudaEngine {
    fn describe(&self) -> String {
        self.gpu.describe()
    }

    fn n_streams(&self) -> usize {
        self.n_streams
    }

    fn open(&mut self, n: usize) -> Result<(), EngineError> {
        Ok(self.reopen(n)?)
    }

    fn step(
        &mut self,
        bytes: &[u8],
        active: &[bool],
        out: &mut [Frequencies],
    ) -> Result<(), EngineError> {
        self.liveness
            .begin_step(bytes.len(), active, out.len(), false, |_| {})?;
        if !active.contains(&true) {
            return Ok(());
        }
        Ok(self.run_block(bytes, 1, active, out)?)
    }

    fn step_block(
        &mut self,
        bytes: &[u8],
        active: &[bool],
        out: &mut [Frequencies],
    ) -> Result<(), EngineError> {
        let t = self
            .liveness
            .begin_step(bytes.len(), active, out.len(), true, |_| {})?;
        if t == 0 || !active.contains(&true) {
            return Ok(());
        }
        Ok(self.run_block(bytes, t, active, out)?)
    }

    fn state_bytes(&self, stream: usize) -> Result<Vec<u8>, EngineError> {
        if stream >= self.n_streams {
            return Err(EngineError::Usage(format!(
                "stream {stream} of {}",
                self.n_streams
            )));
        }
        let layers = self.download_states()?;
        Ok(host::canonical_state(&layers, self.dims.d_inner(), stream))
    }
}
