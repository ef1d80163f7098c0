//! Every kernel level against the scalar reference, bit for bit: the GEMM on
//! random shapes and adversarial values (weights and activations at +-127,
//! biases at the largest magnitude the loader accepts), and whole steps of
//! random Typical and Adversarial models (frequencies and states).
//!
//! Tests are stamped out per level by `level_tests!`; a level the CPU lacks is
//! skipped with a message on stderr.

use boa_det::engine::cpu::dispatch::Kernels;
use boa_det::engine::cpu::graph::{GroupScratch, Prepared, step_group, step_sequence};
use boa_det::engine::reference::{linear_acc, requant_to_q8, requant_to_q16};
use boa_det::engine::{
    self, CpuEngine, Engine, EngineError, Frequencies, PRIME_BYTE, Scratch, StreamState,
};
use boa_det::intmath::ArithVersion;
use boa_det::model::synth::{SplitMix64, SynthKind, random_model, random_model_in};
use boa_det::model::{Dims, Linear, Requant};
use proptest::prelude::*;

fn level(name: &str) -> Option<Kernels> {
    match Kernels::by_name(name) {
        Ok(k) => Some(k),
        Err(e) => {
            eprintln!("SKIPPED: kernel level {name}: {e}");
            None
        }
    }
}

/// A random linear layer; `mode` 0 = uniform, 1 = all +-127 extremes, 2 = all +127.
fn linear(rows: usize, cols: usize, bias: bool, mode: u8, rng: &mut SplitMix64) -> Linear {
    let w8 = |rng: &mut SplitMix64| -> i8 {
        match mode {
            0 => rng.range_i64(-127, 127) as i8,
            1 => [127, -127][(rng.next_u64() & 1) as usize],
            _ => 127,
        }
    };
    let weight: Vec<i8> = (0..rows * cols).map(|_| w8(rng)).collect();
    let room = i32::MAX as i64 - cols as i64 * 127 * 127;
    let bias = bias.then(|| {
        (0..rows)
            .map(|_| match rng.next_u64() % 3 {
                0 => room as i32,
                1 => -room as i32,
                _ => rng.range_i64(-room, room) as i32,
            })
            .collect()
    });
    Linear {
        weight,
        bias,
        rows,
        cols,
        rq: Requant {
            mult: vec![1; rows],
            shift: vec![1; rows],
        },
    }
}

fn acts(n: usize, cols: usize, mode: u8, rng: &mut SplitMix64) -> Vec<i8> {
    (0..n * cols)
        .map(|_| match mode {
            0 => rng.range_i64(-127, 127) as i8,
            1 => [127, -127][(rng.next_u64() & 1) as usize],
            _ => -127,
        })
        .collect()
}

fn check_gemm(k: Kernels, rows: usize, cols: usize, n: usize, bias: bool, mode: u8, seed: u64) {
    let mut rng = SplitMix64(seed);
    let l = linear(rows, cols, bias, mode, &mut rng);
    let a = acts(n, cols, mode, &mut rng);
    let mut want = vec![0i32; n * rows];
    for s in 0..n {
        linear_acc(
            &l,
            &a[s * cols..(s + 1) * cols],
            &mut want[s * rows..(s + 1) * rows],
        );
    }
    let p = (k.pack)(&l);
    let what = format!("{} rows={rows} cols={cols} n={n}", k.name);
    let mut got = vec![0x5A5A_5A5Ai32; n * rows + 3];
    (k.gemm)(&p, &a, n, &mut got);
    assert_output(&got, &want, 0x5A5A_5A5A, &format!("gemm {what}"));
    // The requantizing entries (fused at some levels) against the reference
    // requantization of the reference accumulators, with extreme multipliers and
    // every shift the loader accepts (|acc * m| + 2^(s-1) < 2^63, §9.2).
    let mut l = l;
    l.rq = extreme_requant(rows, &mut rng);
    let p = (k.pack)(&l);
    let mut want8 = vec![0i8; n * rows];
    let mut want16 = vec![0i16; n * rows];
    for s in 0..n {
        let acc = &want[s * rows..(s + 1) * rows];
        requant_to_q8(acc, &l.rq, &mut want8[s * rows..(s + 1) * rows]);
        requant_to_q16(acc, &l.rq, &mut want16[s * rows..(s + 1) * rows]);
    }
    let mut got8 = vec![0x5Ai8; n * rows + 3];
    (k.gemm_q8)(&p, &a, n, &mut got8);
    assert_output(&got8, &want8, 0x5A, &format!("gemm_q8 {what}"));
    let mut got16 = vec![0x5A5Ai16; n * rows + 3];
    (k.gemm_q16)(&p, &a, n, &mut got16);
    assert_output(&got16, &want16, 0x5A5A, &format!("gemm_q16 {what}"));
}

