//! The CUDA device: [`CudaEngine`] runs the forward graph as the kernels of
//! `kernels/` (arith v1, bit-identical to the CPU engine), behind the same
//! [`Engine`] interface.
//!
//! The driver (`libcuda`) is loaded at run time by cudarc; nothing links
//! against CUDA at build time. [`CudaEngine::new`] checks that the library is
//! present before creating a context (cudarc panics otherwise) and reports
//! `CUDA unavailable: <why>`. The kernels are the committed PTX in
//! `kernels/ptx/` (built by `kernels/build_ptx.sh`), JIT-compiled by the driver.
//!
//! Layout: activations `[streams, features]`, one grid row (or block) per
//! stream; see `docs/CUDA.md`.
#![deny(clippy::float_arithmetic)]

use std::sync::Arc;

use cudarc::driver::{
    CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, DeviceRepr, LaunchConfig,
    PushKernelArg, ValidAsZeroBits,
};
use cudarc::nvrtc::Ptx;

use crate::engine::Frequencies;
use crate::engine::interface::{Engine, EngineError, Liveness};
use crate::intmath::ArithVersion;
use crate::model::{D_CONV, D_STATE, Dims, LayerNorm, Linear, Model};

#[cfg(feature = "c-shim")]
pub mod c_shim;
mod host;

/// The most streams one engine holds (the grid's second dimension).
pub const MAX_STREAMS: usize = 65535;

/// The arith versions the kernels implement (`docs/CUDA.md`).
pub const ARITH_VERSIONS: &[ArithVersion] = &[ArithVersion::V1];

/// PTX of the forward kernels (`kernels/boa_forward.cu`).
pub const FORWARD_PTX: &str = include_str!("../../../kernels/ptx/boa_forward.ptx");
/// PTX of the batched range coder (`kernels/boa_coder.cu`).
pub const CODER_PTX: &str = include_str!("../../../kernels/ptx/boa_coder.ptx");

const BLOCK: u32 = 256;
const WARPS_PER_BLOCK: u32 = 8;
const OUT_Q8: u32 = 0;
const OUT_Q8_RELU: u32 = 1;
const OUT_Q16: u32 = 2;
const OUT_LOGIT: u32 = 3;

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

fn drv<E: std::fmt::Debug>(e: E) -> CudaError {
    CudaError::Driver(format!("{e:?}"))
}

/// Creates a context on device `ordinal`, or says why CUDA cannot be used.
pub fn context(ordinal: usize) -> Result<Arc<CudaContext>, CudaError> {
    // SAFETY: only tries to dlopen libcuda / nvcuda.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Err(CudaError::Unavailable(
            "the NVIDIA driver library (libcuda.so) was not found".into(),
        ));
    }
    // cudarc panics when a driver symbol is missing (a driver older than the
    // bindings); turn that into an error too.
    match std::panic::catch_unwind(|| CudaContext::new(ordinal)) {
        Ok(Ok(ctx)) => Ok(ctx),
        Ok(Err(e)) => Err(CudaError::Unavailable(format!(
            "cannot create a context on device {ordinal}: {e:?}"
        ))),
        Err(_) => Err(CudaError::Unavailable(
            "the driver library is missing entry points (driver too old?)".into(),
        )),
    }
}

struct Funcs {
    gemv: CudaFunction,
    embed: CudaFunction,
    layer_norm: CudaFunction,
    conv_silu: CudaFunction,
    softplus: CudaFunction,
    scan_gate: CudaFunction,
    residual_add: CudaFunction,
    head_in: CudaFunction,
    freqs: CudaFunction,
}

impl Funcs {
    fn load(module: &Arc<CudaModule>) -> Result<Funcs, CudaError> {
        let f = |name: &str| module.load_function(name).map_err(drv);
        Ok(Funcs {
            gemv: f("boa_gemv_q8_k")?,
            embed: f("boa_embed_k")?,
            layer_norm: f("boa_layer_norm_k")?,
            conv_silu: f("boa_conv_silu_k")?,
            softplus: f("boa_softplus_k")?,
            scan_gate: f("boa_scan_gate_k")?,
            residual_add: f("boa_residual_add_k")?,
            head_in: f("boa_head_in_k")?,
            freqs: f("boa_logits_to_freqs_k")?,
        })
    }
}

struct DevRequant {
    mult: CudaSlice<i32>,
    shift: CudaSlice<u8>,
}

