//! The NVIDIA driver as a [`Gpu`], through cudarc: the committed PTX
//! (`kernels/ptx/`) JIT-compiled by the driver, one non-default stream,
//! allocations owned here and addressed by their device pointers.
//!
//! The driver library is loaded at run time; nothing links against CUDA at
//! build time. [`context`] checks that the library is present before creating
//! a context (cudarc panics otherwise).
#![deny(clippy::float_arithmetic)]

use std::collections::BTreeMap;
use std::sync::Arc;

use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, DevicePtr, LaunchConfig, PushKernelArg,
};
use cudarc::nvrtc::Ptx;

use super::gpu::{Arg, CODER_KERNELS, DevPtr, FORWARD_KERNELS, Gpu, KernelSig, Shape, locate};
use super::{CODER_PTX, CudaError, FORWARD_PTX};

fn drv<E: std::fmt::Debug>(e: E) -> CudaError {
    CudaError::Driver(format!("{e:?}"))
}

/// Creates a context on device `ordinal`, or says why CUDA cannot be used.
pub fn context(ordinal: usize) -> Result<Arc<CudaContext>, CudaError> {
    // SAFETY: only tries to dlopen libcuda / nvcuda.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Err(CudaError::Unavailable(
            "the NVIDIA driver library (libcuda.so) was not found".into(),
        ));
    }
    // cudarc panics when a driver symbol is missing (a driver older than the
    // bindings); turn that into an error too.
    match std::panic::catch_unwind(|| CudaContext::new(ordinal)) {
        Ok(Ok(ctx)) => Ok(ctx),
        Ok(Err(e)) => Err(CudaError::Unavailable(format!(
            "cannot create a context on device {ordinal}: {e:?}"
        ))),
        Err(_) => Err(CudaError::Unavailable(
            "the driver library is missing entry points (driver too old?)".into(),
        )),
    }
}

/// One GPU through the driver.
pub struct DriverGpu {
    stream: Arc<CudaStream>,
    funcs: Vec<(&'static str, CudaFunction)>,
    /// Device address to allocation.
    allocs: BTreeMap<u64, CudaSlice<u8>>,
    ordinal: usize,
    /// The graph of the last capture.
    graph: Option<OwnedGraph>,
}

/// A CUDA graph owned by one [`DriverGpu`].
struct OwnedGraph(cudarc::driver::CudaGraph);

// SAFETY: CUDA graph objects may be used from any thread as long as calls on
// one graph are serialized (the driver API's graph thread-safety rules); an
// OwnedGraph is owned by exactly one DriverGpu and only touched through its
// `&mut self` methods, so calls on it never overlap.
unsafe impl Send for OwnedGraph {}

impl DriverGpu {
    /// A context, a stream and both PTX modules loaded on device `ordinal`.
    pub fn new(ordinal: usize) -> Result<DriverGpu, CudaError> {
        let ctx = context(ordinal)?;
        let stream = ctx.new_stream().map_err(drv)?;
        let mut funcs = Vec::new();
        for (ptx, kernels) in [(FORWARD_PTX, FORWARD_KERNELS), (CODER_PTX, CODER_KERNELS)] {
            let module = ctx.load_module(Ptx::from_src(ptx)).map_err(drv)?;
            for k in kernels {
                funcs.push((k.name, module.load_function(k.name).map_err(drv)?));
            }
        }
        Ok(DriverGpu {
            stream,
            funcs,
            allocs: BTreeMap::new(),
            ordinal,
            graph: None,
        })
    }

    /// The allocation holding `[p, p + len)` and the offset of `p` in it.
    fn find(&mut self, p: DevPtr, len: usize) -> Result<(&mut CudaSlice<u8>, usize), CudaError> {
        let (base, off) = locate(&self.allocs, CudaSlice::len, p, len)?;
        Ok((self.allocs.get_mut(&base).expect("located"), off))
    }
}

impl Gpu for DriverGpu {
    fn describe(&self) -> String {
        format!("cuda:{}", self.ordinal)
    }

    fn alloc(&mut self, bytes: usize) -> Result<DevPtr, CudaError> {
        let slice = self.stream.alloc_zeros::<u8>(bytes.max(1)).map_err(drv)?;
        let p = {
            let (p, _sync) = slice.device_ptr(&self.stream);
            p
        };
        self.allocs.insert(p, slice);
        Ok(DevPtr(p))
    }