/// `got` starts with `want` and the rest still holds the `sentinel` it was filled with.
fn assert_output<T: PartialEq + Copy + std::fmt::Debug>(
    got: &[T],
    want: &[T],
    sentinel: T,
    what: &str,
) {
    assert_eq!(&got[..want.len()], want, "{what}");
    assert!(
        got[want.len()..].iter().all(|&v| v == sentinel),
        "{what}: wrote past the output"
    );
}

/// Per-channel requantization parameters at the loader's limits: every shift
/// 1..=62 with multipliers up to `2^min(s, 31) - 1`, ends of the ranges often.
fn extreme_requant(rows: usize, rng: &mut SplitMix64) -> Requant {
    let mut pick = |lo: i64, hi: i64| match rng.next_u64() % 4 {
        0 => lo,
        1 => hi,
        _ => rng.range_i64(lo, hi),
    };
    let shift: Vec<u8> = (0..rows).map(|_| pick(1, 62) as u8).collect();
    let mult: Vec<i32> = shift
        .iter()
        .map(|&s| pick(0, (1i64 << s.clamp(1, 31)) - 1) as i32)
        .collect();
    Requant { mult, shift }
}

fn synth_model(
    arith: ArithVersion,
    d: usize,
    layers: usize,
    adversarial: bool,
    seed: u64,
) -> boa_det::model::Model {
    let kind = if adversarial {
        SynthKind::Adversarial
    } else {
        SynthKind::Typical
    };
    random_model_in(
        arith,
        Dims {
            d_model: d,
            n_layers: layers,
        },
        kind,
        seed,
    )
    .unwrap()
}

/// Steps `n` streams for `len` bytes through `step_group` at level `k` in groups
/// of `g`, and compares every frequency table and final state with `step_into`
/// (a model of each arithmetic version).
fn check_model(
    k: Kernels,
    d: usize,
    layers: usize,
    adversarial: bool,
    seed: u64,
    n: usize,
    g: usize,
) {
    for arith in ArithVersion::ALL {
        groups_match_single_steps(
            k,
            &synth_model(arith, d, layers, adversarial, seed),
            seed,
            n,
            g,
        );
    }
}

fn groups_match_single_steps(k: Kernels, m: &boa_det::model::Model, seed: u64, n: usize, g: usize) {
    let prep = Prepared::new(m, k);
    let mut rng = SplitMix64(seed ^ 0xABCD);
    let len = 6;
    let data: Vec<Vec<u8>> = (0..n)
        .map(|_| {
            let mut v = vec![0u8; len];
            rng.fill_bytes(&mut v);
            v
        })
        .collect();
    let mut ref_st: Vec<StreamState> = (0..n).map(|_| StreamState::new(m)).collect();
    let mut st = ref_st.clone();
    let mut sc = Scratch::new(m);
    let mut gs = GroupScratch::new(m, g);
    let mut out = vec![Frequencies::default(); n];
    let mut want = Frequencies::default();
    for t in 0..=len {
        let bytes: Vec<u8> = data
            .iter()
            .map(|v| if t == 0 { PRIME_BYTE } else { v[t - 1] })
            .collect();
        for ((sts, by), o) in st.chunks_mut(g).zip(bytes.chunks(g)).zip(out.chunks_mut(g)) {
            step_group(m, &prep, sts, by, o, &mut gs);
        }
        for i in 0..n {
            engine::step_into(m, &mut ref_st[i], bytes[i], &mut sc, &mut want);
            assert_eq!(out[i], want, "{} stream {i} step {t}", k.name);
        }
    }
    assert_eq!(st, ref_st, "{}: states differ", k.name);
}

