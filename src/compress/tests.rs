use super::*;
use crate::container::FORMAT_VERSION_NEWEST;
use crate::mixing::registry::STRIDE_PREFIX_LEN;
use crate::model::Dims;
use crate::model::synth::{SplitMix64, SynthKind, random_model};
use proptest::prelude::*;
use std::sync::OnceLock;

/// The mixing of a neural `codec`, with a `stride` exactly if it needs one.
fn mx(codec: Codec, stride: Option<u32>) -> Mixing {
    Mixing::new(codec, stride).unwrap()
}

fn tiny(seed: u64) -> Model {
    random_model(
        Dims {
            d_model: 16,
            n_layers: 1,
        },
        SynthKind::Typical,
        seed,
    )
    .unwrap()
}

fn model() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| tiny(1))
}

/// Options with the match model mixed in (codec `NeuralMatch`; the column
/// and long finders and the histograms have their own tests below).
fn opts(chunk_len: u32, window: usize) -> CompressOptions {
    CompressOptions {
        chunk_len,
        embed_model: false,
        window,
        match_model: true,
        records: RecordStride::Off,
        long_finder: false,
        column_histograms: false,
        text_fields: crate::compress::TextFields::Off,
        grow_chunks: false,
        device: Device::Cpu,
        context_mixing: None,
        network_context_mixing: false,
        kinematics: false,
        counting: false,
        column_models: false,
        wide_mixer: false,
        relations: false,
        short_trial: false,
    }
}

/// Options for the network alone (codec `Neural`) or with the match model.
fn opts_with(chunk_len: u32, window: usize, match_model: bool) -> CompressOptions {
    CompressOptions {
        match_model,
        ..opts(chunk_len, window)
    }
}

/// The neural codec that `opts_with(.., match_model)` writes.
fn neural_codec(match_model: bool) -> Codec {
    if match_model {
        Codec::NeuralMatch
    } else {
        Codec::Neural
    }
}

/// Compressible text-like input.
fn text(n: usize) -> Vec<u8> {
    b"the quick brown fox jumps over the lazy dog; "
        .iter()
        .copied()
        .cycle()
        .take(n)
        .collect()
}

/// The model's own greedy continuation from a fresh stream: the model codes
/// it well, so each `chunk_len`-long repetition compresses.
fn greedy(n: usize, chunk_len: usize) -> Vec<u8> {
    let m = model();
    let mut state = crate::engine::StreamState::new(m);
    let mut f = crate::engine::step(m, &mut state, PRIME_BYTE);
    let mut one = Vec::new();
    for _ in 0..chunk_len.min(n) {
        let b = (0..=255u8)
            .max_by_key(|&b| (f.0[usize::from(b)], b))
            .unwrap();
        one.push(b);
        f = crate::engine::step(m, &mut state, b);
    }
    one.iter().copied().cycle().take(n).collect()
}

fn random(n: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![0u8; n];
    SplitMix64(seed).fill_bytes(&mut v);
    v
}

fn round_trip(data: &[u8], chunk_len: u32, window: usize, match_model: bool) -> Vec<u8> {
    let o = opts_with(chunk_len, window, match_model);
    let archive = compress_bytes(model(), data, &o).unwrap();
    let back = decompress_bytes(&archive, Some(model().clone())).unwrap();
    assert_eq!(back, data);
    archive
}

#[test]
fn round_trip_edge_sizes() {
    for m in [false, true] {
        for chunk_len in [1u32, 7, 64] {
            for n in [0usize, 1, 6, 7, 8, 63, 64, 65, 200] {
                round_trip(&text(n), chunk_len, 3, m);
                round_trip(&vec![0u8; n], chunk_len, 2, m);
                round_trip(&random(n, n as u64), chunk_len, 256, m);
            }
        }
    }
}

#[test]
fn archive_independent_of_threads_and_window() {
    // About 150 chunks, so a window of 256 takes the parallel paths.
    let mut data = greedy(64 * 120, 64);
    data.extend(random(700, 9));
    data.extend(vec![0u8; 1200]);
    for m in [false, true] {
        let mut archives = Vec::new();
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            for window in [1, 3, 256] {
                archives.push(pool.install(|| round_trip(&data, 64, window, m)));
            }
        }
        assert!(archives.windows(2).all(|w| w[0] == w[1]));
        // Text chunks are coded (the container falls back to stored for the
        // random ones, whose encoding does not shrink).
        let r = ArchiveReader::from_bytes(&archives[0]).unwrap();
        assert!(r.entries().iter().any(|e| e.codec == neural_codec(m)));
        assert!(r.entries().iter().any(|e| e.codec == Codec::Stored));
    }
}

#[test]
fn embedded_model_decodes_without_model() {
    let data = text(3000);
    let o = CompressOptions {
        embed_model: true,
        ..opts(1000, 2)
    };
    let archive = compress_bytes(model(), &data, &o).unwrap();
    assert_eq!(decompress_bytes(&archive, None).unwrap(), data);
    // A different supplied model is ignored when one is embedded.
    assert_eq!(decompress_bytes(&archive, Some(tiny(2))).unwrap(), data);
}

#[test]
fn wrong_or_missing_model_refused() {
    let archive = compress_bytes(model(), &greedy(3000, 1000), &opts(1000, 2)).unwrap();
    let e = decompress_bytes(&archive, Some(tiny(2))).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, PipelineError::Model(_)), "{msg}");
    assert!(msg.contains(&model().fingerprint().to_string()), "{msg}");
    assert!(msg.contains(&tiny(2).fingerprint().to_string()), "{msg}");
    let e = decompress_bytes(&archive, None).unwrap_err();
    assert!(e.to_string().contains("--model"), "{e}");
}

