use super::*;
use proptest::prelude::*;

/// Uniform table: every symbol 2^16.
fn uniform() -> CumulativeFrequencies {
    CumulativeFrequencies::new(&[1 << 16; 256]).unwrap()
}

/// `hot` gets 2^24 - 255, every other symbol 1.
fn extreme(hot: u8) -> [u32; 256] {
    let mut f = [1u32; 256];
    f[usize::from(hot)] = TOTAL - 255;
    f
}

/// Independent encoder: keeps every finished byte in a vector and propagates a
/// carry into it directly, instead of the cache / cache_size scheme. Returns
/// the stream including the leading byte, which must be 0.
fn reference_encode(symbols: &[u8], table: impl Fn(usize) -> CumulativeFrequencies) -> Vec<u8> {
    reference_encode_ripple(symbols, table).0
}

/// [`reference_encode`], also returning the longest carry ripple (number of
/// finished bytes a single carry changed).
fn reference_encode_ripple(
    symbols: &[u8],
    table: impl Fn(usize) -> CumulativeFrequencies,
) -> (Vec<u8>, usize) {
    let mut ripple = 0;
    let mut out = vec![0u8];
    let mut low: u128 = 0;
    let mut range: u128 = u128::from(u64::MAX);
    for (i, &s) in symbols.iter().enumerate() {
        let cf = table(i);
        let r = range >> 24;
        low += r * u128::from(cf.start(s));
        range = r * u128::from(cf.freq(s));
        if low >= 1 << 64 {
            low -= 1 << 64;
            let mut changed = 0;
            for b in out.iter_mut().rev() {
                let (v, overflow) = b.overflowing_add(1);
                *b = v;
                changed += 1;
                if !overflow {
                    break;
                }
            }
            ripple = ripple.max(changed);
        }
        while range < 1 << 56 {
            range <<= 8;
            out.push((low >> 56) as u8);
            low = (low & 0x00FF_FFFF_FFFF_FFFF) << 8;
        }
    }
    out.extend_from_slice(&(low as u64).to_be_bytes());
    (out, ripple)
}

fn table_strategy() -> impl Strategy<Value = [u32; 256]> {
    prop_oneof![
        // Random weights, with many zeros so that frequency-1 symbols occur.
        proptest::collection::vec(prop_oneof![Just(0u32), 0u32..1000, 0u32..1_000_000], 256)
            .prop_map(|v| frequencies_from_weights(&v)),
        // One symbol has almost everything.
        any::<u8>().prop_map(extreme),
        // Two heavy symbols.
        (any::<u8>(), any::<u8>()).prop_map(|(a, b)| {
            let mut w = [0u32; 256];
            w[usize::from(a)] = 1000;
            w[usize::from(b)] += 999;
            frequencies_from_weights(&w)
        }),
        Just([1u32 << 16; 256]),
    ]
}

/// Symbols drawn mostly from the likely ones, sometimes arbitrary.
fn symbols_for(tables: &[[u32; 256]], picks: &[(u8, u16)]) -> Vec<u8> {
    picks
        .iter()
        .enumerate()
        .map(|(i, &(arb, pick))| {
            let t = &tables[i % tables.len()];
            if pick % 8 == 0 {
                arb
            } else {
                // Symbol covering position `pick * 256` of the total.
                let target = u64::from(pick) * 256;
                let mut acc = 0u64;
                for (s, &f) in t.iter().enumerate() {
                    acc += u64::from(f);
                    if acc > target {
                        return s as u8;
                    }
                }
                255
            }
        })
        .collect()
}

