use super::*;

fn sample_text(n: usize) -> Vec<u8> {
    let mut s = Vec::new();
    let mut i = 0u64;
    while s.len() < n {
        i += 1;
        let x = i.wrapping_mul(2654435761) % 100000;
        s.extend_from_slice(
            format!("P {i} 2212 {x}.{:03}e+01 -{} 1\n", x % 997, x % 13).as_bytes(),
        );
    }
    s.truncate(n);
    s
}

#[test]
fn round_trips_every_profile_with_and_without_stride() {
    let text = sample_text(20_000);
    for p in PROFILES.iter() {
        for stride in [0, 24] {
            for data in [&text[..], &text[..1], &[][..], &text[..777]] {
                let enc = encode(p, stride, data);
                assert_eq!(
                    decode(&enc, data.len()).unwrap(),
                    data,
                    "{} {stride}",
                    p.name
                );
            }
        }
    }
}

#[test]
fn compresses_text() {
    let text = sample_text(50_000);
    let enc = encode(&PROFILES[0], 0, &text);
    assert!(
        enc.len() < text.len() / 4,
        "{} of {}",
        enc.len(),
        text.len()
    );
}

#[test]
fn corrupt_payloads_fail_cleanly() {
    let text = sample_text(5_000);
    let enc = encode(&PROFILES[1], 0, &text);
    assert_eq!(decode(&enc[..3], 10), Err(CmError::TooShort));
    let mut bad = enc.clone();
    bad[0] = 99;
    assert_eq!(decode(&bad, text.len()), Err(CmError::UnknownProfile(99)));
    let mut bad = enc.clone();
    bad[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        decode(&bad, text.len()),
        Err(CmError::BadStride(_))
    ));
    assert!(matches!(
        decode(&enc[..HEADER_LEN + 2], 1 << 30),
        Err(CmError::ClaimTooLong { .. })
    ));
    // Truncated, extended or flipped streams: an error or different bytes,
    // never a panic.
    assert!(decode(&enc[..enc.len() - 3], text.len()).is_err());
    let mut longer = enc.clone();
    longer.push(0);
    assert!(decode(&longer, text.len()).is_err());
    // (The last bytes are the flush, which may not change what decodes.)
    for i in (HEADER_LEN..enc.len() / 2).step_by(97) {
        let mut f = enc.clone();
        f[i] ^= 0x10;
        if let Ok(d) = decode(&f, text.len()) {
            assert_ne!(d, text);
        }
    }
}
