//! The CUDA forward step against the scalar reference. Skips (with a visible
//! `SKIP:` line) where no NVIDIA driver or GPU is present.

use boa_det::backend::cuda::{CudaEngine, CudaError};
use boa_det::engine::{Frequencies, PRIME_BYTE, StreamState, step_batch};
use boa_det::intmath::ArithVersion;
use boa_det::model::Dims;
use boa_det::model::synth::{SplitMix64, SynthKind, random_model, random_model_in};

fn engine_or_skip(model: &boa_det::model::Model, n: usize) -> Option<CudaEngine> {
    match CudaEngine::new(model, n, 0) {
        Ok(e) => Some(e),
        Err(CudaError::Unavailable(why)) => {
            eprintln!("SKIP: CUDA backend not tested: CUDA unavailable: {why}");
            None
        }
        Err(e) => panic!("CUDA available but the engine failed to start: {e}"),
    }
}

#[test]
fn unavailable_is_a_clear_error() {
    let model = random_model(
        Dims {
            d_model: 16,
            n_layers: 1,
        },
        SynthKind::Typical,
        1,
    )
    .unwrap();
    if let Err(e) = CudaEngine::new(&model, 1, 0) {
        let msg = e.to_string();
        assert!(
            msg.starts_with("CUDA unavailable: "),
            "unexpected error: {msg}"
        );
        eprintln!("SKIP: {msg}");
    }
}

#[test]
fn gpu_frequencies_match_reference() {
    let cases = [
        (
            Dims {
                d_model: 16,
                n_layers: 1,
            },
            SynthKind::Typical,
            7u64,
            5usize,
        ),
        (
            Dims {
                d_model: 32,
                n_layers: 2,
            },
            SynthKind::Adversarial,
            11,
            33,
        ),
        (
            Dims {
                d_model: 64,
                n_layers: 2,
            },
            SynthKind::Typical,
            13,
            70,
        ),
        (
            Dims {
                d_model: 48,
                n_layers: 3,
            },
            SynthKind::Adversarial,
            17,
            9,
        ),
    ];
    let all = cases
        .into_iter()
        .flat_map(|c| ArithVersion::ALL.into_iter().map(move |a| (a, c)));
    for (arith, (dims, kind, seed, n)) in all {
        let model = random_model_in(arith, dims, kind, seed).unwrap();
        let Some(mut gpu) = engine_or_skip(&model, n) else {
            return;
        };
        let mut states: Vec<StreamState> = (0..n).map(|_| StreamState::new(&model)).collect();
        let mut want = vec![Frequencies::default(); n];
        let mut rng = SplitMix64(seed);
        let mut bytes = vec![PRIME_BYTE; n];
        for step in 0..40 {
            step_batch(&model, &mut states, &bytes, &mut want);
            let got = gpu.step(&bytes).unwrap();
            for s in 0..n {
                assert_eq!(
                    got[s].0, want[s].0,
                    "arith v{arith} {dims:?} {kind:?} stream {s} step {step}"
                );
            }
            rng.fill_bytes(&mut bytes);
        }
        // A reset stream starts over from the fresh state.
        gpu.reset().unwrap();
        let fresh: Vec<StreamState> = (0..n).map(|_| StreamState::new(&model)).collect();
        let mut fresh = fresh;
        step_batch(&model, &mut fresh, &vec![PRIME_BYTE; n], &mut want);
        let got = gpu.step(&vec![PRIME_BYTE; n]).unwrap();
        assert!(got.iter().zip(&want).all(|(a, b)| a.0 == b.0));
    }
}