#[test]
fn byte_ranges() {
    let data = greedy(1000, 64);
    let archive = compress_bytes(model(), &data, &opts(64, 3)).unwrap();
    let mut reader = ArchiveReader::from_bytes(&archive).unwrap();
    for (a, b) in [
        (0u64, 0u64),
        (0, 1),
        (63, 65),
        (100, 900),
        (999, 1000),
        (0, 1000),
        (1000, 1000),
    ] {
        let mut out = Vec::new();
        let n = decompress(
            &mut reader,
            Some(model()),
            Device::Cpu,
            Some(a..b),
            &mut out,
            2,
            NO_PROGRESS,
        )
        .unwrap();
        assert_eq!(n, b - a);
        assert_eq!(out, &data[a as usize..b as usize]);
    }
    let mut out = Vec::new();
    assert!(
        decompress(
            &mut reader,
            Some(model()),
            Device::Cpu,
            Some(5..1001),
            &mut out,
            2,
            NO_PROGRESS
        )
        .is_err()
    );
}

#[test]
fn verify_names_bad_chunk() {
    let data = greedy(1000, 100);
    let mut archive = compress_bytes(model(), &data, &opts(100, 4)).unwrap();
    let r = ArchiveReader::from_bytes(&archive).unwrap();
    let e = r.entries()[3];
    assert_eq!(e.codec, Codec::NeuralMatch);
    let mut reader = ArchiveReader::from_bytes(&archive).unwrap();
    assert!(
        verify(&mut reader, Some(model()), Device::Cpu, 3, NO_PROGRESS)
            .unwrap()
            .ok()
    );
    archive[e.offset as usize + 2] ^= 0x10;
    let mut reader = ArchiveReader::from_bytes(&archive).unwrap();
    let rep = verify(&mut reader, Some(model()), Device::Cpu, 3, NO_PROGRESS).unwrap();
    assert!(!rep.ok());
    assert_eq!(rep.bad.len(), 1);
    assert_eq!(rep.bad[0].0, 3);
}

/// Every single-byte corruption and every truncation of a small archive is
/// reported as an error; none panics.
#[test]
fn every_flip_and_truncation_is_an_error() {
    let mut data = greedy(200, 100);
    data.extend(random(100, 3));
    let o = CompressOptions {
        embed_model: false,
        ..opts(100, 2)
    };
    let archive = compress_bytes(model(), &data, &o).unwrap();
    let r = ArchiveReader::from_bytes(&archive).unwrap();
    let codecs: Vec<Codec> = r.entries().iter().map(|e| e.codec).collect();
    assert_eq!(
        codecs,
        [Codec::NeuralMatch, Codec::NeuralMatch, Codec::Stored]
    );
    for i in 0..archive.len() {
        for flip in [0x01u8, 0x80, 0xFF] {
            let mut a = archive.clone();
            a[i] ^= flip;
            assert!(
                decompress_bytes(&a, Some(model().clone())).is_err(),
                "flip {flip:#x} at {i} not detected"
            );
        }
    }
    for len in 0..archive.len() {
        assert!(decompress_bytes(&archive[..len], Some(model().clone())).is_err());
    }
}

#[test]
fn decode_chunks_garbage_never_panics() {
    let mut rng = SplitMix64(5);
    for n in 0..200usize {
        let mut p = vec![0u8; n % 40];
        rng.fill_bytes(&mut p);
        let mixings = [
            Mixing::NETWORK_ONLY,
            mx(Codec::NeuralMatch, None),
            mx(Codec::NeuralMatchColumns, Some(2)),
            mx(Codec::NeuralMatchColumns, Some(1 << 20)),
            mx(Codec::NeuralMatchLong, None),
            mx(Codec::NeuralMatchLongColumns, Some(3)),
            mx(Codec::NeuralMatchLongColumnsHist, Some(2)),
            mx(Codec::NeuralMatchLongColumnsHist, Some(1 << 20)),
            mx(Codec::NeuralMatchLongText, None),
        ];
        let stream = |len, k: usize| EncodedStream {
            payload: &p,
            len,
            mixing: mixings[k % mixings.len()],
        };
        let r =
            decode_chunks(model(), Device::Cpu, &[stream(n % 17, n), stream(3, n / 4)]).unwrap();
        assert_eq!(r.len(), 2);
    }
}

/// Repeats that the network cannot predict (copies of a random block) cost
/// almost nothing with the match model, and the archive's payload sizes agree
/// with `eval::code_length_with` (the range coder adds a few bytes per chunk).
#[test]
fn match_model_codes_repeats_and_agrees_with_eval() {
    let block = random(300, 77);
    let data: Vec<u8> = block.iter().cycle().take(3000).copied().collect();
    let archive = compress_bytes(model(), &data, &opts_with(1000, 4, true)).unwrap();
    assert_eq!(
        decompress_bytes(&archive, Some(model().clone())).unwrap(),
        data
    );
    let r = ArchiveReader::from_bytes(&archive).unwrap();
    assert!(r.entries().iter().all(|e| e.codec == Codec::NeuralMatch));
    let plain = crate::eval::code_length_with(model(), &data, 1000, Mixing::NETWORK_ONLY);
    let matched = crate::eval::code_length_with(model(), &data, 1000, mx(Codec::NeuralMatch, None));
    // Per 1000-byte chunk: 300 random bytes the (untrained) network codes
    // badly either way, then 700 repeated bytes that the match model makes
    // nearly free: less than a bit per repeated byte on average.
    let random_part = plain.bits * 0.3;
    assert!(
        matched.bits < random_part + 2100.0,
        "{} vs {}",
        matched.bits,
        plain.bits
    );
    // The payload is the ideal code length plus at most 10 bytes per chunk.
    let got: u64 = r
        .entries()
        .iter()
        .map(|e| u64::from(e.compressed_size))
        .sum();
    let ideal = matched.bits / 8.0;
    let got = got as f64;
    assert!(
        got + 3.0 >= ideal && got <= ideal + 30.0,
        "{got} vs {ideal}"
    );
}

