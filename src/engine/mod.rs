//! The integer engine: a model's forward step, byte in, frequencies out, on
//! every device through one interface.
//!
//! - [`interface`]: the [`Engine`] trait (a batch of streams stepped together)
//!   and its errors; [`device`]: [`Device`], which picks the implementation.
//! - [`state`]: a stream's recurrent state and its canonical bytes.
//! - [`reference`]: the scalar kernels, the integer definition of every
//!   operation (`docs/ARITHMETIC.md`).
//! - [`cpu`]: [`CpuEngine`], the forward graph written once over a table of
//!   kernels with a scalar level (the reference, [`step_into`]) and SIMD levels.
//! - [`cuda`]: [`CudaEngine`], the same graph as CUDA kernels (`kernels/`).
//!
//! Stream protocol (the container relies on it): a fresh [`StreamState`] is
//! stepped with the priming byte [`PRIME_BYTE`]; the returned frequencies code
//! the first byte `b0`; stepping `b0` gives the frequencies for `b1`, and so on.
#![deny(clippy::float_arithmetic)]

pub mod cpu;
pub mod cuda;
pub mod device;
pub mod interface;
pub mod reference;
pub mod state;

pub use crate::intmath::freq::{FREQ_TOTAL, Frequencies, PRECISION_BITS};
pub use cpu::CpuEngine;
pub use cpu::reference_step::{Scratch, step, step_into};
pub use cuda::CudaEngine;
pub use device::Device;
pub use interface::{Engine, EngineError};
pub use state::{PRIME_BYTE, StreamState};
