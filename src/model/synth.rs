//! Deterministic synthetic models for tests, benchmarks and golden vectors.
//!
//! The generator uses [`SplitMix64`], written out here so that its output can
//! never change with a library version: golden vectors depend on it.
#![deny(clippy::float_arithmetic)]

use super::bounds::state_bound;
use super::file::{Slot, visit_tensors, zero_model};
use super::{D_CONV, D_STATE, Dims, Linear, Model, ModelError, Requant};
use crate::intmath::freq::default_exp2_table;
use crate::intmath::{ArithVersion, Q8_MAX, Q16_MAX, isqrt_u64};

/// SplitMix64 (Steele, Lea, Flood 2014), the seeding generator of xoshiro.
#[derive(Clone, Debug)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi` (modulo bias is irrelevant for test data).
    pub fn range_i64(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (hi - lo) as u64 + 1;
        lo + (self.next_u64() % span) as i64
    }

    pub fn fill_bytes(&mut self, out: &mut [u8]) {
        for b in out {
            *b = self.next_u64() as u8;
        }
    }
}

/// How a synthetic model is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SynthKind {
    /// Moderate weights and scales: activations spread over their ranges, like a trained model.
    Typical,
    /// Weights, biases, multipliers and tables pushed to the limits the loader accepts.
    Adversarial,
}

/// The decay table of arith v1: `min(65535, round(2^16 * 2^(-f/256)))`.
pub fn default_decay_table() -> Vec<u16> {
    default_exp2_table()
        .iter()
        .map(|&e| ((e as u64 + (1 << 14)) >> 15).min(65535) as u16)
        .collect()
}

/// Largest multiplier that keeps `bound * m + 2^(s-1)` inside i64 (at most i32::MAX).
fn max_mult(bound: i64, s: u8) -> i64 {
    let room = (i64::MAX - (1i64 << (s - 1))) / bound.max(1);
    room.min(i32::MAX as i64)
}

/// A requantization that maps an accumulator of typical size `acc_typ` to `target`.
fn scale_requant(rq: &mut Requant, acc_typ: i64, target: i64, bound: i64) {
    for (m, s) in rq.mult.iter_mut().zip(rq.shift.iter_mut()) {
        *s = 30;
        *m = ((target << 30) / acc_typ.max(1)).clamp(1, max_mult(bound, 30)) as i32;
    }
}

fn adversarial_requant(rq: &mut Requant, bound: i64, rng: &mut SplitMix64) {
    for (m, s) in rq.mult.iter_mut().zip(rq.shift.iter_mut()) {
        *s = rng.range_i64(1, 40) as u8;
        *m = rng.range_i64(max_mult(bound, *s) / 2, max_mult(bound, *s)) as i32;
    }
}

fn linear_bound(l: &Linear, j: usize) -> i64 {
    l.cols as i64 * 127 * 127 + l.bias.as_ref().map_or(0, |b| (b[j] as i64).abs())
}

/// Biases that keep every accumulator of `l` inside i32.
fn clamp_bias(l: &mut Linear, rng: &mut SplitMix64, adversarial: bool) {
    let room = i32::MAX as i64 - l.cols as i64 * 127 * 127;
    if let Some(b) = l.bias.as_mut() {
        for x in b.iter_mut() {
            *x = if adversarial {
                if rng.next_u64() & 1 == 0 {
                    room as i32
                } else {
                    -room as i32
                }
            } else {
                (*x as i64).clamp(-room, room) as i32
            };
        }
    }
}

fn set_linear_requant(
    l: &mut Linear,
    act_std: i64,
    target: i64,
    kind: SynthKind,
    rng: &mut SplitMix64,
) {
    clamp_bias(l, rng, kind == SynthKind::Adversarial);
    let bound = (0..l.rows).map(|j| linear_bound(l, j)).max().unwrap_or(1);
    match kind {
        SynthKind::Typical => {
            // weights ~ U(-64, 64): std ~37; acc std ~ 37 * act_std * sqrt(cols).
            let acc = 37 * act_std * isqrt_u64(l.cols as u64) as i64;
            scale_requant(&mut l.rq, acc, target, bound);
        }
        SynthKind::Adversarial => adversarial_requant(&mut l.rq, bound, rng),
    }
}

/// Draws a random but valid arith v1 model. Same dims, kind and seed give the
/// same model (the v1 golden vectors depend on it).
pub fn random_model(dims: Dims, kind: SynthKind, seed: u64) -> Result<Model, ModelError> {
    random_model_in(ArithVersion::V1, dims, kind, seed)
}

/// The slowest decay step `decay_exp2[1]` an arith v2 model may have: the
/// largest for which the scan state bound (§9.3) stays below 2^31.
pub fn slowest_v2_decay_step() -> u16 {
    (0..=u16::MAX)
        .rev()
        .find(|&t| state_bound(ArithVersion::V2, &[u16::MAX, t]).is_some())
        .unwrap_or(0)
}

