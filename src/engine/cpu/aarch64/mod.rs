//! aarch64 kernels: three levels of the dispatch table, each computing exactly
//! the integers of the scalar reference (`docs/KERNELS.md`, "aarch64").
//!
//! - `neon`: Advanced SIMD, present on every aarch64 core. The GEMM multiplies
//!   sign-extended 16-bit operands (`smlal` by lane, [`neon`]); the
//!   requantizations, the scan and the gate are NEON too ([`neon_eltwise`]).
//! - `dotprod`: `neon` with the Armv8.2 int8 dot product (`sdot` by lane,
//!   [`dotprod`]): four exact int8 products per int32 lane.
//! - `i8mm`: `neon` with the Armv8.6 int8 matrix multiply (`smmla`, [`i8mm`]):
//!   a 2x8 by 8x2 int8 product per instruction, two weight rows against two
//!   streams.
//!
//! Each level has a `supported()` check; its `#[target_feature]` bodies are
//! only entered after that check passed. `sdot` and `smmla` are written as
//! inline assembly: their `core::arch` intrinsics are not stable Rust yet.
//! Integer additions in the accumulators wrap (they never saturate), so the
//! sums are exact whatever their order: the true results fit int32 (§9.1).
#![deny(clippy::float_arithmetic)]

// The SIMD scan is written for 16 states per channel.
const _: () = assert!(crate::model::D_STATE == 16);

pub mod dotprod;
pub mod i8mm;
pub mod neon;
pub mod neon_eltwise;

/// Whether the `dotprod` level can run: `sdot`/`udot` (FEAT_DotProd).
pub fn dotprod_supported() -> bool {
    std::arch::is_aarch64_feature_detected!("neon")
        && std::arch::is_aarch64_feature_detected!("dotprod")
}

/// Whether the `i8mm` level can run: `smmla` (FEAT_I8MM).
pub fn i8mm_supported() -> bool {
    dotprod_supported() && std::arch::is_aarch64_feature_detected!("i8mm")
}
