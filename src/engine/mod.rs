//! The integer engine: per-stream state and the forward step, byte in,
//! frequencies out. This is the scalar reference every other backend matches.
//!
//! Stream protocol (the container relies on it): a fresh [`StreamState`] is
//! stepped with the priming byte [`PRIME_BYTE`]; the returned frequencies code
//! the first byte `b0`; stepping `b0` gives the frequencies for `b1`, and so on.
#![deny(clippy::float_arithmetic)]

pub mod dispatch;
pub mod group;
pub mod kernel_types;
pub mod kernels;
#[cfg(target_arch = "x86_64")]
pub mod x86;

use crate::intmath::{clamp_q16, lut_index};
use crate::model::{D_CONV, D_STATE, Model};
use kernels::*;
use rayon::prelude::*;

pub use crate::intmath::freq::{FREQ_TOTAL, Frequencies, PRECISION_BITS};

/// The byte a fresh stream is stepped with before its first real byte.
pub const PRIME_BYTE: u8 = 0;

/// The recurrent state of one stream: per layer the conv window and the SSM state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamState {
    layers: Vec<LayerState>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LayerState {
    /// `[K-1][E]` previous conv inputs, oldest first.
    conv: Vec<i8>,
    /// `[N][E]` SSM state, state-major like the scan ([`kernels::ScanLayer`]).
    h: Vec<i32>,
}

impl StreamState {
    /// The all-zero state a stream starts from.
    pub fn new(model: &Model) -> StreamState {
        let e = model.dims.d_inner();
        StreamState {
            layers: (0..model.dims.n_layers)
                .map(|_| LayerState {
                    conv: vec![0; (D_CONV - 1) * e],
                    h: vec![0; e * D_STATE],
                })
                .collect(),
        }
    }

    /// Canonical little-endian bytes of the state (for golden-vector digests):
    /// per layer the conv window, then the SSM state channel by channel
    /// (`[E][N]`, whatever the in-memory order).
    pub fn to_le_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for l in &self.layers {
            out.extend(l.conv.iter().map(|&v| v as u8));
            let e = l.h.len() / D_STATE;
            for ch in 0..e {
                out.extend((0..D_STATE).flat_map(|n| l.h[n * e + ch].to_le_bytes()));
            }
        }
        out
    }
}

/// Working buffers of one forward step, reused across steps to avoid allocation.
pub struct Scratch {
    x: Vec<i16>,
    u: Vec<i8>,
    acc: Vec<i32>,
    xz: Vec<i8>,
    xc: Vec<i8>,
    xdbl: Vec<i8>,
    dt8: Vec<i8>,
    dt: Vec<u16>,
    y_acc: Vec<i64>,
    g: Vec<i8>,
    mo: Vec<i16>,
    f: Vec<i8>,
    /// The current layer's rates, state-major (refilled every step: a scratch
    /// may be used with any model of its dims).
    rates: Vec<u16>,
}

impl Scratch {
    pub fn new(model: &Model) -> Scratch {
        let dims = model.dims;
        let (d, e, ff) = (dims.d_model, dims.d_inner(), dims.d_ff());
        Scratch {
            x: vec![0; d],
            u: vec![0; d],
            acc: vec![0; (2 * e).max(ff).max(256)],
            xz: vec![0; 2 * e],
            xc: vec![0; e],
            xdbl: vec![0; dims.x_proj_out()],
            dt8: vec![0; e],
            dt: vec![0; e],
            y_acc: vec![0; e],
            g: vec![0; e],
            mo: vec![0; d],
            f: vec![0; ff],
            rates: Vec::with_capacity(e * D_STATE),
        }
    }
}

