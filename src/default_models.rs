//! Models built into the binary, found by fingerprint.
//!
//! There is no trained default model yet, so the registry is empty:
//! compressing without `--model` fails with a clear message, and archives that
//! neither embed their model nor come with `--model` cannot be decoded.

use crate::model::Fingerprint;

/// `(fingerprint, model file bytes)` of every built-in model.
static REGISTRY: &[([u8; 16], &[u8])] = &[];

/// Fingerprint of the model `compress` uses without `--model`; `None` while no
/// default model is built in.
const DEFAULT: Option<[u8; 16]> = None;

/// The message shown when a default model is needed but none is built in.
pub const NO_DEFAULT_MODEL: &str =
    "no default model is built into this binary yet; pass --model FILE";

/// The bytes of the built-in model with fingerprint `fp`, if any.
pub fn lookup(fp: &Fingerprint) -> Option<&'static [u8]> {
    REGISTRY
        .iter()
        .find(|(f, _)| *f == fp.0)
        .map(|&(_, bytes)| bytes)
}

/// The bytes of the default model, if one is built in.
pub fn default_model() -> Option<&'static [u8]> {
    DEFAULT.and_then(|fp| lookup(&Fingerprint(fp)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn registry_is_empty_for_now() {
        assert!(super::default_model().is_none());
        assert!(super::lookup(&crate::model::Fingerprint([0; 16])).is_none());
    }
}
