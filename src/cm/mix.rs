//! Joining predictions: a gated linear mixer in the logistic domain, and an
//! adaptive probability map (APM) that corrects the mixer's output in a
//! small context (`docs/FORMAT.md`, sections 9.14.3 and 9.14.4).
#![deny(clippy::float_arithmetic)]

use super::logistic::{PROB_ONE, STRETCH_LIMIT, squash};

/// Weights are fixed point with 16 fraction bits.
const WEIGHT_ONE: i32 = 1 << 16;
/// Weights are clamped to +-256.
const WEIGHT_LIMIT: i32 = 1 << 24;

/// A mixer of `n` stretched inputs with one weight vector per selector value.
/// The caller holds the inputs (several mixers may share them) and passes
/// the same ones to [`Mixer::mix`] and then [`Mixer::update`].
///
/// The output is `squash(clamp(sum(w[i] * x[i]) >> 16))`; after the bit is
/// known, each weight moves by `round(x[i] * err / 1024)` (rounding half up,
/// an arithmetic shift of `x[i] * err + 512`) where
/// `err = (bit * 4096 - p) * rate`.
pub struct Mixer {
    n: usize,
    weights: Vec<i32>,
    rate: i32,
    selected: usize,
    dot: i32,
    p: i32,
}

impl Mixer {
    /// A mixer of `n` inputs with `contexts` weight sets, each weight
    /// starting at `initial_weight` (fixed point, 65536 = 1) and learning at
    /// `rate`.
    pub fn new(n: usize, contexts: usize, initial_weight: i32, rate: i32) -> Self {
        Self {
            n,
            weights: vec![initial_weight; n * contexts],
            rate,
            selected: 0,
            dot: 0,
            p: PROB_ONE / 2,
        }
    }

    /// Mixes `inputs` (stretched values, `n` of them) with weight set `ctx`;
    /// returns the 12-bit probability of a 1.
    #[inline]
    pub fn mix(&mut self, inputs: &[i32], ctx: usize) -> i32 {
        debug_assert_eq!(inputs.len(), self.n);
        self.selected = ctx * self.n;
        let w = &self.weights[self.selected..self.selected + self.n];
        let dot: i64 = w
            .iter()
            .zip(inputs)
            .map(|(&w, &x)| i64::from(w) * i64::from(x))
            .sum();
        self.dot = (dot >> 16).clamp(-i64::from(STRETCH_LIMIT), i64::from(STRETCH_LIMIT)) as i32;
        self.p = squash(self.dot);
        self.p
    }

    /// The last mix in the logistic domain (clamped).
    pub fn stretched(&self) -> i32 {
        self.dot
    }

    /// Learns from the coded `bit`, given the `inputs` of the last mix.
    #[inline]
    pub fn update(&mut self, inputs: &[i32], bit: u32) {
        let err = ((bit as i32) * PROB_ONE - self.p) * self.rate;
        let w = &mut self.weights[self.selected..self.selected + self.n];
        for (w, &x) in w.iter_mut().zip(inputs) {
            // |x| <= 2047 and |err| <= 4095 * rate, rate <= 255: no overflow.
            *w = (*w + ((x * err + (1 << 13)) >> 14)).clamp(-WEIGHT_LIMIT, WEIGHT_LIMIT);
        }
    }
}

/// The weight a mixer of `n` inputs starts its weights at: about `0.3`.
pub const fn initial_weight(_n: usize) -> i32 {
    WEIGHT_ONE * 3 / 10
}

/// An adaptive probability map: per context, 33 probabilities (16-bit) at
/// every 128th stretched value; a prediction interpolates the two around
/// the input's stretched value and the update moves the nearer one towards
/// the bit by `1 / 2^rate` of the distance.
pub struct Apm {
    table: Vec<u16>,
    index: usize,
    rate: u32,
}

impl Apm {
    /// An APM over `contexts` contexts, starting as the identity.
    pub fn new(contexts: usize, rate: u32) -> Self {
        let mut table = Vec::with_capacity(contexts * 33);
        for _ in 0..contexts {
            for j in 0..33 {
                table.push((squash((j - 16) * 128) * 16) as u16);
            }
        }
        Self {
            table,
            index: 0,
            rate,
        }
    }

    /// The refined 12-bit probability of a probability whose stretched
    /// value is `stretched` (`stretch(p)`, which the caller computes once
    /// for several maps) in context `ctx`.
    #[inline]
    pub fn refine(&mut self, stretched: i32, ctx: usize) -> i32 {
        let s = stretched + 2048; // 1..=4095
        let lo = (s >> 7) as usize;
        let w = s & 127;
        let base = ctx * 33 + lo;
        // The nearer point learns.
        self.index = base + usize::from(w >= 64);
        let a = i32::from(self.table[base]);
        let b = i32::from(self.table[base + 1]);
        ((a * (128 - w) + b * w) >> 11).clamp(1, PROB_ONE - 1)
    }

    /// Learns from the coded `bit`.
    #[inline]
    pub fn update(&mut self, bit: u32) {
        let t = &mut self.table[self.index];
        let target: i32 = if bit != 0 { 65535 } else { 0 };
        let v = i32::from(*t);
        *t = (v + ((target - v) >> self.rate)) as u16;
    }
}

#[cfg(test)]
mod tests {
    use super::super::logistic::stretch;
    use super::*;

    #[test]
    fn mixer_learns_to_trust_the_better_input() {
        let mut m = Mixer::new(2, 1, initial_weight(2), 6);
        // Input 0 always says "1" firmly and is right; input 1 says "0".
        let mut last = 0;
        for _ in 0..500 {
            let inputs = [1500, -1500];
            last = m.mix(&inputs, 0);
            m.update(&inputs, 1);
        }
        assert!(last > 4000, "{last}");
    }

    #[test]
    fn apm_starts_near_identity_and_learns() {
        let mut a = Apm::new(1, 6);
        for p in [100, 1000, 2048, 3000, 4000] {
            assert!((a.refine(stretch(p), 0) - p).abs() <= p / 20 + 4, "{p}");
        }
        for _ in 0..300 {
            a.refine(stretch(2048), 0);
            a.update(1);
        }
        assert!(a.refine(stretch(2048), 0) > 3500);
    }
}