#[test]
fn bad_chunk_len_is_usage_error() {
    let e = compress_bytes(model(), b"x", &opts(0, 1)).unwrap_err();
    assert!(matches!(e, PipelineError::Usage(_)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn prop_round_trip(
        data in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..300),
            proptest::collection::vec(0u8..4, 0..300),
            (0usize..300).prop_map(|n| vec![0u8; n]),
        ],
        chunk_len in 1u32..80,
        window in 1usize..5,
        match_model in any::<bool>(),
        records in prop_oneof![
            Just(RecordStride::Off),
            Just(RecordStride::Auto),
            (2u32..40).prop_map(RecordStride::Fixed),
        ],
        long_finder in any::<bool>(),
        column_histograms in any::<bool>(),
        grow_chunks in any::<bool>(),
    ) {
        let o = CompressOptions {
            records,
            long_finder,
            column_histograms,
            grow_chunks,
            ..opts_with(chunk_len, window, match_model)
        };
        let archive = compress_bytes(model(), &data, &o).unwrap();
        prop_assert_eq!(decompress_bytes(&archive, Some(model().clone())).unwrap(), data);
    }
}

/// A float32 table of `rows` records of `cols` columns: smooth high bytes,
/// noisy low bytes, one slowly counting integer column.
fn f32_table(rows: usize, cols: usize, seed: u64) -> Vec<u8> {
    let mut rng = SplitMix64(seed);
    let mut out = Vec::with_capacity(rows * cols * 4);
    for r in 0..rows {
        for c in 0..cols {
            let x = rng.next_u64();
            let w = if c == 0 {
                (r / 3) as u32
            } else {
                0x4000_0000 + ((c as u32) << 23) + (((r % 16) as u32) << 12) + ((x as u32) & 0xFF)
            };
            out.extend_from_slice(&w.to_le_bytes());
        }
    }
    out
}

fn codecs_of(archive: &[u8]) -> Vec<Codec> {
    let r = ArchiveReader::from_bytes(archive).unwrap();
    r.entries().iter().map(|e| e.codec).collect()
}

/// The default model: the column tests need a model that codes float tables
/// in under 8 bits per byte (a random tiny one does not, and stores them).
fn trained() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| {
        let bytes = crate::default_models::default_model().expect("a default model is built in");
        Model::from_bytes(bytes).unwrap()
    })
}

/// The column finder: a fixed record size writes codec 4 in format version
/// 3, round-trips, and codes a table smaller than codec 3 does; the payload
/// equals the eval code length plus the stride prefix and flush bytes.
#[test]
fn column_finder_codes_tables_smaller() {
    let data = f32_table(300, 7, 9);
    let with = |records| CompressOptions {
        records,
        ..opts(1 << 20, 4)
    };
    let col = compress_bytes(trained(), &data, &with(RecordStride::Fixed(28))).unwrap();
    let plain = compress_bytes(trained(), &data, &with(RecordStride::Off)).unwrap();
    assert_eq!(codecs_of(&col), [Codec::NeuralMatchColumns]);
    assert_eq!(codecs_of(&plain), [Codec::NeuralMatch]);
    let r = ArchiveReader::from_bytes(&col).unwrap();
    assert_eq!(r.header().params.format_version, 3);
    assert_eq!(
        decompress_bytes(&col, Some(trained().clone())).unwrap(),
        data
    );
    assert!(
        col.len() * 100 < plain.len() * 95,
        "{} vs {}",
        col.len(),
        plain.len()
    );
    assert_payload_is_code_length(
        r.entries()[0].compressed_size,
        &data,
        mx(Codec::NeuralMatchColumns, Some(28)),
    );
}

/// A one-chunk archive's payload (with a stride prefix) is the eval code
/// length of `data` under `mixing` plus the prefix and the coder's flush bytes.
fn assert_payload_is_code_length(compressed_size: u32, data: &[u8], mixing: Mixing) {
    let ideal = crate::eval::code_length_with(trained(), data, 1 << 20, mixing);
    let payload = f64::from(compressed_size) - STRIDE_PREFIX_LEN as f64;
    assert!(
        payload + 3.0 >= ideal.bits / 8.0 && payload <= ideal.bits / 8.0 + 10.0,
        "{payload} vs {}",
        ideal.bits / 8.0
    );
}

/// `RecordStride::Auto` finds the stride of a table and keeps the column
/// finder because the trial is smaller; on data without records it writes
/// codec 3. The choice does not depend on the window.
#[test]
fn auto_record_stride_chooses_by_trial() {
    let table = f32_table(200, 5, 4);
    let auto = |window| CompressOptions {
        records: RecordStride::Auto,
        ..opts(1000, window)
    };
    let a = compress_bytes(trained(), &table, &auto(1)).unwrap();
    assert!(
        codecs_of(&a)
            .iter()
            .all(|&c| c == Codec::NeuralMatchColumns)
    );
    assert_eq!(a, compress_bytes(trained(), &table, &auto(256)).unwrap());
    assert_eq!(
        decompress_bytes(&a, Some(trained().clone())).unwrap(),
        table
    );
    let mut r = ArchiveReader::from_bytes(&a).unwrap();
    let stride = r.read_payload(0).unwrap()[..4].to_vec();
    assert_eq!(stride, 20u32.to_le_bytes());

    let noise = random(5000, 8);
    let b = compress_bytes(trained(), &noise, &auto(2)).unwrap();
    assert!(
        codecs_of(&b)
            .iter()
            .all(|&c| c != Codec::NeuralMatchColumns)
    );
    let r = ArchiveReader::from_bytes(&b).unwrap();
    assert_eq!(r.header().params.format_version, 2);
}

