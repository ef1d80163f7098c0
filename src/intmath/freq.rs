//! Logits to frequencies (arith v1, `docs/ARITHMETIC.md` section "Frequencies").
//!
//! The logits are fixed-point base-2 log-probabilities with [`LOGIT_FRAC_BITS`]
//! fractional bits. A 256-entry table of `2^31 * 2^(-f/256)` (stored in the model
//! file) turns them into unnormalised weights; one integer division gives a scale,
//! and a multiply-shift per symbol gives frequencies that are all >= 1 and sum to
//! exactly `2^PRECISION_BITS`.
#![deny(clippy::float_arithmetic)]

/// Frequencies sum to `2^PRECISION_BITS`: the range coder's precision (24
/// bits, 64-bit range), defined once, in [`crate::coder`].
pub use crate::coder::PRECISION_BITS;
/// The exact total of every frequency table: the coder's [`crate::coder::TOTAL`].
pub const FREQ_TOTAL: u32 = crate::coder::TOTAL;
/// Fractional bits of a logit (units of 1/256 bit).
pub const LOGIT_FRAC_BITS: u32 = 8;
/// Logits are clamped to `[-LOGIT_MAX, LOGIT_MAX]` when requantized.
pub const LOGIT_MAX: i32 = 1 << 20;
/// `max - logit` is clamped here: shifts stay <= 31, weights below that are 0.
pub const LOGIT_GAP_MAX: i32 = (32 << LOGIT_FRAC_BITS) - 1;
/// First entry of the exp2 table: weight of the most likely symbol.
pub const EXP2_ONE: u32 = 1 << 31;

/// A frequency table: 256 entries, each >= 1, summing to exactly [`FREQ_TOTAL`].
#[derive(Clone, PartialEq, Eq)]
pub struct Frequencies(pub [u32; 256]);

impl Default for Frequencies {
    fn default() -> Self {
        Frequencies([FREQ_TOTAL / 256; 256])
    }
}

impl std::ops::Deref for Frequencies {
    type Target = [u32; 256];
    fn deref(&self) -> &[u32; 256] {
        &self.0
    }
}

impl std::fmt::Debug for Frequencies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Frequencies({:?}..)", &self.0[..8])
    }
}

impl Frequencies {
    /// Little-endian bytes of the 256 entries (used for digests in golden vectors).
    pub fn to_le_bytes(&self) -> [u8; 1024] {
        let mut out = [0u8; 1024];
        for (dst, f) in out.chunks_exact_mut(4).zip(self.0.iter()) {
            dst.copy_from_slice(&f.to_le_bytes());
        }
        out
    }
}

/// Whether an exp2 table satisfies the preconditions of [`logits_to_frequencies`]:
/// `t[0] == 2^31`, non-increasing, and `t[255] >= 2^30`.
pub fn exp2_table_is_valid(t: &[u32; 256]) -> bool {
    t[0] == EXP2_ONE && t.windows(2).all(|w| w[1] <= w[0]) && t[255] >= EXP2_ONE / 2
}

/// Turn 256 logits into a frequency table.
///
/// Preconditions: every logit in `[-LOGIT_MAX, LOGIT_MAX]`, `exp2` valid
/// ([`exp2_table_is_valid`]). Then (see the spec for the proof) every weight is
/// at most 2^31, their sum `E` is in `[2^31, 2^39]`, every product fits u64, and
/// the frequencies before the remainder step sum to at most `2^P - 256 + 256`.
pub fn logits_to_frequencies(logits: &[i32; 256], exp2: &[u32; 256], out: &mut Frequencies) {
    let max = *logits.iter().max().expect("256 logits");
    let mut weights = [0u32; 256];
    let mut total: u64 = 0;
    for (w, &l) in weights.iter_mut().zip(logits.iter()) {
        let gap = (max - l).min(LOGIT_GAP_MAX);
        let frac = (gap & 0xFF) as usize;
        let whole = (gap >> LOGIT_FRAC_BITS) as u32;
        *w = exp2[frac] >> whole;
        total += *w as u64;
    }
    // total >= 2^31 because the maximum logit has gap 0 and weight exp2[0] = 2^31.
    let scale = (((FREQ_TOTAL - 256) as u64) << 32) / total;
    let mut sum: u32 = 0;
    for (f, &w) in out.0.iter_mut().zip(weights.iter()) {
        *f = 1 + ((w as u64 * scale) >> 32) as u32;
        sum += *f;
    }
    // The remainder goes to the first symbol holding the maximum logit.
    let first_max = logits.iter().position(|&l| l == max).expect("max exists");
    out.0[first_max] += FREQ_TOTAL - sum;
}

/// The exp2 table arith v1 ships in every model file: `round(2^31 * 2^(-f/256))`.
///
/// Computed here with integer arithmetic only (a fixed-point power series), so
/// writing a model needs no libm either. The engine never calls this: it uses the
/// table from the model file.
pub fn default_exp2_table() -> [u32; 256] {
    // 2^(-f/256) = exp(-f * ln2 / 256). Evaluate exp(-x) with x in Q62 by a
    // Taylor series in i128; 40 terms are far more than enough for x < 0.7.
    const LN2_Q62: i128 = 3_196_577_161_300_663_808; // round(ln 2 * 2^62)
    let one: i128 = 1 << 62;
    let mut t = [0u32; 256];
    for (f, slot) in t.iter_mut().enumerate() {
        let x = LN2_Q62 * f as i128 / 256;
        let mut term = one;
        let mut acc = one;
        for k in 1..40i128 {
            term = -((term * x) >> 62) / k;
            acc += term;
        }
        // acc ~ 2^62 * 2^(-f/256); round to 2^31 scale.
        *slot = ((acc + (1 << 30)) >> 31) as u32;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn default_table_is_valid_and_exact_at_half() {
        let t = default_exp2_table();
        assert!(exp2_table_is_valid(&t));
        // 2^31 * 2^(-128/256) = 2^30.5 = 1518500249.98...
        assert_eq!(t[128], 1_518_500_250);
        assert_eq!(t[255], 1_076_653_033);
    }

    proptest! {
        #[test]
        fn frequencies_are_positive_and_exact(
            logits in proptest::collection::vec(-LOGIT_MAX..=LOGIT_MAX, 256)
        ) {
            let mut l = [0i32; 256];
            l.copy_from_slice(&logits);
            let mut f = Frequencies::default();
            logits_to_frequencies(&l, &default_exp2_table(), &mut f);
            prop_assert!(f.iter().all(|&x| x >= 1));
            prop_assert_eq!(f.iter().map(|&x| x as u64).sum::<u64>(), FREQ_TOTAL as u64);
        }
    }

    #[test]
    fn extreme_logits() {
        let t = default_exp2_table();
        let mut f = Frequencies::default();
        for l in [[LOGIT_MAX; 256], [-LOGIT_MAX; 256], [0; 256]] {
            logits_to_frequencies(&l, &t, &mut f);
            assert_eq!(f.iter().sum::<u32>(), FREQ_TOTAL);
            assert!(f.iter().all(|&x| x == FREQ_TOTAL / 256));
        }
        let mut one_hot = [-LOGIT_MAX; 256];
        one_hot[7] = LOGIT_MAX;
        logits_to_frequencies(&one_hot, &t, &mut f);
        assert_eq!(f[7], FREQ_TOTAL - 255);
    }
}
