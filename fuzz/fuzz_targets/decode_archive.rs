//! Arbitrary bytes as a `.boa` archive: decompressing, verifying and listing
//! must return an error or the data, never panic or hang. A genuine archive
//! can expand a few payload bytes into up to `coder::max_symbols` model steps
//! (a run of one byte costs almost nothing), so inputs that claim more than
//! `MAX_STEPS` are only opened, not decoded: their cost is legitimate, and
//! `decode_bounded` checks that such limits hold.
#![no_main]

mod common;

use boa_det::compress::{self, DEFAULT_WINDOW, DecodeLimits};
use boa_det::container::ArchiveReader;
use boa_det::engine::Device;
use libfuzzer_sys::fuzz_target;

/// Model steps an input may cost before it is left undecoded.
const MAX_STEPS: u64 = 1 << 16;

fuzz_target!(|data: &[u8]| {
    let model = common::model();
    let limits = DecodeLimits {
        max_output: None,
        max_model_steps: Some(MAX_STEPS),
    };
    if let Ok(mut r) = ArchiveReader::from_bytes(data) {
        if limits.check(&r, None).is_err() {
            return;
        }
        let _ = compress::decompress_bytes(data, Some(model.clone()));
        let _ = r.read_model_blob();
        let _ = compress::verify(
            &mut r,
            Some(model),
            Device::Cpu,
            DEFAULT_WINDOW,
            compress::NO_PROGRESS,
        );
        let total = r.total_len();
        let mut out = Vec::new();
        let _ = compress::decompress(
            &mut r,
            Some(model),
            Device::Cpu,
            Some(total / 3..total),
            &mut out,
            2,
            compress::NO_PROGRESS,
        );
    }
});
