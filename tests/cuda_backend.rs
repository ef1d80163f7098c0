//! The CUDA engine against the CPU engine, through the one `Engine`
//! interface. The comparisons skip (with a visible `SKIP:` line) where no
//! NVIDIA driver or GPU is present; the refusals are checked everywhere.

use boa_det::engine::cuda::{ARITH_VERSIONS, CudaEngine, CudaError};
use boa_det::engine::{CpuEngine, Device, Engine, EngineError, Frequencies, PRIME_BYTE};
use boa_det::intmath::ArithVersion;
use boa_det::model::synth::{SplitMix64, SynthKind, random_model_in};
use boa_det::model::{Dims, Model};

fn dims(d_model: usize, n_layers: usize) -> Dims {
    Dims { d_model, n_layers }
}

fn engine_or_skip(model: &Model, n: usize) -> Option<Box<dyn Engine + '_>> {
    match (Device::Cuda { ordinal: 0 }).engine(model, n) {
        Ok(e) => Some(e),
        Err(EngineError::Unavailable(why)) => {
            eprintln!("SKIP: CUDA engine not compared: {why}");
            None
        }
        Err(e) => panic!("CUDA available but the engine failed to start: {e}"),
    }
}

#[test]
fn unavailable_or_unsupported_is_a_clear_error() {
    let v1 = random_model_in(ArithVersion::V1, dims(16, 1), SynthKind::Typical, 1).unwrap();
    if let Err(e) = CudaEngine::new(&v1, 1, 0) {
        let msg = e.to_string();
        assert!(
            msg.starts_with("CUDA unavailable: "),
            "unexpected error: {msg}"
        );
        assert!(matches!(e, CudaError::Unavailable(_)));
        // Through the interface: the same refusal, before any work.
        let err = Device::Cuda { ordinal: 0 }.available().unwrap_err();
        assert!(matches!(err, EngineError::Unavailable(m) if m.starts_with("CUDA unavailable: ")));
        eprintln!("SKIP: {msg}");
    }
    // A model of an arith version the kernels do not implement is refused
    // before the driver is touched, so this holds with or without a GPU.
    for arith in ArithVersion::ALL
        .into_iter()
        .filter(|a| !ARITH_VERSIONS.contains(a))
    {
        let m = random_model_in(arith, dims(16, 1), SynthKind::Typical, 1).unwrap();
        let e = CudaEngine::new(&m, 1, 0).err().expect("refused");
        assert!(matches!(&e, CudaError::Unsupported(_)), "{e}");
        assert!(e.to_string().contains(&format!("arith v{arith}")), "{e}");
        let e = Device::Cuda { ordinal: 0 }.check(&m).unwrap_err();
        assert!(matches!(&e, EngineError::Unavailable(m) if m.contains("--device cpu")));
    }
    // Too many streams for the grid, refused before the driver too.
    let e = CudaEngine::new(&v1, boa_det::engine::cuda::MAX_STREAMS + 1, 0).err();
    assert!(matches!(e, Some(CudaError::Usage(_))));
}

/// Steps `n` streams on the GPU and on the CPU with random bytes, ending them
/// one by one, through `step` and `step_block`; every table and (while a
/// stream lives) every state must agree.
#[test]
fn gpu_engine_matches_cpu_engine() {
    let cases = [
        (dims(16, 1), SynthKind::Typical, 7u64, 5usize),
        (dims(32, 2), SynthKind::Adversarial, 11, 33),
        (dims(64, 2), SynthKind::Typical, 13, 70),
        (dims(48, 3), SynthKind::Adversarial, 17, 9),
    ];
    let all = cases
        .into_iter()
        .flat_map(|c| ARITH_VERSIONS.iter().map(move |&a| (a, c)));
    for (arith, (dims, kind, seed, n)) in all {
        let model = random_model_in(arith, dims, kind, seed).unwrap();
        let Some(mut gpu) = engine_or_skip(&model, n) else {
            return;
        };
        let mut cpu = CpuEngine::with_streams(&model, n);
        let mut rng = SplitMix64(seed);
        let mut bytes = vec![PRIME_BYTE; n];
        let mut active = vec![true; n];
        let (mut want, mut got) = (
            vec![Frequencies::default(); n],
            vec![Frequencies::default(); n],
        );
        for step in 0..40 {
            if step % 7 == 6 {
                active[step % n] = false;
            }
            cpu.step(&bytes, &active, &mut want).unwrap();
            gpu.step(&bytes, &active, &mut got).unwrap();
            for s in (0..n).filter(|&s| active[s]) {
                assert_eq!(
                    got[s].0, want[s].0,
                    "arith v{arith} {dims:?} {kind:?} stream {s} step {step}"
                );
            }
            rng.fill_bytes(&mut bytes);
        }
        for s in (0..n).filter(|&s| active[s]) {
            assert_eq!(
                gpu.state_bytes(s).unwrap(),
                cpu.state_bytes(s).unwrap(),
                "state of stream {s}"
            );
        }
        // A block of 9 positions per stream, on a fresh batch.
        let t = 9;
        let mut block = vec![0u8; n * t];
        rng.fill_bytes(&mut block);
        let all_on = vec![true; n];
        let (mut want, mut got) = (
            vec![Frequencies::default(); n * t],
            vec![Frequencies::default(); n * t],
        );
        cpu.open(n).unwrap();
        gpu.open(n).unwrap();
        cpu.step_block(&block, &all_on, &mut want).unwrap();
        gpu.step_block(&block, &all_on, &mut got).unwrap();
        assert!(
            got.iter().zip(&want).all(|(a, b)| a.0 == b.0),
            "step_block differs"
        );
    }
}
