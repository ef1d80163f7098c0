//! The one place a device is chosen: [`Device`] opens an [`Engine`] for a model.
#![deny(clippy::float_arithmetic)]

use crate::engine::cpu::{CpuEngine, graph};
use crate::engine::cuda::CudaEngine;
use crate::engine::interface::{Engine, EngineError};
use crate::model::Model;

/// Where the network runs. Results never depend on it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Device {
    /// The CPU, at the kernel level of [`crate::engine::cpu::dispatch::active`].
    #[default]
    Cpu,
    /// The NVIDIA GPU with this ordinal.
    Cuda { ordinal: usize },
    /// The CUDA kernels on the SIMT emulator (a build with the cargo feature
    /// `cuda-emulator`; the thread schedule from `BOA_EMU_SCHEDULE`). For
    /// tests and CI: it proves the GPU code without a GPU, slowly.
    CudaEmulated,
}

impl Device {
    /// An engine for `model` on this device with `n` fresh streams.
    pub fn engine<'m>(
        &self,
        model: &'m Model,
        n: usize,
    ) -> Result<Box<dyn Engine + 'm>, EngineError> {
        match *self {
            Device::Cpu => Ok(Box::new(CpuEngine::with_streams(model, n))),
            Device::Cuda { ordinal } => {
                known_answer(model, *self)?;
                Ok(Box::new(CudaEngine::new(model, n, ordinal)?))
            }
            Device::CudaEmulated => emulated(model, n),
        }
    }

    /// How many streams one engine should hold when `total` streams are run by
    /// `threads` worker threads: on the CPU one group per engine, and enough
    /// engines to give every thread work; on a GPU all of them in one batch.
    pub fn streams_per_engine(&self, total: usize, threads: usize) -> usize {
        match self {
            Device::Cpu => graph::group_size()
                .min(total.div_ceil(threads.max(1)))
                .max(1),
            Device::Cuda { .. } | Device::CudaEmulated => {
                total.clamp(1, crate::engine::cuda::MAX_STREAMS)
            }
        }
    }

    /// Whether one engine runs every stream of a job (a GPU, emulated or
    /// not): encoders then batch all chunks into one engine, and the host's
    /// per-stream work runs on the rayon pool beside it.
    pub fn batches_streams(&self) -> bool {
        !matches!(self, Device::Cpu)
    }

    /// Checks that this device is present (the driver, the GPU), without a model.
    pub fn available(&self) -> Result<(), EngineError> {
        match *self {
            Device::Cpu => Ok(()),
            Device::Cuda { ordinal } => crate::engine::cuda::context(ordinal)
                .map(|_| ())
                .map_err(EngineError::from),
            Device::CudaEmulated => emulator_present(),
        }
    }

    /// Checks that this device can run `model` here (the driver, the GPU, the
    /// kernels' coverage), without running it.
    pub fn check(&self, model: &Model) -> Result<(), EngineError> {
        self.engine(model, 1).map(|_| ())
    }
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
            Device::Cuda { ordinal } => write!(f, "cuda:{ordinal}"),
            Device::CudaEmulated => write!(f, "cuda-emulated"),
        }
    }
}

/// Runs a GPU's kernels once per process and model on a known-answer test
/// before the GPU may write or read an archive: two streams stepped over a
/// fixed text, one byte at a time and as a block, must give exactly the CPU
/// reference's tables. A GPU, driver or PTX JIT that computes one table
/// differently is refused (`EngineError::Device`) instead of writing archives
/// that decode nowhere else.
fn known_answer(model: &Model, device: Device) -> Result<(), EngineError> {
    use std::sync::Mutex;
    static PASSED: Mutex<Vec<(Device, crate::model::Fingerprint)>> = Mutex::new(Vec::new());
    let key = (device, model.fingerprint());
    if PASSED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains(&key)
    {
        return Ok(());
    }
    let gpu = match device {
        Device::Cuda { ordinal } => CudaEngine::new(model, 2, ordinal)?,
        _ => return Ok(()),
    };
    compare_known_answer(model, Box::new(gpu))?;
    PASSED.lock().unwrap_or_else(|e| e.into_inner()).push(key);
    Ok(())
}

/// The known-answer comparison of [`known_answer`] on any engine of 2 streams.
pub fn compare_known_answer(
    model: &Model,
    mut gpu: Box<dyn Engine + '_>,
) -> Result<(), EngineError> {
    const TEXT: &[u8] = b"E 0 1 13.6 0.118 ... P 10001 2212 0 0 6.5e3 6.5e3 0.938 1 0 0 0 0";
    let mut cpu = CpuEngine::with_streams(model, 2);
    let t = TEXT.len();
    let mut block = Vec::with_capacity(2 * t);
    block.extend_from_slice(TEXT);
    block.extend(TEXT.iter().rev());
    let on = [true, true];
    let mut want = vec![crate::engine::Frequencies::default(); 2 * t];
    let mut got = want.clone();
    cpu.step_block(&block, &on, &mut want)?;
    gpu.step_block(&block, &on, &mut got)?;
    let mut same = got.iter().zip(&want).all(|(a, b)| a.0 == b.0);
    // Then single steps on the state the block left (the decoder's path).
    for (&a, &b) in TEXT.iter().zip(TEXT.iter().rev()).take(8) {
        let (mut w, mut g) = (want[..2].to_vec(), got[..2].to_vec());
        cpu.step(&[a, b], &on, &mut w)?;
        gpu.step(&[a, b], &on, &mut g)?;
        same &= w.iter().zip(&g).all(|(x, y)| x.0 == y.0);
    }
    if same {
        Ok(())
    } else {
        Err(EngineError::Device(format!(
            "{}: the known-answer test gives tables that differ from the CPU reference; \
             this GPU is not used (use --device cpu, and report the GPU, driver and boa-det version)",
            gpu.describe()
        )))
    }
}

#[cfg(feature = "cuda-emulator")]
fn emulated<'m>(model: &'m Model, n: usize) -> Result<Box<dyn Engine + 'm>, EngineError> {
    use crate::engine::cuda::emulator::Schedule;
    let schedule = Schedule::from_env()?;
    Ok(Box::new(CudaEngine::emulated(model, n, schedule)?))
}

#[cfg(not(feature = "cuda-emulator"))]
fn emulated<'m>(_: &'m Model, _: usize) -> Result<Box<dyn Engine + 'm>, EngineError> {
    emulator_present().map(|_| unreachable!("no emulator in this build"))
}

fn emulator_present() -> Result<(), EngineError> {
    if cfg!(feature = "cuda-emulator") {
        Ok(())
    } else {
        Err(EngineError::Unavailable(
            "this build has no SIMT emulator (cargo feature cuda-emulator)".into(),
        ))
    }
}
