//! What the SIMD levels of every architecture share: weight layouts, the
//! blocking of the dot-product GEMMs, and the conv and gate steps composed
//! around a level's own kernels. Nothing here uses an instruction set; each
//! level wraps these in its own `#[target_feature]` functions.
#![deny(clippy::float_arithmetic)]

use crate::engine::cpu::kernel_types::PackedLinear;
use crate::model::Linear;

/// Number of column groups of `g` needed for `cols` columns.
#[inline]
pub(crate) fn groups(cols: usize, g: usize) -> usize {
    cols.div_ceil(g)
}

/// The model's 256-entry decay table widened to u32 lanes, as the SIMD scans
/// gather it (`kernels::decay`).
#[inline]
pub(crate) fn widen_decay_table(decay: &[u16]) -> [u32; 256] {
    let mut table = [0u32; 256];
    for (t, &v) in table.iter_mut().zip(decay) {
        *t = u32::from(v);
    }
    table
}

/// The conv step around a SIMD body (`docs/ARITHMETIC.md` §5): checks the
/// lengths, lets `simd` write the outputs of the channels in full blocks of
/// `block`, finishes the remaining channels with the reference, and moves the
/// window. `simd` gets `(x, window, weight_t, bias, rq, out)`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv_with(
    block: usize,
    simd: impl FnOnce(&[i8], &[i8], &[i32], &[i32], &crate::model::Requant, &mut [i8]),
    x: &[i8],
    window: &mut [i8],
    weight: &[i8],
    weight_t: &[i32],
    bias: &[i32],
    rq: &crate::model::Requant,
    out: &mut [i8],
) {
    use crate::engine::reference::{conv_channel, conv_push};
    use crate::model::D_CONV;
    let e = x.len();
    assert!(window.len() == (D_CONV - 1) * e && weight_t.len() == D_CONV * e);
    assert!(weight.len() == D_CONV * e && bias.len() >= e && out.len() >= e);
    assert!(rq.mult.len() >= e && rq.shift.len() >= e);
    simd(x, window, weight_t, bias, rq, out);
    let full = e - e % block;
    for (c, o) in out[..e].iter_mut().enumerate().skip(full) {
        *o = conv_channel(x, window, weight, bias, rq, c);
    }
    conv_push(window, x);
}

/// The kernels a level's gate is composed from (see [`gate_with`]).
pub(crate) struct GateKernels {
    pub requant_wide: crate::engine::cpu::kernel_types::RequantWideFn,
    pub lut_q8: crate::engine::cpu::kernel_types::LutQ8Fn,
    pub requant_q8: crate::engine::cpu::kernel_types::RequantQ8Fn,
}