struct DevLinear {
    w: CudaSlice<i8>,
    /// Zeros where the layer has no bias.
    bias: CudaSlice<i32>,
    rq: DevRequant,
    rows: u32,
    cols: u32,
}

struct DevLayerNorm {
    gamma: CudaSlice<i16>,
    beta: CudaSlice<i32>,
    shift: u32,
    eps: u64,
}

struct DevLayer {
    ln1: DevLayerNorm,
    in_proj: DevLinear,
    conv_w: CudaSlice<i8>,
    conv_b: CudaSlice<i32>,
    conv_rq: DevRequant,
    conv_silu: CudaSlice<i8>,
    x_proj: DevLinear,
    dt_proj: DevLinear,
    softplus: CudaSlice<u16>,
    a_rate: CudaSlice<u16>,
    a_shift: u32,
    inc_shift: u32,
    d_skip: CudaSlice<i32>,
    y_rq: DevRequant,
    gate_silu: CudaSlice<i8>,
    gate_rq: DevRequant,
    out_proj: DevLinear,
    ln2: DevLayerNorm,
    ff1: DevLinear,
    gelu: CudaSlice<i8>,
    ff2: DevLinear,
}

fn up<T: DeviceRepr>(s: &Arc<CudaStream>, v: &[T]) -> Result<CudaSlice<T>, CudaError> {
    s.clone_htod(v).map_err(drv)
}

fn zeros<T: DeviceRepr + ValidAsZeroBits>(
    s: &Arc<CudaStream>,
    n: usize,
) -> Result<CudaSlice<T>, CudaError> {
    s.alloc_zeros(n.max(1)).map_err(drv)
}

fn up_rq(s: &Arc<CudaStream>, rq: &crate::model::Requant) -> Result<DevRequant, CudaError> {
    Ok(DevRequant {
        mult: up(s, &rq.mult)?,
        shift: up(s, &rq.shift)?,
    })
}

fn up_linear(s: &Arc<CudaStream>, l: &Linear) -> Result<DevLinear, CudaError> {
    let bias = match &l.bias {
        Some(b) => up(s, b)?,
        None => zeros(s, l.rows)?,
    };
    Ok(DevLinear {
        w: up(s, &l.weight)?,
        bias,
        rq: up_rq(s, &l.rq)?,
        rows: l.rows as u32,
        cols: l.cols as u32,
    })
}

fn up_ln(s: &Arc<CudaStream>, ln: &LayerNorm) -> Result<DevLayerNorm, CudaError> {
    Ok(DevLayerNorm {
        gamma: up(s, &ln.gamma)?,
        beta: up(s, &ln.beta)?,
        shift: ln.shift as u32,
        eps: ln.eps,
    })
}

/// Per-stream recurrent state of one layer on the device.
struct DevState {
    /// `[S, K-1, E]`
    window: CudaSlice<i8>,
    /// `[S, E, N]`
    h: CudaSlice<i32>,
}

/// Working buffers, `[S, features]`.
struct Buffers {
    bytes: CudaSlice<u8>,
    x: CudaSlice<i16>,
    u: CudaSlice<i8>,
    xz: CudaSlice<i8>,
    xc: CudaSlice<i8>,
    xdbl: CudaSlice<i8>,
    dt8: CudaSlice<i8>,
    dt: CudaSlice<u16>,
    g: CudaSlice<i8>,
    mo: CudaSlice<i16>,
    f: CudaSlice<i8>,
    h1: CudaSlice<i8>,
    logits: CudaSlice<i32>,
    freqs: CudaSlice<u32>,
    no_lut: CudaSlice<i8>,
}

/// The forward step for a fixed batch of independent streams on one GPU.
pub struct CudaEngine {
    stream: Arc<CudaStream>,
    funcs: Funcs,
    layers: Vec<DevLayer>,
    embedding: CudaSlice<i16>,
    head_in: DevRequant,
    head_fc1: DevLinear,
    head_fc2: DevLinear,
    exp2: CudaSlice<u32>,
    decay: CudaSlice<u16>,
    /// The arith version's scan constants (§6): smallest decay exponent, increment bound.
    min_exponent: u32,
    inc_max: i32,
    states: Vec<DevState>,
    buf: Buffers,
    dims: Dims,
    ordinal: usize,
    liveness: Liveness,
    /// Streams in the batch; the buffers hold at least one.
    n_streams: u32,
}

