//! The scalar reference kernels of the arithmetic (v1 and v2 share every
//! kernel; the scan takes the version's two constants in [`ScanLayer`]). Each function is the literal
//! transcription of one operation in `docs/ARITHMETIC.md`; faster kernels must
//! reproduce them bit for bit.
#![deny(clippy::float_arithmetic)]

use crate::intmath::freq::{Frequencies, LOGIT_MAX, logits_to_frequencies};
use crate::intmath::{clamp_q8, floor_div, isqrt_u64, requant, requant_q8, rshift_round};
use crate::model::bounds::DECAY_GAP_MAX;
use crate::model::{D_STATE, Layer, LayerNorm, Linear, Model, Requant};

/// `acc[j] = bias[j] + sum_k W[j][k] * a[k]` with int32 accumulation (proven not to overflow).
pub fn linear_acc(l: &Linear, a: &[i8], acc: &mut [i32]) {
    debug_assert_eq!(a.len(), l.cols);
    for (j, (row, out)) in l
        .weight
        .chunks_exact(l.cols)
        .zip(acc.iter_mut())
        .enumerate()
    {
        let dot: i32 = row.iter().zip(a).map(|(&w, &x)| w as i32 * x as i32).sum();
        *out = dot + l.bias.as_ref().map_or(0, |b| b[j]);
    }
}

/// Per-channel requantization of accumulators to int8.
pub fn requant_to_q8(acc: &[i32], rq: &Requant, out: &mut [i8]) {
    for (j, (o, &a)) in out.iter_mut().zip(acc).enumerate() {
        *o = requant_q8(a as i64, rq.mult[j], rq.shift[j]);
    }
}

/// Per-channel requantization of accumulators to the 16-bit residual range.
pub fn requant_to_q16(acc: &[i32], rq: &Requant, out: &mut [i16]) {
    for (j, (o, &a)) in out.iter_mut().zip(acc).enumerate() {
        *o = crate::intmath::requant_q16(a as i64, rq.mult[j], rq.shift[j]);
    }
}

/// Integer layer norm of a 16-bit vector to int8 (spec: "Layer norm").
pub fn layer_norm(x: &[i16], ln: &LayerNorm, out: &mut [i8]) {
    let d = x.len() as i64;
    let sum: i64 = x.iter().map(|&v| v as i64).sum();
    let mean = floor_div(sum, d);
    let sq: u64 = x
        .iter()
        .map(|&v| {
            let c = v as i64 - mean;
            (c * c) as u64
        })
        .sum();
    let inv = layer_norm_inv_std(sq, d as usize, ln.eps) as i64;
    for (i, (o, &v)) in out.iter_mut().zip(x).enumerate() {
        let n = rshift_round((v as i64 - mean) * inv, 20);
        *o = clamp_q8(rshift_round(
            n * ln.gamma[i] as i64 + ln.beta[i] as i64,
            ln.shift as u32,
        ));
    }
}

/// Layer norm's `inv = floor(2^40 / isqrt(floor(2^16 * V / d) + eps))` from the
/// sum of squared deviations `V` (spec: "Layer norm"); shared by every level.
pub fn layer_norm_inv_std(sq: u64, d: usize, eps: u64) -> u64 {
    let var_q16 = (sq << 16) / d as u64;
    let std_q8 = isqrt_u64(var_q16 + eps);
    (1u64 << 40) / std_q8
}

/// Apply a 256-entry int8 table to int8 values.
pub fn lut_q8(table: &[i8], x: &mut [i8]) {
    for v in x {
        *v = table[crate::intmath::lut_index(*v)];
    }
}

/// Apply a 256-entry u16 table to int8 values (the softplus giving dt).
pub fn lut_u16(table: &[u16], x: &[i8], out: &mut [u16]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = table[crate::intmath::lut_index(v)];
    }
}

/// One step of the depthwise causal convolution for every channel.
///
/// `window` holds the previous `K-1` inputs, oldest first, `[K-1][E]`; it is
/// shifted by one and `x` appended. Output: requantized int8, before SiLU.
pub fn conv_step(
    x: &[i8],
    window: &mut [i8],
    weight: &[i8],
    bias: &[i32],
    rq: &Requant,
    out: &mut [i8],
) {
    for (c, o) in out[..x.len()].iter_mut().enumerate() {
        *o = conv_channel(x, window, weight, bias, rq, c);
    }
    conv_push(window, x);
}

