//! The launch abstraction: what [`super::CudaEngine`] needs from a GPU
//! (memory, copies, kernel launches), with two implementations: the NVIDIA
//! driver through cudarc ([`super::driver::DriverGpu`]) and, with the cargo
//! feature `cuda-emulator`, the SIMT emulator that runs the same
//! `kernels/*.cu` compiled for the host ([`super::emulator::EmulatedGpu`]).
//!
//! Every kernel the host launches is declared once here, in
//! [`FORWARD_KERNELS`] and [`CODER_KERNELS`], with
//! its parameter list. A launch is checked against that declaration, and
//! `tests/cuda_signatures.rs` checks the declarations against the `.entry`
//! lines of the committed PTX and against the emulator's own reading of the
//! kernels' C++ types, so a changed kernel signature fails a test on any
//! machine instead of corrupting memory on a GPU.
#![deny(clippy::float_arithmetic)]

use std::marker::PhantomData;

use super::CudaError;

/// The type of one kernel parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    /// Any pointer (a 64-bit device address).
    Ptr,
    U32,
    S32,
    U64,
}

impl Param {
    /// The code used by the emulator's signature strings and the tests.
    pub fn code(self) -> &'static str {
        match self {
            Param::Ptr => "ptr",
            Param::U32 => "u32",
            Param::S32 => "s32",
            Param::U64 => "u64",
        }
    }
}

/// A kernel: its `extern "C"` name and parameter list.
#[derive(Debug, PartialEq, Eq)]
pub struct KernelSig {
    pub name: &'static str,
    pub params: &'static [Param],
}

impl KernelSig {
    /// The parameter list as the emulator spells it: codes joined by commas.
    pub fn signature(&self) -> String {
        self.params
            .iter()
            .map(|p| p.code())
            .collect::<Vec<_>>()
            .join(",")
    }
}

use Param::{Ptr as P, S32, U32, U64};

/// `boa_gemm_k`, `boa_gemm_mma_k` and `boa_gemv_k` (the same parameters).
const GEMM_PARAMS: &[Param] = &[P, P, P, P, P, U32, U32, U32, U32, U32, P, U32, P, U32, U32];

pub const GEMM: KernelSig = KernelSig {
    name: "boa_gemm_k",
    params: GEMM_PARAMS,
};
pub const GEMM_MMA: KernelSig = KernelSig {
    name: "boa_gemm_mma_k",
    params: GEMM_PARAMS,
};
pub const GEMV: KernelSig = KernelSig {
    name: "boa_gemv_k",
    params: GEMM_PARAMS,
};
pub const EMBED: KernelSig = KernelSig {
    name: "boa_embed_k",
    params: &[P, P, P, U32, U32],
};
pub const LAYER_NORM: KernelSig = KernelSig {
    name: "boa_layer_norm_k",
    params: &[P, U32, P, P, U32, U64, P, U32],
};
pub const CONV: KernelSig = KernelSig {
    name: "boa_conv_k",
    params: &[P, P, P, P, P, P, P, P, P, U32, U32, U32],
};
pub const SCAN: KernelSig = KernelSig {
    name: "boa_scan_k",
    params: &[
        P, P, P, P, U32, U32, P, U32, U32, U32, S32, P, P, P, P, P, P, P, P, P, P, P, U32, U32, U32,
    ],
};
pub const HEAD_IN: KernelSig = KernelSig {
    name: "boa_head_in_k",
    params: &[P, P, P, P, U32, U32],
};
pub const FREQS: KernelSig = KernelSig {
    name: "boa_freqs_k",
    params: &[P, P, P, U32],
};
pub const ENC_INIT: KernelSig = KernelSig {
    name: "boa_enc_init_k",
    params: &[P, U32],
};
pub const ENC_STEP: KernelSig = KernelSig {
    name: "boa_enc_step_k",
    params: &[P, P, P, P, P, U64, U32],
};
pub const ENC_FINISH: KernelSig = KernelSig {
    name: "boa_enc_finish_k",
    params: &[P, P, U64, U32],
};
pub const DEC_INIT: KernelSig = KernelSig {
    name: "boa_dec_init_k",
    params: &[P, P, P, P, U32],
};
pub const DEC_STEP: KernelSig = KernelSig {
    name: "boa_dec_step_k",
    params: &[P, P, P, P, P, P, P, U32],
};
pub const DEC_FINISH: KernelSig = KernelSig {
    name: "boa_dec_finish_k",
    params: &[P, P, P, U32],
};

