//! Float model + calibrated ranges -> integer model (arith v1 or v2).
//!
//! Every scale below is a float chosen here; what goes into the file are the
//! integers of `docs/ARITHMETIC.md` (q8 weights, multipliers, shifts, tables).
//! The comments name the float value each integer tensor represents.

use crate::float_model::{FloatModel, K, N, Ranges, T, gelu, silu, softplus};
use boa_det::intmath::ArithVersion;
use boa_det::intmath::freq::default_exp2_table;
use boa_det::model::bounds::state_bound;
use boa_det::model::file::zero_model;
use boa_det::model::synth::default_decay_table;
use boa_det::model::{Dims, Linear, Model, Requant};

const Q8: f64 = 127.0;
const Q16: f64 = 32767.0;
/// log2(e) * 256: natural-log units to the 1/256-bit units of logits and decays.
const NAT_TO_LOG2_256: f64 = std::f64::consts::LOG2_E * 256.0;

/// Chooses `(m, s)` with `m / 2^s ~ ratio`, `m < 2^31`, and `bound * m + 2^(s-1) < 2^63`.
fn pick_requant(ratio: f64, acc_bound: f64) -> (i32, u8) {
    let m_cap = ((i32::MAX as f64).min((2f64.powi(62)) / acc_bound.max(1.0))).floor();
    let mut best = (1i32, 62u8);
    for s in (1..=62u8).rev() {
        let m = (ratio * 2f64.powi(s as i32)).round();
        if m <= m_cap && m >= 0.0 {
            best = (m as i32, s);
            break;
        }
    }
    best
}

fn requant_for(rq: &mut Requant, ratios: &[f64], acc_bound: f64) {
    for (j, &r) in ratios.iter().enumerate() {
        let (m, s) = pick_requant(r, acc_bound);
        rq.mult[j] = m;
        rq.shift[j] = s;
    }
}

/// Per-row int8 weights; returns the per-row scales.
fn quant_weight(w: &T, rows: usize, cols: usize, out: &mut [i8]) -> Vec<f64> {
    let mut scales = Vec::with_capacity(rows);
    for j in 0..rows {
        let row = &w.data[j * cols..(j + 1) * cols];
        let s = (row.iter().fold(0f32, |a, x| a.max(x.abs())) as f64 / Q8).max(1e-12);
        for (o, &x) in out[j * cols..(j + 1) * cols].iter_mut().zip(row) {
            *o = (x as f64 / s).round().clamp(-Q8, Q8) as i8;
        }
        scales.push(s);
    }
    scales
}

/// Fills a linear layer: weights, bias (in accumulator units), per-row requant
/// from input scale `s_in` to output scales `s_out[j]`.
fn fill_linear(l: &mut Linear, w: &T, b: Option<&T>, s_in: f64, s_out: &dyn Fn(usize) -> f64) {
    let sw = quant_weight(w, l.rows, l.cols, &mut l.weight);
    let room = i32::MAX as f64 - l.cols as f64 * Q8 * Q8;
    if let (Some(bq), Some(b)) = (l.bias.as_mut(), b) {
        for j in 0..l.rows {
            bq[j] = (b.data[j] as f64 / (sw[j] * s_in))
                .round()
                .clamp(-room, room) as i32;
        }
    }
    let bound = i32::MAX as f64;
    let ratios: Vec<f64> = (0..l.rows).map(|j| sw[j] * s_in / s_out(j)).collect();
    requant_for(&mut l.rq, &ratios, bound);
}

/// 256-entry table: `f(v * s_in) / s_out` for `v` in -128..=127 (q8 out).
fn lut_q8(f: impl Fn(f64) -> f64, s_in: f64, s_out: f64) -> Vec<i8> {
    (0..256)
        .map(|i| {
            (f((i as f64 - 128.0) * s_in) / s_out)
                .round()
                .clamp(-Q8, Q8) as i8
        })
        .collect()
}