/// Time batching: one stream stepped through `len` known bytes in blocks of `block`
/// with `step_sequence` equals `len` single `step_into` calls (every table and the
/// final state), for a model of each arithmetic version.
fn check_sequence(
    k: Kernels,
    d: usize,
    layers: usize,
    adversarial: bool,
    seed: u64,
    len: usize,
    block: usize,
) {
    for arith in ArithVersion::ALL {
        let m = synth_model(arith, d, layers, adversarial, seed);
        sequence_matches_single_steps(k, &m, seed, len, block);
    }
}

fn sequence_matches_single_steps(
    k: Kernels,
    m: &boa_det::model::Model,
    seed: u64,
    len: usize,
    block: usize,
) {
    let prep = Prepared::new(m, k);
    let mut rng = SplitMix64(seed ^ 0x5EC);
    let mut bytes = vec![0u8; len];
    rng.fill_bytes(&mut bytes);
    bytes[0] = PRIME_BYTE;
    let mut ref_st = StreamState::new(m);
    let mut sc = Scratch::new(m);
    let mut want = vec![Frequencies::default(); len];
    for (b, w) in bytes.iter().zip(want.iter_mut()) {
        engine::step_into(m, &mut ref_st, *b, &mut sc, w);
    }
    let mut st = StreamState::new(m);
    let mut gs = GroupScratch::new(m, block);
    let mut got = vec![Frequencies::default(); len];
    for (by, o) in bytes.chunks(block).zip(got.chunks_mut(block)) {
        step_sequence(m, &prep, &mut st, by, o, &mut gs);
    }
    for (t, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "{} position {t}", k.name);
    }
    assert_eq!(st, ref_st, "{}: states differ", k.name);
}