fn cfs(tables: &[[u32; 256]]) -> Vec<CumulativeFrequencies> {
    tables
        .iter()
        .map(|t| CumulativeFrequencies::new(t).unwrap())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trip(
        tables in proptest::collection::vec(table_strategy(), 1..4),
        picks in proptest::collection::vec((any::<u8>(), any::<u16>()), 0..2000),
    ) {
        let syms = symbols_for(&tables, &picks);
        let cf = cfs(&tables);
        let enc = encode_all(&syms, |i| &cf[i % cf.len()]);
        let reference = reference_encode(&syms, |i| cf[i % cf.len()].clone());
        prop_assert_eq!(reference[0], 0);
        prop_assert_eq!(&reference[1..], &enc[..]);
        prop_assert!(syms.len() as u64 <= max_symbols(enc.len()));
        let dec = decode_all(&enc, syms.len(), |i| &cf[i % cf.len()]).unwrap();
        prop_assert_eq!(dec, syms);
    }

    #[test]
    fn extreme_round_trip(
        hot in any::<u8>(),
        syms in proptest::collection::vec(prop_oneof![9 => Just(None), 1 => any::<u8>().prop_map(Some)], 0..3000),
    ) {
        let cf = CumulativeFrequencies::new(&extreme(hot)).unwrap();
        let syms: Vec<u8> = syms.iter().map(|s| s.unwrap_or(hot)).collect();
        let enc = encode_all(&syms, |_| &cf);
        let reference = reference_encode(&syms, |_| cf.clone());
        prop_assert_eq!(&reference[1..], &enc[..]);
        prop_assert_eq!(decode_all(&enc, syms.len(), |_| &cf).unwrap(), syms);
    }

    /// Every truncation and every appended byte is an error.
    #[test]
    fn truncation_and_trailing_detected(
        table in table_strategy(),
        picks in proptest::collection::vec((any::<u8>(), any::<u16>()), 0..200),
        extra in any::<u8>(),
    ) {
        let tables = [table];
        let syms = symbols_for(&tables, &picks);
        let cf = CumulativeFrequencies::new(&table).unwrap();
        let enc = encode_all(&syms, |_| &cf);
        for cut in 0..enc.len() {
            prop_assert!(decode_all(&enc[..cut], syms.len(), |_| &cf).is_err(), "cut {}", cut);
        }
        let mut longer = enc.clone();
        longer.push(extra);
        let is_trailing = matches!(
            decode_all(&longer, syms.len(), |_| &cf),
            Err(CoderError::TrailingBytes { trailing: 1, .. })
        );
        prop_assert!(is_trailing);
    }

    /// Arbitrary corruption never panics (the result may be Ok or Err).
    #[test]
    fn corrupt_never_panics(
        table in table_strategy(),
        data in proptest::collection::vec(any::<u8>(), 0..64),
        n in 0usize..5000,
    ) {
        let cf = CumulativeFrequencies::new(&table).unwrap();
        let _ = decode_all(&data, n, |_| &cf);
    }

    /// Flipping bytes of a valid stream never panics.
    #[test]
    fn flips_never_panic(
        table in table_strategy(),
        picks in proptest::collection::vec((any::<u8>(), any::<u16>()), 1..300),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..), 1..4),
    ) {
        let tables = [table];
        let syms = symbols_for(&tables, &picks);
        let cf = CumulativeFrequencies::new(&table).unwrap();
        let mut enc = encode_all(&syms, |_| &cf);
        for (at, x) in flips {
            let i = at.index(enc.len());
            enc[i] ^= x;
        }
        let _ = decode_all(&enc, syms.len(), |_| &cf);
    }

    #[test]
    fn invalid_tables_rejected(t in proptest::collection::vec(any::<u32>(), 256)) {
        let t: [u32; 256] = t.try_into().unwrap();
        let sum: u64 = t.iter().map(|&x| u64::from(x)).sum();
        let ok = t.iter().all(|&x| x >= 1) && sum == u64::from(TOTAL);
        prop_assert_eq!(CumulativeFrequencies::new(&t).is_ok(), ok);
    }
}

#[test]
fn empty_sequence() {
    let cf = uniform();
    let enc = encode_all(&[], |_| &cf);
    assert_eq!(enc, [0; 8]);
    assert_eq!(enc.len(), MIN_STREAM_LEN);
    assert_eq!(decode_all(&enc, 0, |_| &cf).unwrap(), Vec::<u8>::new());
    assert!(matches!(
        decode_all(&[], 0, |_| &cf),
        Err(CoderError::TooShort { len: 0 })
    ));
    assert!(matches!(
        decode_all(&[0; 7], 0, |_| &cf),
        Err(CoderError::TooShort { len: 7 })
    ));
    assert!(matches!(
        decode_all(&[0; 9], 0, |_| &cf),
        Err(CoderError::TrailingBytes { trailing: 1, .. })
    ));
}