/// Every kernel in `kernels/*.cu`, by PTX module: the forward graph
/// (`boa_forward.cu`), then the range coder (`boa_coder.cu`).
pub const FORWARD_KERNELS: &[&KernelSig] = &[
    &GEMM,
    &GEMM_MMA,
    &GEMV,
    &EMBED,
    &LAYER_NORM,
    &CONV,
    &SCAN,
    &HEAD_IN,
    &FREQS,
];
pub const CODER_KERNELS: &[&KernelSig] = &[
    &ENC_INIT,
    &ENC_STEP,
    &ENC_FINISH,
    &DEC_INIT,
    &DEC_STEP,
    &DEC_FINISH,
];

/// A device address (on the emulator, a host address).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DevPtr(pub u64);

/// One launch argument.
#[derive(Clone, Copy, Debug)]
pub enum Arg {
    Ptr(DevPtr),
    U32(u32),
    S32(i32),
    U64(u64),
}

impl Arg {
    pub fn param(&self) -> Param {
        match self {
            Arg::Ptr(_) => Param::Ptr,
            Arg::U32(_) => Param::U32,
            Arg::S32(_) => Param::S32,
            Arg::U64(_) => Param::U64,
        }
    }

    /// The argument's bytes as the kernel reads them (little-endian; both
    /// implementations run on little-endian hosts).
    pub fn bytes(&self) -> [u8; 8] {
        match *self {
            Arg::Ptr(p) => p.0.to_le_bytes(),
            Arg::U32(v) => (v as u64).to_le_bytes(),
            Arg::S32(v) => (v as u32 as u64).to_le_bytes(),
            Arg::U64(v) => v.to_le_bytes(),
        }
    }
}

/// Refuses arguments that do not match the kernel's declaration.
pub fn check_args(k: &KernelSig, args: &[Arg]) -> Result<(), CudaError> {
    let got: Vec<Param> = args.iter().map(Arg::param).collect();
    if got == k.params {
        Ok(())
    } else {
        Err(CudaError::Usage(format!(
            "{}: launched with ({}), declared ({})",
            k.name,
            got.iter().map(|p| p.code()).collect::<Vec<_>>().join(","),
            k.signature()
        )))
    }
}

/// The grid and block of one launch (blocks are one-dimensional).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub grid: [u32; 3],
    pub block: u32,
}

/// What the engine needs from a GPU. Memory is addressed by [`DevPtr`];
/// allocations are zeroed and live until [`Gpu::free`] or the drop of the
/// implementation.
pub trait Gpu: Send {
    /// For reports ("cuda:0", "cuda-emulated").
    fn describe(&self) -> String;
    fn alloc(&mut self, bytes: usize) -> Result<DevPtr, CudaError>;
    fn free(&mut self, p: DevPtr);
    fn upload(&mut self, dst: DevPtr, src: &[u8]) -> Result<(), CudaError>;
    /// Waits for every launch before it, then copies.
    fn download(&self, src: DevPtr, dst: &mut [u8]) -> Result<(), CudaError>;
    fn zero(&mut self, dst: DevPtr, bytes: usize) -> Result<(), CudaError>;
    /// Queues a launch of `k` (arguments already checked by the caller with
    /// [`check_args`]); between [`Gpu::begin_capture`] and
    /// [`Gpu::end_capture`] it is recorded instead of run.
    fn launch(&mut self, k: &KernelSig, shape: Shape, args: &[Arg]) -> Result<(), CudaError>;
    /// Starts recording launches (a CUDA graph): they are not run until the
    /// graph is replayed. Copies may not be recorded.
    fn begin_capture(&mut self) -> Result<(), CudaError>;
    /// Ends the recording and returns the graph, which replaces any earlier
    /// one (one graph per GPU).
    fn end_capture(&mut self) -> Result<(), CudaError>;
    /// Runs the recorded launches again, with the arguments they were
    /// recorded with (so reading the buffers' current contents).
    fn replay(&mut self) -> Result<(), CudaError>;
}