/// The level's requantization and conv kernels against the reference on
/// extreme-biased inputs (accumulators at the int32 bound, every shift 1..=62
/// with multipliers that keep the product in range, as the loader requires).
fn check_eltwise(k: Kernels, e: usize, seed: u64) {
    use boa_det::engine::reference as r;
    let mut rng = SplitMix64(seed);
    let rq = extreme_requant(e, &mut rng);
    let gate_rq = extreme_requant(e, &mut rng);
    let mut pick = |lo: i64, hi: i64| match rng.next_u64() % 4 {
        0 => lo,
        1 => hi,
        _ => rng.range_i64(lo, hi),
    };
    let acc: Vec<i32> = (0..e)
        .map(|_| pick(-(1 << 31) + 1, (1 << 31) - 1) as i32)
        .collect();
    let (mut a8, mut b8) = (vec![0i8; e], vec![0i8; e]);
    r::requant_to_q8(&acc, &rq, &mut a8);
    (k.requant_q8)(&acc, &rq, &mut b8);
    assert_eq!(a8, b8, "{} requant_q8", k.name);
    let (mut a16, mut b16) = (vec![0i16; e], vec![0i16; e]);
    r::requant_to_q16(&acc, &rq, &mut a16);
    (k.requant_q16)(&acc, &rq, &mut b16);
    assert_eq!(a16, b16, "{} requant_q16", k.name);
    // Wide accumulators: around the int32 range, and up to the loader's product
    // bound |acc * m| < 2^62 (every bit of the 64-bit lanes in use).
    let wide: Vec<i64> = (0..e)
        .map(|j| match j % 2 {
            0 => pick(-(1 << 31), 1 << 31),
            _ => {
                let lim = ((1i64 << 62) - 1) / i64::from(rq.mult[j].max(1));
                pick(-lim, lim)
            }
        })
        .collect();
    r::requant_wide_to_q8(&wide, &rq, &mut a8);
    (k.requant_wide)(&wide, &rq, &mut b8);
    assert_eq!(a8, b8, "{} requant_wide", k.name);
    // The gate: wide scan outputs, every z (the table is random), two requantizations.
    let z: Vec<i8> = (0..e).map(|_| pick(-128, 127) as i8).collect();
    let silu: Vec<i8> = (0..256).map(|_| pick(-127, 127) as i8).collect();
    r::gate(&wide, &z, &silu, &rq, &gate_rq, &mut a8);
    (k.gate)(&wide, &z, &silu, &rq, &gate_rq, &mut b8);
    assert_eq!(a8, b8, "{} gate", k.name);
    // conv: weights and inputs at +-127, biases up to the int32 room left.
    let kk = boa_det::model::D_CONV;
    let w: Vec<i8> = (0..e * kk).map(|_| pick(-127, 127) as i8).collect();
    let wt: Vec<i32> = (0..kk * e)
        .map(|i| w[(i % e) * kk + i / e] as i32)
        .collect();
    let room = (1i64 << 31) - 1 - 4 * 127 * 127;
    let bias: Vec<i32> = (0..e).map(|_| pick(-room, room) as i32).collect();
    let x: Vec<i8> = (0..e).map(|_| pick(-127, 127) as i8).collect();
    let win0: Vec<i8> = (0..(kk - 1) * e).map(|_| pick(-127, 127) as i8).collect();
    let (mut w1, mut w2) = (win0.clone(), win0);
    r::conv_step(&x, &mut w1, &w, &bias, &rq, &mut a8);
    (k.conv)(&x, &mut w2, &w, &wt, &bias, &rq, &mut b8);
    assert_eq!(a8, b8, "{} conv output", k.name);
    assert_eq!(w1, w2, "{} conv window", k.name);
    // layer norm over d = 16 * ceil(e / 16) (the engine's d is a multiple of 16),
    // inputs at +-32767 or constant (zero variance), every shift and eps range.
    // One outlier among equal values is the largest normalized value
    // (sqrt(d - 1) in units of the std); the widest d the loader accepts too.
    for d in [e.next_multiple_of(16), boa_det::model::MAX_D_MODEL] {
        let shape = pick(0, 3);
        let c0 = pick(-32767, 32767) as i16;
        let c1 = pick(-32767, 32767) as i16;
        let xs: Vec<i16> = (0..d)
            .map(|i| match shape {
                0 => c0,
                1 if i == d / 3 => c1,
                1 => c0,
                _ => pick(-32767, 32767) as i16,
            })
            .collect();
        let ln = boa_det::model::LayerNorm {
            gamma: (0..d).map(|_| pick(-32767, 32767) as i16).collect(),
            beta: (0..d)
                .map(|_| pick(i32::MIN as i64 + 1, i32::MAX as i64) as i32)
                .collect(),
            shift: pick(1, 62) as u8,
            eps: pick(1, 1 << 60) as u64,
        };
        let (mut l1, mut l2) = (vec![0i8; d], vec![0i8; d]);
        r::layer_norm(&xs, &ln, &mut l1);
        (k.layer_norm)(&xs, &ln, &mut l2);
        assert_eq!(l1, l2, "{} layer norm d={d} shape={shape}", k.name);
    }
    // 8-bit tables, any length (vector body and tail)
    let table: Vec<i8> = (0..256).map(|_| pick(-127, 127) as i8).collect();
    let mut v1: Vec<i8> = (0..e * 3).map(|_| pick(-128, 127) as i8).collect();
    let mut v2 = v1.clone();
    r::lut_q8(&table, &mut v1);
    (k.lut_q8)(&table, &mut v2);
    assert_eq!(v1, v2, "{} lut_q8", k.name);
    // 16-bit tables (the softplus), every index
    let table16: Vec<u16> = (0..256).map(|_| pick(0, 65535) as u16).collect();
    let (mut u1, mut u2) = (vec![0u16; v1.len()], vec![0u16; v1.len()]);
    r::lut_u16(&table16, &v1, &mut u1);
    (k.lut_u16)(&table16, &v1, &mut u2);
    assert_eq!(u1, u2, "{} lut_u16", k.name);
    let every: Vec<i8> = (-128..=127).collect();
    let (mut u1, mut u2) = (vec![0u16; 256], vec![0u16; 256]);
    r::lut_u16(&table16, &every, &mut u1);
    (k.lut_u16)(&table16, &every, &mut u2);
    assert_eq!(u1, u2, "{} lut_u16, every index", k.name);
    // head accumulators to frequencies: clamped logits, ties for the maximum,
    // gaps beyond the table's 32 bits
    let mode = pick(0, 3);
    let hacc: Vec<i32> = (0..256)
        .map(|j| match mode {
            0 => pick(i32::MIN as i64 + 1, i32::MAX as i64) as i32,
            1 => [(1 << 30), -(1 << 30), 12345][j % 3],
            _ => pick(-3000, 3000) as i32,
        })
        .collect();
    let hs: Vec<u8> = (0..256).map(|_| pick(1, 40) as u8).collect();
    let hrq = Requant {
        mult: hs
            .iter()
            .map(|&s| pick(0, (1i64 << s.min(31)) - 1) as i32)
            .collect(),
        shift: hs,
    };
    let exp2 = boa_det::intmath::freq::default_exp2_table();
    let (mut f1, mut f2) = (Frequencies::default(), Frequencies::default());
    r::head_frequencies(&hacc, &hrq, &exp2, &mut f1);
    (k.head_frequencies)(&hacc, &hrq, &exp2, &mut f2);
    assert_eq!(f1, f2, "{} head frequencies", k.name);
}

