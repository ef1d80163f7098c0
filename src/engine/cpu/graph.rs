//! Group stepping: the columns of a group (several streams, or several
//! consecutive positions of one stream when encoding) are stepped layer by
//! layer, and every linear layer is one GEMM over the columns through the
//! selected kernel level ([`super::dispatch`]), so each weight matrix is
//! streamed once per group instead of once per column. The element-wise parts
//! (layer norm, conv, scan, requantization, tables, frequencies) run per column
//! through the level's entries of the same table.
//!
//! This is the forward graph of `docs/ARITHMETIC.md`, written once for every
//! CPU level; at the scalar level it is the reference
//! ([`super::reference_step`]). Every level computes the exact integers of the
//! scalar kernels (tested per kernel and per level in `tests/kernels.rs`).
#![deny(clippy::float_arithmetic)]

use super::dispatch::{Kernels, PackedLinear};
use crate::engine::reference::ScanLayer;
use crate::engine::state::LayerState;
use crate::engine::{Frequencies, StreamState};
use crate::intmath::Q16_MAX;
use crate::model::{D_CONV, D_STATE, Fingerprint, Model};
use std::sync::{Arc, Mutex};

/// Streams stepped together by [`super::CpuEngine`] (chosen by measurement, see `docs/KERNELS.md`).
pub const GROUP: usize = 32;

/// [`GROUP`], or the environment variable `BOA_DET_GROUP` (1..=1024) if set, read once.
/// Results never depend on it (a benchmarking knob).
pub fn group_size() -> usize {
    static G: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *G.get_or_init(|| {
        std::env::var("BOA_DET_GROUP")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|g| (1..=1024).contains(g))
            .unwrap_or(GROUP)
    })
}

struct PreparedLayer {
    in_proj: PackedLinear,
    x_proj: PackedLinear,
    dt_proj: PackedLinear,
    out_proj: PackedLinear,
    ff1: PackedLinear,
    ff2: PackedLinear,
    /// The conv weight transposed to `[K][E]`, widened to int32 (for [`Kernels::conv`]).
    conv_t: Vec<i32>,
    /// The decay rates state-major, `[N][E]` ([`ScanLayer`]).
    rates: Vec<u16>,
}

/// A model's linear layers packed for one kernel level.
pub struct Prepared {
    kernels: Kernels,
    fingerprint: Fingerprint,
    layers: Vec<PreparedLayer>,
    fc1: PackedLinear,
    fc2: PackedLinear,
}

impl Prepared {
    /// Packs every linear layer of `model` for `kernels`.
    pub fn new(model: &Model, kernels: Kernels) -> Prepared {
        let p = kernels.pack;
        Prepared {
            kernels,
            fingerprint: model.fingerprint(),
            layers: model
                .layers
                .iter()
                .map(|l| PreparedLayer {
                    in_proj: p(&l.in_proj),
                    x_proj: p(&l.x_proj),
                    dt_proj: p(&l.dt_proj),
                    out_proj: p(&l.out_proj),
                    ff1: p(&l.ff1),
                    ff2: p(&l.ff2),
                    conv_t: transpose_conv(&l.conv_weight),
                    rates: {
                        let mut r = Vec::new();
                        crate::engine::reference::rates_by_state(&l.a_rate, &mut r);
                        r
                    },
                })
                .collect(),
            fc1: p(&model.head.fc1),
            fc2: p(&model.head.fc2),
        }
    }

    /// The packed model for `kernels` from a small process-wide cache keyed by
    /// the model fingerprint (which covers every weight) and the level name.
    pub fn cached(model: &Model, kernels: Kernels) -> Arc<Prepared> {
        static CACHE: Mutex<Vec<Arc<Prepared>>> = Mutex::new(Vec::new());
        let fp = model.fingerprint();
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = cache
            .iter()
            .find(|p| p.fingerprint == fp && p.kernels.name == kernels.name)
        {
            return p.clone();
        }
        let p = Arc::new(Prepared::new(model, kernels));
        if cache.len() >= 8 {
            cache.remove(0);
        }
        cache.push(p.clone());
        p
    }

    pub fn kernels(&self) -> Kernels {
        self.kernels
    }

    /// Whether this is `model` packed (the fingerprint covers every weight).
    pub fn is_for(&self, model: &Model) -> bool {
        self.fingerprint == model.fingerprint()
    }
}

/// `[E][K]` int8 conv weights as `[K][E]` int32.
fn transpose_conv(w: &[i8]) -> Vec<i32> {
    let e = w.len() / D_CONV;
    (0..D_CONV * e)
        .map(|i| w[(i % e) * D_CONV + i / e] as i32)
        .collect()
}

