//! The C helpers shared with the CUDA kernels (`kernels/boa_int.h`,
//! `kernels/boa_coder.h`, built for the host through `kernels/host_shim.c`)
//! against the Rust reference, bit for bit.

use boa_det::arith;
use boa_det::arith::freq::{Frequencies, LOGIT_MAX, default_exp2_table, logits_to_frequencies};
use boa_det::backend::c_shim as c;
use boa_det::engine::kernels;
use boa_det::model::synth::default_decay_table;
use boa_det::model::{LayerNorm, Requant};
use proptest::prelude::*;

fn decay_table() -> [u16; 256] {
    default_decay_table().try_into().unwrap()
}

#[test]
fn asr64_is_floor_shift_on_edges() {
    let vals = [
        i64::MIN,
        i64::MIN + 1,
        -(1 << 62),
        -3,
        -2,
        -1,
        0,
        1,
        2,
        3,
        1 << 62,
        i64::MAX - 1,
        i64::MAX,
    ];
    for &v in &vals {
        for s in 0..=63 {
            assert_eq!(c::asr64(v, s), v >> s, "v={v} s={s}");
        }
    }
}

#[test]
fn rshift_round_edges() {
    for (v, s) in [
        (5i64, 1u32),
        (-5, 1),
        (-6, 2),
        (-7, 2),
        (7, 0),
        (-1, 62),
        (-(1 << 62) + 1, 62),
        ((1 << 62) - 1, 62),
        (-(1 << 61), 61),
        (i64::MIN, 0),
        (i64::MAX, 0),
    ] {
        assert_eq!(
            c::rshift_round(v, s),
            arith::rshift_round(v, s),
            "v={v} s={s}"
        );
    }
}

#[test]
fn clamps_on_edges() {
    for v in [
        i64::MIN,
        -(1 << 40),
        -32768,
        -32767,
        -128,
        -127,
        0,
        127,
        128,
        32767,
        32768,
        i64::MAX,
    ] {
        assert_eq!(c::clamp_q8(v), arith::clamp_q8(v));
        assert_eq!(c::clamp_q16(v), arith::clamp_q16(v));
        assert_eq!(
            c::clamp_logit(v),
            v.clamp(-(LOGIT_MAX as i64), LOGIT_MAX as i64) as i32
        );
    }
}

#[test]
fn isqrt_edges() {
    for n in (0..10_000u64).chain([
        u64::MAX,
        u64::MAX - 1,
        (1 << 62) - 1,
        1 << 62,
        (1 << 63) - 1,
        1 << 63,
        0xFFFF_FFFE_0000_0001, // (2^32 - 1)^2
        0xFFFF_FFFE_0000_0000,
    ]) {
        assert_eq!(c::isqrt_u64(n), arith::isqrt_u64(n), "n={n}");
    }
}

#[test]
fn floor_div_edges() {
    for n in [
        i64::MIN + 1,
        -(1 << 27),
        -4097,
        -4096,
        -1,
        0,
        1,
        4095,
        4096,
        i64::MAX,
    ] {
        for d in [1i64, 2, 3, 16, 4096, i64::MAX] {
            assert_eq!(c::floor_div(n, d), arith::floor_div(n, d), "n={n} d={d}");
        }
    }
}

