//! The kernel dispatch table (modelled on tract-linalg): one generic scalar
//! implementation of each hot operation beside per-architecture versions, and a
//! table of function pointers chosen once at start-up from the CPU features.
//!
//! Every level computes exactly the integers of the scalar reference in
//! [`super::kernels`] (`docs/ARITHMETIC.md` §1.3, §10); the tests in
//! `tests/kernels.rs` check this bit for bit for each level the CPU supports.
//!
//! Levels: `scalar` everywhere; `avx2`, `avxvnni` and `avx512` on x86-64;
//! `neon`, `dotprod` and `i8mm` on aarch64.
//!
//! Selection: the best level the CPU supports, unless the environment variable
//! `BOA_DET_KERNELS=scalar|avx2|avxvnni|avx512|neon|dotprod|i8mm` forces one. An unknown or
//! unsupported forced level is an error, reported by [`selected`]; the CLI
//! checks it before any work, and [`active`] never panics.
#![deny(clippy::float_arithmetic)]

use crate::engine::reference::{requant_to_q8, requant_to_q16, requant_wide_to_q8};
use crate::model::{Linear, Requant};
use std::cell::RefCell;
use std::sync::OnceLock;

// The packed weights and the kernel signatures live in `kernel_types`, which
// the per-architecture levels import too (no import cycle through here).
pub use super::kernel_types::*;

/// One kernel level: a name and a function per operation.
#[derive(Clone, Copy)]
pub struct Kernels {
    pub name: &'static str,
    pub pack: PackFn,
    pub gemm: GemmFn,
    pub gemm_q8: GemmQ8Fn,
    pub gemm_q16: GemmQ16Fn,
    pub scan: ScanFn,
    pub requant_q8: RequantQ8Fn,
    pub requant_q16: RequantQ16Fn,
    pub requant_wide: RequantWideFn,
    pub conv: ConvFn,
    pub layer_norm: LayerNormFn,
    pub lut_q8: LutQ8Fn,
    pub lut_u16: LutU16Fn,
    pub gate: GateFn,
    pub head_frequencies: HeadFreqFn,
}

impl std::fmt::Debug for Kernels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kernels({})", self.name)
    }
}

/// The level names accepted by `BOA_DET_KERNELS`: the portable reference,
/// then the x86-64 levels and the aarch64 levels, each best last.
pub const LEVELS: [&str; 7] = [
    "scalar", "avx2", "avxvnni", "avx512", "neon", "dotprod", "i8mm",
];

impl Kernels {
    /// The generic reference level: plain Rust, row-major weights.
    pub fn scalar() -> Kernels {
        Kernels {
            name: "scalar",
            pack: pack_scalar,
            gemm: gemm_scalar,
            gemm_q8: gemm_q8_scalar,
            gemm_q16: gemm_q16_scalar,
            scan: crate::engine::reference::scan_step,
            requant_q8: requant_to_q8,
            requant_q16: requant_to_q16,
            requant_wide: requant_wide_to_q8,
            conv: conv_reference,
            layer_norm: crate::engine::reference::layer_norm,
            lut_q8: crate::engine::reference::lut_q8,
            lut_u16: crate::engine::reference::lut_u16,
            gate: crate::engine::reference::gate,
            head_frequencies: crate::engine::reference::head_frequencies,
        }
    }

    /// AVX2: sign-extended 16-bit operands, `vpmaddwd`. `None` if unsupported.
    pub fn avx2() -> Option<Kernels> {
        #[cfg(target_arch = "x86_64")]
        if super::x86::avx2::supported() {
            return Some(Kernels {
                name: "avx2",
                pack: super::x86::avx2::pack,
                gemm: super::x86::avx2::gemm,
                gemm_q8: gemm_q8_avx2,
                gemm_q16: gemm_q16_avx2,
                scan: super::x86::avx2::scan_step,
                requant_q8: super::x86::avx2_eltwise::requant_to_q8,
                requant_q16: super::x86::avx2_eltwise::requant_to_q16,
                requant_wide: super::x86::avx2_eltwise::requant_wide_to_q8,
                conv: super::x86::avx2_eltwise::conv_step,
                layer_norm: super::x86::avx2_eltwise::layer_norm,
                lut_q8: crate::engine::reference::lut_q8,
                lut_u16: crate::engine::reference::lut_u16,
                gate: super::x86::avx2_eltwise::gate,
                head_frequencies: super::x86::avx2_eltwise::head_frequencies,
            });
        }
        None
    }