fn layer_norm(ln: &mut boa_det::model::LayerNorm, w: &T, b: &T, s_out: f64, s_in: f64) {
    // out = (n/2^12 * w + b) / s_out with n in Q12: gamma = w / s_out * 2^(shift-12).
    let wmax = w.data.iter().fold(0f32, |a, x| a.max(x.abs())) as f64;
    let bmax = b.data.iter().fold(0f32, |a, x| a.max(x.abs())) as f64;
    let mut shift = 62u8;
    while shift > 13 {
        let g = wmax / s_out * 2f64.powi(shift as i32 - 12);
        let bb = bmax / s_out * 2f64.powi(shift as i32);
        if g <= 32000.0 && bb <= 2.0e9 {
            break;
        }
        shift -= 1;
    }
    ln.shift = shift;
    for i in 0..w.data.len() {
        ln.gamma[i] = (w.data[i] as f64 / s_out * 2f64.powi(shift as i32 - 12))
            .round()
            .clamp(-Q16, Q16) as i16;
        ln.beta[i] = (b.data[i] as f64 / s_out * 2f64.powi(shift as i32)).round() as i32;
    }
    // eps = 1e-5 in float variance; the integer variance is in Q16 of the input scale.
    ln.eps = ((1e-5 / (s_in * s_in)) * 65536.0)
        .round()
        .clamp(1.0, 2f64.powi(60)) as u64;
}

/// Choices the caller can make beyond the calibrated ranges.
#[derive(Clone, Debug)]
pub struct QuantOptions {
    /// The arithmetic version of the model (the scan's increment bound depends on it).
    pub arith: ArithVersion,
    /// Quantile of |activation| that int8 sites are scaled to (outliers saturate).
    pub clip: f64,
    /// Per layer: the scan's `inc_shift`, overriding the range rule (see [`quantize`]).
    pub inc_shift: Vec<Option<u8>>,
    /// Per int8 site (a name of [`int8_sites`]): a quantile overriding `clip`.
    pub site_clip: std::collections::HashMap<String, f64>,
}

/// The int8 requantization sites whose scale is a quantile of |activation|:
/// per layer `{li}.u1`, `{li}.xs`, ... and the head's `h1`.
pub fn int8_sites(layers: usize) -> Vec<String> {
    const PER_LAYER: [&str; 15] = [
        "u1", "xs", "z", "conv", "xc", "dtl", "B", "C", "dtp", "y", "silu_z", "g", "u2", "f1", "f2",
    ];
    (0..layers)
        .flat_map(|li| PER_LAYER.iter().map(move |s| format!("{li}.{s}")))
        .chain(std::iter::once("h1".to_string()))
        .collect()
}

/// The float scales a quantization chose, by site name (`x`, `{li}.u1`, `{li}.mo`,
/// `{li}.u2`, `{li}.dt`, `{li}.xc`, `{li}.B`), with the scan's calibrated increment
/// maximum `{li}.inc` and its `{li}.inc_shift`: what the training side needs to derive
/// the same integer layer norm and scan parameters (`--scales-out`; the QAT test
/// `quantize/train/tests/test_qat_kernels.py` checks its derivation against them).
pub type Scales = std::collections::BTreeMap<String, f64>;