/// The conv output of channel `c` (before the window moves).
#[inline]
pub fn conv_channel(
    x: &[i8],
    window: &[i8],
    weight: &[i8],
    bias: &[i32],
    rq: &Requant,
    c: usize,
) -> i8 {
    let e = x.len();
    let k = weight.len() / e;
    let w = &weight[c * k..(c + 1) * k];
    let mut acc = bias[c];
    for t in 0..k - 1 {
        acc += w[t] as i32 * window[t * e + c] as i32;
    }
    acc += w[k - 1] as i32 * x[c] as i32;
    requant_q8(acc as i64, rq.mult[c], rq.shift[c])
}

/// Moves the conv window by one step: drop the oldest row, append `x`.
#[inline]
pub fn conv_push(window: &mut [i8], x: &[i8]) {
    let e = x.len();
    window.copy_within(e.., 0);
    let last = window.len() - e;
    window[last..].copy_from_slice(x);
}

/// The SSM decay `2^(-v/256)` in Q16 from the table: `T[v & 255] >> (v >> 8)`,
/// with the exponent `v` clamped to `[min_v, DECAY_GAP_MAX]`.
#[inline(always)]
pub fn decay(dt: u16, a_rate: u16, a_shift: u8, min_v: u32, table: &[u16]) -> i64 {
    let v = ((dt as u64 * a_rate as u64) >> a_shift).clamp(min_v as u64, DECAY_GAP_MAX);
    (table[(v & 255) as usize] as u32 >> (v >> 8)) as i64
}

/// The constants of one layer's selective scan (§6): per-state rates, the
/// two shifts, the skip weights `[E]`, the model's decay table, and the
/// arithmetic version's smallest decay exponent and increment bound.
///
/// The scan works state-major: the rates here and the state `h` are `[N][E]`
/// (state `n` of channel `e` at `n * E + e`), so SIMD kernels hold consecutive
/// channels in their lanes. The model stores the rates `[E][N]`; see
/// [`rates_by_state`].
#[derive(Clone, Copy, Debug)]
pub struct ScanLayer<'a> {
    /// `[N][E]`.
    pub a_rate: &'a [u16],
    pub a_shift: u8,
    pub inc_shift: u8,
    pub d_skip: &'a [i32],
    pub decay: &'a [u16],
    /// 0 in arith v1, 1 in v2.
    pub min_exponent: u32,
    /// 2^14 in arith v1, 2^22 in v2.
    pub inc_max: i32,
}

/// The model's `[E][N]` decay rates of a layer transposed to the scan's `[N][E]`.
pub fn rates_by_state(a_rate: &[u16], out: &mut Vec<u16>) {
    let e = a_rate.len() / D_STATE;
    out.clear();
    out.extend((0..D_STATE * e).map(|i| a_rate[(i % e) * D_STATE + i / e]));
}