    /// AVX-512 VNNI: `vpdpbusd` with the +128 activation offset. `None` if unsupported.
    /// The avx2 level with the AVX-VNNI GEMM (`vpdpbusd` on ymm), for CPUs that
    /// have AVX-VNNI but not AVX-512.
    pub fn avxvnni() -> Option<Kernels> {
        #[cfg(target_arch = "x86_64")]
        if super::x86::avxvnni::supported() {
            return Kernels::avx2().map(|k| Kernels {
                name: "avxvnni",
                pack: super::x86::avxvnni::pack,
                gemm: super::x86::avxvnni::gemm,
                gemm_q8: gemm_q8_avxvnni,
                gemm_q16: gemm_q16_avxvnni,
                ..k
            });
        }
        None
    }

    pub fn avx512vnni() -> Option<Kernels> {
        #[cfg(target_arch = "x86_64")]
        if super::x86::avx512::supported() && super::x86::avx512_eltwise::supported() {
            return Some(Kernels {
                name: "avx512",
                pack: super::x86::avx512::pack,
                gemm: super::x86::avx512::gemm,
                gemm_q8: super::x86::avx512::gemm_q8,
                gemm_q16: super::x86::avx512::gemm_q16,
                scan: super::x86::avx512_scan::scan_step,
                requant_q8: super::x86::avx512_eltwise::requant_to_q8,
                requant_q16: super::x86::avx512_eltwise::requant_to_q16,
                requant_wide: super::x86::avx512_eltwise::requant_wide_to_q8,
                conv: super::x86::avx512_eltwise::conv_step,
                layer_norm: super::x86::avx512_eltwise::layer_norm,
                lut_q8: if super::x86::avx512_eltwise::vbmi_supported() {
                    super::x86::avx512_eltwise::lut_q8
                } else {
                    crate::engine::reference::lut_q8
                },
                lut_u16: super::x86::avx512_eltwise::lut_u16,
                gate: super::x86::avx512_eltwise::gate,
                head_frequencies: super::x86::avx512_eltwise::head_frequencies,
            });
        }
        None
    }

    /// aarch64 NEON: `smlal` on sign-extended 16-bit operands, NEON
    /// requantizations, scan and gate. `None` on other architectures.
    pub fn neon() -> Option<Kernels> {
        #[cfg(target_arch = "aarch64")]
        if super::aarch64::neon::supported() {
            use super::aarch64::{neon, neon_eltwise};
            return Some(Kernels {
                name: "neon",
                pack: neon::pack,
                gemm: neon::gemm,
                gemm_q8: gemm_q8_neon,
                gemm_q16: gemm_q16_neon,
                scan: neon_eltwise::scan_step,
                requant_q8: neon_eltwise::requant_to_q8,
                requant_q16: neon_eltwise::requant_to_q16,
                requant_wide: requant_wide_to_q8,
                conv: neon_eltwise::conv_step,
                layer_norm: crate::engine::reference::layer_norm,
                lut_q8: crate::engine::reference::lut_q8,
                lut_u16: crate::engine::reference::lut_u16,
                gate: neon_eltwise::gate,
                head_frequencies: crate::engine::reference::head_frequencies,
            });
        }
        None
    }

    /// The neon level with the Armv8.2 dot-product GEMM (`sdot`).
    pub fn dotprod() -> Option<Kernels> {
        #[cfg(target_arch = "aarch64")]
        if super::aarch64::dotprod::supported() {
            return Kernels::neon().map(|k| Kernels {
                name: "dotprod",
                pack: super::aarch64::dotprod::pack,
                gemm: super::aarch64::dotprod::gemm,
                gemm_q8: gemm_q8_dotprod,
                gemm_q16: gemm_q16_dotprod,
                ..k
            });
        }
        None
    }

