//! boa-det: a deterministic, integer-only neural compressor for scientific data.
//!
//! Layout, one concept per module:
//! - [`arith`]: the integer primitives of arith v1 (rounding shifts, requantization,
//!   integer square root, logits to frequencies). See `docs/ARITHMETIC.md`.
//! - [`model`]: the integer model, its safetensors file format, validation, the
//!   overflow proof and the fingerprint. See `docs/MODEL_FORMAT.md`.
//! - [`engine`]: per-stream state and the scalar reference forward step.
pub mod arith;
pub mod backend;
pub mod cli;
pub mod engine;
pub mod io_util;
pub mod model;
