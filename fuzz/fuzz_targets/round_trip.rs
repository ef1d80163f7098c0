//! Arbitrary input (first byte: chunk length 1..=64, bits 6-7 = record
//! size: detected, off, or fixed at 2 + the chunk length bits; second: window
//! 1..=4, bit 2 = no column histograms, bit 3 = chunks do not grow for wide
//! records, bit 4 = text field histograms not by trial but never (or, with
//! record size bits 3, always), bit 5 = match model without its long finder, bit 6 = network
//! alone instead of the match model, bit 7 = embed the model) compresses and
//! decompresses to itself.
#![no_main]

mod common;

use boa_det::compress::{self, CompressOptions, RecordStride, TextFields};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [c, w, rest @ ..] = data else {
        return;
    };
    let opts = CompressOptions {
        chunk_len: u32::from(c % 64) + 1,
        embed_model: w & 0x80 != 0,
        window: usize::from(w % 4) + 1,
        match_model: w & 0x40 == 0,
        records: match c >> 6 {
            0 => RecordStride::Auto,
            1 => RecordStride::Off,
            _ => RecordStride::Fixed(u32::from(c % 64) + 2),
        },
        long_finder: w & 0x20 == 0,
        column_histograms: w & 0x04 == 0,
        text_fields: match (w & 0x10 != 0, c >> 6) {
            (false, _) => TextFields::Trial,
            (true, 3) => TextFields::Always,
            (true, _) => TextFields::Off,
        },
        device: boa_det::engine::Device::Cpu,
        grow_chunks: w & 0x08 == 0,
        context_mixing: None,
        network_context_mixing: false,
        kinematics: false,
        counting: false,
        column_models: false,
        wide_mixer: false,
        relations: false,
        short_trial: false,
    };
    let model = common::model();
    let archive = compress::compress_bytes(model, rest, &opts).expect("compress");
    let back = compress::decompress_bytes(&archive, Some(model.clone())).expect("decompress");
    assert_eq!(back, rest);
});