    /// The neon level with the Armv8.6 int8 matrix-multiply GEMM (`smmla`).
    pub fn i8mm() -> Option<Kernels> {
        #[cfg(target_arch = "aarch64")]
        if super::aarch64::i8mm::supported() {
            return Kernels::neon().map(|k| Kernels {
                name: "i8mm",
                pack: super::aarch64::i8mm::pack,
                gemm: super::aarch64::i8mm::gemm,
                gemm_q8: gemm_q8_i8mm,
                gemm_q16: gemm_q16_i8mm,
                ..k
            });
        }
        None
    }

    /// A level by name, or an error if the name is unknown or the CPU lacks it.
    pub fn by_name(name: &str) -> Result<Kernels, LevelError> {
        let available = Kernels::available();
        let names: Vec<&'static str> = available.iter().map(|k| k.name).collect();
        let chosen = choose_level(Some(name), &names)?;
        Ok(*available
            .iter()
            .find(|k| k.name == chosen)
            .expect("choose_level picks an available level"))
    }

    /// Every level this CPU supports, scalar first.
    pub fn available() -> Vec<Kernels> {
        [
            Some(Kernels::scalar()),
            Kernels::avx2(),
            Kernels::avxvnni(),
            Kernels::avx512vnni(),
            Kernels::neon(),
            Kernels::dotprod(),
            Kernels::i8mm(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The best level this CPU supports.
    pub fn best() -> Kernels {
        *Kernels::available()
            .last()
            .expect("scalar is always available")
    }
}

/// Why a requested kernel level cannot be used. The message names the levels
/// this CPU supports (best last).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LevelError {
    #[error(
        "unknown kernel level {requested:?} (levels: {}; this CPU supports {})",
        LEVELS.join(", "),
        .available.join(", ")
    )]
    Unknown {
        requested: String,
        available: Vec<&'static str>,
    },
    #[error(
        "kernel level {requested:?} is not supported by this CPU (it supports {})",
        .available.join(", ")
    )]
    Unsupported {
        requested: String,
        available: Vec<&'static str>,
    },
}

/// The level to use, given the requested one (`None` or empty: the best) and
/// the levels a CPU supports, oldest first (`Kernels::available`'s names; a
/// parameter so that other CPUs can be simulated).
pub fn choose_level(
    requested: Option<&str>,
    available: &[&'static str],
) -> Result<&'static str, LevelError> {
    let Some(requested) = requested.filter(|r| !r.is_empty()) else {
        return Ok(available.last().copied().unwrap_or("scalar"));
    };
    let err = |unknown: bool| {
        let (requested, available) = (requested.to_string(), available.to_vec());
        if unknown {
            LevelError::Unknown {
                requested,
                available,
            }
        } else {
            LevelError::Unsupported {
                requested,
                available,
            }
        }
    };
    let level = LEVELS
        .into_iter()
        .find(|&l| l == requested)
        .ok_or_else(|| err(true))?;
    if available.contains(&level) {
        Ok(level)
    } else {
        Err(err(false))
    }
}

/// The environment variable that forces a kernel level.
pub const KERNELS_ENV: &str = "BOA_DET_KERNELS";

/// The level selected once for this process (see the module docs): the error
/// is one line naming [`KERNELS_ENV`], its value and the levels this CPU
/// supports.
pub fn selected() -> Result<Kernels, String> {
    static SELECTED: OnceLock<Result<Kernels, String>> = OnceLock::new();
    SELECTED
        .get_or_init(|| {
            let requested = std::env::var_os(KERNELS_ENV).map(|v| v.to_string_lossy().into_owned());
            match requested.as_deref() {
                Some(r) if !r.is_empty() => {
                    Kernels::by_name(r).map_err(|e| format!("{KERNELS_ENV}={r}: {e}"))
                }
                _ => Ok(Kernels::best()),
            }
        })
        .clone()
}