/// Working buffers for up to `cap` streams (`[stream][width]` each).
pub struct GroupScratch {
    cap: usize,
    x: Vec<i16>,
    u: Vec<i8>,
    /// The head's logits (int32 accumulators of fc2).
    acc: Vec<i32>,
    xz: Vec<i8>,
    xc: Vec<i8>,
    xdbl: Vec<i8>,
    dtl: Vec<i8>,
    dt8: Vec<i8>,
    dt: Vec<u16>,
    y_acc: Vec<i64>,
    g: Vec<i8>,
    mo: Vec<i16>,
    f: Vec<i8>,
    /// One column's int32 operands of a requantization (the head input).
    tmp32: Vec<i32>,
}

impl GroupScratch {
    pub fn new(model: &Model, cap: usize) -> GroupScratch {
        let dims = model.dims;
        let (d, e, ff, r) = (dims.d_model, dims.d_inner(), dims.d_ff(), dims.dt_rank());
        GroupScratch {
            cap,
            x: vec![0; cap * d],
            u: vec![0; cap * d],
            acc: vec![0; cap * 256],
            xz: vec![0; cap * 2 * e],
            xc: vec![0; cap * e],
            xdbl: vec![0; cap * dims.x_proj_out()],
            dtl: vec![0; cap * r],
            dt8: vec![0; cap * e],
            dt: vec![0; e],
            y_acc: vec![0; e],
            g: vec![0; cap * e],
            mo: vec![0; cap * d],
            f: vec![0; cap * ff],
            tmp32: vec![0; d],
        }
    }

    /// The most columns it holds.
    pub fn cap(&self) -> usize {
        self.cap
    }
}

/// What the columns of a group are: `n` streams stepped once each, or one
/// stream stepped `n` times in a row (time batching: when encoding, every input
/// byte is known in advance, so all layers except the conv window and the scan
/// recurrence see the `n` positions of a block as one GEMM, `docs/ARITHMETIC.md`
/// §10). Column `i` is processed in increasing `i` wherever state is touched, so
/// a sequence gives exactly the results of `n` single steps.
enum Columns<'a> {
    Streams(&'a mut [StreamState]),
    Sequence(&'a mut StreamState),
}

impl Columns<'_> {
    #[inline]
    fn layer(&mut self, i: usize, li: usize) -> &mut LayerState {
        match self {
            Columns::Streams(s) => &mut s[i].layers[li],
            Columns::Sequence(s) => &mut s.layers[li],
        }
    }
}

/// Steps every stream of a group by one byte; `states`, `bytes`, `out` have equal
/// lengths, at most the scratch capacity.
pub fn step_group(
    model: &Model,
    prep: &Prepared,
    states: &mut [StreamState],
    bytes: &[u8],
    out: &mut [Frequencies],
    s: &mut GroupScratch,
) {
    assert!(states.len() == bytes.len(), "group lengths differ");
    step_columns(model, prep, Columns::Streams(states), bytes, out, s)
}

/// Steps one stream by `bytes` in order (at most the scratch capacity), writing
/// the frequencies after each byte: `out[i]` equals the result of the `i`-th of
/// `bytes.len()` consecutive [`step_group`] calls. For encoders, which know
/// the bytes ahead; a decoder must step one byte at a time.
pub fn step_sequence(
    model: &Model,
    prep: &Prepared,
    state: &mut StreamState,
    bytes: &[u8],
    out: &mut [Frequencies],
    s: &mut GroupScratch,
) {
    step_columns(model, prep, Columns::Sequence(state), bytes, out, s)
}