/// The level's scan against the reference on random (extreme-biased) inputs,
/// with states anywhere inside the version's bound.
fn check_scan(k: Kernels, arith: ArithVersion, e: usize, a_shift: u8, inc_shift: u8, seed: u64) {
    let mut rng = SplitMix64(seed);
    let pick = |lo: i64, hi: i64, rng: &mut SplitMix64| match rng.next_u64() % 4 {
        0 => lo,
        1 => hi,
        _ => rng.range_i64(lo, hi),
    };
    let x: Vec<i8> = (0..e).map(|_| pick(-127, 127, &mut rng) as i8).collect();
    let dt: Vec<u16> = (0..e).map(|_| pick(0, 65535, &mut rng) as u16).collect();
    let b: Vec<i8> = (0..16).map(|_| pick(-127, 127, &mut rng) as i8).collect();
    let c: Vec<i8> = (0..16).map(|_| pick(-127, 127, &mut rng) as i8).collect();
    let a_rate: Vec<u16> = (0..e * 16)
        .map(|_| pick(0, 65535, &mut rng) as u16)
        .collect();
    let d_skip: Vec<i32> = (0..e)
        .map(|_| pick(-(1 << 30), 1 << 30, &mut rng) as i32)
        .collect();
    let table = boa_det::model::synth::default_decay_table();
    let h_max = boa_det::model::bounds::state_bound(arith, &table).unwrap();
    let h0: Vec<i32> = (0..e * 16)
        .map(|_| pick(-h_max, h_max, &mut rng) as i32)
        .collect();
    let (mut h1, mut h2) = (h0.clone(), h0);
    let (mut y1, mut y2) = (vec![0i64; e], vec![0i64; e]);
    let p = boa_det::engine::reference::ScanLayer {
        a_rate: &a_rate,
        a_shift,
        inc_shift,
        d_skip: &d_skip,
        decay: &table,
        min_exponent: arith.min_decay_exponent(),
        inc_max: arith.inc_max() as i32,
    };
    boa_det::engine::reference::scan_step(&x, &dt, &b, &c, &p, &mut h1, &mut y1);
    (k.scan)(&x, &dt, &b, &c, &p, &mut h2, &mut y2);
    assert_eq!(h1, h2, "{} scan state", k.name);
    assert_eq!(y1, y2, "{} scan output", k.name);
}

