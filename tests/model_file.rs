//! Malformed model files get errors naming the problem, never panics.

use boa_det::model::synth::{SynthKind, random_model};
use boa_det::model::{Dims, Model, ModelError};

fn small() -> Model {
    random_model(
        Dims {
            d_model: 16,
            n_layers: 1,
        },
        SynthKind::Typical,
        11,
    )
    .unwrap()
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = small().to_bytes();
    for len in 0..bytes.len() {
        assert!(
            Model::from_bytes(&bytes[..len]).is_err(),
            "truncated to {len} bytes was accepted"
        );
    }
}

#[test]
fn flipped_bytes_never_panic() {
    let bytes = small().to_bytes();
    // Every header byte, and a stride through the tensor data.
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize + 8;
    let positions = (0..header_len).chain((header_len..bytes.len()).step_by(7));
    for i in positions {
        let mut b = bytes.clone();
        b[i] ^= 0x5A;
        if let (Ok(m), true) = (Model::from_bytes(&b), i >= header_len) {
            // A flip inside tensor data may still be a valid model; it must be a different one.
            // (A flip in the header's description text leaves the fingerprint alone, by design.)
            assert_ne!(
                m.fingerprint(),
                small().fingerprint(),
                "flip at {i} kept the fingerprint"
            );
        }
    }
}

fn rewrite_header(bytes: &[u8], f: impl Fn(&str) -> String) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = f(std::str::from_utf8(&bytes[8..8 + n]).unwrap());
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&bytes[8 + n..]);
    out
}

#[test]
fn wrong_metadata_is_named() {
    let bytes = small().to_bytes();
    let cases = [
        (
            "\"arith_version\":\"1\"",
            "\"arith_version\":\"9\"",
            "arith version 9",
        ),
        (
            "\"format\":\"boa-det-int\"",
            "\"format\":\"boa-float\"",
            "float checkpoint",
        ),
        ("\"d_model\":\"16\"", "\"d_model\":\"17\"", "multiple of 16"),
        ("\"d_model\":\"16\"", "\"d_model\":\"32\"", "shape"),
        (
            "\"precision_bits\":\"24\"",
            "\"precision_bits\":\"16\"",
            "precision_bits",
        ),
    ];
    for (from, to, expect) in cases {
        let b = rewrite_header(&bytes, |h| h.replacen(from, to, 1));
        let err = Model::from_bytes(&b).unwrap_err().to_string();
        assert!(
            err.contains(expect),
            "{to}: error {err:?} does not mention {expect:?}"
        );
    }
}

#[test]
fn out_of_range_values_are_refused() {
    let mut m = small();
    m.layers[0].in_proj.weight[3] = -128;
    let err = Model::from_bytes(&boa_det::model::file::to_bytes(&m)).unwrap_err();
    assert!(matches!(err, ModelError::Range(_)), "{err}");

    let mut m = small();
    m.layers[0].ff2.bias.as_mut().unwrap()[0] = i32::MAX;
    let err = Model::from_bytes(&boa_det::model::file::to_bytes(&m)).unwrap_err();
    assert!(matches!(err, ModelError::Overflow(_)), "{err}");

    let mut m = small();
    m.exp2[10] = m.exp2[9] + 1;
    assert!(Model::from_bytes(&boa_det::model::file::to_bytes(&m)).is_err());
}