    fn free(&mut self, p: DevPtr) {
        self.allocs.remove(&p.0);
    }

    fn upload(&mut self, dst: DevPtr, src: &[u8]) -> Result<(), CudaError> {
        let stream = self.stream.clone();
        let (slice, off) = self.find(dst, src.len())?;
        let mut view = slice.slice_mut(off..off + src.len());
        stream.memcpy_htod(src, &mut view).map_err(drv)
    }

    fn download(&self, src: DevPtr, dst: &mut [u8]) -> Result<(), CudaError> {
        let (base, off) = locate(&self.allocs, CudaSlice::len, src, dst.len())?;
        let view = self.allocs[&base].slice(off..off + dst.len());
        self.stream.memcpy_dtoh(&view, dst).map_err(drv)?;
        self.stream.synchronize().map_err(drv)
    }

    fn zero(&mut self, dst: DevPtr, bytes: usize) -> Result<(), CudaError> {
        let stream = self.stream.clone();
        let (slice, off) = self.find(dst, bytes)?;
        let mut view = slice.slice_mut(off..off + bytes);
        stream.memset_zeros(&mut view).map_err(drv)
    }

    fn launch(&mut self, k: &KernelSig, shape: Shape, args: &[Arg]) -> Result<(), CudaError> {
        let f = self
            .funcs
            .iter()
            .find(|(n, _)| *n == k.name)
            .map(|(_, f)| f)
            .ok_or_else(|| CudaError::Usage(format!("no kernel {}", k.name)))?;
        // The values must outlive the builder, which keeps pointers to them.
        let (mut words, mut halves) = (Vec::new(), Vec::new());
        for a in args {
            match *a {
                Arg::Ptr(p) => words.push(p.0),
                Arg::U64(v) => words.push(v),
                Arg::U32(v) => halves.push(v),
                Arg::S32(v) => halves.push(v as u32),
            }
        }
        let mut b = self.stream.launch_builder(f);
        let (mut wi, mut hi) = (0, 0);
        for a in args {
            match a {
                Arg::Ptr(_) | Arg::U64(_) => {
                    b.arg(&words[wi]);
                    wi += 1;
                }
                Arg::U32(_) | Arg::S32(_) => {
                    b.arg(&halves[hi]);
                    hi += 1;
                }
            }
        }
        let cfg = LaunchConfig {
            grid_dim: (shape.grid[0], shape.grid[1], shape.grid[2]),
            block_dim: (shape.block, 1, 1),
            shared_mem_bytes: 0,
        };
        // SAFETY: the arguments match the kernel's declaration (checked by
        // the caller; the declarations are checked against the PTX by
        // tests/cuda_signatures.rs); a pointer is passed as its 64-bit
        // address, an s32 as its 32-bit pattern; every pointer lies in a
        // live allocation of this GPU, sized by the engine for the launch.
        // A launch recorded into a graph keeps its pointers: the engine
        // stops replaying a graph before it frees or replaces a buffer.
        unsafe { b.launch(cfg) }.map(|_| ()).map_err(drv)
    }

    fn begin_capture(&mut self) -> Result<(), CudaError> {
        // Thread-local mode: only this thread's stream calls are checked
        // against the capture (other engines' threads are unaffected).
        self.stream
            .begin_capture(
                cudarc::driver::sys::CUstreamCaptureMode::CU_STREAM_CAPTURE_MODE_THREAD_LOCAL,
            )
            .map_err(drv)
    }

    fn end_capture(&mut self) -> Result<(), CudaError> {
        self.graph = None;
        let graph = self
            .stream
            .end_capture(cudarc::driver::sys::CUgraphInstantiate_flags(0))
            .map_err(drv)?;
        let graph =
            graph.ok_or_else(|| CudaError::Driver("the capture recorded nothing".into()))?;
        self.graph = Some(OwnedGraph(graph));
        Ok(())
    }

    fn replay(&mut self) -> Result<(), CudaError> {
        self.graph
            .as_ref()
            .ok_or_else(|| CudaError::Usage("no graph to replay".into()))?
            .0
            .launch()
            .map_err(drv)
    }
}