/// The long finder (codec 5, format version 4, the default): lines that
/// repeat with a few bytes changed code smaller than with codec 3, and the
/// archive round-trips; without `long_finder` the same input writes codec 3
/// in format version 2. With a record stride: codec 6, stride prefixed.
#[test]
fn long_finder_codes_edited_repeats_smaller() {
    // 60 copies of a 300-byte random line, each with 3 bytes changed: a
    // match of order 1..8 drops at every change; the long finder keeps it.
    let mut rng = SplitMix64(11);
    let mut line = vec![0u8; 300];
    rng.fill_bytes(&mut line);
    let mut data = Vec::new();
    for _ in 0..60 {
        let mut l = line.clone();
        for _ in 0..3 {
            let i = (rng.next_u64() % 300) as usize;
            l[i] = l[i].wrapping_add(1 + (rng.next_u64() % 255) as u8);
        }
        data.extend_from_slice(&l);
    }
    let with = |long_finder| CompressOptions {
        long_finder,
        ..opts(1 << 20, 2)
    };
    let long = compress_bytes(trained(), &data, &with(true)).unwrap();
    let plain = compress_bytes(trained(), &data, &with(false)).unwrap();
    assert_eq!(codecs_of(&long), [Codec::NeuralMatchLong]);
    assert_eq!(codecs_of(&plain), [Codec::NeuralMatch]);
    let r = ArchiveReader::from_bytes(&long).unwrap();
    assert_eq!(r.header().params.format_version, 4);
    let r = ArchiveReader::from_bytes(&plain).unwrap();
    assert_eq!(r.header().params.format_version, 2);
    assert_eq!(
        decompress_bytes(&long, Some(trained().clone())).unwrap(),
        data
    );
    assert!(
        long.len() * 100 < plain.len() * 80,
        "{} vs {}",
        long.len(),
        plain.len()
    );
    // With a record stride: codec 6, the stride in the prefix.
    let cols = CompressOptions {
        records: RecordStride::Fixed(300),
        ..with(true)
    };
    let a = compress_bytes(trained(), &data, &cols).unwrap();
    assert_eq!(codecs_of(&a), [Codec::NeuralMatchLongColumns]);
    let mut r = ArchiveReader::from_bytes(&a).unwrap();
    assert_eq!(r.read_payload(0).unwrap()[..4], 300u32.to_le_bytes());
    assert_eq!(decompress_bytes(&a, Some(trained().clone())).unwrap(), data);
}

#[test]
fn column_payload_prefix_is_checked() {
    let ok = EncodedStream::from_payload(Codec::NeuralMatchColumns, &[24, 0, 0, 0, 9], 5).unwrap();
    assert_eq!(ok.mixing, mx(Codec::NeuralMatchColumns, Some(24)));
    assert_eq!(ok.payload, &[9]);
    for bad in [
        &[24u8, 0, 0][..],
        &[1, 0, 0, 0, 9],
        &[1, 0, 0x10, 0, 9],
        &[],
    ] {
        assert!(EncodedStream::from_payload(Codec::NeuralMatchColumns, bad, 5).is_err());
    }
    // Codec 6: the same prefix; codec 5: none.
    let long =
        |c, p: &[u8]| EncodedStream::from_payload(c, p, 5).map(|s| (s.mixing, s.payload.len()));
    assert_eq!(
        long(Codec::NeuralMatchLong, &[0, 0, 0, 0, 9]),
        Ok((mx(Codec::NeuralMatchLong, None), 5))
    );
    assert_eq!(
        long(Codec::NeuralMatchLongColumns, &[24, 0, 0, 0, 9]),
        Ok((mx(Codec::NeuralMatchLongColumns, Some(24)), 1))
    );
    assert_eq!(
        long(Codec::NeuralMatchLongColumns, &[0, 0, 0x10, 0]),
        Ok((mx(Codec::NeuralMatchLongColumns, Some(1 << 20)), 0))
    );
    for bad in [
        &[0u8, 0, 0, 0, 9][..],
        &[24, 0, 0],
        &[1, 0, 0, 0, 9],
        &[1, 0, 0x10, 0, 9],
        &[],
    ] {
        assert!(long(Codec::NeuralMatchLongColumns, bad).is_err(), "{bad:?}");
        assert!(
            long(Codec::NeuralMatchLongColumnsHist, bad).is_err(),
            "{bad:?}"
        );
    }
    // Codec 7: the same prefix as codec 6.
    assert_eq!(
        long(Codec::NeuralMatchLongColumnsHist, &[24, 0, 0, 0, 9]),
        Ok((mx(Codec::NeuralMatchLongColumnsHist, Some(24)), 1))
    );
    assert!(EncodedStream::from_payload(Codec::Stored, &[1], 1).is_err());
    assert_eq!(
        EncodedStream::from_payload(Codec::NeuralMatch, &[1, 2], 9)
            .unwrap()
            .payload,
        &[1, 2]
    );
}

#[test]
fn record_stride_parses() {
    assert_eq!(RecordStride::parse("auto"), Ok(RecordStride::Auto));
    assert_eq!(RecordStride::parse("off"), Ok(RecordStride::Off));
    assert_eq!(RecordStride::parse("0"), Ok(RecordStride::Off));
    assert_eq!(RecordStride::parse("120"), Ok(RecordStride::Fixed(120)));
    for bad in ["1", "x", "-3", "1048577", ""] {
        assert!(RecordStride::parse(bad).is_err(), "{bad}");
    }
}

/// Rows of `cols` words whose columns draw from a few values each (a flag, a
/// small count, a float's high bytes) in a random order, so neither the byte
/// above nor an earlier match predicts them, but a per-column histogram does.
fn few_valued_table(rows: usize, cols: usize, seed: u64) -> Vec<u8> {
    let mut rng = SplitMix64(seed);
    let mut out = Vec::with_capacity(rows * cols * 4);
    for _ in 0..rows {
        for c in 0..cols {
            let x = rng.next_u64();
            let pick = (x >> 32) as u32 % (2 + c as u32 % 4);
            let w = 0x3F80_0000 + (c as u32) * 0x0081_0000 + pick * 0x0001_0301 + (x as u32 & 0x3);
            out.extend_from_slice(&w.to_le_bytes());
        }
    }
    out
}

