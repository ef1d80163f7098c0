//! Arbitrary bytes as a `.boa` archive: decompressing, verifying and listing
//! must return an error or the data, never panic or hang.
#![no_main]

mod common;

use boa_det::compress::{self, DEFAULT_WINDOW};
use boa_det::container::ArchiveReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let model = common::model();
    let _ = compress::decompress_bytes(data, Some(model.clone()));
    if let Ok(mut r) = ArchiveReader::from_bytes(data) {
        let _ = r.read_model_blob();
        let _ = compress::verify(&mut r, Some(model), DEFAULT_WINDOW, &mut |_| {});
        let total = r.total_len();
        let mut out = Vec::new();
        let _ = compress::decompress(
            &mut r,
            Some(model),
            Some(total / 3..total),
            &mut out,
            2,
            &mut |_| {},
        );
    }
});
