//! The integer model: dimensions, per-layer parameters, file format and checks.
//!
//! A [`Model`] only exists after validation ([`file`], [`bounds`]): every value
//! range the engine relies on has been checked, and the fingerprint computed.
#![deny(clippy::float_arithmetic)]

pub mod bounds;
pub mod file;
pub mod fingerprint;
pub mod synth;

pub use file::ModelError;
pub use fingerprint::Fingerprint;

/// Fixed Mamba hyper-parameters (the mamba_ssm defaults BOA uses).
pub const D_STATE: usize = 16;
/// Depthwise causal convolution width.
pub const D_CONV: usize = 4;
/// Largest supported model width (keeps every accumulator bound below 2^31).
pub const MAX_D_MODEL: usize = 4096;
/// Largest supported layer count.
pub const MAX_LAYERS: usize = 64;

/// The shape of a model. Everything else is derived from `d_model` and `n_layers`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    pub d_model: usize,
    pub n_layers: usize,
}

impl Dims {
    /// Inner (expanded) width of the Mamba mixer: `2 * d_model`.
    pub fn d_inner(&self) -> usize {
        2 * self.d_model
    }
    /// Rank of the dt projection: `ceil(d_model / 16)`.
    pub fn dt_rank(&self) -> usize {
        self.d_model.div_ceil(16)
    }
    /// Hidden width of the feed-forward block: `4 * d_model`.
    pub fn d_ff(&self) -> usize {
        4 * self.d_model
    }
    /// Output width of x_proj: `dt_rank + 2 * d_state`.
    pub fn x_proj_out(&self) -> usize {
        self.dt_rank() + 2 * D_STATE
    }

    /// Checks the dims are supported by arith v1.
    pub fn validate(&self) -> Result<(), ModelError> {
        let d = self.d_model;
        if d == 0 || !d.is_multiple_of(16) || d > MAX_D_MODEL {
            return Err(ModelError::Dims(format!(
                "d_model {d} must be a positive multiple of 16 and at most {MAX_D_MODEL}"
            )));
        }
        if self.n_layers == 0 || self.n_layers > MAX_LAYERS {
            return Err(ModelError::Dims(format!(
                "n_layers {} must be between 1 and {MAX_LAYERS}",
                self.n_layers
            )));
        }
        Ok(())
    }

    /// Parameters of the float model these dims describe (BOA's count).
    pub fn float_parameter_count(&self) -> usize {
        let (d, e, r, n, f) = (
            self.d_model,
            self.d_inner(),
            self.dt_rank(),
            D_STATE,
            self.d_ff(),
        );
        let mamba = 2 * e * d + e * D_CONV + e + (r + 2 * n) * e + e * r + e + e * n + e + d * e;
        let block = 2 * (2 * d) + mamba + (f * d + f) + (d * f + d);
        256 * d + self.n_layers * block + (d * d + d) + (256 * d + 256)
    }
}

/// Per-output-channel requantization: `out[j] = rshift_round(acc[j] * mult[j], shift[j])`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requant {
    pub mult: Vec<i32>,
    pub shift: Vec<u8>,
}

/// An int8 linear layer `acc = bias + W a` with int32 accumulation, then requantization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Linear {
    /// Row-major `[rows, cols]` weights in `[-127, 127]`.
    pub weight: Vec<i8>,
    pub bias: Option<Vec<i32>>,
    pub rows: usize,
    pub cols: usize,
    pub rq: Requant,
}

/// Integer layer norm parameters: `y = clamp8(rshift_round(n * gamma + beta, shift))`
/// where `n` is the Q12 normalised input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerNorm {
    pub gamma: Vec<i16>,
    pub beta: Vec<i32>,
    pub shift: u8,
    /// Added to the Q16 variance before the square root; at least 1.
    pub eps: u64,
}

