//! Properties of the reference engine: exact frequency totals (also for
//! adversarial models), batch == single stepping, thread-count independence,
//! and model file round trips.

use boa_det::engine::{
    self, CpuEngine, Engine, FREQ_TOTAL, Frequencies, PRIME_BYTE, Scratch, StreamState,
};
use boa_det::model::synth::{SplitMix64, SynthKind, random_model};
use boa_det::model::{Dims, Model};
use proptest::prelude::*;

fn dims(d: usize, l: usize) -> Dims {
    Dims {
        d_model: d,
        n_layers: l,
    }
}

fn assert_valid(f: &Frequencies) {
    assert!(f.iter().all(|&x| x >= 1), "a frequency is zero");
    assert_eq!(f.iter().map(|&x| x as u64).sum::<u64>(), FREQ_TOTAL as u64);
}

/// Frequencies for every position of `data` in one stream.
fn run_stream(m: &Model, data: &[u8]) -> (Vec<Frequencies>, StreamState) {
    let mut st = StreamState::new(m);
    let mut sc = Scratch::new(m);
    let mut out = Vec::new();
    let mut f = Frequencies::default();
    engine::step_into(m, &mut st, PRIME_BYTE, &mut sc, &mut f);
    out.push(f.clone());
    for &b in data {
        engine::step_into(m, &mut st, b, &mut sc, &mut f);
        out.push(f.clone());
    }
    (out, st)
}

#[test]
fn typical_model_predicts_non_trivially() {
    let m = random_model(dims(32, 2), SynthKind::Typical, 7).unwrap();
    let data: Vec<u8> = b"the quick brown fox jumps over the lazy dog. ".repeat(8);
    let (freqs, _) = run_stream(&m, &data);
    let mut distinct = std::collections::BTreeSet::new();
    for f in &freqs {
        assert_valid(f);
        let max = *f.iter().max().unwrap();
        // Not saturated to a one-hot, not uniform either.
        assert!(max < FREQ_TOTAL - 255 && max > FREQ_TOTAL / 256);
        distinct.insert(f.0.to_vec());
    }
    assert!(
        distinct.len() > freqs.len() / 2,
        "predictions barely depend on the input"
    );
}

#[test]
fn model_file_round_trip_keeps_fingerprint() {
    let m = random_model(dims(48, 1), SynthKind::Typical, 1).unwrap();
    let bytes = m.to_bytes();
    let back = Model::from_bytes(&bytes).unwrap();
    assert_eq!(back, m);
    assert_eq!(back.fingerprint(), m.fingerprint());
    let other = random_model(dims(48, 1), SynthKind::Typical, 2).unwrap();
    assert_ne!(other.fingerprint(), m.fingerprint());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn frequencies_exact_for_any_model(
        seed in any::<u64>(),
        d in prop::sample::select(vec![16usize, 32, 48]),
        layers in 1usize..=2,
        adversarial in any::<bool>(),
        data in prop::collection::vec(any::<u8>(), 0..40),
    ) {
        let kind = if adversarial { SynthKind::Adversarial } else { SynthKind::Typical };
        let m = random_model(dims(d, layers), kind, seed).unwrap();
        let (freqs, _) = run_stream(&m, &data);
        for f in &freqs {
            assert_valid(f);
        }
    }

    #[test]
    fn batch_equals_single_streams(
        seed in any::<u64>(),
        n_streams in 1usize..40,
        len in 1usize..12,
    ) {
        let m = random_model(dims(16, 2), SynthKind::Typical, seed).unwrap();
        let mut rng = SplitMix64(seed ^ 0x5555);
        let inputs: Vec<Vec<u8>> = (0..n_streams)
            .map(|_| { let mut v = vec![0u8; len]; rng.fill_bytes(&mut v); v })
            .collect();
        let mut batch = CpuEngine::with_streams(&m, n_streams);
        let mut out = vec![Frequencies::default(); n_streams];
        let active = vec![true; n_streams];
        let mut batched: Vec<Vec<Frequencies>> = vec![Vec::new(); n_streams];
        for t in 0..=len {
            let bytes: Vec<u8> = inputs.iter().map(|v| if t == 0 { PRIME_BYTE } else { v[t - 1] }).collect();
            batch.step(&bytes, &active, &mut out).unwrap();
            for (s, f) in batched.iter_mut().zip(&out) { s.push(f.clone()); }
        }
        for (i, input) in inputs.iter().enumerate() {
            let (single, st) = run_stream(&m, input);
            prop_assert_eq!(&single, &batched[i]);
            prop_assert_eq!(st.to_le_bytes(), batch.state_bytes(i).unwrap());
        }
    }
}

#[test]
fn thread_count_does_not_change_results() {
    let m = random_model(dims(32, 1), SynthKind::Typical, 99).unwrap();
    let n = 64;
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut batch = CpuEngine::with_streams(&m, n);
            let mut out = vec![Frequencies::default(); n];
            let active = vec![true; n];
            let mut all = Vec::new();
            for t in 0..20u8 {
                let bytes: Vec<u8> = (0..n)
                    .map(|i| (i as u8).wrapping_mul(31).wrapping_add(t))
                    .collect();
                batch.step(&bytes, &active, &mut out).unwrap();
                all.extend(out.iter().cloned());
            }
            let states: Vec<Vec<u8>> = (0..n).map(|i| batch.state_bytes(i).unwrap()).collect();
            (all, states)
        })
    };
    let one = run(1);
    for threads in [2, 3, 8] {
        assert_eq!(run(threads), one, "{threads} threads differ from 1");
    }
}
