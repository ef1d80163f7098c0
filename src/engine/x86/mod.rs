//! x86-64 kernels. Each level has a `supported()` check and functions whose
//! `#[target_feature]` bodies are only entered after that check passed (the
//! dispatch table in `super::dispatch` is only built when it returns true).
//! Every `unsafe` block says which invariant makes it sound.
#![deny(clippy::float_arithmetic)]

// The SIMD scans are written for 16 states per channel.
const _: () = assert!(crate::model::D_STATE == 16);

pub mod avx2;
pub mod avx2_eltwise;
pub mod avx512;
pub mod avx512_eltwise;
pub mod avx512_scan;

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
    use crate::engine::kernels::{conv_channel, conv_push};
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
    pub requant_wide: crate::engine::dispatch::RequantWideFn,
    pub lut_q8: crate::engine::dispatch::LutQ8Fn,
    pub requant_q8: crate::engine::dispatch::RequantQ8Fn,
}

/// [`crate::engine::kernels::gate`] composed from a level's kernels: `y` by its
/// wide requantization (into `out`), `silu(z)` by its table kernel 64 channels
/// at a time, the exact products `y * silu(z)` in int32 (`|y * g| <= 127^2`),
/// then its requantization to q8.
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
    PRODUCTS.with(|p| {
        let mut p = p.borrow_mut();
        p.resize(e, 0);
        for ((prod, y), z) in p.chunks_mut(64).zip(out.chunks(64)).zip(z.chunks(64)) {
            let mut g = [0i8; 64];
            g[..z.len()].copy_from_slice(z);
            (k.lut_q8)(silu, &mut g[..z.len()]);
            for ((p, &y), &g) in prod.iter_mut().zip(y).zip(&g) {
                *p = i32::from(y) * i32::from(g);
            }
        }
        (k.requant_q8)(&p, gate_rq, out);
    })
}
