//! Compute backends other than the scalar reference in [`crate::engine`].
//!
//! - `c_shim` (feature `c-shim`, for tests): the C integer helpers shared with
//!   the CUDA kernels (`kernels/boa_int.h`, `kernels/boa_coder.h`), compiled
//!   for the host so tests can compare them with the Rust reference bit for bit.
//! - [`cuda`]: the batched forward step on an NVIDIA GPU (driver loaded at run
//!   time; without one it returns "CUDA unavailable: ...").
#![deny(clippy::float_arithmetic)]

#[cfg(feature = "c-shim")]
pub mod c_shim;
pub mod cuda;