impl<'a> ScanLayer<'a> {
    /// The scan constants of `layer` of `model`, with the layer's rates
    /// already transposed by [`rates_by_state`].
    pub fn of(model: &'a Model, layer: &'a Layer, rates: &'a [u16]) -> ScanLayer<'a> {
        ScanLayer {
            a_rate: rates,
            a_shift: layer.a_shift,
            inc_shift: layer.inc_shift,
            d_skip: &layer.d_skip,
            decay: &model.decay_exp2,
            min_exponent: model.arith.min_decay_exponent(),
            inc_max: model.arith.inc_max() as i32,
        }
    }

    /// Panics unless every slice a scan step over `x.len()` channels reads or
    /// writes has its length (the `[N][E]` slices exactly `N * E`) and the shifts
    /// are in their ranges: what the SIMD scans rely on for their unchecked loads.
    pub fn check(&self, x: &[i8], dt: &[u16], b: &[i8], c: &[i8], h: &[i32], y_acc: &[i64]) {
        let e = x.len();
        assert!(b.len() >= D_STATE && c.len() >= D_STATE && self.decay.len() == 256);
        assert!(dt.len() >= e && self.d_skip.len() >= e && y_acc.len() >= e);
        assert!(self.a_rate.len() == e * D_STATE && h.len() == e * D_STATE);
        assert!(self.a_shift <= 32 && self.inc_shift <= 62);
        assert!(self.min_exponent <= 1 && (0..=1 << 22).contains(&self.inc_max));
    }
}

/// One selective-scan step for every channel; returns `y_acc = C . h + D x` per
/// channel. `h` and the rates are state-major `[N][E]` ([`ScanLayer`]).
pub fn scan_step(
    x: &[i8],
    dt: &[u16],
    b: &[i8],
    c: &[i8],
    p: &ScanLayer,
    h: &mut [i32],
    y_acc: &mut [i64],
) {
    p.check(x, dt, b, c, h, y_acc);
    scan_channels_from(0, x, dt, b, c, p, h, y_acc);
}

/// [`scan_channel`] for the channels `first..E`: the reference scan, and the
/// remainder of the SIMD scans (channels that do not fill a vector).
#[allow(clippy::too_many_arguments)]
pub fn scan_channels_from(
    first: usize,
    x: &[i8],
    dt: &[u16],
    b: &[i8],
    c: &[i8],
    p: &ScanLayer,
    h: &mut [i32],
    y_acc: &mut [i64],
) {
    for (e, y) in y_acc[..x.len()].iter_mut().enumerate().skip(first) {
        *y = scan_channel(x, dt, b, c, p, h, e);
    }
}

/// The scan step of channel `e` alone (§6): updates its `N` states (at
/// `n * E + e` of the state-major `h`) and returns its `y_acc`. SIMD scans use
/// it through [`scan_channels_from`].
#[inline]
pub fn scan_channel(
    x: &[i8],
    dt: &[u16],
    b: &[i8],
    c: &[i8],
    p: &ScanLayer,
    h: &mut [i32],
    e: usize,
) -> i64 {
    let stride = x.len();
    let inc_max = p.inc_max as i64;
    let dtx = dt[e] as i64 * x[e] as i64;
    let mut y: i64 = 0;
    for n in 0..D_STATE {
        let i = n * stride + e;
        let da = decay(dt[e], p.a_rate[i], p.a_shift, p.min_exponent, p.decay);
        let inc = rshift_round(dtx * b[n] as i64, p.inc_shift as u32).clamp(-inc_max, inc_max);
        let hn = rshift_round(da * h[i] as i64, 16) + inc;
        h[i] = hn as i32;
        y += c[n] as i64 * hn;
    }
    y + p.d_skip[e] as i64 * x[e] as i64
}

/// Requantize wide accumulators (already proven in range by the loader) to int8.
pub fn requant_wide_to_q8(acc: &[i64], rq: &Requant, out: &mut [i8]) {
    for (j, (o, &a)) in out.iter_mut().zip(acc).enumerate() {
        *o = clamp_q8(requant(a, rq.mult[j], rq.shift[j]));
    }
}

/// The gated scan output (spec: "Mamba block"): `y = clamp_q8(requant(y_acc[j],
/// y_rq))`, then `g[j] = clamp_q8(requant(y * silu_lut[z[j]], gate_rq))`; the
/// product of two q8 values is exact.
pub fn gate(
    y_acc: &[i64],
    z: &[i8],
    silu: &[i8],
    y_rq: &Requant,
    gate_rq: &Requant,
    out: &mut [i8],
) {
    for (j, (g, (&a, &zj))) in out.iter_mut().zip(y_acc.iter().zip(z)).enumerate() {
        let y = clamp_q8(requant(a, y_rq.mult[j], y_rq.shift[j]));
        let gated = y as i64 * silu[crate::intmath::lut_index(zj)] as i64;
        *g = requant_q8(gated, gate_rq.mult[j], gate_rq.shift[j]);
    }
}

/// The head's last step: `clamp(requant(acc[j]), +-LOGIT_MAX)` for the 256
/// logits, then §7 (logits to frequencies).
pub fn head_frequencies(acc: &[i32], rq: &Requant, exp2: &[u32; 256], out: &mut Frequencies) {
    let mut logits = [0i32; 256];
    for (j, (l, &a)) in logits.iter_mut().zip(&acc[..256]).enumerate() {
        let v = requant(a as i64, rq.mult[j], rq.shift[j]);
        *l = v.clamp(-(LOGIT_MAX as i64), LOGIT_MAX as i64) as i32;
    }
    logits_to_frequencies(&logits, exp2, out);
}