/// [`crate::engine::reference::gate`] composed from a level's kernels: `y` by its
/// wide requantization (into `out`), `silu(z)` by its table kernel 64 channels
/// at a time, the exact products `y * silu(z)` in int32 (`|y * g| <= 127^2`),
/// then its requantization to q8. Always inlined, so that each level's `gate`
/// compiles the products with its own instructions.
#[inline(always)]
pub(crate) fn gate_with(
    k: GateKernels,
    y_acc: &[i64],
    z: &[i8],
    silu: &[i8],
    y_rq: &crate::model::Requant,
    gate_rq: &crate::model::Requant,
    out: &mut [i8],
) {
    thread_local! {
        /// The gate products of one column.
        static PRODUCTS: std::cell::RefCell<Vec<i32>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let e = out.len();
    assert!(y_acc.len() >= e && z.len() >= e && silu.len() == 256);
    (k.requant_wide)(&y_acc[..e], y_rq, out);
    // The buffer is taken out of the thread-local so that the loop below is
    // compiled inline in the caller (a closure passed to `with` is not).
    let mut prod = PRODUCTS.take();
    prod.resize(e, 0);
    for ((p, y), z) in prod.chunks_mut(64).zip(out.chunks(64)).zip(z.chunks(64)) {
        let mut g = [0i8; 64];
        g[..z.len()].copy_from_slice(z);
        (k.lut_q8)(silu, &mut g[..z.len()]);
        for ((p, &y), &g) in p.iter_mut().zip(y).zip(&g) {
            *p = i32::from(y) * i32::from(g);
        }
    }
    (k.requant_q8)(&prod, gate_rq, out);
    PRODUCTS.set(prod);
}

/// Interleaved weight layout of the SIMD GEMMs: blocks of `rb` rows; within a
/// block, for each group of `g` consecutive columns, `rb` rows x `g` columns
/// (element `((b * groups + q) * rb + r) * g + t`). Rows are padded to `rows_pad`
/// and columns to a multiple of `g` with zeros.
pub(crate) fn interleave_weights<T: Copy + Default>(
    l: &crate::model::Linear,
    rb: usize,
    g: usize,
    rows_pad: usize,
    widen: impl Fn(i8) -> T,
) -> Vec<T> {
    let cg = groups(l.cols, g);
    let mut data = vec![T::default(); rows_pad * cg * g];
    for j in 0..l.rows {
        let (b, r) = (j / rb, j % rb);
        for k in 0..l.cols {
            let (q, t) = (k / g, k % g);
            data[((b * cg + q) * rb + r) * g + t] = widen(l.weight[j * l.cols + k]);
        }
    }
    data
}

/// A linear layer packed for an int8 SIMD GEMM: the weights in
/// [`interleave_weights`]'s layout (`rb` rows x `g` columns per register),
/// rows padded to a multiple of `row_pad`, and each row's start
/// `bias[j] - offset * sum_k W[j][k]` ([`PackedLinear::new_corr`]; `offset` is
/// 128 for the unsigned-activation VNNI levels, 0 for signed products).
pub(crate) fn pack_int8(
    l: &Linear,
    rb: usize,
    g: usize,
    row_pad: usize,
    offset: i32,
) -> PackedLinear {
    let rows_pad = l.rows.next_multiple_of(row_pad);
    let mut corr = PackedLinear::new_corr(l, offset);
    corr.resize(rows_pad, 0);
    PackedLinear {
        rows: l.rows,
        cols: l.cols,
        data8: interleave_weights(l, rb, g, rows_pad, |w| w),
        data16: Vec::new(),
        corr,
        rq: l.rq.clone(),
        rq_lanes: Vec::new(),
    }
}

thread_local! {
    /// Activations copied to a row stride that is a multiple of 4 (only when `cols` is not).
    static PADDED_ACT: std::cell::RefCell<Vec<i8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The blocking of the four-column dot-product GEMMs (x86 `avxvnni` and `avx512`, aarch64 `dotprod`): `n` streams of `cols`
/// activations (`a`), outputs `out[s * rows + j]`. Activations are read in place
/// when `cols` is a multiple of 4, else through a zero-padded copy (the padding
/// meets zero weights). For each block of `ROW_PAD` rows starting at `r0` and
/// each group of at most `NS_MAX` streams, `micro(r0, act, ns, stride, dst,
/// dst_stride)` writes the block's results of stream `s` to `dst[s *
/// dst_stride..][..ROW_PAD]`: straight into `out` for a full block, into a tile
/// (then copied) for the last partial one.
pub(crate) fn dot4_gemm_blocks<T: Copy + Default, const ROW_PAD: usize, const NS_MAX: usize>(
    rows: usize,
    cols: usize,
    a: &[i8],
    n: usize,
    out: &mut [T],
    mut micro: impl FnMut(usize, &[i8], usize, usize, &mut [T], usize),
) {
    assert!(a.len() >= n * cols && out.len() >= n * rows);
    let stride = 4 * groups(cols, 4);
    let mut run = |act: &[i8]| {
        let mut tile = [[T::default(); ROW_PAD]; NS_MAX];
        for r0 in (0..rows).step_by(ROW_PAD) {
            let nr = (rows - r0).min(ROW_PAD);
            let mut s0 = 0;
            while s0 < n {
                let ns = (n - s0).min(NS_MAX);
                let act = &act[s0 * stride..(s0 + ns) * stride];
                if nr == ROW_PAD {
                    let end = (s0 + ns - 1) * rows + r0 + ROW_PAD;
                    micro(r0, act, ns, stride, &mut out[s0 * rows + r0..end], rows);
                } else {
                    micro(r0, act, ns, stride, tile.as_flattened_mut(), ROW_PAD);
                    for (t, s) in tile.iter().zip(s0..s0 + ns) {
                        out[s * rows + r0..s * rows + r0 + nr].copy_from_slice(&t[..nr]);
                    }
                }
                s0 += ns;
            }
        }
    };
    if cols == stride {
        run(&a[..n * cols]);
    } else {
        PADDED_ACT.with(|buf| {
            let mut buf = buf.borrow_mut();
            buf.clear();
            buf.resize(n * stride, 0);
            for (d, x) in buf.chunks_exact_mut(stride).zip(a.chunks_exact(cols)) {
                d[..cols].copy_from_slice(x);
            }
            run(&buf)
        })
    }
}

/// Stamps out a level's `gate` entry: a safe function that checks the level's
/// CPU features, and a `target_feature` function that builds the level's
/// [`GateKernels`] (`$kernels`) and inlines [`gate_with`], so that the products
/// there are compiled with the level's instructions.
macro_rules! level_gate {
    ($(#[$doc:meta])* features: $features:literal, level: $level:literal, kernels: $kernels:expr $(,)?) => {
        $(#[$doc])*
        pub fn gate(
            y_acc: &[i64],
            z: &[i8],
            silu: &[i8],
            y_rq: &Requant,
            gate_rq: &Requant,
            out: &mut [i8],
        ) {
            assert!(supported(), concat!($level, " kernels called on a CPU without them"));
            // SAFETY: the CPU features were checked just above.
            unsafe { gate_impl(y_acc, z, silu, y_rq, gate_rq, out) }
        }

        #[target_feature(enable = $features)]
        fn gate_impl(
            y_acc: &[i64],
            z: &[i8],
            silu: &[i8],
            y_rq: &Requant,
            gate_rq: &Requant,
            out: &mut [i8],
        ) {
            crate::engine::cpu::simd_shared::gate_with($kernels, y_acc, z, silu, y_rq, gate_rq, out)
        }
    };
}
pub(crate) use level_gate;
