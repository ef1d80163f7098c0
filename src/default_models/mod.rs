//! Models built into the binary, found by fingerprint.
//!
//! Every default model ever shipped stays here forever, so archives made by
//! older releases keep decoding without `--model`. `DEFAULT` names the one that
//! `compress` uses today. The recipe of each is in `docs/MODELS.md`.

use crate::model::Fingerprint;

/// Default model v1 (boa-det 0.1): d=128, 1 layer, trained on ../shared/data
/// (recipe: `quantize/recipes/default-v1.sh`).
const DEFAULT_V1: [u8; 16] = [
    0x7a, 0xd7, 0x4a, 0xf8, 0x4d, 0x9e, 0xa5, 0x07, 0x4b, 0xdd, 0x72, 0x28, 0x32, 0x06, 0xe1, 0xfd,
];

/// `(fingerprint, name, model file bytes)` of every built-in model. Entries are
/// only ever added: each has a golden archive in `portability-vectors/archives/`.
static REGISTRY: &[([u8; 16], &str, &[u8])] = &[(
    DEFAULT_V1,
    "default-v1",
    include_bytes!("default-v1-d128.safetensors"),
)];

/// Fingerprint of the model `compress` uses without `--model`.
const DEFAULT: Option<[u8; 16]> = Some(DEFAULT_V1);

/// The message shown when a default model is needed but none is built in.
pub const NO_DEFAULT_MODEL: &str = "no default model is built into this binary; pass --model FILE";

/// The bytes of the built-in model with fingerprint `fp`, if any.
pub fn lookup(fp: &Fingerprint) -> Option<&'static [u8]> {
    REGISTRY
        .iter()
        .find(|(f, _, _)| *f == fp.0)
        .map(|&(_, _, bytes)| bytes)
}

/// `(name, fingerprint, model file bytes)` of every built-in model, oldest first.
pub fn builtin() -> impl Iterator<Item = (&'static str, Fingerprint, &'static [u8])> {
    REGISTRY
        .iter()
        .map(|&(fp, name, bytes)| (name, Fingerprint(fp), bytes))
}

/// The bytes of the default model, if one is built in.
pub fn default_model() -> Option<&'static [u8]> {
    DEFAULT.and_then(|fp| lookup(&Fingerprint(fp)))
}

#[cfg(test)]
mod tests {
    use crate::model::Model;

    #[test]
    fn every_builtin_model_loads_and_matches_its_fingerprint() {
        for (fp, _, bytes) in super::REGISTRY {
            let m = Model::from_bytes(bytes).expect("built-in model is valid");
            assert_eq!(
                m.fingerprint().0,
                *fp,
                "registry key differs from the file's fingerprint"
            );
        }
        assert!(super::default_model().is_some());
    }
}
