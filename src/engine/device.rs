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
            Device::Cuda { ordinal } => Ok(Box::new(CudaEngine::new(model, n, ordinal)?)),
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
            Device::Cuda { .. } => total.clamp(1, crate::engine::cuda::MAX_STREAMS),
        }
    }

    /// Checks that this device is present (the driver, the GPU), without a model.
    pub fn available(&self) -> Result<(), EngineError> {
        match *self {
            Device::Cpu => Ok(()),
            Device::Cuda { ordinal } => crate::engine::cuda::context(ordinal)
                .map(|_| ())
                .map_err(EngineError::from),
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
        }
    }
}
