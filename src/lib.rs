//! boa-det: a deterministic, integer-only neural compressor for scientific data.
//!
//! Layout, one concept per module:
//! - [`intmath`]: the integer maths of arith v1 and v2 (rounding shifts,
//!   requantization, integer square root, logits to frequencies) and the
//!   "arith versions" themselves. See `docs/ARITHMETIC.md`. (Not arithmetic
//!   coding: that is [`coder`].)
//! - [`model`]: the integer model, its safetensors file format, validation, the
//!   overflow proof and the fingerprint. See `docs/MODEL_FORMAT.md`.
//! - [`engine`]: the forward step behind one interface ([`engine::Engine`]):
//!   the scalar reference kernels, the CPU engine with its SIMD kernel levels
//!   and their dispatch, and the CUDA engine. See `docs/KERNELS.md` and
//!   `docs/CUDA.md`.
//! - [`coder`]: the byte-oriented range coder (24-bit frequency tables). See
//!   `docs/FORMAT.md`, section "Range coder".
//! - [`mixing`]: the codec registry (every codec's id, name, format version
//!   and recipe) and the predictors mixed into the network's frequencies on
//!   the host: match, long and column finders, column and text field
//!   histograms, one file each, and the compressor's guess of a table's
//!   record length. See `docs/FORMAT.md` sections 9.9-9.13.
//! - [`cm`]: the context-mixing codec (codec 9, no network): counters in
//!   hashed contexts, match models, mixers in the logistic domain and APMs,
//!   coded bit by bit. See `docs/FORMAT.md` section 9.14.
//! - [`container`]: the `.boa` archive format (header, optional embedded model,
//!   chunks, index, footer). See `docs/FORMAT.md`.
//! - [`compress`]: the pipeline (chunking, batched neural coding, archive
//!   writing and reading); [`default_models`]: built-in models by fingerprint;
//!   [`levels`]: the compression levels, frozen presets of the two.
//! - [`analyze`]: where the bits go, per table column or text field, for
//!   `boa-det analyze` (reporting only; floats allowed, nothing it computes
//!   reaches a coder).
//! - [`vectors`] (feature `cli`): the portability vectors (golden digests)
//!   generator and checker behind `boa-det vectors`.
//! - [`cli`] (feature `cli`, on by default): the `boa-det` command line, with
//!   its safe file output and the classical codecs of `bench`. Without it the
//!   library has no command-line dependencies.

pub mod analyze;
#[cfg(feature = "cli")]
pub mod cli;
pub mod cm;
pub mod coder;
pub mod compress;
pub mod container;
pub mod default_models;
pub mod engine;
pub mod eval;
pub mod intmath;
pub mod levels;
pub mod mixing;
pub mod model;
#[cfg(feature = "cli")]
pub mod vectors;
