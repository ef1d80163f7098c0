//! Value ranges and the overflow proof (`docs/ARITHMETIC.md`, "Why nothing overflows").
//!
//! The engine computes with plain `i32`/`i64` arithmetic. This module proves, for
//! the model at hand, that no intermediate can leave its type: every accumulator
//! gets an upper bound from the dims and the stored values, and every
//! requantization site checks `bound * mult + 2^(shift-1) < 2^63`. A model that
//! fails any check is refused at load time.
#![deny(clippy::float_arithmetic)]

use super::{D_CONV, D_STATE, LayerNorm, Linear, Model, ModelError, Requant};
use crate::intmath::freq::exp2_table_is_valid;
use crate::intmath::{ArithVersion, Q8_MAX, Q16_MAX};

/// Proven bound on |h| in arith v1: `2^16 * (2^14 + 1)` (§9.3).
pub const H_MAX_V1: i64 = (1 << 16) * ((1 << 14) + 1);

/// The proven bound on every scan state |h| of a model in `arith` with this
/// (non-increasing) decay table (§9.3), or `None` when it is not below 2^31,
/// the width the state is stored in.
///
/// v1: the decay is at most 65535/2^16, so `H = 2^16 (2^14 + 1)`. v2: the
/// exponent is at least 1, so the decay is at most
/// `dA_max = max(T[1], T[0] >> 1)`, and `H = ceil(2^15 (2 I + 1) / (2^16 - dA_max))`
/// with `I = 2^22` keeps `|round(dA h / 2^16)| + I <= H` for `|h| <= H`.
pub fn state_bound(arith: ArithVersion, decay: &[u16]) -> Option<i64> {
    let h = match arith {
        ArithVersion::V1 => H_MAX_V1,
        ArithVersion::V2 => {
            let t = |i: usize| decay.get(i).copied().unwrap_or(u16::MAX) as i64;
            let da_max = t(1).max(t(0) >> 1);
            let room = (1i64 << 16) - da_max; // >= 1: entries are u16
            let num = (1i64 << 15) * (2 * arith.inc_max() + 1);
            (num + room - 1) / room
        }
    };
    (h <= i32::MAX as i64).then_some(h)
}
/// Largest allowed layer-norm epsilon (Q16 variance units).
pub const LN_EPS_MAX: u64 = 1 << 60;
/// Largest decay exponent after clamping (16 whole bits: decay reaches 0).
pub const DECAY_GAP_MAX: u64 = 16 << 8;
/// Bound on |n| after layer norm (Q12): `|c| * 2^40 / 2^20` with `|c| < 2^16`, std >= 1.
pub const LN_NORM_MAX: i64 = (1 << 36) + 1;

const I32_LIMIT: i64 = i32::MAX as i64;
const I64_LIMIT: i128 = i64::MAX as i128;

fn range_err(what: String) -> ModelError {
    ModelError::Range(what)
}

fn check_q8(name: &str, v: &[i8]) -> Result<(), ModelError> {
    match v.iter().position(|&x| x == i8::MIN) {
        Some(i) => Err(range_err(format!(
            "{name}[{i}] is -128; arith v1 uses [-127, 127]"
        ))),
        None => Ok(()),
    }
}

/// Checks a requantization site whose accumulator is bounded by `acc_bound[j]`.
fn check_requant(
    name: &str,
    rq: &Requant,
    acc_bound: impl Fn(usize) -> i64,
) -> Result<(), ModelError> {
    for (j, (&m, &s)) in rq.mult.iter().zip(rq.shift.iter()).enumerate() {
        if m < 0 {
            return Err(range_err(format!("{name}.mult[{j}] = {m} is negative")));
        }
        if !(1..=62).contains(&s) {
            return Err(range_err(format!(
                "{name}.shift[{j}] = {s} is outside 1..=62"
            )));
        }
        let worst = acc_bound(j) as i128 * m as i128 + (1i128 << (s - 1));
        if worst > I64_LIMIT {
            return Err(ModelError::Overflow(format!(
                "{name}: accumulator bound {} times multiplier {m} overflows i64",
                acc_bound(j)
            )));
        }
    }
    Ok(())
}

/// Checks an int8 linear layer: weight range, int32 accumulator bound, requantization.
fn check_linear(name: &str, l: &Linear) -> Result<(), ModelError> {
    check_q8(&format!("{name}.weight"), &l.weight)?;
    let dot_bound = l.cols as i64 * (Q8_MAX as i64) * (Q8_MAX as i64);
    let bound = |j: usize| dot_bound + l.bias.as_ref().map_or(0, |b| (b[j] as i64).abs());
    for j in 0..l.rows {
        if bound(j) > I32_LIMIT {
            return Err(ModelError::Overflow(format!(
                "{name}: row {j} accumulator bound {} exceeds i32",
                bound(j)
            )));
        }
    }
    check_requant(name, &l.rq, bound)
}