/// Draws a random but valid model in `arith`. The tensors are those of
/// [`random_model`] for the same dims, kind and seed; only the decay table of an
/// adversarial v2 model differs (its slowest step must keep the state bound).
pub fn random_model_in(
    arith: ArithVersion,
    dims: Dims,
    kind: SynthKind,
    seed: u64,
) -> Result<Model, ModelError> {
    dims.validate()?;
    let mut rng = SplitMix64(seed);
    let mut m = zero_model(dims);
    m.arith = arith;
    let adv = kind == SynthKind::Adversarial;
    // Pass 1: every tensor gets random contents by its role.
    visit_tensors(&mut m, &mut |name, _shape, slot| {
        let r = &mut rng;
        match slot {
            Slot::I8(v) => {
                let lut = name.ends_with("_lut");
                let w = if adv || lut { 127 } else { 64 };
                for (i, x) in v.iter_mut().enumerate() {
                    *x = if lut && !adv {
                        // SiLU/GELU-like shape: identity above 0, damped below.
                        let t = i as i64 - 128;
                        (if t >= 0 { t } else { t / 4 }).clamp(-127, 127) as i8
                    } else if adv {
                        if r.next_u64() & 1 == 0 { 127 } else { -127 }
                    } else {
                        r.range_i64(-w, w) as i8
                    };
                }
            }
            Slot::I16(v) => {
                let (lo, hi) = if name.starts_with("embedding") {
                    if adv { (-32767, 32767) } else { (-8000, 8000) }
                } else if adv {
                    (-32767, 32767)
                } else {
                    (2048, 6144)
                };
                v.iter_mut().for_each(|x| *x = r.range_i64(lo, hi) as i16);
            }
            Slot::I32(v) => {
                let w = if adv { i32::MAX as i64 } else { 1 << 14 };
                v.iter_mut().for_each(|x| *x = r.range_i64(-w, w) as i32);
            }
            Slot::U16(v) => {
                for (i, x) in v.iter_mut().enumerate() {
                    *x = if adv {
                        r.range_i64(60000, 65535) as u16
                    } else if name.ends_with("softplus_lut") {
                        64 + 16 * i as u16
                    } else {
                        // A_rate: slower decay for low state index, like -exp(A_log).
                        let n = (i % D_STATE) as i64 + 1;
                        (590 * n + r.range_i64(-100, 100)) as u16
                    };
                }
            }
            Slot::U8(_) | Slot::U32(_) | Slot::U64(_) => {} // scalars and tables: pass 2
        }
        Ok(())
    })?;
    // Pass 2: scales, shifts and tables that must satisfy the spec's bounds.
    m.exp2 = default_exp2_table().to_vec();
    m.decay_exp2 = match (adv, arith) {
        (false, _) => default_decay_table(),
        (true, ArithVersion::V1) => vec![65535; 256],
        (true, ArithVersion::V2) => {
            let mut t = vec![slowest_v2_decay_step(); 256];
            t[0] = 65535;
            t
        }
    };
    let h_max = state_bound(arith, &m.decay_exp2).expect("synthetic decay tables keep the bound");
    let (a8, r16) = (40, 2000);
    for l in m.layers.iter_mut() {
        for ln in [&mut l.ln1, &mut l.ln2] {
            ln.shift = if adv { rng.range_i64(1, 62) as u8 } else { 19 };
            ln.eps = if adv { 1 } else { 64 };
            if !adv {
                ln.beta.iter_mut().for_each(|b| *b = (*b as i64 * 8) as i32);
            }
        }
        set_linear_requant(&mut l.in_proj, a8, a8, kind, &mut rng);
        let conv_room = i32::MAX as i64 - D_CONV as i64 * 127 * 127;
        l.conv_bias
            .iter_mut()
            .for_each(|b| *b = (*b as i64).clamp(-conv_room, conv_room) as i32);
        let conv_bound = conv_room + D_CONV as i64 * 127 * 127;
        l.a_shift = if adv { 0 } else { 16 };
        l.inc_shift = if adv { 0 } else { 12 };
        if adv {
            adversarial_requant(&mut l.conv_rq, conv_bound, &mut rng);
        } else {
            scale_requant(&mut l.conv_rq, 37 * a8 * 2, a8, conv_bound);
        }
        set_linear_requant(&mut l.x_proj, a8, a8, kind, &mut rng);
        set_linear_requant(&mut l.dt_proj, a8, a8, kind, &mut rng);
        let y_bound = D_STATE as i64 * 127 * h_max + i32::MAX as i64 * 127;
        let gate_bound = (Q8_MAX * Q8_MAX) as i64;
        if adv {
            adversarial_requant(&mut l.y_rq, y_bound, &mut rng);
            adversarial_requant(&mut l.gate_rq, gate_bound, &mut rng);
        } else {
            l.d_skip.iter_mut().for_each(|x| *x /= 4);
            scale_requant(&mut l.y_rq, 1_600_000, a8, y_bound);
            scale_requant(&mut l.gate_rq, a8 * a8, a8, gate_bound);
        }
        set_linear_requant(&mut l.out_proj, a8, r16, kind, &mut rng);
        set_linear_requant(&mut l.ff1, a8, a8, kind, &mut rng);
        set_linear_requant(&mut l.ff2, a8, r16, kind, &mut rng);
    }
    if adv {
        adversarial_requant(&mut m.head.in_rq, Q16_MAX as i64, &mut rng);
    } else {
        scale_requant(&mut m.head.in_rq, 8000, a8, Q16_MAX as i64);
    }
    set_linear_requant(&mut m.head.fc1, a8 / 2, a8, kind, &mut rng);
    set_linear_requant(&mut m.head.fc2, a8 / 2, 768, kind, &mut rng);
    m.description = format!(
        "synthetic {kind:?} model, d={} layers={} seed={seed}",
        dims.d_model, dims.n_layers
    );
    m.validated()
}
