//! The context-mixing codec (codec 9): arbitrary input (first byte: bits
//! 0-1 = profile 1 to 3 (0 also 1), bits 2-7 = record stride (0 for none);
//! the rest: the data) codes and decodes to itself, directly and through the
//! pipeline with 1 KiB chunks; and the payload, cut short or with a byte
//! flipped, decodes to an error or other bytes, never a panic. The same data
//! also round-trips through the network's codecs with the context mixer
//! (10 to 12), with the kinematic model on text (13), the counting-field model
//! (14), the column models on records (15), the wide mixer (16, 17) and the
//! relation model on records (18).
#![no_main]

mod common;

use boa_det::cm;
use boa_det::compress::{self, CompressOptions, RecordStride};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [c, rest @ ..] = data else {
        return;
    };
    let profile = &cm::PROFILES[usize::from(c & 3).max(1) - 1];
    let stride = u32::from(c >> 2);
    let payload = cm::encode(profile, stride, rest);
    assert_eq!(cm::decode(&payload, rest.len()).expect("decode"), rest);
    if payload.len() > cm::HEADER_LEN {
        let _ = cm::decode(&payload[..payload.len() - 1], rest.len());
        let mut flipped = payload.clone();
        let i = cm::HEADER_LEN + usize::from(*c) % (payload.len() - cm::HEADER_LEN);
        flipped[i] ^= 0x5A;
        let _ = cm::decode(&flipped, rest.len());
    }
    let opts = CompressOptions {
        chunk_len: 1024,
        records: if stride >= 2 {
            RecordStride::Fixed(stride)
        } else {
            RecordStride::Auto
        },
        context_mixing: Some(profile),
        ..CompressOptions::default()
    };
    let model = common::model();
    let archive = compress::compress_bytes(model, rest, &opts).expect("compress");
    let back = compress::decompress_bytes(&archive, None).expect("decompress without a model");
    assert_eq!(back, rest);
    // The network's tables coded by the context mixer (codecs 10 to 12),
    // with the kinematic model (13) and with the counting-field model too
    // (14) when the data reads as text, with the column models (15) when it
    // has records, with the wide mixer as well (16 and 17), and with the
    // relation model of records (18).
    for (kinematics, counting, wide_mixer, relations) in [
        (false, false, false, false),
        (true, false, false, false),
        (true, true, false, false),
        (true, true, true, false),
        (true, true, true, true),
    ] {
        let opts = CompressOptions {
            chunk_len: 1024,
            records: opts.records,
            network_context_mixing: true,
            kinematics,
            counting,
            column_models: counting,
            wide_mixer,
            relations,
            ..CompressOptions::default()
        };
        let archive = compress::compress_bytes(model, rest, &opts).expect("compress +cm");
        let back =
            compress::decompress_bytes(&archive, Some(model.clone())).expect("decompress +cm");
        assert_eq!(back, rest);
    }
});
