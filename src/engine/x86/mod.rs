//! x86-64 kernels. Each level has a `supported()` check and functions whose
//! `#[target_feature]` bodies are only entered after that check passed (the
//! dispatch table in `super::dispatch` is only built when it returns true).
//! Every `unsafe` block says which invariant makes it sound.
#![deny(clippy::float_arithmetic)]

pub mod avx2;
pub mod avx512;
pub mod avx512_eltwise;

/// Number of column groups of `g` needed for `cols` columns.
#[inline]
pub(crate) fn groups(cols: usize, g: usize) -> usize {
    cols.div_ceil(g)
}