/// The level to compute with: [`selected`], or the best level if the forced
/// one is unusable. Every level computes the same integers, so this never
/// changes a result, only the speed; the CLI refuses an unusable
/// `BOA_DET_KERNELS` at start-up, and library callers that want the error
/// call [`selected`].
pub fn active() -> Kernels {
    selected().unwrap_or_else(|_| Kernels::best())
}

/// [`crate::engine::reference::conv_step`] behind the [`ConvFn`] signature.
fn conv_reference(
    x: &[i8],
    window: &mut [i8],
    weight: &[i8],
    _weight_t: &[i32],
    bias: &[i32],
    rq: &Requant,
    out: &mut [i8],
) {
    crate::engine::reference::conv_step(x, window, weight, bias, rq, out)
}

fn pack_scalar(l: &Linear) -> PackedLinear {
    PackedLinear {
        rows: l.rows,
        cols: l.cols,
        data8: l.weight.clone(),
        data16: Vec::new(),
        corr: PackedLinear::new_corr(l, 0),
        rq: l.rq.clone(),
        rq_lanes: Vec::new(),
    }
}

/// The reference GEMM: the literal formula of §1.3 per stream.
fn gemm_scalar(p: &PackedLinear, a: &[i8], n: usize, acc: &mut [i32]) {
    let (rows, cols) = (p.rows, p.cols);
    assert!(a.len() >= n * cols && acc.len() >= n * rows);
    for s in 0..n {
        let x = &a[s * cols..(s + 1) * cols];
        for (j, (row, out)) in p
            .data8
            .chunks_exact(cols)
            .zip(acc[s * rows..(s + 1) * rows].iter_mut())
            .enumerate()
        {
            let dot: i32 = row.iter().zip(x).map(|(&w, &v)| w as i32 * v as i32).sum();
            *out = dot + p.corr[j];
        }
    }
}

thread_local! {
    /// The int32 accumulators of the unfused requantizing GEMMs.
    static UNFUSED_ACC: RefCell<Vec<i32>> = const { RefCell::new(Vec::new()) };
}

/// The unfused form of [`GemmQ8Fn`] / [`GemmQ16Fn`]: a level's GEMM into int32
/// accumulators, then its requantization of each stream's row.
fn gemm_then_requant<T>(
    gemm: GemmFn,
    requant: fn(&[i32], &Requant, &mut [T]),
    p: &PackedLinear,
    a: &[i8],
    n: usize,
    out: &mut [T],
) {
    let rows = p.rows;
    assert!(out.len() >= n * rows, "GEMM output too short");
    UNFUSED_ACC.with(|acc| {
        let mut acc = acc.borrow_mut();
        acc.clear();
        acc.resize(n * rows, 0);
        gemm(p, a, n, &mut acc);
        for (o, x) in out[..n * rows]
            .chunks_exact_mut(rows)
            .zip(acc.chunks_exact(rows))
        {
            requant(x, &p.rq, o);
        }
    })
}

/// Stamps out a level's unfused requantizing GEMMs from its GEMM and requantizations.
macro_rules! unfused_gemm_requant {
    ($q8:ident, $q16:ident, $gemm:path, $rq8:path, $rq16:path) => {
        fn $q8(p: &PackedLinear, a: &[i8], n: usize, out: &mut [i8]) {
            gemm_then_requant($gemm, $rq8, p, a, n, out)
        }
        fn $q16(p: &PackedLinear, a: &[i8], n: usize, out: &mut [i16]) {
            gemm_then_requant($gemm, $rq16, p, a, n, out)
        }
    };
}

