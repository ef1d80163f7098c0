//! Arbitrary bytes as a file of concatenated `.boa` archives, read the way
//! `boa-det decompress` reads one: `member_ranges` walks the members from the
//! end, every range must lie inside the file, in order and without overlap,
//! and each member opened through a `Window` must verify or fail cleanly,
//! under `DecodeLimits` checked before any work (so inputs stay fast).
#![no_main]

mod common;

use boa_det::compress::{self, DecodeLimits};
use boa_det::container::{ArchiveReader, Window, member_ranges};
use boa_det::engine::Device;
use libfuzzer_sys::fuzz_target;
use std::io::Cursor;

fuzz_target!(|data: &[u8]| {
    let mut src = Cursor::new(data);
    let Ok(ranges) = member_ranges(&mut src) else {
        return;
    };
    assert!(!ranges.is_empty());
    let mut end = 0;
    for r in &ranges {
        assert_eq!(r.start, end, "members are back to back from the start");
        assert!(r.start < r.end && r.end <= data.len() as u64);
        end = r.end;
    }
    assert_eq!(end, data.len() as u64, "the members cover the file");
    let limits = DecodeLimits {
        max_output: Some(1 << 20),
        max_model_steps: Some(1 << 14),
    };
    for r in ranges {
        // A range member_ranges validated opens as an archive.
        let mut reader = ArchiveReader::open(Window::new(&mut src, r.clone()))
            .unwrap_or_else(|e| panic!("member {r:?} validated but does not open: {e}"));
        if limits.check(&reader, None).is_ok() {
            let _ = compress::verify(
                &mut reader,
                Some(common::model()),
                Device::Cpu,
                2,
                compress::NO_PROGRESS,
            );
        }
    }
});