/// One `x + FF(ln2(Mamba(ln1(x))))` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    pub ln1: LayerNorm,
    /// `[2E, d]`, no bias: rows `0..E` give the SSM input x, rows `E..2E` the gate z.
    pub in_proj: Linear,
    /// Depthwise causal conv: `[E, K]` weights, `[E]` bias, requantization, SiLU table.
    pub conv_weight: Vec<i8>,
    pub conv_bias: Vec<i32>,
    pub conv_rq: Requant,
    pub conv_silu: Vec<i8>,
    /// `[R + 2N, E]`, no bias: dt_low, B, C.
    pub x_proj: Linear,
    /// `[E, R]` with bias, then the softplus table giving the u16 step size dt.
    pub dt_proj: Linear,
    pub dt_softplus: Vec<u16>,
    /// `[E, N]` decay rates: the decay exponent is `(dt * a_rate) >> a_shift`.
    pub a_rate: Vec<u16>,
    pub a_shift: u8,
    /// `inc = clamp(rshift_round(dt * B * x, inc_shift), +-inc_max)` (inc_max by arith version).
    pub inc_shift: u8,
    /// `[E]` skip weights in the scale of `C . h`.
    pub d_skip: Vec<i32>,
    pub y_rq: Requant,
    /// SiLU table for the gate z, and the requantization of `y * silu(z)`.
    pub gate_silu: Vec<i8>,
    pub gate_rq: Requant,
    /// `[d, E]`, no bias, requantized to 16 bits.
    pub out_proj: Linear,
    pub ln2: LayerNorm,
    /// `[4d, d]` with bias, then the GELU table.
    pub ff1: Linear,
    pub ff_gelu: Vec<i8>,
    /// `[d, 4d]` with bias, requantized to 16 bits (the residual scale).
    pub ff2: Linear,
}

/// The head: residual to int8, `Linear(d,d)`, ReLU, `Linear(d,256)` to logits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub in_rq: Requant,
    pub fc1: Linear,
    pub fc2: Linear,
}

/// A validated integer model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Model {
    /// The arithmetic this model is defined in (file metadata `arith_version`).
    pub arith: crate::intmath::ArithVersion,
    pub dims: Dims,
    /// `[256, d]` residual-scale embeddings.
    pub embedding: Vec<i16>,
    pub layers: Vec<Layer>,
    pub head: Head,
    /// `round(2^31 * 2^(-f/256))`: logits to weights.
    pub exp2: Vec<u32>,
    /// `min(65535, round(2^16 * 2^(-f/256)))`: the SSM decay in Q16, always < 1.
    pub decay_exp2: Vec<u16>,
    /// Free-form description (not part of the fingerprint).
    pub description: String,
    fingerprint: Fingerprint,
}

impl Model {
    /// Validates a fully populated model (see [`file::zero_model`] for a blank one
    /// to fill, as the quantizer does) and computes its fingerprint.
    pub fn validated(mut self) -> Result<Model, ModelError> {
        self.dims.validate()?;
        bounds::validate(&self)?;
        self.fingerprint = fingerprint::compute(&self);
        Ok(self)
    }

    /// The model fingerprint: xxh3-128 over everything that affects the arithmetic.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    pub fn dims(&self) -> Dims {
        self.dims
    }

    /// Multiply-accumulates of the linear layers per coded byte (one step).
    pub fn macs_per_byte(&self) -> u64 {
        let lin = |l: &Linear| (l.rows * l.cols) as u64;
        self.layers
            .iter()
            .map(|l| {
                lin(&l.in_proj)
                    + lin(&l.x_proj)
                    + lin(&l.dt_proj)
                    + lin(&l.out_proj)
                    + lin(&l.ff1)
                    + lin(&l.ff2)
            })
            .sum::<u64>()
            + lin(&self.head.fc1)
            + lin(&self.head.fc2)
    }

    /// Reads and validates a model file ([`file::read`] bounds what it reads).
    pub fn load(path: &std::path::Path) -> Result<Model, ModelError> {
        Model::from_bytes(&file::read(path)?)
    }

    /// Parses and validates a model file held in memory.
    pub fn from_bytes(bytes: &[u8]) -> Result<Model, ModelError> {
        file::from_bytes(bytes)
    }

    /// Serialises to the safetensors model file format.
    pub fn to_bytes(&self) -> Vec<u8> {
        file::to_bytes(self)
    }
}