macro_rules! level_tests {
    ($($modname:ident => $level:expr),* $(,)?) => {$(
        mod $modname {
            use super::*;

            #[test]
            fn gemm_adversarial_extremes() {
                let Some(k) = level($level) else { return };
                for (rows, cols) in [(1, 1), (3, 5), (33, 16384), (256, 4096), (48, 3), (17, 1023)] {
                    for mode in [1u8, 2] {
                        for n in [1, 5, 9] {
                            check_gemm(k, rows, cols, n, true, mode, (rows * 31 + cols + n) as u64);
                        }
                    }
                }
            }

            #[test]
            fn whole_step_matches_reference() {
                let Some(k) = level($level) else { return };
                for (seed, adversarial) in [(1u64, false), (2, true), (3, true), (4, false)] {
                    check_model(k, 32, 2, adversarial, seed, 13, 5);
                    check_model(k, 48, 1, adversarial, seed, 9, 16);
                }
            }

            #[test]
            fn sequence_matches_single_steps() {
                let Some(k) = level($level) else { return };
                for (seed, adversarial) in [(7u64, false), (8, true)] {
                    for block in [1, 5, 64] {
                        check_sequence(k, 32, 2, adversarial, seed, 150, block);
                    }
                }
            }

            #[test]
            fn requant_and_conv_extremes() {
                let Some(k) = level($level) else { return };
                for e in [1usize, 7, 8, 16, 17, 64, 100, 200] {
                    for seed in 0..20u64 {
                        check_eltwise(k, e, seed * 1000 + e as u64);
                    }
                }
            }

            #[test]
            fn scan_every_shift() {
                let Some(k) = level($level) else { return };
                for a_shift in 0..=32u8 {
                    for inc_shift in 0..=40u8 {
                        for arith in ArithVersion::ALL {
                            // 71 channels: full blocks of every level's vector width and a tail.
                            check_scan(k, arith, 71, a_shift, inc_shift, (a_shift as u64) << 8 | inc_shift as u64);
                        }
                    }
                }
            }

            proptest! {
                #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

                #[test]
                fn sequence_matches_reference(
                    seed in any::<u64>(),
                    d in prop::sample::select(vec![16usize, 32]),
                    layers in 1usize..=2,
                    adversarial in any::<bool>(),
                    len in 1usize..80,
                    block in 1usize..40,
                ) {
                    let Some(k) = level($level) else { return Ok(()) };
                    check_sequence(k, d, layers, adversarial, seed, len, block);
                }

                #[test]
                fn scan_matches_reference(
                    e in 1usize..130,
                    a_shift in 0u8..=32,
                    inc_shift in 0u8..=40,
                    seed in any::<u64>(),
                    v2 in any::<bool>(),
                ) {
                    let Some(k) = level($level) else { return Ok(()) };
                    let arith = if v2 { ArithVersion::V2 } else { ArithVersion::V1 };
                    check_scan(k, arith, e, a_shift, inc_shift, seed);
                }

                #[test]
                fn gemm_matches_reference(
                    rows in 1usize..80,
                    cols in 1usize..300,
                    n in 1usize..20,
                    bias in any::<bool>(),
                    mode in 0u8..3,
                    seed in any::<u64>(),
                ) {
                    let Some(k) = level($level) else { return Ok(()) };
                    check_gemm(k, rows, cols, n, bias, mode, seed);
                }

                #[test]
                fn step_matches_reference(
                    seed in any::<u64>(),
                    d in prop::sample::select(vec![16usize, 32, 64]),
                    layers in 1usize..=2,
                    adversarial in any::<bool>(),
                    n in 1usize..12,
                    g in 1usize..9,
                ) {
                    let Some(k) = level($level) else { return Ok(()) };
                    check_model(k, d, layers, adversarial, seed, n, g);
                }
            }
        }
    )*};
}

