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

/// Arith v2 bounds the scan state through the decay table (ARITHMETIC.md §9.3):
/// the slowest step the bound allows loads, one step slower is refused with an
/// error naming the table; the same table is fine in v1, whose bound does not
/// depend on it. The version is part of the fingerprint.
#[test]
fn arith_v2_decay_table_must_keep_the_state_bound() {
    use boa_det::arith::ArithVersion;
    use boa_det::model::synth::{random_model_in, slowest_v2_decay_step};
    let dims = Dims {
        d_model: 16,
        n_layers: 1,
    };
    let v2 = random_model_in(ArithVersion::V2, dims, SynthKind::Typical, 11).unwrap();
    let v1 = small();
    assert_ne!(v1.fingerprint(), v2.fingerprint());
    let reloaded = Model::from_bytes(&v2.to_bytes()).unwrap();
    assert_eq!(reloaded.arith, ArithVersion::V2);
    assert_eq!(reloaded.fingerprint(), v2.fingerprint());

    let limit = slowest_v2_decay_step();
    assert_eq!(limit, 65407, "ARITHMETIC.md §9.3 states this limit");
    for (step, ok) in [(limit, true), (limit + 1, false), (65535, false)] {
        for arith in [ArithVersion::V1, ArithVersion::V2] {
            let mut m = v2.clone();
            m.arith = arith;
            m.decay_exp2 = vec![step; 256];
            m.decay_exp2[0] = 65535;
            let got = Model::from_bytes(&m.to_bytes());
            if ok || arith == ArithVersion::V1 {
                assert!(got.is_ok(), "v{arith} step {step}: {:?}", got.err());
            } else {
                let err = got.unwrap_err().to_string();
                assert!(err.contains("decay_exp2"), "v{arith} step {step}: {err}");
            }
        }
    }
}
