//! Safe wrappers around `kernels/host_shim.c`: the very C code the CUDA kernels
//! compile (`boa_int.h`, `boa_coder.h`), built for the host by `build.rs`.
//! Used by `tests/kernel_helpers.rs`; not a production path.
#![deny(clippy::float_arithmetic)]

mod ffi {
    unsafe extern "C" {
        pub fn boa_shim_asr64(v: i64, s: u32) -> i64;
        pub fn boa_shim_rshift_round(v: i64, s: u32) -> i64;
        pub fn boa_shim_requant(acc: i64, m: i32, s: u32) -> i64;
        pub fn boa_shim_clamp_q8(v: i64) -> i8;
        pub fn boa_shim_clamp_q16(v: i64) -> i16;
        pub fn boa_shim_clamp_logit(v: i64) -> i32;
        pub fn boa_shim_isqrt_u64(n: u64) -> u64;
        pub fn boa_shim_floor_div(n: i64, d: i64) -> i64;
        pub fn boa_shim_decay(dt: u32, a_rate: u32, a_shift: u32, table: *const u16) -> u32;
        pub fn boa_shim_scan_channel(
            h: *mut i32,
            dt: u32,
            xc: i8,
            b: *const i8,
            c: *const i8,
            a_rate: *const u16,
            a_shift: u32,
            inc_shift: u32,
            d_skip: i32,
            decay_table: *const u16,
        ) -> i64;
        pub fn boa_shim_layer_norm(
            x: *const i16,
            d: u32,
            gamma: *const i16,
            beta: *const i32,
            shift: u32,
            eps: u64,
            out: *mut i8,
        );
        pub fn boa_shim_logits_to_freqs(logits: *const i32, exp2: *const u32, out: *mut u32);
        pub fn boa_shim_encode(
            syms: *const u8,
            freqs: *const u32,
            n: u64,
            out: *mut u8,
            cap: u64,
        ) -> u64;
        pub fn boa_shim_decode(
            input: *const u8,
            len: u64,
            freqs: *const u32,
            n: u64,
            syms: *mut u16,
        ) -> i32;
    }
}

/// `floor(v / 2^s)`, `s <= 63`.
pub fn asr64(v: i64, s: u32) -> i64 {
    assert!(s <= 63);
    unsafe { ffi::boa_shim_asr64(v, s) }
}

/// Preconditions as [`crate::arith::rshift_round`] (not checked: the C code has
/// undefined behaviour outside them, so callers must respect them).
pub fn rshift_round(v: i64, s: u32) -> i64 {
    assert!(s <= 62);
    unsafe { ffi::boa_shim_rshift_round(v, s) }
}

pub fn requant(acc: i64, m: i32, s: u8) -> i64 {
    assert!((1..=62).contains(&s) && m >= 0);
    unsafe { ffi::boa_shim_requant(acc, m, s as u32) }
}

pub fn clamp_q8(v: i64) -> i8 {
    unsafe { ffi::boa_shim_clamp_q8(v) }
}

pub fn clamp_q16(v: i64) -> i16 {
    unsafe { ffi::boa_shim_clamp_q16(v) }
}

pub fn clamp_logit(v: i64) -> i32 {
    unsafe { ffi::boa_shim_clamp_logit(v) }
}

pub fn isqrt_u64(n: u64) -> u64 {
    unsafe { ffi::boa_shim_isqrt_u64(n) }
}

pub fn floor_div(n: i64, d: i64) -> i64 {
    assert!(d > 0 && n != i64::MIN);
    unsafe { ffi::boa_shim_floor_div(n, d) }
}

pub fn decay(dt: u16, a_rate: u16, a_shift: u8, table: &[u16; 256]) -> i64 {
    assert!(a_shift <= 63);
    unsafe { ffi::boa_shim_decay(dt as u32, a_rate as u32, a_shift as u32, table.as_ptr()) as i64 }
}

/// One channel of the scan: updates `h` and returns `C . h' + D * xc`.
#[allow(clippy::too_many_arguments)]
pub fn scan_channel(
    h: &mut [i32; 16],
    dt: u16,
    xc: i8,
    b: &[i8; 16],
    c: &[i8; 16],
    a_rate: &[u16; 16],
    a_shift: u8,
    inc_shift: u8,
    d_skip: i32,
    decay_table: &[u16; 256],
) -> i64 {
    assert!(a_shift <= 32 && inc_shift <= 40);
    unsafe {
        ffi::boa_shim_scan_channel(
            h.as_mut_ptr(),
            dt as u32,
            xc,
            b.as_ptr(),
            c.as_ptr(),
            a_rate.as_ptr(),
            a_shift as u32,
            inc_shift as u32,
            d_skip,
            decay_table.as_ptr(),
        )
    }
}

pub fn layer_norm(x: &[i16], gamma: &[i16], beta: &[i32], shift: u8, eps: u64, out: &mut [i8]) {
    let d = x.len();
    assert!(d > 0 && gamma.len() == d && beta.len() == d && out.len() == d);
    assert!((1..=62).contains(&shift) && (1..=1u64 << 60).contains(&eps));
    unsafe {
        ffi::boa_shim_layer_norm(
            x.as_ptr(),
            d as u32,
            gamma.as_ptr(),
            beta.as_ptr(),
            shift as u32,
            eps,
            out.as_mut_ptr(),
        )
    }
}

pub fn logits_to_frequencies(logits: &[i32; 256], exp2: &[u32; 256]) -> [u32; 256] {
    let mut out = [0u32; 256];
    unsafe { ffi::boa_shim_logits_to_freqs(logits.as_ptr(), exp2.as_ptr(), out.as_mut_ptr()) };
    out
}

/// Range-encodes `syms[i]` with table `freqs[i]` (each summing to 2^24).
pub fn encode(syms: &[u8], freqs: &[[u32; 256]]) -> Vec<u8> {
    assert_eq!(syms.len(), freqs.len());
    let mut cap = syms.len() * 4 + 16;
    loop {
        let mut out = vec![0u8; cap];
        let n = unsafe {
            ffi::boa_shim_encode(
                syms.as_ptr(),
                freqs.as_ptr().cast(),
                syms.len() as u64,
                out.as_mut_ptr(),
                cap as u64,
            )
        } as usize;
        if n <= cap {
            out.truncate(n);
            return out;
        }
        cap = n;
    }
}

/// Decodes `freqs.len()` symbols; `None` if the decoder reports corrupt input.
pub fn decode(input: &[u8], freqs: &[[u32; 256]]) -> Option<Vec<u8>> {
    let mut syms = vec![0u16; freqs.len()];
    let err = unsafe {
        ffi::boa_shim_decode(
            input.as_ptr(),
            input.len() as u64,
            freqs.as_ptr().cast(),
            freqs.len() as u64,
            syms.as_mut_ptr(),
        )
    };
    (err == 0).then(|| syms.iter().map(|&s| s as u8).collect())
}