#[allow(clippy::needless_range_loop)] // `i` indexes the columns and several [column][width] buffers
fn step_columns(
    model: &Model,
    prep: &Prepared,
    mut cols: Columns<'_>,
    bytes: &[u8],
    out: &mut [Frequencies],
    s: &mut GroupScratch,
) {
    let n = bytes.len();
    assert!(n == out.len(), "group lengths differ");
    assert!(n <= s.cap, "group larger than its scratch");
    assert!(prep.is_for(model), "prepared for another model");
    let gemm = prep.kernels.gemm;
    let gemm_q8 = prep.kernels.gemm_q8;
    let gemm_q16 = prep.kernels.gemm_q16;
    let scan_step = prep.kernels.scan;
    let requant_to_q8 = prep.kernels.requant_q8;
    let gate = prep.kernels.gate;
    let conv = prep.kernels.conv;
    let layer_norm = prep.kernels.layer_norm;
    let lut_q8 = prep.kernels.lut_q8;
    let lut_u16 = prep.kernels.lut_u16;
    let dims = model.dims;
    let (d, e, r, ffw) = (dims.d_model, dims.d_inner(), dims.dt_rank(), dims.d_ff());
    let xo = dims.x_proj_out();
    for (i, &b) in bytes.iter().enumerate() {
        s.x[i * d..(i + 1) * d]
            .copy_from_slice(&model.embedding[b as usize * d..(b as usize + 1) * d]);
    }
    for (li, (layer, pl)) in model.layers.iter().zip(&prep.layers).enumerate() {
        for i in 0..n {
            layer_norm(
                &s.x[i * d..(i + 1) * d],
                &layer.ln1,
                &mut s.u[i * d..(i + 1) * d],
            );
        }
        gemm_q8(&pl.in_proj, &s.u[..n * d], n, &mut s.xz[..n * 2 * e]);
        for i in 0..n {
            let xz = &s.xz[i * 2 * e..(i + 1) * 2 * e];
            let xc = &mut s.xc[i * e..(i + 1) * e];
            conv(
                &xz[..e],
                &mut cols.layer(i, li).conv,
                &layer.conv_weight,
                &pl.conv_t,
                &layer.conv_bias,
                &layer.conv_rq,
                xc,
            );
            lut_q8(&layer.conv_silu, xc);
        }
        gemm_q8(&pl.x_proj, &s.xc[..n * e], n, &mut s.xdbl[..n * xo]);
        for i in 0..n {
            s.dtl[i * r..(i + 1) * r].copy_from_slice(&s.xdbl[i * xo..i * xo + r]);
        }
        gemm_q8(&pl.dt_proj, &s.dtl[..n * r], n, &mut s.dt8[..n * e]);
        for i in 0..n {
            lut_u16(&layer.dt_softplus, &s.dt8[i * e..(i + 1) * e], &mut s.dt);
            let bc = &s.xdbl[i * xo + r..(i + 1) * xo];
            let (b, c) = bc.split_at(D_STATE);
            let xc = &s.xc[i * e..(i + 1) * e];
            scan_step(
                xc,
                &s.dt,
                b,
                c,
                &ScanLayer::of(model, layer, &pl.rates),
                &mut cols.layer(i, li).h,
                &mut s.y_acc,
            );
            gate(
                &s.y_acc,
                &s.xz[i * 2 * e + e..(i + 1) * 2 * e],
                &layer.gate_silu,
                &layer.y_rq,
                &layer.gate_rq,
                &mut s.g[i * e..(i + 1) * e],
            );
        }
        gemm_q16(&pl.out_proj, &s.g[..n * e], n, &mut s.mo[..n * d]);
        for i in 0..n {
            let mo = &s.mo[i * d..(i + 1) * d];
            layer_norm(mo, &layer.ln2, &mut s.u[i * d..(i + 1) * d]);
        }
        gemm_q8(&pl.ff1, &s.u[..n * d], n, &mut s.f[..n * ffw]);
        lut_q8(&layer.ff_gelu, &mut s.f[..n * ffw]);
        gemm_q16(&pl.ff2, &s.f[..n * ffw], n, &mut s.mo[..n * d]);
        // The residual add, clamp_q16(x + f): for any i16 operands the saturating
        // sum is the true sum clamped to [-32768, 32767], and the max finishes the
        // clamp to [-32767, 32767] (vectorizes as paddsw + pmaxsw at any level).
        for (x, &f) in s.x[..n * d].iter_mut().zip(&s.mo[..n * d]) {
            *x = x.saturating_add(f).max(-(Q16_MAX as i16));
        }
    }
    let head = &model.head;
    for i in 0..n {
        for (t, &x) in s.tmp32.iter_mut().zip(&s.x[i * d..(i + 1) * d]) {
            *t = x as i32;
        }
        requant_to_q8(&s.tmp32[..d], &head.in_rq, &mut s.u[i * d..(i + 1) * d]);
    }
    // fc1 outputs are packed [n][d] inside `g` (whose stride is E >= d).
    let h1 = &mut s.g[..n * d];
    gemm_q8(&prep.fc1, &s.u[..n * d], n, h1);
    h1.iter_mut().for_each(|v| *v = (*v).max(0));
    let h1 = &s.g[..n * d];
    gemm(&prep.fc2, h1, n, &mut s.acc[..n * 256]);
    let exp2: &[u32; 256] = model.exp2.as_slice().try_into().expect("validated size");
    for (i, o) in out.iter_mut().enumerate() {
        (prep.kernels.head_frequencies)(&s.acc[i * 256..(i + 1) * 256], &head.fc2.rq, exp2, o);
    }
}