/// The column histograms (codec 7, format version 5, the default with a
/// stride): smaller than codec 6 on a table of few-valued columns, the
/// stride in the prefix, the payload equal to the eval code length (plus the
/// prefix and flush bytes); without `column_histograms`, codec 6 in version 4.
#[test]
fn column_histograms_code_few_valued_tables_smaller() {
    let data = few_valued_table(400, 6, 3);
    let with = |column_histograms| CompressOptions {
        records: RecordStride::Fixed(24),
        long_finder: true,
        column_histograms,
        ..opts(1 << 20, 2)
    };
    let hist = compress_bytes(trained(), &data, &with(true)).unwrap();
    let plain = compress_bytes(trained(), &data, &with(false)).unwrap();
    assert_eq!(codecs_of(&hist), [Codec::NeuralMatchLongColumnsHist]);
    assert_eq!(codecs_of(&plain), [Codec::NeuralMatchLongColumns]);
    let mut r = ArchiveReader::from_bytes(&hist).unwrap();
    assert_eq!(r.header().params.format_version, 5);
    assert_eq!(r.read_payload(0).unwrap()[..4], 24u32.to_le_bytes());
    let r4 = ArchiveReader::from_bytes(&plain).unwrap();
    assert_eq!(r4.header().params.format_version, 4);
    assert_eq!(
        decompress_bytes(&hist, Some(trained().clone())).unwrap(),
        data
    );
    assert!(
        hist.len() * 100 < plain.len() * 90,
        "{} vs {}",
        hist.len(),
        plain.len()
    );
    assert_payload_is_code_length(
        r.entries()[0].compressed_size,
        &data,
        mx(Codec::NeuralMatchLongColumnsHist, Some(24)),
    );
}

/// HepMC-like particle lines whose fields each take a few values in a random
/// order (particle id, status, exponent), with a line counter and random
/// digits: what the text field histograms are for.
fn event_lines(lines: usize, seed: u64) -> Vec<u8> {
    let mut rng = SplitMix64(seed);
    let mut out = String::new();
    for i in 0..lines {
        let x = rng.next_u64();
        let pid = ["22", "211", "-211", "2212", "11"][(x % 5) as usize];
        out.push_str(&format!(
            "P {} {pid} {}.{:05}e+0{} {}\n",
            i + 1,
            (x >> 8) % 10,
            (x >> 12) % 100_000,
            (x >> 40) % 3,
            1 + (x >> 50) % 2
        ));
    }
    out.into_bytes()
}

/// The text field histograms (codec 8, format version 6): forced, smaller
/// than codec 5 on event lines, with no payload prefix and the payload equal
/// to the eval code length (plus flush bytes); chosen by the trial on such
/// text and not on a table of records, whatever the window.
#[test]
fn text_fields_code_event_lines_smaller() {
    let data = event_lines(1500, 8);
    let with = |text_fields, window| CompressOptions {
        long_finder: true,
        text_fields,
        ..opts(1 << 20, window)
    };
    let text = compress_bytes(trained(), &data, &with(TextFields::Always, 2)).unwrap();
    let plain = compress_bytes(trained(), &data, &with(TextFields::Off, 2)).unwrap();
    assert_eq!(codecs_of(&text), [Codec::NeuralMatchLongText]);
    assert_eq!(codecs_of(&plain), [Codec::NeuralMatchLong]);
    let r = ArchiveReader::from_bytes(&text).unwrap();
    assert_eq!(r.header().params.format_version, 6);
    assert_eq!(
        decompress_bytes(&text, Some(trained().clone())).unwrap(),
        data
    );
    assert!(
        text.len() * 100 < plain.len() * 95,
        "{} vs {}",
        text.len(),
        plain.len()
    );
    let ideal = crate::eval::code_length_with(
        trained(),
        &data,
        1 << 20,
        mx(Codec::NeuralMatchLongText, None),
    );
    let payload = f64::from(r.entries()[0].compressed_size);
    assert!(
        payload + 3.0 >= ideal.bits / 8.0 && payload <= ideal.bits / 8.0 + 10.0,
        "{payload} vs {}",
        ideal.bits / 8.0
    );
    // The trial picks the text fields on the text, for any window...
    for window in [1, 3] {
        let auto = CompressOptions {
            records: RecordStride::Auto,
            ..with(TextFields::Trial, window)
        };
        assert_eq!(compress_bytes(trained(), &data, &auto).unwrap(), text);
    }
    // ...and the column histograms on a table.
    let table = few_valued_table(400, 6, 3);
    let auto = CompressOptions {
        records: RecordStride::Auto,
        column_histograms: true,
        ..with(TextFields::Trial, 2)
    };
    let a = compress_bytes(trained(), &table, &auto).unwrap();
    assert_eq!(codecs_of(&a), [Codec::NeuralMatchLongColumnsHist]);
}

/// Records too long for the chunk length to hold `MIN_RECORDS_PER_CHUNK` of
/// them grow the chunks (the header records the grown length), unless
/// `grow_chunks` is off; the archive does not depend on the window.
#[test]
fn wide_records_grow_the_chunks() {
    let data = few_valued_table(40, 100, 5);
    let with = |grow_chunks, window| CompressOptions {
        records: RecordStride::Fixed(400),
        long_finder: true,
        column_histograms: true,
        grow_chunks,
        ..opts(4096, window)
    };
    assert_eq!(grown_chunk_len(4096, 400), 400 * MIN_RECORDS_PER_CHUNK);
    assert_eq!(grown_chunk_len(1 << 16, 400), 1 << 16);
    assert_eq!(grown_chunk_len(4096, 1 << 20), MAX_GROWN_CHUNK_LEN);
    assert_eq!(grown_chunk_len(4 << 20, 1 << 20), 4 << 20);
    let grown = compress_bytes(trained(), &data, &with(true, 1)).unwrap();
    let fixed = compress_bytes(trained(), &data, &with(false, 1)).unwrap();
    let chunk_len = |a: &[u8]| {
        ArchiveReader::from_bytes(a)
            .unwrap()
            .header()
            .params
            .chunk_len
    };
    assert_eq!(chunk_len(&grown), 400 * 32);
    assert_eq!(chunk_len(&fixed), 4096);
    assert_eq!(
        grown,
        compress_bytes(trained(), &data, &with(true, 256)).unwrap()
    );
    for a in [&grown, &fixed] {
        assert_eq!(decompress_bytes(a, Some(trained().clone())).unwrap(), data);
    }
    assert!(
        grown.len() < fixed.len(),
        "{} vs {}",
        grown.len(),
        fixed.len()
    );
}

