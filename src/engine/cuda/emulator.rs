//! The SIMT emulator as a [`Gpu`]: the unmodified `kernels/*.cu`, compiled
//! for the host by `build.rs` (feature `cuda-emulator`) against
//! `kernels/emulator/boa_emu.h`, launched on the CPU one block at a time with
//! every CUDA thread on its own fiber (`kernels/emulator/boa_emu.cpp`).
//!
//! Device memory is host memory: an allocation is a boxed zeroed array, and a
//! [`DevPtr`] is its address. Every copy is checked to lie inside one live
//! allocation, so a host-side layout bug is an error here rather than a
//! corrupted buffer.
#![deny(clippy::float_arithmetic)]

use std::collections::BTreeMap;
use std::ffi::{CStr, c_char, c_void};

use super::CudaError;
use super::gpu::{Arg, DevPtr, Gpu, KernelSig, Shape, locate};

unsafe extern "C" {
    fn boa_emu_kernel_count() -> usize;
    fn boa_emu_kernel_name(i: usize) -> *const c_char;
    fn boa_emu_kernel_signature(i: usize) -> *const c_char;
    fn boa_emu_launch(
        i: usize,
        grid: *const u32,
        block: *const u32,
        args: *mut *mut c_void,
        schedule: u32,
        seed: u64,
        err: *mut c_char,
        err_len: usize,
    ) -> i32;
}

/// The order in which the emulator resumes the threads of a block between
/// two synchronization points. Race-free kernels give the same bytes under
/// every schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    InOrder,
    Reversed,
    /// A permutation per block and round from this seed.
    Random(u64),
}

impl Schedule {
    /// `BOA_EMU_SCHEDULE`: `in-order` (the default), `reversed` or
    /// `random:SEED`.
    pub fn from_env() -> Result<Schedule, CudaError> {
        match std::env::var("BOA_EMU_SCHEDULE") {
            Err(_) => Ok(Schedule::InOrder),
            Ok(v) => Schedule::parse(&v).ok_or_else(|| {
                CudaError::Usage(format!(
                    "BOA_EMU_SCHEDULE={v:?}: expected in-order, reversed or random:SEED"
                ))
            }),
        }
    }

    pub fn parse(s: &str) -> Option<Schedule> {
        match s {
            "in-order" => Some(Schedule::InOrder),
            "reversed" => Some(Schedule::Reversed),
            _ => s
                .strip_prefix("random:")
                .and_then(|n| n.parse().ok())
                .map(Schedule::Random),
        }
    }

    fn code(self) -> (u32, u64) {
        match self {
            Schedule::InOrder => (0, 0),
            Schedule::Reversed => (1, 0),
            Schedule::Random(seed) => (2, seed),
        }
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Schedule::InOrder => write!(f, "in-order"),
            Schedule::Reversed => write!(f, "reversed"),
            Schedule::Random(s) => write!(f, "random:{s}"),
        }
    }
}

/// The kernels compiled into the emulator: `(name, signature)` in its
/// registry order (for tests).
pub fn compiled_kernels() -> Vec<(String, String)> {
    // SAFETY: the registry returns static NUL-terminated strings for every
    // index below its count.
    unsafe {
        (0..boa_emu_kernel_count())
            .map(|i| {
                (
                    CStr::from_ptr(boa_emu_kernel_name(i))
                        .to_string_lossy()
                        .into_owned(),
                    CStr::from_ptr(boa_emu_kernel_signature(i))
                        .to_string_lossy()
                        .into_owned(),
                )
            })
            .collect()
    }
}

/// One zeroed allocation of exactly the requested size (16-byte aligned, as
/// cudaMalloc's 256 is for every type the kernels use), so that a kernel
/// reading or writing one byte past it is caught by AddressSanitizer in the
/// sanitizer build (`tests/emulator/sanitizers.sh`).
struct Allocation {
    ptr: std::ptr::NonNull<u8>,
    layout: std::alloc::Layout,
}

impl Allocation {
    fn zeroed(bytes: usize) -> Result<Allocation, CudaError> {
        let layout = std::alloc::Layout::from_size_align(bytes.max(1), 16)
            .map_err(|e| CudaError::Usage(format!("allocation of {bytes} bytes: {e}")))?;
        // SAFETY: the layout has a non-zero size.
        let ptr = std::ptr::NonNull::new(unsafe { std::alloc::alloc_zeroed(layout) })
            .ok_or_else(|| CudaError::Driver(format!("out of host memory ({bytes} bytes)")))?;
        Ok(Allocation { ptr, layout })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `layout.size()` initialized (zeroed) bytes owned by self.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.layout.size()) }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, borrowed mutably.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.layout.size()) }
    }
}

