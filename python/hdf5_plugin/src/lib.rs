//! `libh5boa.so`: boa-det as an HDF5 filter plugin (docs/PYTHON.md, "HDF5").
//!
//! HDF5 loads it from `HDF5_PLUGIN_PATH` (any reader: h5py, h5dump, C code),
//! or `boa_det.hdf5` registers it in h5py's process. It links no libhdf5:
//! the buffers it returns are allocated with the loading process's
//! `H5allocate_memory` when that symbol is visible, else with `malloc`, which
//! is what a release build of HDF5 uses underneath.
//!
//! Filter parameters (`cd_values`), for the encoder and for a reader to see
//! (`h5dump -p`): `[0]` the parameter version (1; another is refused), `[1]`
//! the record length in bytes for the column models (the dataset's element
//! size; 0 = detect), as `boa-det compress --record-size`, `[2]` the level
//! (0 for the default, or 1 to 9 as `boa-det compress -N`), `[3]` the newest archive format version the
//! writer may use, `[4..8]` the model fingerprint as four little-endian
//! words. Decoding needs none of them: each chunk is an ordinary `.boa`
//! archive naming its model and format.

use std::ffi::{c_char, c_int, c_uint, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};

use boa_det::compress::{self, CompressOptions, RecordStride};
use boa_det::mixing::record_stride::{MAX_RECORD_STRIDE, MIN_RECORD_STRIDE};
use boa_det::model::Model;

/// An id from HDF5's range for unregistered filters (32768..=65535), until
/// one is registered with The HDF Group.
pub const FILTER_ID: c_int = 35594;

/// `H5Z_FLAG_REVERSE`: the filter is called to decode.
const FLAG_REVERSE: c_uint = 0x0100;

type FilterFn = unsafe extern "C" fn(
    flags: c_uint,
    cd_nelmts: usize,
    cd_values: *const c_uint,
    nbytes: usize,
    buf_size: *mut usize,
    buf: *mut *mut c_void,
) -> usize;

/// `H5Z_class2_t` (H5Zpublic.h; `H5Z_CLASS_T_VERS` = 1).
#[repr(C)]
pub struct FilterClass {
    version: c_int,
    id: c_int,
    encoder_present: c_uint,
    decoder_present: c_uint,
    name: *const c_char,
    can_apply: Option<unsafe extern "C" fn(i64, i64, i64) -> c_int>,
    set_local: Option<unsafe extern "C" fn(i64, i64, i64) -> c_int>,
    filter: Option<FilterFn>,
}

// SAFETY: read-only after construction; `name` points at a static string.
unsafe impl Sync for FilterClass {}

static NAME: &[u8] =
    b"boa-det: deterministic neural compression (https://github.com/; docs/PYTHON.md)\0";

static CLASS: FilterClass = FilterClass {
    version: 1,
    id: FILTER_ID,
    encoder_present: 1,
    decoder_present: 1,
    name: NAME.as_ptr() as *const c_char,
    can_apply: None,
    set_local: None,
    filter: Some(filter),
};

/// `H5PL_TYPE_FILTER`.
#[unsafe(no_mangle)]
pub extern "C" fn H5PLget_plugin_type() -> c_int {
    0
}

#[unsafe(no_mangle)]
pub extern "C" fn H5PLget_plugin_info() -> *const c_void {
    &CLASS as *const FilterClass as *const c_void
}

/// A symbol of the process, if loaded globally (`dlsym(RTLD_DEFAULT, ..)`).
fn process_symbol(name: &[u8]) -> *mut c_void {
    // SAFETY: `name` is NUL-terminated; dlsym only looks the symbol up.
    unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr() as *const c_char) }
}

/// Memory HDF5 may free: `H5allocate_memory` when visible, else `malloc`.
fn allocate(len: usize) -> *mut c_void {
    let f = process_symbol(b"H5allocate_memory\0");
    if f.is_null() {
        // SAFETY: plain allocation.
        unsafe { libc::malloc(len.max(1)) }
    } else {
        // SAFETY: H5allocate_memory(size_t size, hbool_t clear).
        let f: unsafe extern "C" fn(usize, bool) -> *mut c_void = unsafe { std::mem::transmute(f) };
        unsafe { f(len.max(1), false) }
    }
}