/// Refuses a model the kernels do not implement.
fn check_model(model: &Model) -> Result<(), CudaError> {
    if ARITH_VERSIONS.contains(&model.arith) {
        Ok(())
    } else {
        Err(CudaError::Unsupported(format!(
            "the CUDA kernels implement arith v{}; this model is arith v{} (use --device cpu)",
            ARITH_VERSIONS
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", v"),
            model.arith
        )))
    }
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

/// Fresh states and working buffers for `n` streams (at least one, so that no
/// allocation is empty).
fn alloc_batch(
    s: &Arc<CudaStream>,
    dims: Dims,
    n: usize,
) -> Result<(Vec<DevState>, Buffers), CudaError> {
    let n = n.max(1);
    let (d, e, ff, xo) = (dims.d_model, dims.d_inner(), dims.d_ff(), dims.x_proj_out());
    let states = (0..dims.n_layers)
        .map(|_| {
            Ok(DevState {
                window: zeros(s, n * (D_CONV - 1) * e)?,
                h: zeros(s, n * e * D_STATE)?,
            })
        })
        .collect::<Result<Vec<_>, CudaError>>()?;
    let buf = Buffers {
        bytes: zeros(s, n)?,
        x: zeros(s, n * d)?,
        u: zeros(s, n * d)?,
        xz: zeros(s, n * 2 * e)?,
        xc: zeros(s, n * e)?,
        xdbl: zeros(s, n * xo)?,
        dt8: zeros(s, n * e)?,
        dt: zeros(s, n * e)?,
        g: zeros(s, n * e)?,
        mo: zeros(s, n * d)?,
        f: zeros(s, n * ff)?,
        h1: zeros(s, n * d)?,
        logits: zeros(s, n * 256)?,
        freqs: zeros(s, n * 256)?,
        no_lut: zeros(s, 256)?,
    };
    Ok((states, buf))
}

fn grid_for(n: u64) -> LaunchConfig {
    let blocks = n.div_ceil(BLOCK as u64).clamp(1, 1 << 20) as u32;
    LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (BLOCK, 1, 1),
        shared_mem_bytes: 0,
    }
}

