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
            "arith version 9 is not supported",
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

/// An arith version this build lacks is refused naming the range it has,
/// derived from the versions it implements.
#[test]
fn unknown_arith_version_names_the_implemented_range() {
    use boa_det::intmath::ArithVersion;
    assert_eq!(ArithVersion::OLDEST, ArithVersion::ALL[0]);
    assert_eq!(Some(&ArithVersion::NEWEST), ArithVersion::ALL.last());
    let too_new = ArithVersion::NEWEST.number() + 1;
    let b = rewrite_header(&small().to_bytes(), |h| {
        h.replacen(
            "\"arith_version\":\"1\"",
            &format!("\"arith_version\":\"{too_new}\""),
            1,
        )
    });
    let err = Model::from_bytes(&b).unwrap_err().to_string();
    assert!(
        err.ends_with(&format!(
            "arith version {too_new} is not supported (this build implements 1 to {})",
            ArithVersion::NEWEST
        )),
        "{err}"
    );
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
    use boa_det::intmath::ArithVersion;
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

/// A file whose first 8 bytes claim a safetensors header of `claim` bytes,
/// followed by `body`.
fn claiming_header(claim: u64, body: &[u8]) -> Vec<u8> {
    let mut b = claim.to_le_bytes().to_vec();
    b.extend_from_slice(body);
    b
}

/// JSON that costs many times its length to parse: one tensor whose shape is
/// a list of `n` zeros (the parser builds a value per element).
fn costly_header_json(n: usize) -> Vec<u8> {
    let mut j = b"{\"t\":{\"dtype\":\"I8\",\"shape\":[0".to_vec();
    j.extend(std::iter::repeat_n(&b",0"[..], n - 1).flatten());
    j.extend_from_slice(b"],\"data_offsets\":[0,0]}}");
    j
}

/// A header length above the limit is refused from the first 8 bytes, before
/// the header is parsed (it used to be parsed whatever its size: a crafted
/// 80 MB header took the process to 1.3 GB and more before it was refused).
#[test]
fn oversized_header_lengths_are_refused_before_parsing() {
    use boa_det::model::file::MAX_HEADER_BYTES;
    let too_long = MAX_HEADER_BYTES as u64 + 1;
    let json = costly_header_json(1 << 20);
    for (claim, body) in [
        (80_000_000, &b"{junk"[..]),
        (80_000_000, &json[..]),
        (too_long, &json[..]),
        (u64::MAX, &b"{}"[..]),
    ] {
        let err = Model::from_bytes(&claiming_header(claim, body)).unwrap_err();
        assert!(
            matches!(err, ModelError::TooLarge(_)),
            "claim {claim}: {err}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains(&claim.to_string()) && msg.contains(&MAX_HEADER_BYTES.to_string()),
            "claim {claim}: {msg}"
        );
    }
    // A length within the limit but past the end of the bytes is named too.
    let err = Model::from_bytes(&claiming_header(1000, b"{}")).unwrap_err();
    assert!(err.to_string().contains("only 10"), "{err}");
}

/// `Model::load` checks the lengths before reading what they cover: a file
/// too large, a header too long, or a device with no end is refused without
/// reading it whole.
#[test]
fn load_refuses_crafted_lengths_without_reading_everything() {
    use boa_det::model::file::{MAX_HEADER_BYTES, MAX_MODEL_FILE_BYTES};
    let dir = tempfile::tempdir().unwrap();
    let header = dir.path().join("header.safetensors");
    std::fs::write(
        &header,
        claiming_header(80_000_000, &costly_header_json(1 << 16)),
    )
    .unwrap();
    let err = Model::load(&header).unwrap_err();
    assert!(matches!(err, ModelError::TooLarge(_)), "{err}");
    assert!(
        err.to_string().contains(&MAX_HEADER_BYTES.to_string()),
        "{err}"
    );

    // Sparse: 1 GiB + 1 bytes on disk cost nothing, and are never read.
    let big = dir.path().join("big.safetensors");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(MAX_MODEL_FILE_BYTES as u64 + 1).unwrap();
    let err = Model::load(&big).unwrap_err();
    assert!(matches!(err, ModelError::TooLarge(_)), "{err}");

    // A valid model still loads, and trailing bytes are refused.
    let good = dir.path().join("good.safetensors");
    std::fs::write(&good, small().to_bytes()).unwrap();
    assert_eq!(Model::load(&good).unwrap(), small());
    let mut trailing = small().to_bytes();
    trailing.push(0);
    std::fs::write(&good, trailing).unwrap();
    assert!(Model::load(&good).is_err());

    #[cfg(unix)]
    {
        let err = Model::load(std::path::Path::new("/dev/zero")).unwrap_err();
        assert!(matches!(err, ModelError::Safetensors(_)), "{err}");
    }
}

/// The header limit holds the largest model the loader accepts: the walk has
/// the counted tensors with names within the bound, and the header of a model
/// with the most layers and the worst description (every byte escaped) fits
/// with room for its dims and offsets to grow to the widest model's digits.
#[test]
fn header_limit_holds_the_largest_legitimate_header() {
    use boa_det::model::file::{
        MAX_DESCRIPTION_BYTES, MAX_HEADER_BYTES, MAX_TENSOR_NAME_BYTES, MAX_TENSORS,
        TENSORS_OUTSIDE_LAYERS, TENSORS_PER_LAYER, visit_tensors, zero_model,
    };
    use boa_det::model::{MAX_D_MODEL, MAX_LAYERS};
    let mut m = zero_model(Dims {
        d_model: 16,
        n_layers: MAX_LAYERS,
    });
    let (mut count, mut longest) = (0, 0);
    visit_tensors(&mut m, &mut |name, shape, _| {
        count += 1;
        longest = longest.max(name.len());
        assert!(shape.len() <= 3, "{name}: rank {}", shape.len());
        Ok(())
    })
    .unwrap();
    assert_eq!(count, MAX_TENSORS);
    assert_eq!(
        MAX_TENSORS,
        TENSORS_PER_LAYER * MAX_LAYERS + TENSORS_OUTSIDE_LAYERS
    );
    assert!(longest <= MAX_TENSOR_NAME_BYTES, "{longest}");
    // Every dim of the widest model has at most 5 digits.
    let widest = Dims {
        d_model: MAX_D_MODEL,
        n_layers: 1,
    };
    for dim in [
        256,
        widest.d_ff(),
        2 * widest.d_inner(),
        widest.x_proj_out(),
    ] {
        assert!(dim < 100_000, "{dim}");
    }

    m.description = "\u{1}".repeat(MAX_DESCRIPTION_BYTES);
    let bytes = boa_det::model::file::to_bytes(&m);
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    // Per tensor: three dims growing from 1 digit to 5, two offsets to 10.
    let growth = MAX_TENSORS * (3 * 4 + 2 * 9);
    assert!(
        header_len + growth <= MAX_HEADER_BYTES,
        "{header_len} + {growth} > {MAX_HEADER_BYTES}"
    );
}