level_tests! {
    scalar => "scalar",
    avx2 => "avx2",
    avxvnni => "avxvnni",
    avx512 => "avx512",
    neon => "neon",
    dotprod => "dotprod",
    i8mm => "i8mm",
}

#[test]
fn forced_level_errors_are_reported() {
    assert!(Kernels::by_name("sse9").is_err());
    assert_eq!(Kernels::scalar().name, "scalar");
    assert!(!Kernels::available().is_empty());
    eprintln!(
        "available levels: {:?}",
        Kernels::available()
            .iter()
            .map(|k| k.name)
            .collect::<Vec<_>>()
    );
}

/// The CPU engine at every level, through the `Engine` interface, equals the
/// reference stream by stream: 70 streams (three groups, stepped in parallel)
/// of different lengths that end in a shuffled order (so the engine's columns
/// are permuted), then the same inputs again as blocks of uneven sizes.
#[test]
fn cpu_engine_every_level_equals_reference() {
    let m = random_model(
        Dims {
            d_model: 32,
            n_layers: 1,
        },
        SynthKind::Adversarial,
        5,
    )
    .unwrap();
    let n = 70;
    let mut rng = SplitMix64(21);
    let lens: Vec<usize> = (0..n).map(|_| 1 + (rng.next_u64() % 40) as usize).collect();
    let inputs: Vec<Vec<u8>> = lens
        .iter()
        .map(|&l| {
            let mut v = vec![0u8; l];
            rng.fill_bytes(&mut v);
            v
        })
        .collect();
    // The reference: every stream alone; `want[s][k]` follows `inputs[s][..k]`.
    let want: Vec<Vec<Frequencies>> = inputs
        .iter()
        .map(|input| {
            let mut st = StreamState::new(&m);
            std::iter::once(&PRIME_BYTE)
                .chain(&input[..input.len() - 1])
                .map(|&b| engine::step(&m, &mut st, b))
                .collect()
        })
        .collect();
    for k in Kernels::available() {
        let mut e = CpuEngine::with_kernels(&m, k);
        e.open(n).unwrap();
        let mut out = vec![Frequencies::default(); n];
        let mut active = vec![true; n];
        let mut bytes = vec![PRIME_BYTE; n];
        for t in 0.. {
            for s in 0..n {
                active[s] = t < lens[s];
            }
            if !active.contains(&true) {
                break;
            }
            e.step(&bytes, &active, &mut out).unwrap();
            for s in (0..n).filter(|&s| active[s]) {
                assert_eq!(out[s], want[s][t], "{} stream {s} step {t}", k.name);
                bytes[s] = inputs[s][t];
            }
        }
        // A stream cannot come back once ended.
        let err = e.step(&bytes, &vec![true; n], &mut out).unwrap_err();
        assert!(matches!(err, EngineError::Usage(_)), "{err}");
        // Blocks: the first 10 positions of every stream, as blocks of 1, 3
        // and 6 (streams shorter than that end after their own bytes).
        e.open(n).unwrap();
        let mut done = 0;
        for t in [1usize, 3, 6] {
            let active: Vec<bool> = lens.iter().map(|&l| l > done).collect();
            let inputs = &inputs;
            let block: Vec<u8> = (0..n)
                .flat_map(|s| {
                    (done..done + t).map(move |p| match p {
                        0 => PRIME_BYTE,
                        p => inputs[s].get(p - 1).copied().unwrap_or(0),
                    })
                })
                .collect();
            let mut out = vec![Frequencies::default(); n * t];
            e.step_block(&block, &active, &mut out).unwrap();
            for s in (0..n).filter(|&s| active[s]) {
                for p in 0..t.min(lens[s] - done) {
                    assert_eq!(
                        out[s * t + p],
                        want[s][done + p],
                        "{} block stream {s}",
                        k.name
                    );
                }
            }
            done += t;
        }
    }
}
