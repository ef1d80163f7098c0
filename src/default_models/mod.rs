//! Models built into the binary, found by fingerprint.
//!
//! Every default model ever shipped stays here forever, so archives made by
//! older releases keep decoding without `--model`. `DEFAULT` names the one that
//! `compress` uses today. The recipe of each is in `docs/MODELS.md`.

use crate::model::Fingerprint;

/// Default model v1 (boa-det 0.1.0): d=128, 1 layer, trained on ../shared/data
/// (recipe: `quantize/recipes/default-v1.sh`).
const DEFAULT_V1: [u8; 16] = [
    0x7a, 0xd7, 0x4a, 0xf8, 0x4d, 0x9e, 0xa5, 0x07, 0x4b, 0xdd, 0x72, 0x28, 0x32, 0x06, 0xe1, 0xfd,
];

/// Default model v2 (boa-det 0.1.1): v1's float weights re-quantized
/// with the measured scan-scale and clip search (recipe: `quantize/recipes/default-v2.sh`).
const DEFAULT_V2: [u8; 16] = [
    0x20, 0xff, 0xe5, 0xf5, 0xbc, 0x07, 0xdc, 0x54, 0xbd, 0x0a, 0x18, 0xd2, 0x86, 0x68, 0x04, 0x8a,
];

/// Default model v3 (boa-det 0.2.0): v1's float weights quantized to arith v2
/// (ARITHMETIC.md §6) with the same search, used with 64 KiB chunks, and with
/// 256 KiB chunks from 0.3.0 on (recipe: `quantize/recipes/default-v3.sh`).
const DEFAULT_V3: [u8; 16] = [
    0xd2, 0x9d, 0x2b, 0xcb, 0x34, 0x9d, 0x47, 0x4d, 0xd4, 0x19, 0xa6, 0x43, 0x3a, 0x9e, 0x04, 0xe3,
];

/// Default model v4 (boa-det 0.3.0): v1's float weights quantized to arith v2
/// as v3, with the float32 table weighted x3 in the calibration, used with
/// 256 KiB chunks (recipe: `quantize/recipes/default-v4.sh`).
const DEFAULT_V4: [u8; 16] = [
    0xfc, 0x7f, 0xef, 0xdc, 0x24, 0x38, 0x28, 0x56, 0x2a, 0x1e, 0x2b, 0xac, 0xdc, 0x3e, 0x12, 0xa2,
];

/// Default model v5 (boa-det 0.3.0, its default): v1's float weights annealed for 1,200 steps
/// (v1 had stopped at its peak learning rate), quantized to arith v2 as v4, used
/// with 256 KiB chunks (recipe: `quantize/recipes/default-v5.sh`).
const DEFAULT_V5: [u8; 16] = [
    0x0c, 0x13, 0x42, 0xce, 0x7a, 0x6d, 0x90, 0x40, 0x24, 0x91, 0x42, 0x3a, 0x71, 0x2e, 0x8d, 0xdd,
];

/// One built-in model.
struct Builtin {
    fingerprint: [u8; 16],
    name: &'static str,
    /// The chunk length `compress` uses with this model unless `--chunk-size`
    /// is given, as measured in `docs/MODELS.md`. It may change between
    /// releases: readers take the chunk length from the archive.
    chunk_len: u32,
    /// The chunk length of its golden archives in `portability-vectors/`:
    /// `chunk_len` when it shipped, frozen so that the generator keeps
    /// producing the recorded bytes.
    golden_chunk_len: u32,
    bytes: &'static [u8],
}

/// Every built-in model, oldest first. Entries are only ever added: each has a
/// golden archive in `portability-vectors/archives/`.
static REGISTRY: &[Builtin] = &[
    Builtin {
        fingerprint: DEFAULT_V1,
        name: "default-v1",
        chunk_len: 4 << 10,
        golden_chunk_len: 4 << 10,
        bytes: include_bytes!("default-v1-d128.safetensors"),
    },
    Builtin {
        fingerprint: DEFAULT_V2,
        name: "default-v2",
        chunk_len: 4 << 10,
        golden_chunk_len: 4 << 10,
        bytes: include_bytes!("default-v2-d128.safetensors"),
    },
    Builtin {
        fingerprint: DEFAULT_V3,
        name: "default-v3",
        // 64 KiB in 0.2.0 (docs/MODELS.md, "Longer chunks").
        chunk_len: 256 << 10,
        golden_chunk_len: 64 << 10,
        bytes: include_bytes!("default-v3-d128.safetensors"),
    },
    Builtin {
        fingerprint: DEFAULT_V4,
        name: "default-v4",
        chunk_len: 256 << 10,
        golden_chunk_len: 256 << 10,
        bytes: include_bytes!("default-v4-d128.safetensors"),
    },
    Builtin {
        fingerprint: DEFAULT_V5,
        name: "default-v5",
        chunk_len: 256 << 10,
        golden_chunk_len: 256 << 10,
        bytes: include_bytes!("default-v5-d128.safetensors"),
    },
];

