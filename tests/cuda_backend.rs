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

/// The GPU's engine, or `None` (a visible `SKIP:` line) where there is none;
/// with `BOA_REQUIRE_CUDA=1` (the device script) a missing GPU fails instead.
fn engine_or_skip(model: &Model, n: usize) -> Option<Box<dyn Engine + '_>> {
    match (Device::Cuda { ordinal: 0 }).engine(model, n) {
        Ok(e) => Some(e),
        Err(EngineError::Unavailable(why)) => {
            assert!(
                std::env::var("BOA_REQUIRE_CUDA").as_deref() != Ok("1"),
                "BOA_REQUIRE_CUDA=1 but no GPU: {why}"
            );
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
            std::env::var("BOA_REQUIRE_CUDA").as_deref() != Ok("1"),
            "BOA_REQUIRE_CUDA=1 but: {msg}"
        );
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

/// Steps `n` streams on the device and on the CPU with random bytes, ending
/// them one by one, through `step` and `step_block`; every table and (while a
/// stream lives) every state must agree. `open` gives the device's engine, or
/// `None` to skip.
fn compare_with_cpu(model: &Model, n: usize, seed: u64, gpu: &mut dyn Engine) {
    let label = format!("{} {:?}", gpu.describe(), model.dims);
    let mut cpu = CpuEngine::with_streams(model, n);
    let mut rng = SplitMix64(seed);
    let mut bytes = vec![PRIME_BYTE; n];
    let mut active = vec![true; n];
    let (mut want, mut got) = (
        vec![Frequencies::default(); n],
        vec![Frequencies::default(); n],
    );
    for step in 0..24 {
        if step % 7 == 6 {
            active[step % n] = false;
        }
        cpu.step(&bytes, &active, &mut want).unwrap();
        gpu.step(&bytes, &active, &mut got).unwrap();
        for s in (0..n).filter(|&s| active[s]) {
            assert_eq!(got[s].0, want[s].0, "{label} stream {s} step {step}");
        }
        rng.fill_bytes(&mut bytes);
    }
    for s in 0..n {
        // Ended streams too: the kernels leave an ended stream's state alone.
        assert_eq!(
            gpu.state_bytes(s).unwrap(),
            cpu.state_bytes(s).unwrap(),
            "{label} state of stream {s}"
        );
    }
    // Blocks of 9 then 40 positions per stream on a fresh batch (the second
    // crosses the tiled GEMM's 32-column tiles even for one stream), one
    // stream ending in between.
    cpu.open(n).unwrap();
    gpu.open(n).unwrap();
    let mut on = vec![true; n];
    for (i, t) in [9usize, 40].into_iter().enumerate() {
        let mut block = vec![0u8; n * t];
        rng.fill_bytes(&mut block);
        if i == 1 {
            on[n / 2] = false;
        }
        let (mut want, mut got) = (
            vec![Frequencies::default(); n * t],
            vec![Frequencies::default(); n * t],
        );
        cpu.step_block(&block, &on, &mut want).unwrap();
        gpu.step_block(&block, &on, &mut got).unwrap();
        for s in (0..n).filter(|&s| on[s]) {
            for k in 0..t {
                assert_eq!(
                    got[s * t + k].0,
                    want[s * t + k].0,
                    "{label} block {i} stream {s} position {k}"
                );
            }
        }
    }
    for s in (0..n).filter(|&s| on[s]) {
        assert_eq!(
            gpu.state_bytes(s).unwrap(),
            cpu.state_bytes(s).unwrap(),
            "{label} state of stream {s} after the blocks"
        );
    }
}

/// The models every device is compared on: both arith versions, typical and
/// adversarial weights (the loader's limits), widths that are and are not
/// multiples of the kernels' tiles, stream counts on both sides of the
/// GEMV/GEMM switch.
fn cases() -> Vec<(ArithVersion, Dims, SynthKind, u64, usize)> {
    let shapes = [
        (dims(16, 1), SynthKind::Typical, 7u64, 5usize),
        (dims(32, 2), SynthKind::Adversarial, 11, 33),
        (dims(48, 3), SynthKind::Adversarial, 17, 9),
        (dims(64, 1), SynthKind::Typical, 13, 40),
    ];
    ARITH_VERSIONS
        .iter()
        .flat_map(|&a| shapes.iter().map(move |&(d, k, s, n)| (a, d, k, s, n)))
        .collect()
}

#[test]
fn gpu_engine_matches_cpu_engine() {
    for (arith, dims, kind, seed, n) in cases() {
        let model = random_model_in(arith, dims, kind, seed).unwrap();
        let Some(mut gpu) = engine_or_skip(&model, n) else {
            return;
        };
        compare_with_cpu(&model, n, seed, gpu.as_mut());
    }
}

/// The same kernels on the SIMT emulator, under three thread schedules,
/// with the linear layers on the tensor cores and with `__dp4a`, with the
/// launch sequences recorded as graphs and replayed, and launched directly.
#[cfg(feature = "cuda-emulator")]
#[test]
fn emulated_engine_matches_cpu_engine() {
    use boa_det::engine::cuda::emulator::Schedule;
    let schedules = [Schedule::InOrder, Schedule::Reversed, Schedule::Random(5)];
    for (i, (arith, dims, kind, seed, n)) in cases().into_iter().enumerate() {
        let model = random_model_in(arith, dims, kind, seed).unwrap();
        let schedule = schedules[i % schedules.len()];
        let mut gpu = CudaEngine::emulated(&model, n, schedule).unwrap();
        gpu.use_tensor_cores(i % 2 == 0);
        gpu.use_graphs(i % 4 < 2);
        compare_with_cpu(&model, n, seed, &mut gpu);
    }
}

/// The pipeline's GPU paths on the emulator: the batched encoder (every
/// chunk a stream of one engine, blocks of positions, host coding in
/// parallel) and the grouped decoder (every stream in one engine, host
/// decoding in parallel from 64 streams) give exactly the CPU's payloads and
/// bytes, for chunks of every length class: empty, one byte, shorter than a
/// block, several blocks, and incompressible (stored without the model).
#[cfg(feature = "cuda-emulator")]
#[test]
fn emulated_pipeline_encodes_and_decodes_like_the_cpu() {
    use boa_det::compress::{EncodedStream, decode_chunks, encode_chunks};
    use boa_det::mixing::{Mixing, Stage};
    let model = random_model_in(ArithVersion::V2, dims(16, 1), SynthKind::Typical, 3).unwrap();
    let mut rng = SplitMix64(77);
    let text: Vec<u8> = b"E 0 1 13.6 P 10001 2212 0 0 6.5e3 0.938 V -1 0 [1]\n"
        .iter()
        .copied()
        .cycle()
        .take(300)
        .collect();
    let mut random = vec![0u8; 20_000];
    rng.fill_bytes(&mut random);
    let mut chunks: Vec<Vec<u8>> = vec![Vec::new(), vec![b'E'], text[..100].to_vec(), text.clone()];
    chunks.push(random);
    // 64 more short chunks, so that the decoder's group is decoded in parallel.
    chunks.extend((0..64).map(|i| text[i..i + 8 + i % 16].to_vec()));
    let refs: Vec<&[u8]> = chunks.iter().map(|c| c.as_slice()).collect();
    let mixing = Mixing::richest(
        |s| matches!(s, Stage::MatchFinders | Stage::LongFinder),
        None,
    );
    for m in [Mixing::NETWORK_ONLY, mixing] {
        let cpu = encode_chunks(&model, Device::Cpu, &refs, m).unwrap();
        let gpu = encode_chunks(&model, Device::CudaEmulated, &refs, m).unwrap();
        assert_eq!(gpu, cpu, "payloads differ");
        if m == Mixing::NETWORK_ONLY {
            continue; // decoding once (below, with the match models) is enough
        }
        let streams: Vec<EncodedStream<'_>> = cpu
            .iter()
            .zip(&refs)
            .filter(|(p, c)| p.as_slice() != **c) // stored chunks are not streams
            .map(|(p, c)| EncodedStream {
                payload: p,
                len: c.len(),
                mixing: m,
            })
            .collect();
        assert!(streams.len() >= 64);
        let back = decode_chunks(&model, Device::CudaEmulated, &streams).unwrap();
        let want: Vec<&[u8]> = cpu
            .iter()
            .zip(&refs)
            .filter(|(p, c)| p.as_slice() != **c)
            .map(|(_, c)| *c)
            .collect();
        for (b, w) in back.iter().zip(&want) {
            assert_eq!(b.as_deref().unwrap(), *w);
        }
    }
}
