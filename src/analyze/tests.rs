use super::*;
use crate::compress::{CompressOptions, compress_bytes};
use crate::container::ArchiveReader;
use crate::model::Dims;
use crate::model::Model;
use crate::model::synth::{SynthKind, random_model};

fn tiny() -> Model {
    random_model(
        Dims {
            d_model: 16,
            n_layers: 1,
        },
        SynthKind::Typical,
        3,
    )
    .unwrap()
}

/// HepMC-like text with some variety, `n` bytes.
fn text(n: usize) -> Vec<u8> {
    let mut s = String::from("HepMC::Version 3.02.05\nHepMC::Asciiv3-START_EVENT_LISTING\n");
    let mut k = 0u64;
    while s.len() < n {
        k = k
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        s += &format!(
            "P {} {} {} {:.6e} {:.6e} 1\n",
            k % 97,
            (k >> 7) % 13,
            [11i32, -11, 22, 211][(k >> 20) as usize % 4],
            (k >> 30) as f64 / 1e6,
            (k >> 40) as f64 / 1e3
        );
    }
    s.truncate(n);
    s.into_bytes()
}

/// The payload bytes of every chunk of an archive.
fn payload_len(archive: &[u8]) -> u64 {
    let r = ArchiveReader::from_bytes(archive).unwrap();
    r.entries()
        .iter()
        .map(|e| u64::from(e.compressed_size))
        .sum()
}

/// The replayed costs add up to the archive's payloads, up to the range
/// coder's flush (a few bytes per chunk) and the payload prefixes, for every
/// kind of chunk: the network with its secondary models, the context mixer,
/// the two joined, and stored chunks.
#[test]
fn replayed_costs_add_up_to_the_payloads() {
    let model = tiny();
    let data = text(40_000);
    let chunk_len = 12_000u32;
    let base = CompressOptions {
        chunk_len,
        ..CompressOptions::for_model(&model)
    };
    let cases = [
        ("network", base),
        (
            "cm",
            CompressOptions {
                context_mixing: Some(&crate::cm::PROFILES[0]),
                ..base
            },
        ),
        (
            "network+cm",
            CompressOptions {
                network_context_mixing: true,
                ..base
            },
        ),
    ];
    for (what, opts) in cases {
        let archive = compress_bytes(&model, &data, &opts).unwrap();
        let bits = costs::archive_byte_bits(Some(&model), &archive, &data).unwrap();
        assert_eq!(bits.len(), data.len());
        assert!(bits.iter().all(|b| b.is_finite() && *b >= 0.0), "{what}");
        let total_bytes: f64 = bits.iter().map(|&b| f64::from(b)).sum::<f64>() / 8.0;
        let payload = payload_len(&archive) as f64;
        let chunks = data.len().div_ceil(chunk_len as usize) as f64;
        assert!(
            total_bytes <= payload && payload - total_bytes <= 16.0 * chunks,
            "{what}: costs {total_bytes:.1} bytes, payloads {payload}"
        );
    }
    // Random bytes are stored: 8 bits each.
    let mut noise = vec![0u8; 30_000];
    let mut x = 1u64;
    for b in &mut noise {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = (x >> 32) as u8;
    }
    let archive = compress_bytes(&model, &noise, &base).unwrap();
    let bits = costs::archive_byte_bits(Some(&model), &archive, &noise).unwrap();
    assert!(bits.iter().all(|&b| b == 8.0));
}

#[test]
fn replay_refuses_an_archive_of_other_data_or_without_its_model() {
    let model = tiny();
    let data = text(5_000);
    let archive = compress_bytes(&model, &data, &CompressOptions::for_model(&model)).unwrap();
    let mut other = data.clone();
    other[100] ^= 1;
    assert!(costs::archive_byte_bits(Some(&model), &archive, &other).is_err());
    assert!(costs::archive_byte_bits(Some(&model), &archive, &data[1..]).is_err());
    assert!(costs::archive_byte_bits(None, &archive, &data).is_err());
    assert!(costs::archive_byte_bits(Some(&model), &archive[..archive.len() - 1], &data).is_err());
}

/// The groups partition the input: every codec's group bits add up to its
/// total, and the table's per-byte-position bits to its column bits.
#[test]
fn groups_and_lanes_add_up() {
    let model = tiny();
    let mut data = Vec::new();
    for r in 0..2_000u32 {
        data.extend_from_slice(&(r as f32 * 0.37).to_le_bytes());
        data.extend_from_slice(&(r / 7).to_le_bytes());
        data.extend_from_slice(&((r % 5) as f32).to_le_bytes());
    }
    let layout = Layout::Table(TableLayout::named(
        0,
        4,
        vec![
            ("x".into(), Some("f4".into())),
            ("n".into(), Some("i4".into())),
            ("y".into(), None),
        ],
    ));
    let mut a = Analysis::new("t", &data, layout);
    let opts = CompressOptions {
        context_mixing: Some(&crate::cm::PROFILES[0]),
        ..CompressOptions::for_model(&model)
    };
    let archive = compress_bytes(&model, &data, &opts).unwrap();
    let bits = costs::archive_byte_bits(Some(&model), &archive, &data).unwrap();
    a.add_per_byte("cm", archive.len() as u64, &bits);
    a.add_groups_alone("len", data.len() as u64, &data, |p| p.len() as u64);
    assert_eq!(a.group_bytes, [8_000, 8_000, 8_000]);
    let direct: f64 = bits.iter().map(|&b| f64::from(b)).sum();
    assert!((a.codecs[0].total_bits() - direct).abs() < 1e-6 * direct);
    for (k, lanes) in a.codecs[0].lane_bits.as_ref().unwrap().iter().enumerate() {
        let sum: f64 = lanes.iter().sum();
        assert!((sum - a.codecs[0].group_bits[k]).abs() < 1e-6 * sum.max(1.0));
    }
    // "Alone" with the identity as the codec: 8 bits a byte.
    assert_eq!(a.codecs[1].group_bits, [64_000.0; 3]);
    // The counter column costs less than the float column.
    assert!(a.codecs[0].group_bits[1] < a.codecs[0].group_bits[0]);
    assert_eq!(report::float_columns(&a), [0, 2]);
    let table = report::to_table(&a, 40);
    assert!(table.contains("Lowest mantissa bytes"), "{table}");
    let json = report::to_json(&a);
    assert_eq!(json["groups"][1]["name"], "n");
    assert_eq!(
        json["groups"][0]["codecs"]["cm"]["byte_bits"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let svg = svg::to_svg(&a, 40);
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<rect x=\"230.0\"").count(), 3 * 2);
}

#[test]
fn text_report_shows_the_costliest_groups_first_and_counts_the_rest() {
    let data = text(20_000);
    let mut a = Analysis::new("t.hepmc", &data, Layout::Text(Separator::Whitespace));
    a.add_groups_alone("len", data.len() as u64, &data, |p| p.len() as u64);
    let shown = report::shown_groups(&a, 3);
    assert_eq!(shown.len(), 3);
    let table = report::to_table(&a, 3);
    assert!(table.contains("more)"), "{table}");
    // All groups in JSON.
    assert_eq!(
        report::to_json(&a)["groups"].as_array().unwrap().len(),
        a.group_names.len()
    );
}