impl Drop for Allocation {
    fn drop(&mut self) {
        // SAFETY: allocated in `zeroed` with this layout.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

// SAFETY: an Allocation owns its memory exclusively, like a Box<[u8]>.
unsafe impl Send for Allocation {}

/// Device memory and launches on the host.
pub struct EmulatedGpu {
    /// Address to allocation.
    allocs: BTreeMap<u64, Allocation>,
    /// Registry index of each kernel by name, resolved and signature-checked
    /// on first use.
    index: Vec<(&'static str, usize)>,
    schedule: Schedule,
    /// The launches being recorded, and the recorded graph: (kernel name,
    /// registry index, shape, arguments).
    recording: Option<Vec<Recorded>>,
    graph: Vec<Recorded>,
}

type Recorded = (&'static str, usize, Shape, Vec<Arg>);

impl EmulatedGpu {
    pub fn new(schedule: Schedule) -> EmulatedGpu {
        EmulatedGpu {
            allocs: BTreeMap::new(),
            index: Vec::new(),
            schedule,
            recording: None,
            graph: Vec::new(),
        }
    }

    /// The bytes `[p, p + len)` of one live allocation.
    fn bytes(&self, p: DevPtr, len: usize) -> Result<&[u8], CudaError> {
        let (base, off) = locate(&self.allocs, |a| a.layout.size(), p, len)?;
        Ok(&self.allocs[&base].bytes()[off..off + len])
    }

    fn bytes_mut(&mut self, p: DevPtr, len: usize) -> Result<&mut [u8], CudaError> {
        let (base, off) = locate(&self.allocs, |a| a.layout.size(), p, len)?;
        let a = self.allocs.get_mut(&base).expect("located");
        Ok(&mut a.bytes_mut()[off..off + len])
    }

    fn kernel_index(&mut self, k: &KernelSig) -> Result<usize, CudaError> {
        if let Some(&(_, i)) = self.index.iter().find(|(n, _)| *n == k.name) {
            return Ok(i);
        }
        let compiled = compiled_kernels();
        let (i, (_, sig)) = compiled
            .iter()
            .enumerate()
            .find(|(_, (n, _))| n == k.name)
            .ok_or_else(|| CudaError::Usage(format!("the emulator has no kernel {}", k.name)))?;
        if *sig != k.signature() {
            return Err(CudaError::Usage(format!(
                "{}: the kernel takes ({sig}), the host declares ({})",
                k.name,
                k.signature()
            )));
        }
        self.index.push((k.name, i));
        Ok(i)
    }
}

impl Gpu for EmulatedGpu {
    fn describe(&self) -> String {
        format!("cuda-emulated ({} schedule)", self.schedule)
    }

    fn alloc(&mut self, bytes: usize) -> Result<DevPtr, CudaError> {
        let a = Allocation::zeroed(bytes)?;
        let p = a.ptr.as_ptr() as u64;
        self.allocs.insert(p, a);
        Ok(DevPtr(p))
    }

    fn free(&mut self, p: DevPtr) {
        self.allocs.remove(&p.0);
    }

    fn upload(&mut self, dst: DevPtr, src: &[u8]) -> Result<(), CudaError> {
        self.bytes_mut(dst, src.len())?.copy_from_slice(src);
        Ok(())
    }

    fn download(&self, src: DevPtr, dst: &mut [u8]) -> Result<(), CudaError> {
        dst.copy_from_slice(self.bytes(src, dst.len())?);
        Ok(())
    }

    fn zero(&mut self, dst: DevPtr, bytes: usize) -> Result<(), CudaError> {
        self.bytes_mut(dst, bytes)?.fill(0);
        Ok(())
    }

    fn launch(&mut self, k: &KernelSig, shape: Shape, args: &[Arg]) -> Result<(), CudaError> {
        let i = self.kernel_index(k)?;
        if let Some(rec) = self.recording.as_mut() {
            rec.push((k.name, i, shape, args.to_vec()));
            return Ok(());
        }
        self.run(k.name, i, shape, args)
    }

    fn begin_capture(&mut self) -> Result<(), CudaError> {
        if self.recording.is_some() {
            return Err(CudaError::Usage("a capture is already running".into()));
        }
        self.recording = Some(Vec::new());
        Ok(())
    }

    fn end_capture(&mut self) -> Result<(), CudaError> {
        self.graph = self
            .recording
            .take()
            .ok_or_else(|| CudaError::Usage("no capture is running".into()))?;
        Ok(())
    }

    fn replay(&mut self) -> Result<(), CudaError> {
        let graph = std::mem::take(&mut self.graph);
        let mut result = Ok(());
        for (name, i, shape, args) in &graph {
            result = self.run(name, *i, *shape, args);
            if result.is_err() {
                break;
            }
        }
        self.graph = graph;
        result
    }
}

impl EmulatedGpu {
    /// Runs registry kernel `i` (named `name`, for errors) now.
    fn run(&mut self, name: &str, i: usize, shape: Shape, args: &[Arg]) -> Result<(), CudaError> {
        let mut values: Vec<[u8; 8]> = args.iter().map(Arg::bytes).collect();
        let mut ptrs: Vec<*mut c_void> = values
            .iter_mut()
            .map(|v| v.as_mut_ptr().cast::<c_void>())
            .collect();
        let block = [shape.block, 1, 1];
        let (schedule, seed) = self.schedule.code();
        let mut err = [0 as c_char; 256];
        // SAFETY: `ptrs` holds one pointer per declared parameter (checked
        // by the caller against the kernel's declaration, which
        // `kernel_index` checked against the compiled kernel), each to 8
        // readable bytes of which the kernel reads its parameter's size;
        // every pointer argument is an address inside a live allocation of
        // this emulator, sized by the engine for the launch.
        let rc = unsafe {
            boa_emu_launch(
                i,
                shape.grid.as_ptr(),
                block.as_ptr(),
                ptrs.as_mut_ptr(),
                schedule,
                seed,
                err.as_mut_ptr(),
                err.len(),
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            // SAFETY: the emulator writes a NUL-terminated message into err.
            let msg = unsafe { CStr::from_ptr(err.as_ptr()) }.to_string_lossy();
            Err(CudaError::Driver(format!("{name}: {msg}")))
        }
    }
}