fn check_layer_norm(name: &str, ln: &LayerNorm) -> Result<(), ModelError> {
    if !(1..=LN_EPS_MAX).contains(&ln.eps) {
        return Err(range_err(format!(
            "{name}.eps = {} is outside 1..=2^60",
            ln.eps
        )));
    }
    if !(1..=62).contains(&ln.shift) {
        return Err(range_err(format!(
            "{name}.shift = {} is outside 1..=62",
            ln.shift
        )));
    }
    if let Some(i) = ln.gamma.iter().position(|&g| g == i16::MIN) {
        return Err(range_err(format!("{name}.weight[{i}] is -32768")));
    }
    // |n * gamma + beta| <= 2^36 * 2^15 + 2^31 < 2^52: no overflow for any stored value.
    Ok(())
}

/// Validates every value range and proves every accumulator bound.
pub fn validate(m: &Model) -> Result<(), ModelError> {
    if let Some(i) = m.embedding.iter().position(|&x| x == i16::MIN) {
        return Err(range_err(format!("embedding.weight[{i}] is -32768")));
    }
    let exp2: &[u32; 256] = m
        .exp2
        .as_slice()
        .try_into()
        .map_err(|_| range_err("exp2 size".into()))?;
    if !exp2_table_is_valid(exp2) {
        return Err(range_err(
            "tables.exp2 must start at 2^31, never increase, and end at or above 2^30".into(),
        ));
    }
    if m.decay_exp2.windows(2).any(|w| w[1] > w[0]) {
        return Err(range_err("tables.decay_exp2 must never increase".into()));
    }
    let h_max = state_bound(m.arith, &m.decay_exp2).ok_or_else(|| {
        range_err(format!(
            "tables.decay_exp2[1] = {} decays too slowly for arith v{}: the scan state would not fit 31 bits",
            m.decay_exp2.get(1).copied().unwrap_or(0),
            m.arith
        ))
    })?;
    for (i, l) in m.layers.iter().enumerate() {
        let b = format!("blocks.{i}");
        let mb = format!("{b}.mamba");
        check_layer_norm(&format!("{b}.ln1"), &l.ln1)?;
        check_linear(&format!("{mb}.in_proj"), &l.in_proj)?;
        check_q8(&format!("{mb}.conv1d.weight"), &l.conv_weight)?;
        let conv_dot = D_CONV as i64 * (Q8_MAX as i64) * (Q8_MAX as i64);
        let conv_bound = |j: usize| conv_dot + (l.conv_bias[j] as i64).abs();
        if let Some(j) = (0..l.conv_bias.len()).find(|&j| conv_bound(j) > I32_LIMIT) {
            return Err(ModelError::Overflow(format!(
                "{mb}.conv1d row {j} exceeds i32"
            )));
        }
        check_requant(&format!("{mb}.conv1d"), &l.conv_rq, conv_bound)?;
        check_q8(&format!("{mb}.conv1d.silu_lut"), &l.conv_silu)?;
        check_linear(&format!("{mb}.x_proj"), &l.x_proj)?;
        check_linear(&format!("{mb}.dt_proj"), &l.dt_proj)?;
        if l.a_shift > 32 {
            return Err(range_err(format!(
                "{mb}.A_shift = {} exceeds 32",
                l.a_shift
            )));
        }
        if l.inc_shift > 40 {
            return Err(range_err(format!(
                "{mb}.inc_shift = {} exceeds 40",
                l.inc_shift
            )));
        }
        // |C . h| <= N * 127 * h_max; |D x| <= |D| * 127.
        let ssm_dot = D_STATE as i64 * Q8_MAX as i64 * h_max;
        check_requant(&format!("{mb}.y"), &l.y_rq, |j| {
            ssm_dot + (l.d_skip[j] as i64).abs() * Q8_MAX as i64
        })?;
        check_q8(&format!("{mb}.gate.silu_lut"), &l.gate_silu)?;
        check_requant(&format!("{mb}.gate"), &l.gate_rq, |_| {
            Q8_MAX as i64 * Q8_MAX as i64
        })?;
        check_linear(&format!("{mb}.out_proj"), &l.out_proj)?;
        check_layer_norm(&format!("{b}.ln2"), &l.ln2)?;
        check_linear(&format!("{b}.ff.0"), &l.ff1)?;
        check_q8(&format!("{b}.ff.gelu_lut"), &l.ff_gelu)?;
        check_linear(&format!("{b}.ff.2"), &l.ff2)?;
    }
    check_requant("head.in", &m.head.in_rq, |_| Q16_MAX as i64)?;
    check_linear("head.0", &m.head.fc1)?;
    check_linear("head.2", &m.head.fc2)?;
    Ok(())
}