/// Where `[p, p + len)` lies in `allocs` (allocations by base address, each
/// `size` bytes long): the base address and the offset of `p`, or an error
/// when the range is not inside one live allocation. The bounds check both
/// GPUs run on every copy.
pub fn locate<V>(
    allocs: &std::collections::BTreeMap<u64, V>,
    size: impl Fn(&V) -> usize,
    p: DevPtr,
    len: usize,
) -> Result<(u64, usize), CudaError> {
    let (&base, v) = allocs
        .range(..=p.0)
        .next_back()
        .ok_or_else(|| CudaError::Usage(format!("address {:#x} is not allocated", p.0)))?;
    let off = (p.0 - base) as usize;
    if off.checked_add(len).is_none_or(|end| end > size(v)) {
        return Err(CudaError::Usage(format!(
            "{len} bytes at {:#x} run past an allocation of {} bytes",
            p.0,
            size(v)
        )));
    }
    Ok((base, off))
}

/// The plain integer element types of device buffers.
pub trait Plain: Copy + Default + 'static {}
impl Plain for i8 {}
impl Plain for u8 {}
impl Plain for i16 {}
impl Plain for u16 {}
impl Plain for i32 {}
impl Plain for u32 {}
impl Plain for i64 {}
impl Plain for u64 {}

fn as_bytes<T: Plain>(v: &[T]) -> &[u8] {
    // SAFETY: T is a plain integer type (no padding, every bit pattern valid).
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast(), std::mem::size_of_val(v)) }
}

fn as_bytes_mut<T: Plain>(v: &mut [T]) -> &mut [u8] {
    // SAFETY: as in `as_bytes`; any bytes written are a valid T.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast(), std::mem::size_of_val(v)) }
}

/// A typed device array of `len` elements.
#[derive(Debug)]
pub struct DevBuf<T> {
    pub ptr: DevPtr,
    pub len: usize,
    _t: PhantomData<T>,
}

impl<T: Plain> DevBuf<T> {
    /// `len` zeros (at least one element is allocated, so no buffer is empty).
    pub fn zeros(gpu: &mut dyn Gpu, len: usize) -> Result<DevBuf<T>, CudaError> {
        let bytes = len.max(1) * std::mem::size_of::<T>();
        Ok(DevBuf {
            ptr: gpu.alloc(bytes)?,
            len,
            _t: PhantomData,
        })
    }

    /// A copy of `v` (a one-element zero array for an empty `v`).
    pub fn from_slice(gpu: &mut dyn Gpu, v: &[T]) -> Result<DevBuf<T>, CudaError> {
        let b = DevBuf::zeros(gpu, v.len())?;
        gpu.upload(b.ptr, as_bytes(v))?;
        Ok(b)
    }

    pub fn arg(&self) -> Arg {
        Arg::Ptr(self.ptr)
    }

    pub fn write(&self, gpu: &mut dyn Gpu, v: &[T]) -> Result<(), CudaError> {
        assert!(v.len() <= self.len, "upload past the buffer");
        gpu.upload(self.ptr, as_bytes(v))
    }

    /// The first `n` elements.
    pub fn read(&self, gpu: &dyn Gpu, n: usize) -> Result<Vec<T>, CudaError> {
        assert!(n <= self.len, "download past the buffer");
        let mut v = vec![T::default(); n];
        gpu.download(self.ptr, as_bytes_mut(&mut v))?;
        Ok(v)
    }

    pub fn read_into(&self, gpu: &dyn Gpu, out: &mut [T]) -> Result<(), CudaError> {
        assert!(out.len() <= self.len, "download past the buffer");
        gpu.download(self.ptr, as_bytes_mut(out))
    }

    pub fn clear(&self, gpu: &mut dyn Gpu) -> Result<(), CudaError> {
        gpu.zero(self.ptr, self.len.max(1) * std::mem::size_of::<T>())
    }

    pub fn free(self, gpu: &mut dyn Gpu) {
        gpu.free(self.ptr)
    }
}
