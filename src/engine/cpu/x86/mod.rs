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
pub mod avxvnni;

pub(crate) use super::simd_shared::level_gate;
pub(crate) use super::simd_shared::{
    GateKernels, conv_with, dot4_gemm_blocks, groups, interleave_weights, pack_int8,
    widen_decay_table,
};