/// Builds the integer model. `ranges` are the calibrated |value| statistics per site.
///
/// The scan's state scale `s_h = s_dt * s_B * s_xc * 2^inc_shift` trades the
/// resolution of the increment against its clamp at the version's `inc_max` (§6):
/// the default `inc_shift` is the smallest that keeps the largest calibrated
/// increment inside the clamp; the caller may search around it by measuring the
/// integer model (`boa-det-quantize` does, see `--no-search`). The state needs no
/// margin: the engine clamps the increment, and §9.3 bounds the state for any input.
pub fn quantize(
    fm: &FloatModel,
    rg: &Ranges,
    opts: &QuantOptions,
    description: String,
) -> Result<(Model, Scales), String> {
    let clip = opts.clip;
    let mut scales = Scales::new();
    let dims = Dims {
        d_model: fm.d,
        n_layers: fm.layers.len(),
    };
    dims.validate().map_err(|e| e.to_string())?;
    let (d, e, r) = (fm.d, fm.e, fm.r);
    let mut m = zero_model(dims);
    m.arith = opts.arith;
    m.decay_exp2 = default_decay_table();
    let inc_bound = opts.arith.inc_max() as f64;
    let h_max = state_bound(opts.arith, &m.decay_exp2)
        .ok_or("the default decay table breaks the state bound")? as f64;
    // int8 sites are scaled at the `clip` quantile (outliers saturate); 16-bit
    // sites and the scan bounds use the maximum.
    let s8 = |site: &str| {
        let q = opts.site_clip.get(site).copied().unwrap_or(clip);
        rg.quantile(site, q) as f64 / Q8
    };
    // Residual stream scale: everything added to it (embedding, FF outputs) uses it.
    let s_x = rg.get("x") as f64 * 1.05 / Q16;
    scales.insert("x".into(), s_x);
    for (o, &v) in m.embedding.iter_mut().zip(&fm.emb.data) {
        *o = (v as f64 / s_x).round().clamp(-Q16, Q16) as i16;
    }
    for (li, (l, fl)) in m.layers.iter_mut().zip(&fm.layers).enumerate() {
        let p = |s: &str| format!("{li}.{s}");
        let (s_u1, s_xs, s_z, s_conv, s_xc) = (
            s8(&p("u1")),
            s8(&p("xs")),
            s8(&p("z")),
            s8(&p("conv")),
            s8(&p("xc")),
        );
        let (s_dtl, s_b, s_c, s_dtp) = (s8(&p("dtl")), s8(&p("B")), s8(&p("C")), s8(&p("dtp")));
        layer_norm(&mut l.ln1, &fl.ln1_w, &fl.ln1_b, s_u1, s_x);
        fill_linear(&mut l.in_proj, &fl.in_proj, None, s_u1, &|j| {
            if j < e { s_xs } else { s_z }
        });
        // Depthwise conv: per-channel weight scale.
        for c in 0..e {
            let w = &fl.conv_w.data[c * K..(c + 1) * K];
            let sw = (w.iter().fold(0f32, |a, x| a.max(x.abs())) as f64 / Q8).max(1e-12);
            for (o, &x) in l.conv_weight[c * K..(c + 1) * K].iter_mut().zip(w) {
                *o = (x as f64 / sw).round().clamp(-Q8, Q8) as i8;
            }
            let room = i32::MAX as f64 - K as f64 * Q8 * Q8;
            l.conv_bias[c] = (fl.conv_b.data[c] as f64 / (sw * s_xs))
                .round()
                .clamp(-room, room) as i32;
            let (mm, ss) = pick_requant(sw * s_xs / s_conv, i32::MAX as f64);
            l.conv_rq.mult[c] = mm;
            l.conv_rq.shift[c] = ss;
        }
        l.conv_silu = lut_q8(|v| silu(v as f32) as f64, s_conv, s_xc);
        fill_linear(&mut l.x_proj, &fl.x_proj, None, s_xc, &|j| {
            if j < r {
                s_dtl
            } else if j < r + N {
                s_b
            } else {
                s_c
            }
        });
        fill_linear(&mut l.dt_proj, &fl.dt_w, Some(&fl.dt_b), s_dtl, &|_| s_dtp);
        // dt: softplus table in u16 with scale s_dt.
        let dt_max = softplus((127.0 * s_dtp) as f32) as f64;
        let s_dt = dt_max / 65535.0;
        l.dt_softplus = (0..256)
            .map(|i| {
                (softplus(((i as f64 - 128.0) * s_dtp) as f32) as f64 / s_dt)
                    .round()
                    .clamp(0.0, 65535.0) as u16
            })
            .collect();
        // Decay: v = dt * |A| * log2(e) * 256 = (dt_q * a_rate) >> a_shift.
        let rates: Vec<f64> = fl
            .a_log
            .data
            .iter()
            .map(|&a| (a as f64).exp() * s_dt * NAT_TO_LOG2_256)
            .collect();
        let rmax = rates.iter().cloned().fold(0.0, f64::max).max(1e-30);
        let a_shift = ((65535.0 / rmax).log2().floor() as i32).clamp(0, 32) as u8;
        l.a_shift = a_shift;
        for (o, &v) in l.a_rate.iter_mut().zip(&rates) {
            *o = (v * 2f64.powi(a_shift as i32)).round().clamp(0.0, 65535.0) as u16;
        }
        // State scale s_h = s_dt * s_B * s_xc * 2^inc_shift: the smallest shift that keeps
        // the calibrated increment and state inside their proven bounds with margin.
        let inc_max = rg.get(&p("inc")) as f64;
        let base = s_dt * s_b * s_xc;
        let mut inc_shift = 0u8;
        while inc_shift < 40 && inc_max / (base * 2f64.powi(inc_shift as i32)) > inc_bound {
            inc_shift += 1;
        }
        if let Some(Some(s)) = opts.inc_shift.get(li) {
            inc_shift = (*s).min(40);
        }
        l.inc_shift = inc_shift;
        let s_h = base * 2f64.powi(inc_shift as i32);
        let s_y = s8(&p("y"));
        for c in 0..e {
            l.d_skip[c] = (fl.d.data[c] as f64 * s_xc / (s_c * s_h))
                .round()
                .clamp(-2e9, 2e9) as i32;
        }
        let y_bound = N as f64 * Q8 * h_max
            + l.d_skip
                .iter()
                .map(|x| (*x as f64).abs())
                .fold(0.0, f64::max)
                * Q8;
        requant_for(&mut l.y_rq, &vec![s_c * s_h / s_y; e], y_bound);
        let (s_sz, s_g) = (s8(&p("silu_z")), s8(&p("g")));
        l.gate_silu = lut_q8(|v| silu(v as f32) as f64, s_z, s_sz);
        requant_for(&mut l.gate_rq, &vec![s_y * s_sz / s_g; e], Q8 * Q8);
        let s_mo = rg.get(&p("mo")) as f64 * 1.05 / Q16;
        for (k, v) in [
            ("u1", s_u1),
            ("mo", s_mo),
            ("u2", s8(&p("u2"))),
            ("dt", s_dt),
            ("xc", s_xc),
            ("B", s_b),
            ("inc", inc_max),
            ("inc_shift", inc_shift as f64),
        ] {
            scales.insert(p(k), v);
        }
        fill_linear(&mut l.out_proj, &fl.out_proj, None, s_g, &|_| s_mo);
        let (s_u2, s_f1, s_f2) = (s8(&p("u2")), s8(&p("f1")), s8(&p("f2")));
        layer_norm(&mut l.ln2, &fl.ln2_w, &fl.ln2_b, s_u2, s_mo);
        fill_linear(&mut l.ff1, &fl.ff0_w, Some(&fl.ff0_b), s_u2, &|_| s_f1);
        l.ff_gelu = lut_q8(|v| gelu(v as f32) as f64, s_f1, s_f2);
        fill_linear(&mut l.ff2, &fl.ff2_w, Some(&fl.ff2_b), s_f2, &|_| s_x);
    }
    let s_hin = rg.get("xf") as f64 / Q8;
    requant_for(&mut m.head.in_rq, &vec![s_x / s_hin; d], Q16);
    let s_h1 = s8("h1");
    fill_linear(&mut m.head.fc1, &fm.h0_w, Some(&fm.h0_b), s_hin, &|_| s_h1);
    // Logits in 1/256 bit: float logit (nats) * log2(e) * 256.
    fill_linear(&mut m.head.fc2, &fm.h2_w, Some(&fm.h2_b), s_h1, &|_| {
        1.0 / NAT_TO_LOG2_256
    });
    m.exp2 = default_exp2_table().to_vec();
    m.description = description;
    let m = m
        .validated()
        .map_err(|e| format!("quantized model fails validation: {e}"))?;
    Ok((m, scales))
}