fn per_stream(s: u32) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (s, 1, 1),
        block_dim: (BLOCK, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// `out[s][j] = epilogue(lin . A[s][a_off..a_off + cols])`, see `boa_gemv_q8_k`.
#[allow(clippy::too_many_arguments)]
fn gemv<T>(
    stream: &Arc<CudaStream>,
    f: &CudaFunction,
    lin: &DevLinear,
    a: &CudaSlice<i8>,
    lda: u32,
    a_off: u32,
    mode: u32,
    lut: Option<&CudaSlice<i8>>,
    no_lut: &CudaSlice<i8>,
    out: &mut CudaSlice<T>,
    ldo: u32,
    n_streams: u32,
) -> Result<(), CudaError> {
    let use_lut: u32 = lut.is_some().into();
    let lut = lut.unwrap_or(no_lut);
    let cfg = LaunchConfig {
        grid_dim: (lin.rows.div_ceil(WARPS_PER_BLOCK), n_streams, 1),
        block_dim: (BLOCK, 1, 1),
        shared_mem_bytes: 0,
    };
    let mut b = stream.launch_builder(f);
    b.arg(&lin.w)
        .arg(&lin.bias)
        .arg(&lin.rq.mult)
        .arg(&lin.rq.shift)
        .arg(a)
        .arg(&lda)
        .arg(&a_off)
        .arg(&lin.rows)
        .arg(&lin.cols)
        .arg(&mode)
        .arg(lut)
        .arg(&use_lut)
        .arg(out)
        .arg(&ldo);
    // SAFETY: the argument list matches the kernel signature in boa_forward.cu;
    // every buffer holds at least n_streams rows of the stated stride.
    unsafe { b.launch(cfg) }.map(|_| ()).map_err(drv)
}

fn layer_norm(
    stream: &Arc<CudaStream>,
    f: &CudaFunction,
    ln: &DevLayerNorm,
    x: &CudaSlice<i16>,
    d: u32,
    out: &mut CudaSlice<i8>,
    n_streams: u32,
) -> Result<(), CudaError> {
    let mut b = stream.launch_builder(f);
    b.arg(x)
        .arg(&d)
        .arg(&ln.gamma)
        .arg(&ln.beta)
        .arg(&ln.shift)
        .arg(&ln.eps)
        .arg(out);
    // SAFETY: matches boa_layer_norm_k; x and out are [n_streams, d]; block = 256.
    unsafe { b.launch(per_stream(n_streams)) }
        .map(|_| ())
        .map_err(drv)
}

impl CudaEngine {
    /// Uploads `model` to device `ordinal` and allocates state for `n_streams`
    /// streams (all fresh, as [`crate::engine::StreamState::new`]). A model of
    /// an arith version the kernels do not implement ([`ARITH_VERSIONS`]) is
    /// refused before the driver is touched.
    pub fn new(model: &Model, n_streams: usize, ordinal: usize) -> Result<CudaEngine, CudaError> {
        check_model(model)?;
        check_streams(n_streams)?;
        let ctx = context(ordinal)?;
        let module = ctx.load_module(Ptx::from_src(FORWARD_PTX)).map_err(drv)?;
        let funcs = Funcs::load(&module)?;
        let s = ctx.default_stream();
        let dims = model.dims;
        let mut layers = Vec::with_capacity(model.layers.len());
        for l in &model.layers {
            layers.push(DevLayer {
                ln1: up_ln(&s, &l.ln1)?,
                in_proj: up_linear(&s, &l.in_proj)?,
                conv_w: up(&s, &l.conv_weight)?,
                conv_b: up(&s, &l.conv_bias)?,
                conv_rq: up_rq(&s, &l.conv_rq)?,
                conv_silu: up(&s, &l.conv_silu)?,
                x_proj: up_linear(&s, &l.x_proj)?,
                dt_proj: up_linear(&s, &l.dt_proj)?,
                softplus: up(&s, &l.dt_softplus)?,
                a_rate: up(&s, &l.a_rate)?,
                a_shift: l.a_shift as u32,
                inc_shift: l.inc_shift as u32,
                d_skip: up(&s, &l.d_skip)?,
                y_rq: up_rq(&s, &l.y_rq)?,
                gate_silu: up(&s, &l.gate_silu)?,
                gate_rq: up_rq(&s, &l.gate_rq)?,
                out_proj: up_linear(&s, &l.out_proj)?,
                ln2: up_ln(&s, &l.ln2)?,
                ff1: up_linear(&s, &l.ff1)?,
                gelu: up(&s, &l.ff_gelu)?,
                ff2: up_linear(&s, &l.ff2)?,
            });
        }
        let (states, buf) = alloc_batch(&s, dims, n_streams)?;
        Ok(CudaEngine {
            embedding: up(&s, &model.embedding)?,
            head_in: up_rq(&s, &model.head.in_rq)?,
            head_fc1: up_linear(&s, &model.head.fc1)?,
            head_fc2: up_linear(&s, &model.head.fc2)?,
            exp2: up(&s, &model.exp2)?,
            decay: up(&s, &model.decay_exp2)?,
            min_exponent: model.arith.min_decay_exponent(),
            inc_max: model.arith.inc_max() as i32,
            stream: s,
            funcs,
            layers,
            states,
            buf,
            dims,
            ordinal,
            liveness: Liveness::new(n_streams),
            n_streams: n_streams as u32,
        })
    }

    /// Number of streams in the batch.
    pub fn n_streams(&self) -> usize {
        self.n_streams as usize
    }

    /// Resets every stream to the fresh all-zero state.
    pub fn reset(&mut self) -> Result<(), CudaError> {
        for st in &mut self.states {
            self.stream.memset_zeros(&mut st.window).map_err(drv)?;
            self.stream.memset_zeros(&mut st.h).map_err(drv)?;
        }
        self.liveness = Liveness::new(self.n_streams as usize);
        Ok(())
    }

    /// Replaces the batch with `n` fresh streams.
    pub fn reopen(&mut self, n: usize) -> Result<(), CudaError> {
        check_streams(n)?;
        if n == self.n_streams as usize {
            return self.reset();
        }
        let (states, buf) = alloc_batch(&self.stream, self.dims, n)?;
        self.states = states;
        self.buf = buf;
        self.n_streams = n as u32;
        self.liveness = Liveness::new(n);
        Ok(())
    }

    /// Downloads every layer's state of the batch, `(window, h)` per layer.
    fn download_states(&self) -> Result<Vec<host::BatchLayerState>, CudaError> {
        self.states
            .iter()
            .map(|st| {
                Ok((
                    self.stream.clone_dtoh(&st.window).map_err(drv)?,
                    self.stream.clone_dtoh(&st.h).map_err(drv)?,
                ))
            })
            .collect()
    }

    /// Steps every stream by one byte (`bytes[s]` for stream `s`) and returns
    /// the frequencies of each stream's next byte.
    pub fn step(&mut self, bytes: &[u8]) -> Result<Vec<Frequencies>, CudaError> {
        if bytes.len() != self.n_streams as usize {
            return Err(CudaError::Usage(format!(
                "{} bytes for {} streams",
                bytes.len(),
                self.n_streams
            )));
        }
        if self.n_streams == 0 {
            return Ok(Vec::new());
        }
        let st = &self.stream;
        let fns = &self.funcs;
        let buf = &mut self.buf;
        let dims = self.dims;
        let (n, d, e, r, xo) = (
            self.n_streams,
            dims.d_model as u32,
            dims.d_inner() as u32,
            dims.dt_rank() as u32,
            dims.x_proj_out() as u32,
        );
        let ne = n as u64 * e as u64;
        st.memcpy_htod(bytes, &mut buf.bytes).map_err(drv)?;
        {
            let mut b = st.launch_builder(&fns.embed);
            b.arg(&buf.bytes)
                .arg(&self.embedding)
                .arg(&mut buf.x)
                .arg(&d);
            // SAFETY: matches boa_embed_k; x is [n, d].
            unsafe { b.launch(per_stream(n)) }.map_err(drv)?;
        }
        for (l, ls) in self.layers.iter().zip(self.states.iter_mut()) {
            layer_norm(st, &fns.layer_norm, &l.ln1, &buf.x, d, &mut buf.u, n)?;
            gemv(
                st,
                &fns.gemv,
                &l.in_proj,
                &buf.u,
                d,
                0,
                OUT_Q8,
                None,
                &buf.no_lut,
                &mut buf.xz,
                2 * e,
                n,
            )?;
            {
                let mut b = st.launch_builder(&fns.conv_silu);
                b.arg(&buf.xz)
                    .arg(&mut ls.window)
                    .arg(&l.conv_w)
                    .arg(&l.conv_b)
                    .arg(&l.conv_rq.mult)
                    .arg(&l.conv_rq.shift)
                    .arg(&l.conv_silu)
                    .arg(&mut buf.xc)
                    .arg(&e)
                    .arg(&n);
                // SAFETY: matches boa_conv_silu_k.
                unsafe { b.launch(grid_for(ne)) }.map_err(drv)?;
            }
            gemv(
                st,
                &fns.gemv,
                &l.x_proj,
                &buf.xc,
                e,
                0,
                OUT_Q8,
                None,
                &buf.no_lut,
                &mut buf.xdbl,
                xo,
                n,
            )?;
            gemv(
                st,
                &fns.gemv,
                &l.dt_proj,
                &buf.xdbl,
                xo,
                0,
                OUT_Q8,
                None,
                &buf.no_lut,
                &mut buf.dt8,
                e,
                n,
            )?;
            {
                let mut b = st.launch_builder(&fns.softplus);
                b.arg(&buf.dt8).arg(&l.softplus).arg(&mut buf.dt).arg(&ne);
                // SAFETY: matches boa_softplus_k; both buffers hold ne values.
                unsafe { b.launch(grid_for(ne)) }.map_err(drv)?;
            }
            {
                let mut b = st.launch_builder(&fns.scan_gate);
                b.arg(&buf.xc)
                    .arg(&buf.dt)
                    .arg(&buf.xdbl)
                    .arg(&xo)
                    .arg(&r)
                    .arg(&l.a_rate)
                    .arg(&l.a_shift)
                    .arg(&l.inc_shift)
                    .arg(&self.min_exponent)
                    .arg(&self.inc_max)
                    .arg(&l.d_skip)
                    .arg(&self.decay)
                    .arg(&mut ls.h)
                    .arg(&l.y_rq.mult)
                    .arg(&l.y_rq.shift)
                    .arg(&buf.xz)
                    .arg(&l.gate_silu)
                    .arg(&l.gate_rq.mult)
                    .arg(&l.gate_rq.shift)
                    .arg(&mut buf.g)
                    .arg(&e)
                    .arg(&n);
                // SAFETY: matches boa_scan_gate_k.
                unsafe { b.launch(grid_for(ne)) }.map_err(drv)?;
            }
            gemv(
                st,
                &fns.gemv,
                &l.out_proj,
                &buf.g,
                e,
                0,
                OUT_Q16,
                None,
                &buf.no_lut,
                &mut buf.mo,
                d,
                n,
            )?;
            layer_norm(st, &fns.layer_norm, &l.ln2, &buf.mo, d, &mut buf.u, n)?;
            let ff = l.ff1.rows;
            gemv(
                st,
                &fns.gemv,
                &l.ff1,
                &buf.u,
                d,
                0,
                OUT_Q8,
                Some(&l.gelu),
                &buf.no_lut,
                &mut buf.f,
                ff,
                n,
            )?;
            // ff2 output reuses `mo` (its layer norm has been computed).
            gemv(
                st,
                &fns.gemv,
                &l.ff2,
                &buf.f,
                ff,
                0,
                OUT_Q16,
                None,
                &buf.no_lut,
                &mut buf.mo,
                d,
                n,
            )?;
            {
                let nd = n as u64 * d as u64;
                let mut b = st.launch_builder(&fns.residual_add);
                b.arg(&mut buf.x).arg(&buf.mo).arg(&nd);
                // SAFETY: matches boa_residual_add_k.
                unsafe { b.launch(grid_for(nd)) }.map_err(drv)?;
            }
        }
        {
            let nd = n as u64 * d as u64;
            let mut b = st.launch_builder(&fns.head_in);
            b.arg(&buf.x)
                .arg(&self.head_in.mult)
                .arg(&self.head_in.shift)
                .arg(&mut buf.u)
                .arg(&d)
                .arg(&n);
            // SAFETY: matches boa_head_in_k.
            unsafe { b.launch(grid_for(nd)) }.map_err(drv)?;
        }
        gemv(
            st,
            &fns.gemv,
            &self.head_fc1,
            &buf.u,
            d,
            0,
            OUT_Q8_RELU,
            None,
            &buf.no_lut,
            &mut buf.h1,
            d,
            n,
        )?;
        gemv(
            st,
            &fns.gemv,
            &self.head_fc2,
            &buf.h1,
            d,
            0,
            OUT_LOGIT,
            None,
            &buf.no_lut,
            &mut buf.logits,
            256,
            n,
        )?;
        {
            let mut b = st.launch_builder(&fns.freqs);
            b.arg(&buf.logits).arg(&self.exp2).arg(&mut buf.freqs);
            // SAFETY: matches boa_logits_to_freqs_k; block = 256 threads.
            unsafe { b.launch(per_stream(n)) }.map_err(drv)?;
        }
        let flat = st.clone_dtoh(&buf.freqs).map_err(drv)?;
        Ok(flat
            .chunks_exact(256)
            .map(|c| Frequencies(c.try_into().expect("256 entries")))
            .collect())
    }
}

impl Engine for CudaEngine {
    fn describe(&self) -> String {
        format!("cuda:{}", self.ordinal)
    }

    fn n_streams(&self) -> usize {
        self.n_streams as usize
    }

    fn open(&mut self, n: usize) -> Result<(), EngineError> {
        Ok(self.reopen(n)?)
    }

    /// Every stream is stepped (the kernels have no mask); an ended stream's
    /// table is not written back, and its state is no longer defined.
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
        let tables = CudaEngine::step(self, bytes)?;
        host::scatter_active(tables, active, 1, 0, out);
        Ok(())
    }

    /// One batched step per position of the block.
    fn step_block(
        &mut self,
        bytes: &[u8],
        active: &[bool],
        out: &mut [Frequencies],
    ) -> Result<(), EngineError> {
        let t = self
            .liveness
            .begin_step(bytes.len(), active, out.len(), true, |_| {})?;
        if !active.contains(&true) {
            return Ok(());
        }
        let mut column = vec![0u8; self.n_streams as usize];
        for k in 0..t {
            host::gather_position(bytes, t, k, &mut column);
            let tables = CudaEngine::step(self, &column)?;
            host::scatter_active(tables, active, t, k, out);
        }
        Ok(())
    }

    fn state_bytes(&self, stream: usize) -> Result<Vec<u8>, EngineError> {
        if stream >= self.n_streams as usize {
            return Err(EngineError::Usage(format!(
                "stream {stream} of {}",
                self.n_streams
            )));
        }
        let layers = self.download_states()?;
        Ok(host::canonical_state(&layers, self.dims.d_inner(), stream))
    }
}