unfused_gemm_requant!(
    gemm_q8_scalar,
    gemm_q16_scalar,
    gemm_scalar,
    requant_to_q8,
    requant_to_q16
);
#[cfg(target_arch = "x86_64")]
unfused_gemm_requant!(
    gemm_q8_avx2,
    gemm_q16_avx2,
    super::x86::avx2::gemm,
    super::x86::avx2_eltwise::requant_to_q8,
    super::x86::avx2_eltwise::requant_to_q16
);
#[cfg(target_arch = "x86_64")]
unfused_gemm_requant!(
    gemm_q8_avxvnni,
    gemm_q16_avxvnni,
    super::x86::avxvnni::gemm,
    super::x86::avx2_eltwise::requant_to_q8,
    super::x86::avx2_eltwise::requant_to_q16
);
#[cfg(target_arch = "aarch64")]
unfused_gemm_requant!(
    gemm_q8_neon,
    gemm_q16_neon,
    super::aarch64::neon::gemm,
    super::aarch64::neon_eltwise::requant_to_q8,
    super::aarch64::neon_eltwise::requant_to_q16
);
#[cfg(target_arch = "aarch64")]
unfused_gemm_requant!(
    gemm_q8_dotprod,
    gemm_q16_dotprod,
    super::aarch64::dotprod::gemm,
    super::aarch64::neon_eltwise::requant_to_q8,
    super::aarch64::neon_eltwise::requant_to_q16
);
#[cfg(target_arch = "aarch64")]
unfused_gemm_requant!(
    gemm_q8_i8mm,
    gemm_q16_i8mm,
    super::aarch64::i8mm::gemm,
    super::aarch64::neon_eltwise::requant_to_q8,
    super::aarch64::neon_eltwise::requant_to_q16
);

#[cfg(test)]
mod tests {
    use super::{LEVELS, LevelError, choose_level};

    /// A CPU with AVX-512 but without AVX-VNNI (a server core before Sapphire
    /// Rapids), and one with nothing but the scalar level.
    const AVX512_CPU: [&str; 3] = ["scalar", "avx2", "avx512"];
    const PLAIN_CPU: [&str; 1] = ["scalar"];
    /// An Armv8.6 core (Neoverse V2, Grace) and an Armv8.0 one (Cortex-A72).
    const AARCH64_CPU: [&str; 4] = ["scalar", "neon", "dotprod", "i8mm"];
    const ARMV80_CPU: [&str; 2] = ["scalar", "neon"];

    #[test]
    fn unforced_selection_is_the_best_level() {
        assert_eq!(choose_level(None, &AVX512_CPU), Ok("avx512"));
        assert_eq!(choose_level(Some(""), &AVX512_CPU), Ok("avx512"));
        assert_eq!(choose_level(None, &PLAIN_CPU), Ok("scalar"));
        assert_eq!(choose_level(None, &LEVELS[..4]), Ok("avx512"));
        assert_eq!(choose_level(None, &AARCH64_CPU), Ok("i8mm"));
    }

    #[test]
    fn a_supported_forced_level_is_used() {
        for level in AVX512_CPU {
            assert_eq!(choose_level(Some(level), &AVX512_CPU), Ok(level));
        }
        assert_eq!(choose_level(Some("avxvnni"), &LEVELS), Ok("avxvnni"));
        assert_eq!(choose_level(Some("dotprod"), &AARCH64_CPU), Ok("dotprod"));
    }

    #[test]
    fn an_unsupported_level_names_what_the_cpu_has() {
        let err = choose_level(Some("avxvnni"), &AVX512_CPU).unwrap_err();
        assert!(matches!(err, LevelError::Unsupported { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "kernel level \"avxvnni\" is not supported by this CPU (it supports scalar, avx2, avx512)"
        );
        let err = choose_level(Some("avx2"), &PLAIN_CPU).unwrap_err();
        assert!(err.to_string().ends_with("(it supports scalar)"), "{err}");
        let err = choose_level(Some("dotprod"), &ARMV80_CPU).unwrap_err();
        assert!(matches!(err, LevelError::Unsupported { .. }), "{err:?}");
        assert!(
            err.to_string().ends_with("(it supports scalar, neon)"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_level_names_every_level_and_what_the_cpu_has() {
        for bogus in ["bogus", "AVX2", "avx512 ", "sse9"] {
            let err = choose_level(Some(bogus), &AVX512_CPU).unwrap_err();
            assert!(matches!(err, LevelError::Unknown { .. }), "{err:?}");
            assert_eq!(
                err.to_string(),
                format!(
                    "unknown kernel level {bogus:?} (levels: scalar, avx2, avxvnni, avx512, \
                     neon, dotprod, i8mm; \
                     this CPU supports scalar, avx2, avx512)"
                )
            );
        }
    }
}