/// Frees a buffer HDF5 handed to the filter.
fn release(p: *mut c_void) {
    let f = process_symbol(b"H5free_memory\0");
    if f.is_null() {
        // SAFETY: HDF5's buffers come from malloc when H5free_memory is not visible.
        unsafe { libc::free(p) }
    } else {
        // SAFETY: herr_t H5free_memory(void *mem).
        let f: unsafe extern "C" fn(*mut c_void) -> c_int = unsafe { std::mem::transmute(f) };
        unsafe { f(p) };
    }
}

fn default_model() -> Result<Model, String> {
    let bytes = boa_det::default_models::default_model()
        .ok_or_else(|| boa_det::default_models::NO_DEFAULT_MODEL.to_string())?;
    Model::from_bytes(bytes).map_err(|e| e.to_string())
}

/// The record length `cd_values[1]` asks for, if it is one the column models take.
fn records(cd: &[c_uint]) -> RecordStride {
    match cd.get(1).copied() {
        Some(n) if (MIN_RECORD_STRIDE..=MAX_RECORD_STRIDE).contains(&n) => RecordStride::Fixed(n),
        _ => RecordStride::Auto,
    }
}

/// The parameter version this plugin reads.
const PARAMS_VERSION: c_uint = 1;

fn run(reverse: bool, cd: &[c_uint], input: &[u8]) -> Result<Vec<u8>, String> {
    if let Some(&v) = cd.first().filter(|&&v| v != PARAMS_VERSION) {
        return Err(format!(
            "filter parameters of version {v}; this plugin reads version {PARAMS_VERSION}"
        ));
    }
    if reverse {
        return compress::decompress_bytes(input, None).map_err(|e| e.to_string());
    }
    let model = default_model()?;
    let level = match cd.get(2).copied().unwrap_or(0) {
        0 => boa_det::levels::DEFAULT_LEVEL,
        n => u8::try_from(n).map_err(|_| format!("level {n} is not defined"))?,
    };
    let opts = CompressOptions {
        records: records(cd),
        ..boa_det::levels::level(level)?.options(&model)
    };
    compress::compress_bytes(&model, input, &opts).map_err(|e| e.to_string())
}

/// The `H5Z_func_t`: returns the new length, or 0 (HDF5's failure) with the
/// input left as it was.
unsafe extern "C" fn filter(
    flags: c_uint,
    cd_nelmts: usize,
    cd_values: *const c_uint,
    nbytes: usize,
    buf_size: *mut usize,
    buf: *mut *mut c_void,
) -> usize {
    if buf.is_null() || buf_size.is_null() || (nbytes > 0 && unsafe { (*buf).is_null() }) {
        return 0;
    }
    let cd: &[c_uint] = if cd_values.is_null() || cd_nelmts == 0 {
        &[]
    } else {
        // SAFETY: HDF5 passes cd_nelmts values.
        unsafe { std::slice::from_raw_parts(cd_values, cd_nelmts) }
    };
    let input: &[u8] = if nbytes == 0 {
        &[]
    } else {
        // SAFETY: HDF5 passes nbytes valid bytes at *buf.
        unsafe { std::slice::from_raw_parts(*buf as *const u8, nbytes) }
    };
    let out = match catch_unwind(AssertUnwindSafe(|| {
        run(flags & FLAG_REVERSE != 0, cd, input)
    })) {
        Ok(Ok(out)) => out,
        Ok(Err(why)) => {
            eprintln!("boa-det HDF5 filter: {why}");
            return 0;
        }
        Err(_) => return 0,
    };
    let p = allocate(out.len());
    if p.is_null() {
        return 0;
    }
    // SAFETY: p holds at least out.len() bytes; the old buffer is HDF5's.
    unsafe {
        std::ptr::copy_nonoverlapping(out.as_ptr(), p as *mut u8, out.len());
        release(*buf);
        *buf = p;
        *buf_size = out.len().max(1);
    }
    out.len()
}