/// Worked by hand in docs/FORMAT.md: one symbol 0x41 under the uniform table.
/// r = 2^40 - 1, low = r * 0x41_0000 = 0x40FF_FFFF_FFBF_0000,
/// range = 0x00FF_FFFF_FFFF_0000 -> one shift (first byte 0x00 dropped,
/// cache = 0x40), then the flush queues four 0xFF bytes and writes
/// 40 FF FF FF FF BF 00 00 00.
#[test]
fn vector_hand_worked() {
    let cf = uniform();
    let enc = encode_all(b"A", |_| &cf);
    assert_eq!(enc, [0x40, 0xFF, 0xFF, 0xFF, 0xFF, 0xBF, 0x00, 0x00, 0x00]);
    assert_eq!(decode_all(&enc, 1, |_| &cf).unwrap(), b"A");
}

/// Recorded test vector: symbols b"boa-det range coder" alternating between
/// the uniform table and a skewed table (byte b'e' = 2^23, every other byte
/// (2^23) / 255 with the remainder on b'e').
#[test]
fn vector_recorded() {
    let mut skew = [32_896u32; 256]; // 255 * 32896 = 8_388_480
    skew[usize::from(b'e')] = TOTAL - 255 * 32_896;
    let tables = [uniform(), CumulativeFrequencies::new(&skew).unwrap()];
    let syms = b"boa-det range coder";
    let enc = encode_all(syms, |i| &tables[i % 2]);
    assert_eq!(enc, RECORDED, "got {:02X?}", enc);
    let reference = reference_encode(syms, |i| tables[i % 2].clone());
    assert_eq!(&reference[1..], &enc[..]);
    assert_eq!(
        decode_all(&enc, syms.len(), |i| &tables[i % 2]).unwrap(),
        syms
    );
}

const RECORDED: [u8; 26] = [
    0x62, 0xB7, 0x68, 0x3B, 0xEF, 0x76, 0x06, 0x97, 0xB3, 0x4F, 0xB4, 0xAE, 0xA4, 0xB0, 0x04, 0xD1,
    0xD7, 0x00, 0x28, 0xEC, 0x73, 0xDB, 0xB3, 0x80, 0x00, 0x00,
];

/// A carry that ripples through two pending 0xFF bytes (found by search under
/// the uniform table), exercising `cache_size > 1` in `shift_low`.
#[test]
fn carry_through_ff_run() {
    let cf = uniform();
    let syms = [
        0xF8, 0xFC, 0xFA, 0xF4, 0xF0, 0xF1, 0xF1, 0xFA, 0xF4, 0xF3, 0xFE, 0xF8, 0xF6, 0xF3, 0xF7,
        0xF6,
    ];
    let enc = encode_all(&syms, |_| &cf);
    let (reference, ripple) = reference_encode_ripple(&syms, |_| cf.clone());
    assert!(ripple >= 3, "ripple {ripple}");
    assert_eq!(&reference[1..], &enc[..]);
    assert_eq!(decode_all(&enc, syms.len(), |_| &cf).unwrap(), syms);
}

#[test]
fn table_errors() {
    let mut t = [1u32 << 16; 256];
    t[7] = 0;
    t[8] += 1 << 16;
    assert_eq!(
        CumulativeFrequencies::new(&t),
        Err(CoderError::ZeroFrequency { symbol: 7 })
    );
    let t = [u32::MAX; 256];
    assert_eq!(
        CumulativeFrequencies::new(&t),
        Err(CoderError::BadTotal {
            sum: 256 * u64::from(u32::MAX)
        })
    );
    let mut t = [1u32 << 16; 256];
    t[0] -= 1;
    assert_eq!(
        CumulativeFrequencies::new(&t),
        Err(CoderError::BadTotal {
            sum: u64::from(TOTAL) - 1
        })
    );
    let mut enc = RangeEncoder::new();
    assert!(enc.encode_freqs(&t, 0).is_err());
}