/// The stride trial codes the input's second 64 KiB when there is one: a
/// table after 64 KiB of noise keeps its stride (a trial of the noise alone
/// could not tell), and the choice does not depend on the window.
#[test]
fn stride_trial_skips_the_first_64_kib() {
    let mut data = random(TRIAL_LEN, 21);
    data.extend(few_valued_table(3000, 6, 22));
    let auto = |window| CompressOptions {
        records: RecordStride::Auto,
        long_finder: true,
        column_histograms: true,
        ..opts(1 << 14, window)
    };
    let a = compress_bytes(trained(), &data, &auto(1)).unwrap();
    assert_eq!(a, compress_bytes(trained(), &data, &auto(256)).unwrap());
    let codecs = codecs_of(&a);
    // The noise is stored; every table chunk uses the column histograms.
    assert!(
        codecs[..4].iter().all(|&c| c == Codec::Stored),
        "{codecs:?}"
    );
    assert!(
        codecs[4..]
            .iter()
            .all(|&c| c == Codec::NeuralMatchLongColumnsHist),
        "{codecs:?}"
    );
    assert_eq!(decompress_bytes(&a, Some(trained().clone())).unwrap(), data);
}

/// A short trial (`-9`) codes the second 64 KiB of a longer first chunk with
/// each candidate: the table after 64 KiB of noise gets its stride, the chunk
/// is coded once more with it (the trial's payload is not the chunk's), and
/// the archive does not depend on the window.
#[test]
fn a_short_trial_chooses_from_64_kib_of_a_longer_chunk() {
    let mut data = random(TRIAL_LEN, 23);
    data.extend(few_valued_table(3000, 6, 24));
    let short = |window| CompressOptions {
        records: RecordStride::Auto,
        long_finder: true,
        column_histograms: true,
        short_trial: true,
        ..opts(1 << 18, window)
    };
    let a = compress_bytes(trained(), &data, &short(1)).unwrap();
    assert_eq!(a, compress_bytes(trained(), &data, &short(4)).unwrap());
    assert_eq!(codecs_of(&a), [Codec::NeuralMatchLongColumnsHist]);
    assert_eq!(decompress_bytes(&a, Some(trained().clone())).unwrap(), data);
}

/// Streams that fail leave their group at once; the others decode exactly as
/// they do alone, whatever fails beside them and when.
#[test]
fn failed_streams_leave_the_group_and_others_are_unaffected() {
    let data = text(3000);
    let mixing = mx(Codec::NeuralMatch, None);
    let payload = encode_chunks(model(), Device::Cpu, &[&data], mixing)
        .unwrap()
        .swap_remove(0);
    let good = EncodedStream {
        payload: &payload,
        len: data.len(),
        mixing,
    };
    let mut rng = SplitMix64(9);
    let garbage: Vec<Vec<u8>> = (0..6)
        .map(|k| {
            let mut p = vec![0u8; 8 + 5 * k];
            rng.fill_bytes(&mut p);
            p
        })
        .collect();
    let mut streams = vec![good];
    for (k, p) in garbage.iter().enumerate() {
        // Claims from short to the most the payload can hold, and one past it.
        let len = match k {
            0 => 10,
            5 => crate::coder::max_symbols(p.len()) as usize + 1,
            _ => crate::coder::max_symbols(p.len()) as usize / k,
        };
        streams.push(EncodedStream {
            payload: p,
            len,
            mixing,
        });
    }
    let results = decode_chunks(model(), Device::Cpu, &streams).unwrap();
    assert_eq!(results[0].as_deref(), Ok(&data[..]));
    assert!(results[1..].iter().all(|r| r.is_err()), "{results:?}");
    assert!(matches!(results[6], Err(CoderError::ClaimTooLong { .. })));
    // Each garbage stream fails the same way alone as in the group.
    for (k, s) in streams.iter().enumerate().skip(1) {
        assert_eq!(
            decode_chunks(model(), Device::Cpu, &[*s]).unwrap()[0],
            results[k],
            "stream {k}"
        );
    }
}

/// `DecodeLimits` are checked from the index: output bytes of the range, and
/// model steps of the neural chunks it touches (stored chunks cost none).
#[test]
fn decode_limits_are_checked_from_the_index() {
    let mut data = text(4096);
    data.extend(random(4096, 3)); // stored chunks
    let archive = compress_bytes(model(), &data, &opts(1024, 4)).unwrap();
    let reader = ArchiveReader::from_bytes(&archive).unwrap();
    let neural: u64 = reader
        .entries()
        .iter()
        .filter(|e| e.codec.is_neural())
        .map(|e| u64::from(e.original_size))
        .sum();
    assert!(neural > 0 && neural < data.len() as u64, "{neural}");
    let limits = |out, steps| DecodeLimits {
        max_output: out,
        max_model_steps: steps,
    };
    let total = data.len() as u64;
    assert!(DecodeLimits::NONE.check(&reader, None).is_ok());
    assert!(
        limits(Some(total), Some(neural))
            .check(&reader, None)
            .is_ok()
    );
    for bad in [
        limits(Some(total - 1), None),
        limits(None, Some(neural - 1)),
    ] {
        assert!(matches!(
            bad.check(&reader, None),
            Err(PipelineError::Limit(_))
        ));
    }
    // The stored second half costs no model step; one byte of it, one output byte.
    let tail = total - 10..total - 9;
    assert!(limits(Some(1), Some(0)).check(&reader, Some(&tail)).is_ok());
    let head = 0..1;
    assert!(
        limits(Some(1), Some(1023))
            .check(&reader, Some(&head))
            .is_err()
    );
    assert!(
        limits(Some(1), Some(1024))
            .check(&reader, Some(&head))
            .is_ok()
    );
}

