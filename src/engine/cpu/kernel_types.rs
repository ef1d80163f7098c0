//! What every kernel level shares: a linear layer's weights packed for a
//! level ([`PackedLinear`]) and the signature of each kernel. The dispatch
//! table ([`super::dispatch::Kernels`]) holds one function of each signature;
//! the per-architecture levels (`super::x86`) implement them. Kept apart from
//! the dispatch so that the levels and the table do not import each other.
#![deny(clippy::float_arithmetic)]

use crate::model::{LayerNorm, Linear, Requant};

/// A linear layer re-laid-out for one kernel level. `data8`/`data16` hold the
/// level's weight layout (only one is used), `corr[j]` the per-row constant added
/// to the raw dot product: `bias[j]` for the scalar and AVX2 levels, and
/// `bias[j] - 128 * sum_k W[j][k]` (wrapping, see [`PackedLinear::new_corr`]) for
/// the VNNI level whose activations carry a `+128` offset. `rq` is the layer's
/// own requantization, used by the requantizing entries ([`GemmQ8Fn`],
/// [`GemmQ16Fn`]); `rq_lanes` is a level's re-laid-out copy of it (empty for
/// levels that read `rq` directly).
#[derive(Clone, Debug)]
pub struct PackedLinear {
    pub rows: usize,
    pub cols: usize,
    pub data8: Vec<i8>,
    pub data16: Vec<i16>,
    pub corr: Vec<i32>,
    pub rq: Requant,
    pub rq_lanes: Vec<i64>,
}

impl PackedLinear {
    /// `bias[j] - offset * sum_k W[j][k]` for every row, in wrapping int32.
    ///
    /// The raw VNNI sum `sum_k (a[k] + 128) * W[j][k]` can exceed the int32 range
    /// that the final accumulator is proven to fit (§9.1) only through the bias;
    /// two's-complement addition is exact modulo 2^32 and the true result fits
    /// int32, so wrapping arithmetic yields it exactly.
    pub fn new_corr(l: &Linear, offset: i32) -> Vec<i32> {
        (0..l.rows)
            .map(|j| {
                let row = &l.weight[j * l.cols..(j + 1) * l.cols];
                let s: i32 = row.iter().map(|&w| w as i32).sum();
                let b = l.bias.as_ref().map_or(0, |b| b[j]);
                b.wrapping_sub(offset.wrapping_mul(s))
            })
            .collect()
    }
}

/// Packs a [`Linear`] for a level.
pub type PackFn = fn(&Linear) -> PackedLinear;
/// `acc[s * rows + j] = bias[j] + sum_k W[j][k] * a[s * cols + k]` for `s < n` streams.
pub type GemmFn = fn(&PackedLinear, &[i8], usize, &mut [i32]);
/// The GEMM followed by the layer's requantization to int8 ([`crate::engine::reference::requant_to_q8`]
/// of each stream's accumulators): `out[s * rows + j]`. Levels may fuse the two.
pub type GemmQ8Fn = fn(&PackedLinear, &[i8], usize, &mut [i8]);
/// The GEMM followed by the layer's requantization to q16 ([`crate::engine::reference::requant_to_q16`]).
pub type GemmQ16Fn = fn(&PackedLinear, &[i8], usize, &mut [i16]);

/// One selective-scan step, the signature of [`crate::engine::reference::scan_step`].
pub type ScanFn =
    fn(&[i8], &[u16], &[i8], &[i8], &crate::engine::reference::ScanLayer, &mut [i32], &mut [i64]);

/// Per-channel requantization of int32 accumulators to int8 ([`crate::engine::reference::requant_to_q8`]).
pub type RequantQ8Fn = fn(&[i32], &Requant, &mut [i8]);
/// Per-channel requantization of int32 accumulators to q16 ([`crate::engine::reference::requant_to_q16`]).
pub type RequantQ16Fn = fn(&[i32], &Requant, &mut [i16]);
/// Per-channel requantization of wide accumulators to int8 ([`crate::engine::reference::requant_wide_to_q8`]).
pub type RequantWideFn = fn(&[i64], &Requant, &mut [i8]);

/// One causal-conv step ([`crate::engine::reference::conv_step`]); the extra `&[i32]` is the
/// weight transposed to `[K][E]` (levels that do not need it ignore it).
pub type ConvFn = fn(&[i8], &mut [i8], &[i8], &[i32], &[i32], &Requant, &mut [i8]);

/// Integer layer norm ([`crate::engine::reference::layer_norm`]).
pub type LayerNormFn = fn(&[i16], &LayerNorm, &mut [i8]);

/// A 256-entry int8 table applied in place ([`crate::engine::reference::lut_q8`]).
pub type LutQ8Fn = fn(&[i8], &mut [i8]);
/// A 256-entry u16 table applied to int8 values ([`crate::engine::reference::lut_u16`]).
pub type LutU16Fn = fn(&[u16], &[i8], &mut [u16]);
/// The gated scan output ([`crate::engine::reference::gate`]).
pub type GateFn = fn(&[i64], &[i8], &[i8], &Requant, &Requant, &mut [i8]);
/// Head accumulators to frequencies ([`crate::engine::reference::head_frequencies`]).
pub type HeadFreqFn = fn(&[i32], &Requant, &[u32; 256], &mut crate::engine::Frequencies);