/// Steps one stream by one byte and writes the frequencies of the next byte.
pub fn step_into(
    model: &Model,
    state: &mut StreamState,
    byte: u8,
    s: &mut Scratch,
    out: &mut Frequencies,
) {
    let dims = model.dims;
    let (d, e, r) = (dims.d_model, dims.d_inner(), dims.dt_rank());
    s.x.copy_from_slice(&model.embedding[byte as usize * d..(byte as usize + 1) * d]);
    for (layer, ls) in model.layers.iter().zip(state.layers.iter_mut()) {
        // Mamba mixer on ln1(x).
        layer_norm(&s.x, &layer.ln1, &mut s.u);
        linear_acc(&layer.in_proj, &s.u, &mut s.acc[..2 * e]);
        requant_to_q8(&s.acc[..2 * e], &layer.in_proj.rq, &mut s.xz);
        let (xs, z) = s.xz.split_at(e);
        conv_step(
            xs,
            &mut ls.conv,
            &layer.conv_weight,
            &layer.conv_bias,
            &layer.conv_rq,
            &mut s.xc,
        );
        lut_q8(&layer.conv_silu, &mut s.xc);
        let xo = layer.x_proj.rows;
        linear_acc(&layer.x_proj, &s.xc, &mut s.acc[..xo]);
        requant_to_q8(&s.acc[..xo], &layer.x_proj.rq, &mut s.xdbl);
        let (dt_low, bc) = s.xdbl.split_at(r);
        let (b, c) = bc.split_at(D_STATE);
        linear_acc(&layer.dt_proj, dt_low, &mut s.acc[..e]);
        requant_to_q8(&s.acc[..e], &layer.dt_proj.rq, &mut s.dt8);
        for (dt, &v) in s.dt.iter_mut().zip(&s.dt8) {
            *dt = layer.dt_softplus[lut_index(v)];
        }
        rates_by_state(&layer.a_rate, &mut s.rates);
        scan_step(
            &s.xc,
            &s.dt,
            b,
            c,
            &ScanLayer::of(model, layer, &s.rates),
            &mut ls.h,
            &mut s.y_acc,
        );
        kernels::gate(
            &s.y_acc,
            z,
            &layer.gate_silu,
            &layer.y_rq,
            &layer.gate_rq,
            &mut s.g,
        );
        linear_acc(&layer.out_proj, &s.g, &mut s.acc[..d]);
        requant_to_q16(&s.acc[..d], &layer.out_proj.rq, &mut s.mo);
        // Feed-forward on ln2(mamba_out), added to the residual.
        layer_norm(&s.mo, &layer.ln2, &mut s.u);
        let ff = layer.ff1.rows;
        linear_acc(&layer.ff1, &s.u, &mut s.acc[..ff]);
        requant_to_q8(&s.acc[..ff], &layer.ff1.rq, &mut s.f);
        lut_q8(&layer.ff_gelu, &mut s.f);
        linear_acc(&layer.ff2, &s.f, &mut s.acc[..d]);
        requant_to_q16(&s.acc[..d], &layer.ff2.rq, &mut s.mo);
        for (x, &f) in s.x.iter_mut().zip(&s.mo) {
            *x = clamp_q16(*x as i64 + f as i64);
        }
    }
    // Head: residual to int8, Linear, ReLU, Linear to logits.
    let head = &model.head;
    for (j, (u, &x)) in s.u.iter_mut().zip(&s.x).enumerate() {
        *u = crate::intmath::requant_q8(x as i64, head.in_rq.mult[j], head.in_rq.shift[j]);
    }
    linear_acc(&head.fc1, &s.u, &mut s.acc[..d]);
    requant_to_q8(&s.acc[..d], &head.fc1.rq, &mut s.g[..d]);
    s.g[..d].iter_mut().for_each(|v| *v = (*v).max(0));
    linear_acc(&head.fc2, &s.g[..d], &mut s.acc[..256]);
    let exp2: &[u32; 256] = model.exp2.as_slice().try_into().expect("validated size");
    head_frequencies(&s.acc[..256], &head.fc2.rq, exp2, out);
}

/// Steps one stream by one byte (allocates scratch; use [`step_into`] in loops).
pub fn step(model: &Model, state: &mut StreamState, byte: u8) -> Frequencies {
    let mut out = Frequencies::default();
    step_into(model, state, byte, &mut Scratch::new(model), &mut out);
    out
}

/// Steps many independent streams by one byte each, in parallel on the rayon pool.
///
/// `states`, `bytes` and `out` have equal lengths. The streams are cut into
/// groups of [`group::GROUP`]; each rayon task steps one group layer by layer
/// with the kernel level of [`dispatch::active`] ([`group::step_group`]). Each
/// stream's result is the same as [`step`] on it alone, whatever the thread
/// count, group split or kernel level.
pub fn step_batch(
    model: &Model,
    states: &mut [StreamState],
    bytes: &[u8],
    out: &mut [Frequencies],
) {
    step_batch_with(model, dispatch::active(), states, bytes, out)
}

/// [`step_batch`] with an explicit kernel level.
pub fn step_batch_with(
    model: &Model,
    kernels: dispatch::Kernels,
    states: &mut [StreamState],
    bytes: &[u8],
    out: &mut [Frequencies],
) {
    assert!(
        states.len() == bytes.len() && bytes.len() == out.len(),
        "batch lengths differ"
    );
    let prep = group::Prepared::cached(model, kernels);
    let g = group::group_size();
    states
        .par_chunks_mut(g)
        .zip(bytes.par_chunks(g))
        .zip(out.par_chunks_mut(g))
        .for_each_init(
            || group::GroupScratch::new(model, g),
            |scratch, ((st, by), o)| group::step_group(model, &prep, st, by, o, scratch),
        );
}