#[test]
fn symbol_lookup_edges() {
    let cf = CumulativeFrequencies::new(&extreme(3)).unwrap();
    assert_eq!(cf.symbol_for(0), Some(0));
    assert_eq!(cf.symbol_for(3), Some(3));
    assert_eq!(cf.symbol_for(TOTAL - 253), Some(3));
    assert_eq!(cf.symbol_for(TOTAL - 252), Some(4));
    assert_eq!(cf.symbol_for(TOTAL - 1), Some(255));
    assert_eq!(cf.symbol_for(TOTAL), None);
    assert_eq!(cf.symbol_for(u32::MAX), None);
    assert_eq!(cf.cumulative()[256], TOTAL);
}

#[test]
fn corrupt_first_word_is_error() {
    let cf = uniform();
    // code = 2^64 - 1 >= range: q = code / (2^40 - 1) >= 2^24.
    assert!(matches!(
        decode_all(&[0xFF; 8], 1, |_| &cf),
        Err(CoderError::Corrupt { .. })
    ));
}

/// Decoding more symbols than the stream holds, but no more than its length
/// allows ([`max_symbols`]), ends with an error rather than running on.
#[test]
fn overlong_decode_is_truncation() {
    let cf = CumulativeFrequencies::new(&extreme(0)).unwrap();
    let enc = encode_all(&[0u8; 10], |_| &cf);
    let n = usize::try_from(max_symbols(enc.len())).unwrap();
    let r = decode_all(&enc, n, |_| &cf);
    assert!(matches!(r, Err(CoderError::Truncated { .. })), "{r:?}");
}

/// `max_symbols` holds for the cheapest possible stream (every symbol the
/// `2^24 - 255` one), is within 15 % of its length there, and a claim one past
/// it is refused before decoding.
#[test]
fn max_symbols_bounds_the_most_skewed_stream() {
    let cf = CumulativeFrequencies::new(&extreme(7)).unwrap();
    for n in [1usize, 1_000, 400_000, 20_000_000] {
        let mut enc = RangeEncoder::new();
        for _ in 0..n {
            enc.encode(&cf, 7);
        }
        let stream = enc.finish();
        let max = max_symbols(stream.len());
        assert!(n as u64 <= max, "{n} symbols in {} bytes", stream.len());
        if n == 20_000_000 {
            assert!(max < n as u64 * 115 / 100, "bound {max} loose for {n}");
        }
        let r = decode_all(&stream, max as usize + 1, |_| &cf);
        assert!(matches!(r, Err(CoderError::ClaimTooLong { .. })), "{r:?}");
    }
    assert_eq!(max_symbols(0), 0);
    assert_eq!(max_symbols(7), 0);
    assert_eq!(max_symbols(8), (8 << 24) / 367);
    assert!(max_symbols(usize::MAX) > 0);
}

/// Coding overhead of the 64-bit coder over the ideal code length
/// `sum(-log2(freq / 2^24))`, on skewed tables from about 0.05 to 6 bits per
/// symbol. Recorded in docs/FORMAT.md section 9.8.
#[test]
#[allow(clippy::float_arithmetic, clippy::cast_precision_loss)]
fn overhead_is_small() {
    let mut x: u64 = 7;
    let mut next = || {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        x >> 33
    };
    for hot_freq in [TOTAL - 255 * 1024, TOTAL / 2, TOTAL / 16, 1 << 16] {
        let mut t = [(TOTAL - hot_freq) / 255; 256];
        t[0] = TOTAL - 255 * t[1];
        let cf = CumulativeFrequencies::new(&t).unwrap();
        let n = 200_000usize;
        let syms: Vec<u8> = (0..n)
            .map(|_| {
                let q = (next() % u64::from(TOTAL)) as u32;
                cf.symbol_for(q).unwrap()
            })
            .collect();
        let ideal: f64 = syms
            .iter()
            .map(|&s| -(f64::from(cf.freq(s)) / f64::from(TOTAL)).log2())
            .sum();
        let enc = encode_all(&syms, |_| &cf);
        let actual = (enc.len() * 8) as f64;
        let per_sym = (actual - ideal) / n as f64;
        println!(
            "{:.3} bits/sym ideal, overhead {:.6} bits/sym",
            ideal / n as f64,
            per_sym
        );
        assert!(per_sym < 0.001, "overhead {per_sym}");
        assert_eq!(decode_all(&enc, n, |_| &cf).unwrap(), syms);
    }
}