/// Progress adds up to the bytes each run codes, reported per chunk while
/// compressing and per group step batch while decoding (a bar that moves
/// before the window ends), from worker threads.
#[test]
fn progress_adds_up_and_moves_within_a_window() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let mut data = text(9000);
    data.extend(random(3000, 4)); // stored chunks report too
    let sum = AtomicU64::new(0);
    let calls = AtomicU64::new(0);
    let progress = |d: u64| {
        sum.fetch_add(d, Ordering::Relaxed);
        calls.fetch_add(1, Ordering::Relaxed);
    };
    let take = || {
        (
            sum.swap(0, Ordering::Relaxed),
            calls.swap(0, Ordering::Relaxed),
        )
    };
    // One window of 12 chunks: one report per chunk.
    let o = opts(1000, 64);
    let (archive, n) = compress(model(), &data[..], Vec::new(), &o, &progress).unwrap();
    assert_eq!(n, data.len() as u64);
    assert_eq!(take(), (data.len() as u64, 12));
    let mut r = ArchiveReader::from_bytes(&archive).unwrap();
    let mut out = Vec::new();
    decompress(
        &mut r,
        Some(model()),
        Device::Cpu,
        None,
        &mut out,
        64,
        &progress,
    )
    .unwrap();
    assert_eq!(out, data);
    assert_eq!(take().0, data.len() as u64);
    assert!(
        verify(&mut r, Some(model()), Device::Cpu, 64, &progress)
            .unwrap()
            .ok()
    );
    assert_eq!(take().0, data.len() as u64);
    let range = 2500..2600;
    out.clear();
    decompress(
        &mut r,
        Some(model()),
        Device::Cpu,
        Some(range.clone()),
        &mut out,
        64,
        &progress,
    )
    .unwrap();
    assert_eq!(out, &data[2500..2600]);
    assert_eq!(take().0, decode_len(&r, Some(&range)));
    assert_eq!(decode_len(&r, Some(&range)), 1000);
    // A long decode reports before its group is done.
    let long = text(3 * PROGRESS_STEP as usize);
    let o = opts(3 * PROGRESS_STEP as u32, 1);
    let archive = compress_bytes(model(), &long, &o).unwrap();
    let mut r = ArchiveReader::from_bytes(&archive).unwrap();
    out.clear();
    decompress(
        &mut r,
        Some(model()),
        Device::Cpu,
        None,
        &mut out,
        1,
        &progress,
    )
    .unwrap();
    assert_eq!(take(), (long.len() as u64, 3));
}

/// `for_format_version` turns off exactly what the CLI's format-version
/// gates did (match model from version 2, column finder 3, long finder 4,
/// column histograms 5, text fields 6), and the richest codec those options
/// allow fits the version.
#[test]
fn for_format_version_leaves_out_what_older_versions_cannot_hold() {
    for v in 1..=FORMAT_VERSION_NEWEST {
        let o = CompressOptions::default().for_format_version(v);
        assert_eq!(o.match_model, v >= 2, "{v}");
        assert_eq!(o.records != RecordStride::Off, v >= 3, "{v}");
        assert_eq!(o.long_finder, v >= 4, "{v}");
        assert_eq!(o.column_histograms, v >= 5, "{v}");
        assert_eq!(o.text_fields != TextFields::Off, v >= 6, "{v}");
        for stride in [None, Some(24)] {
            if stride.is_some() && !o.allows(Stage::ColumnFinder) {
                continue;
            }
            let m = Mixing::richest(|s| o.allows(s), stride);
            assert!(m.codec().min_format_version() <= v, "{v}: {m:?}");
        }
    }
}

/// `for_codec` writes that codec, for every neural codec of the registry.
#[test]
fn for_codec_writes_that_codec() {
    let block = random(300, 78);
    let data: Vec<u8> = block.iter().cycle().take(3000).copied().collect();
    for c in CODECS.iter().filter(|c| c.codec.is_neural()) {
        let records = if c.needs_stride() {
            RecordStride::Fixed(300)
        } else {
            RecordStride::Auto
        };
        let o = CompressOptions {
            records,
            ..opts(1000, 4)
        }
        .for_codec(c.codec);
        let a = compress_bytes(model(), &data, &o).unwrap();
        let codecs = codecs_of(&a);
        assert!(
            codecs.iter().all(|&k| k == c.codec || k == Codec::Stored),
            "{}: {codecs:?}",
            c.name
        );
        assert_eq!(decompress_bytes(&a, Some(model().clone())).unwrap(), data);
    }
}

/// Chunks of random or already-compressed bytes are stored (the model never
/// runs on them: `incompressible`), with little overhead, while the chunks of
/// the same file that the model shrinks are still coded.
#[cfg(feature = "cli")] // xz, for already-compressed bytes
#[test]
fn incompressible_chunks_are_stored_and_the_rest_coded() {
    let chunk = 64 << 10;
    let o = CompressOptions {
        match_model: true,
        long_finder: true,
        ..opts(chunk as u32, 4)
    };
    // Already-compressed bytes: xz of random digits and spaces.
    let digits: Vec<u8> = random(400_000, 76)
        .iter()
        .map(|b| b"0123456789 \n"[usize::from(b % 12)])
        .collect();
    let packed = liblzma::encode_all(&digits[..], 9).unwrap();
    assert!(incompressible::looks_incompressible(
        &packed[1000..1000 + chunk]
    ));
    let mut data = random(2 * chunk, 77);
    data.extend(text(chunk));
    data.extend_from_slice(&packed[1000..1000 + chunk]);
    let archive = compress_bytes(model(), &data, &o).unwrap();
    assert_eq!(
        codecs_of(&archive),
        [
            Codec::Stored,
            Codec::Stored,
            Codec::NeuralMatchLong,
            Codec::Stored
        ]
    );
    assert_eq!(
        decompress_bytes(&archive, Some(model().clone())).unwrap(),
        data
    );
    // Random bytes alone: at most 0.1 % larger.
    let data = random(8 * chunk, 78);
    let archive = compress_bytes(model(), &data, &o).unwrap();
    assert!(codecs_of(&archive).iter().all(|&c| c == Codec::Stored));
    assert!(
        archive.len() * 1000 <= data.len() * 1001,
        "{}",
        archive.len()
    );
}

/// Options for the context-mixing codec in `profile`.
fn cm_opts(profile: usize, chunk_len: u32, records: RecordStride) -> CompressOptions {
    CompressOptions {
        chunk_len,
        records,
        context_mixing: Some(&crate::cm::PROFILES[profile]),
        ..opts(chunk_len, 4)
    }
}

/// A table of 24-byte records whose columns change slowly.
fn records_table(n: usize) -> Vec<u8> {
    let mut t = Vec::with_capacity(n * 24);
    for i in 0..n as u32 {
        for c in 0..6u32 {
            t.extend_from_slice(&(i * (c + 1) + (i * 7919 % 13) * c).to_le_bytes());
        }
    }
    t
}

