//! Arbitrary bytes as a `.boa` archive, decoded the way a service decoding
//! untrusted archives would: under `DecodeLimits` checked before any work,
//! with a wall-clock limit per input. Beyond `decode_archive`'s "never panic",
//! an input that keeps the decoder busy (a stream stepped after it failed, a
//! claim no payload can encode) fails here as a slow input.
#![no_main]

mod common;

use boa_det::compress::{self, DecodeLimits};
use boa_det::container::ArchiveReader;
use boa_det::engine::Device;
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, Instant};

/// Model steps a decode may take: about 0.4 s for the three decodes of the
/// tiny model in the instrumented fuzz build on an idle core.
const MAX_STEPS: u64 = 1 << 14;
/// The time one input may take, all three decodes together: 25 times what the
/// budget needs, so that a loaded machine does not report false findings.
const TIME_LIMIT: Duration = Duration::from_secs(10);

fuzz_target!(|data: &[u8]| {
    let t0 = Instant::now();
    let model = common::model();
    let limits = DecodeLimits {
        max_output: Some(16 << 20),
        max_model_steps: Some(MAX_STEPS),
    };
    if let Ok(mut r) = ArchiveReader::from_bytes(data) {
        if limits.check(&r, None).is_ok() {
            let _ = compress::verify(&mut r, Some(model), Device::Cpu, 4, compress::NO_PROGRESS);
            let mut out = Vec::new();
            let _ = compress::decompress(
                &mut r,
                Some(model),
                Device::Cpu,
                None,
                &mut out,
                2,
                compress::NO_PROGRESS,
            );
        }
        let total = r.total_len();
        let range = total / 2..total;
        if limits.check(&r, Some(&range)).is_ok() {
            let mut out = Vec::new();
            let _ = compress::decompress(
                &mut r,
                Some(model),
                Device::Cpu,
                Some(range),
                &mut out,
                3,
                compress::NO_PROGRESS,
            );
        }
    }
    let took = t0.elapsed();
    assert!(
        took < TIME_LIMIT,
        "{} input bytes took {took:?}",
        data.len()
    );
});