/// Fingerprint of the model `compress` uses without `--model`.
const DEFAULT: Option<[u8; 16]> = Some(DEFAULT_V5);

/// The message shown when a default model is needed but none is built in.
pub const NO_DEFAULT_MODEL: &str = "no default model is built into this binary; pass --model FILE";

/// The bytes of the built-in model with fingerprint `fp`, if any.
pub fn lookup(fp: &Fingerprint) -> Option<&'static [u8]> {
    REGISTRY
        .iter()
        .find(|b| b.fingerprint == fp.0)
        .map(|b| b.bytes)
}

/// The chunk length `compress` uses with a built-in model, `None` for other models.
fn chunk_len(fp: &Fingerprint) -> Option<u32> {
    REGISTRY
        .iter()
        .find(|b| b.fingerprint == fp.0)
        .map(|b| b.chunk_len)
}

/// `(name, fingerprint, golden chunk length, model file bytes)` of every
/// built-in model, oldest first. The golden chunk length is the one its golden
/// archives use, not necessarily what `compress` uses today.
pub fn builtin() -> impl Iterator<Item = (&'static str, Fingerprint, u32, &'static [u8])> {
    REGISTRY.iter().map(|b| {
        (
            b.name,
            Fingerprint(b.fingerprint),
            b.golden_chunk_len,
            b.bytes,
        )
    })
}

/// The chunk length `compress` uses with `model` unless told otherwise: a
/// built-in model's own; for other models, [`ARITH_V1_CHUNK_LEN`] under arith
/// v1 and [`ARITH_V2_CHUNK_LEN`] from arith v2 on.
pub fn compress_chunk_len(model: &crate::model::Model) -> u32 {
    chunk_len(&model.fingerprint()).unwrap_or(match model.arith {
        crate::intmath::ArithVersion::V1 => ARITH_V1_CHUNK_LEN,
        crate::intmath::ArithVersion::V2 => ARITH_V2_CHUNK_LEN,
    })
}

/// Chunk length for arith v1 models: their states may stop forgetting, so they
/// get worse with longer chunks (docs/FORMAT.md section 5.1).
pub const ARITH_V1_CHUNK_LEN: u32 = 4 << 10;
/// Chunk length for arith v2 models: every state forgets, and the match model
/// and column histograms learn more from longer chunks (docs/MODELS.md,
/// "Longer chunks").
pub const ARITH_V2_CHUNK_LEN: u32 = 256 << 10;

/// The bytes of the default model, if one is built in.
pub fn default_model() -> Option<&'static [u8]> {
    DEFAULT.and_then(|fp| lookup(&Fingerprint(fp)))
}

/// The fingerprint of the default model, if one is built in.
pub fn default_fingerprint() -> Option<Fingerprint> {
    DEFAULT.map(Fingerprint)
}

#[cfg(test)]
mod tests {
    use crate::model::Model;

    #[test]
    fn every_builtin_model_loads_and_matches_its_fingerprint() {
        for b in super::REGISTRY {
            let m = Model::from_bytes(b.bytes).expect("built-in model is valid");
            for len in [b.chunk_len, b.golden_chunk_len] {
                assert!((1..=crate::container::MAX_CHUNK_LEN).contains(&len));
            }
            assert_eq!(
                m.fingerprint().0,
                b.fingerprint,
                "registry key differs from the file's fingerprint"
            );
        }
        assert!(super::default_model().is_some());
    }

    /// `compress` uses a built-in model's own chunk length, and for other
    /// models the one of their arithmetic. The golden chunk length of the
    /// models that shipped stays as it was, whatever `compress` uses now.
    #[test]
    fn compress_chunk_len_by_model() {
        use crate::intmath::ArithVersion;
        use crate::model::Dims;
        use crate::model::synth::{SynthKind, random_model_in};
        let default = Model::from_bytes(super::default_model().unwrap()).unwrap();
        assert_eq!(super::compress_chunk_len(&default), 256 << 10);
        let golden: Vec<u32> = super::builtin().map(|(_, _, len, _)| len).collect();
        assert_eq!(golden, [4 << 10, 4 << 10, 64 << 10, 256 << 10, 256 << 10]);
        let dims = Dims {
            d_model: 16,
            n_layers: 1,
        };
        for (arith, want) in [
            (ArithVersion::V1, super::ARITH_V1_CHUNK_LEN),
            (ArithVersion::V2, super::ARITH_V2_CHUNK_LEN),
        ] {
            let m = random_model_in(arith, dims, SynthKind::Typical, 3).unwrap();
            assert_eq!(super::compress_chunk_len(&m), want);
        }
    }
}