#[test]
fn context_mixing_round_trips_without_a_model_and_independent_of_threads() {
    let text = hepmc_like(40_000);
    for profile in 0..crate::cm::PROFILES.len() {
        let o = cm_opts(profile, 16 << 10, RecordStride::Auto);
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| compress_bytes(model(), &text, &o).unwrap());
        let two = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap()
            .install(|| compress_bytes(model(), &text, &o).unwrap());
        assert_eq!(one, two, "profile {profile}");
        assert!(one.len() < text.len() / 3);
        let reader = ArchiveReader::from_bytes(&one).unwrap();
        assert_eq!(reader.header().params.format_version, 7);
        assert!(reader.entries().iter().all(|e| e.codec == Codec::Cm));
        // No chunk needs the network: it decodes without a model.
        assert!(!needs_model(&reader));
        assert_eq!(decompress_bytes(&one, None).unwrap(), text);
    }
}

#[test]
fn context_mixing_finds_the_record_stride_by_trial() {
    let table = records_table(12_000);
    let auto = compress_bytes(model(), &table, &cm_opts(0, 1 << 20, RecordStride::Auto)).unwrap();
    let off = compress_bytes(model(), &table, &cm_opts(0, 1 << 20, RecordStride::Off)).unwrap();
    assert!(auto.len() < off.len(), "{} !< {}", auto.len(), off.len());
    let reader = ArchiveReader::from_bytes(&auto).unwrap();
    let (_, stride, _) = crate::cm::parse(&reader_payload(&auto, 0)).unwrap();
    assert_eq!(stride, 24);
    drop(reader);
    assert_eq!(decompress_bytes(&auto, None).unwrap(), table);
}

/// The payload of chunk `i` of an archive in memory.
fn reader_payload(archive: &[u8], i: usize) -> Vec<u8> {
    let mut r = ArchiveReader::from_bytes(archive).unwrap();
    r.read_payload(i).unwrap()
}

#[test]
fn context_mixing_stores_incompressible_chunks_and_mixes_with_them() {
    let mut data = hepmc_like(20_000);
    let mut x = 0x1234_5678u32;
    data.extend((0..40_000).map(|_| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x as u8
    }));
    let a = compress_bytes(model(), &data, &cm_opts(1, 20_000, RecordStride::Off)).unwrap();
    let reader = ArchiveReader::from_bytes(&a).unwrap();
    let codecs: Vec<Codec> = reader.entries().iter().map(|e| e.codec).collect();
    assert_eq!(codecs, [Codec::Cm, Codec::Stored, Codec::Stored]);
    assert_eq!(decompress_bytes(&a, None).unwrap(), data);
}

#[test]
fn context_mixing_chunk_damage_is_reported_not_decoded() {
    let text = hepmc_like(30_000);
    let mut a = compress_bytes(model(), &text, &cm_opts(0, 16 << 10, RecordStride::Off)).unwrap();
    // A byte in the middle of the first payload (the header is 64 bytes).
    a[64 + 2000] ^= 0x40;
    assert!(decompress_bytes(&a, None).is_err());
}

/// Lines of fields in the manner of HepMC, with varying numbers.
fn hepmc_like(n: usize) -> Vec<u8> {
    let mut s = Vec::with_capacity(n + 80);
    let mut x = 0x9E37_79B9u32;
    let mut i = 0u32;
    while s.len() < n {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        i += 1;
        s.extend_from_slice(
            format!(
                "P {i} {} 211 {}.{:04}e+01 {} 1\n",
                i % 7,
                x % 1000,
                x % 9973,
                x % 3
            )
            .as_bytes(),
        );
    }
    s.truncate(n);
    s
}

/// The codecs whose mixed table the context mixer codes bit by bit (10 to
/// 12) round-trip, write the same bytes on any thread count, and code the
/// text in fewer bytes than their table-coded counterparts (5, 7, 8).
#[test]
fn network_context_mixing_codecs_round_trip() {
    let text = hepmc_like(24_000);
    let table = records_table(1_000);
    for (codec, plain, data, records) in [
        (
            Codec::NeuralMatchLongCm,
            Codec::NeuralMatchLong,
            &text,
            RecordStride::Off,
        ),
        (
            Codec::NeuralMatchLongTextCm,
            Codec::NeuralMatchLongText,
            &text,
            RecordStride::Off,
        ),
        (
            Codec::NeuralMatchLongColumnsHistCm,
            Codec::NeuralMatchLongColumnsHist,
            &table,
            RecordStride::Fixed(24),
        ),
    ] {
        let o = CompressOptions {
            records,
            ..opts(8 << 10, 4)
        }
        .for_codec(codec);
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| compress_bytes(model(), data, &o).unwrap());
        let two = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap()
            .install(|| compress_bytes(model(), data, &o).unwrap());
        assert_eq!(one, two, "{codec:?}");
        assert_eq!(codecs_of(&one).first(), Some(&codec));
        assert_eq!(
            decompress_bytes(&one, Some(model().clone())).unwrap(),
            *data
        );
        let p = CompressOptions {
            records,
            ..opts(8 << 10, 4)
        }
        .for_codec(plain);
        let plain_len = compress_bytes(model(), data, &p).unwrap().len();
        assert!(
            one.len() < plain_len,
            "{codec:?}: {} !< {plain_len}",
            one.len()
        );
    }
}

/// Engines that decode the context mixer's codecs hold few streams: each
/// holds its own counters (about 130 MB).
#[test]
fn context_mixing_streams_are_few_per_engine() {
    let bits = Mixing::new(Codec::NeuralMatchLongCm, None).unwrap();
    let table = Mixing::new(Codec::NeuralMatchLong, None).unwrap();
    assert_eq!(streams_for(32, Device::Cpu, [table, table]), 32);
    assert_eq!(streams_for(32, Device::Cpu, [table, bits]), 2);
    assert_eq!(streams_for(1, Device::Cpu, [bits]), 1);
    assert_eq!(streams_for(1024, Device::CudaEmulated, [bits]), 16);
}