#[test]
fn decay_covers_every_exponent() {
    let t = decay_table();
    for a_shift in [0u8, 1, 8, 16, 31, 32] {
        for dt in [0u16, 1, 255, 256, 4096, 65535] {
            for rate in [0u16, 1, 16, 4095, 4096, 4097, 65535] {
                assert_eq!(
                    c::decay(dt, rate, a_shift, &t),
                    kernels::decay(dt, rate, a_shift, &t),
                    "dt={dt} rate={rate} a_shift={a_shift}"
                );
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn ref_scan(
    h: &mut [i32; 16],
    dt: u16,
    xc: i8,
    b: &[i8; 16],
    cc: &[i8; 16],
    rate: &[u16; 16],
    a_shift: u8,
    inc_shift: u8,
    d_skip: i32,
) -> i64 {
    let mut y = [0i64; 1];
    kernels::scan_step(
        &[xc],
        &[dt],
        b,
        cc,
        rate,
        a_shift,
        inc_shift,
        &[d_skip],
        &default_decay_table(),
        h,
        &mut y,
    );
    y[0]
}

#[test]
fn scan_adversarial_state() {
    // Extreme state, step sizes, inputs and skip weights; the state stays
    // inside |h| <= 2^30 + 2^16 by the spec's induction.
    let t = decay_table();
    let hmax = (1i32 << 30) + (1 << 16);
    for &h0 in &[hmax, -hmax, 0, 1, -1] {
        for &(dt, rate, a_shift) in &[
            (65535u16, 0u16, 32u8),
            (0, 65535, 0),
            (65535, 65535, 0),
            (1, 1, 0),
        ] {
            for &(xc, bv, inc_shift) in &[
                (127i8, 127i8, 0u8),
                (-127, 127, 0),
                (127, -127, 40),
                (-127, -127, 5),
            ] {
                let mut h1 = [h0; 16];
                let mut h2 = h1;
                let b = [bv; 16];
                let cc = [-127i8; 16];
                let rates = [rate; 16];
                for d_skip in [i32::MIN + 1, 0, i32::MAX] {
                    let y1 = c::scan_channel(
                        &mut h1, dt, xc, &b, &cc, &rates, a_shift, inc_shift, d_skip, &t,
                    );
                    let y2 = ref_scan(&mut h2, dt, xc, &b, &cc, &rates, a_shift, inc_shift, d_skip);
                    assert_eq!((y1, h1), (y2, h2));
                }
            }
        }
    }
}

#[test]
fn logits_extremes() {
    let exp2 = default_exp2_table();
    let mut cases: Vec<[i32; 256]> = vec![[LOGIT_MAX; 256], [-LOGIT_MAX; 256], [0; 256]];
    let mut one_hot = [-LOGIT_MAX; 256];
    one_hot[7] = LOGIT_MAX;
    cases.push(one_hot);
    let mut two_max = [0i32; 256];
    two_max[200] = 8191;
    two_max[3] = 8191;
    cases.push(two_max);
    let mut ramp = [0i32; 256];
    for (i, l) in ramp.iter_mut().enumerate() {
        *l = i as i32 * 37 - 4000;
    }
    cases.push(ramp);
    for l in cases {
        let mut f = Frequencies::default();
        logits_to_frequencies(&l, &exp2, &mut f);
        assert_eq!(c::logits_to_frequencies(&l, &exp2), f.0);
    }
}

/// The range encoder as specified for boa-det, transcribed independently of
/// the C code (the Rust coder in `src/coder/` is written in parallel).
fn spec_encode(syms: &[u8], freqs: &[[u32; 256]]) -> Vec<u8> {
    struct E {
        low: u64,
        range: u32,
        cache: u8,
        cache_size: u64,
        first: bool,
        out: Vec<u8>,
    }
    impl E {
        fn emit(&mut self, b: u8) {
            if self.first {
                assert_eq!(b, 0);
                self.first = false;
            } else {
                self.out.push(b);
            }
        }
        fn shift_low(&mut self) {
            if (self.low as u32) < 0xFF00_0000 || self.low >= 1 << 32 {
                let carry = (self.low >> 32) as u8;
                self.emit(self.cache.wrapping_add(carry));
                for _ in 1..self.cache_size {
                    self.emit(0xFFu8.wrapping_add(carry));
                }
                self.cache = (self.low >> 24) as u8;
                self.cache_size = 0;
            }
            self.cache_size += 1;
            self.low = (self.low & 0x00FF_FFFF) << 8;
        }
    }
    let mut e = E {
        low: 0,
        range: u32::MAX,
        cache: 0,
        cache_size: 1,
        first: true,
        out: Vec::new(),
    };
    for (&s, f) in syms.iter().zip(freqs) {
        let cum: u32 = f[..s as usize].iter().sum();
        let r = e.range >> 24;
        e.low += r as u64 * cum as u64;
        e.range = r * f[s as usize];
        while e.range < 1 << 24 {
            e.range <<= 8;
            e.shift_low();
        }
    }
    for _ in 0..5 {
        e.shift_low();
    }
    e.out
}

fn freq_table(seed: &[i32]) -> [u32; 256] {
    let mut l = [0i32; 256];
    for (i, v) in l.iter_mut().enumerate() {
        *v = seed[i % seed.len()].wrapping_mul(i as i32 + 1) % LOGIT_MAX;
    }
    let mut f = Frequencies::default();
    logits_to_frequencies(&l, &default_exp2_table(), &mut f);
    f.0
}

#[test]
fn coder_skewed_tables_roundtrip() {
    // One-hot tables push the range to its limits (carries, long 0xFF runs).
    let mut hot = [1u32; 256];
    hot[0] = (1 << 24) - 255;
    let mut cold = [1u32; 256];
    cold[255] = (1 << 24) - 255;
    let syms: Vec<u8> = (0..5000)
        .map(|i| if i % 7 == 0 { 255 } else { 0 })
        .collect();
    let tables: Vec<[u32; 256]> = (0..5000)
        .map(|i| if i % 3 == 0 { cold } else { hot })
        .collect();
    let enc = c::encode(&syms, &tables);
    assert_eq!(enc, spec_encode(&syms, &tables));
    assert_eq!(c::decode(&enc, &tables).unwrap(), syms);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn rshift_round_matches(v in -(1i64 << 61)..(1i64 << 61), s in 0u32..=62) {
        prop_assert_eq!(c::rshift_round(v, s), arith::rshift_round(v, s));
    }

    #[test]
    fn asr64_matches(v in any::<i64>(), s in 0u32..=63) {
        prop_assert_eq!(c::asr64(v, s), v >> s);
    }

    #[test]
    fn requant_matches(acc in -(1i64 << 31)..(1i64 << 31), m in 0i32..=i32::MAX, s in 1u8..=62) {
        // The loader's bound: |acc| * m + 2^(s-1) < 2^63 holds for |acc| < 2^31, m < 2^31.
        prop_assert_eq!(c::requant(acc, m, s), arith::requant(acc, m, s));
        prop_assert_eq!(c::clamp_q8(c::requant(acc, m, s)), arith::requant_q8(acc, m, s));
        prop_assert_eq!(c::clamp_q16(c::requant(acc, m, s)), arith::requant_q16(acc, m, s));
    }

    #[test]
    fn clamps_match(v in any::<i64>()) {
        prop_assert_eq!(c::clamp_q8(v), arith::clamp_q8(v));
        prop_assert_eq!(c::clamp_q16(v), arith::clamp_q16(v));
    }

    #[test]
    fn isqrt_matches(n in any::<u64>()) {
        prop_assert_eq!(c::isqrt_u64(n), arith::isqrt_u64(n));
    }

    #[test]
    fn floor_div_matches(n in (i64::MIN + 1)..=i64::MAX, d in 1i64..=i64::MAX) {
        prop_assert_eq!(c::floor_div(n, d), arith::floor_div(n, d));
    }

    #[test]
    fn decay_matches(dt in any::<u16>(), rate in any::<u16>(), a_shift in 0u8..=32) {
        let t = decay_table();
        prop_assert_eq!(c::decay(dt, rate, a_shift, &t), kernels::decay(dt, rate, a_shift, &t));
    }

    #[test]
    fn scan_matches(
        h0 in proptest::array::uniform16(-((1i32 << 30) + (1 << 16))..=((1i32 << 30) + (1 << 16))),
        dt in any::<u16>(),
        xc in -127i8..=127,
        b in proptest::array::uniform16(-127i8..=127),
        cc in proptest::array::uniform16(-127i8..=127),
        rates in proptest::array::uniform16(any::<u16>()),
        a_shift in 0u8..=32,
        inc_shift in 0u8..=40,
        d_skip in any::<i32>(),
        steps in 1usize..8,
    ) {
        let t = decay_table();
        let (mut h1, mut h2) = (h0, h0);
        for _ in 0..steps {
            let y1 = c::scan_channel(&mut h1, dt, xc, &b, &cc, &rates, a_shift, inc_shift, d_skip, &t);
            let y2 = ref_scan(&mut h2, dt, xc, &b, &cc, &rates, a_shift, inc_shift, d_skip);
            prop_assert_eq!(y1, y2);
            prop_assert_eq!(h1, h2);
        }
    }

    #[test]
    fn layer_norm_matches(
        dsel in 1usize..=8,
        seed in any::<u64>(),
        shift in 1u8..=62,
        eps_log in 0u32..=60,
        extreme in any::<bool>(),
    ) {
        let d = dsel * 16;
        let mut rng = boa_det::model::synth::SplitMix64(seed);
        let x: Vec<i16> = (0..d)
            .map(|i| if extreme { if i % 2 == 0 { 32767 } else { -32767 } } else { rng.range_i64(-32767, 32767) as i16 })
            .collect();
        let gamma: Vec<i16> = (0..d).map(|_| rng.range_i64(-32767, 32767) as i16).collect();
        let beta: Vec<i32> = (0..d).map(|_| rng.range_i64(i32::MIN as i64 + 1, i32::MAX as i64) as i32).collect();
        let eps = 1u64 << eps_log;
        let ln = LayerNorm { gamma: gamma.clone(), beta: beta.clone(), shift, eps };
        let mut want = vec![0i8; d];
        kernels::layer_norm(&x, &ln, &mut want);
        let mut got = vec![0i8; d];
        c::layer_norm(&x, &gamma, &beta, shift, eps, &mut got);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn logits_match(logits in proptest::collection::vec(-LOGIT_MAX..=LOGIT_MAX, 256), narrow in any::<bool>()) {
        let mut l = [0i32; 256];
        for (d, &s) in l.iter_mut().zip(&logits) {
            *d = if narrow { s % 3000 } else { s };
        }
        let exp2 = default_exp2_table();
        let mut f = Frequencies::default();
        logits_to_frequencies(&l, &exp2, &mut f);
        prop_assert_eq!(c::logits_to_frequencies(&l, &exp2), f.0);
    }

    #[test]
    fn coder_roundtrip_and_spec(
        syms in proptest::collection::vec(any::<u8>(), 0..600),
        seeds in proptest::collection::vec(any::<i32>(), 1..5),
    ) {
        let tables: Vec<[u32; 256]> = (0..syms.len())
            .map(|i| freq_table(&[seeds[i % seeds.len()], i as i32]))
            .collect();
        let enc = c::encode(&syms, &tables);
        prop_assert_eq!(&enc, &spec_encode(&syms, &tables));
        prop_assert_eq!(c::decode(&enc, &tables), Some(syms));
    }
}

#[test]
fn requant_struct_unused_guard() {
    // Keeps the Requant import honest: per-channel requant over a vector.
    let rq = Requant {
        mult: vec![i32::MAX, 1, 0],
        shift: vec![62, 1, 30],
    };
    let acc = [i32::MIN + 1, -3, i32::MAX];
    let mut want = [0i8; 3];
    kernels::requant_to_q8(&acc, &rq, &mut want);
    for j in 0..3 {
        assert_eq!(
            c::clamp_q8(c::requant(acc[j] as i64, rq.mult[j], rq.shift[j])),
            want[j]
        );
    }
}
