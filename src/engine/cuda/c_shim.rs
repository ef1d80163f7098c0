//! Safe wrappers around `kernels/host_shim.c`: the very C code the CUDA kernels
//! compile (`boa_int.h`, `boa_coder.h`), built for the host by `build.rs`.
//! Used by `tests/kernel_helpers.rs`; not a production path.
#![deny(clippy::float_arithmetic)]

use crate::coder::{CoderError, CumulativeFrequencies};

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
        pub fn boa_shim_decay(
            dt: u32,
            a_rate: u32,
            a_shift: u32,
            min_v: u32,
            table: *const u16,
        ) -> u32;
        pub fn boa_shim_scan_channel(
            h: *mut i32,
            dt: u32,
            xc: i8,
            b: *const i8,
            c: *const i8,
            a_rate: *const u16,
            a_shift: u32,
            inc_shift: u32,
            min_v: u32,
            inc_max: i64,
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
            stats: *mut u64,
        ) -> u64;
        pub fn boa_shim_decode(
            input: *const u8,
            len: u64,
            freqs: *const u32,
            n: u64,
            syms: *mut u16,
            err_pos: *mut u64,
            decoded: *mut u64,
        ) -> u32;
    }
}

/// `floor(v / 2^s)`, `s <= 63`.
pub fn asr64(v: i64, s: u32) -> i64 {
    assert!(s <= 63);
    unsafe { ffi::boa_shim_asr64(v, s) }
}

/// Preconditions as [`crate::intmath::rshift_round`] (not checked: the C code has
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

pub fn decay(dt: u16, a_rate: u16, a_shift: u8, min_v: u32, table: &[u16; 256]) -> i64 {
    assert!(a_shift <= 63);
    unsafe {
        ffi::boa_shim_decay(
            dt as u32,
            a_rate as u32,
            a_shift as u32,
            min_v,
            table.as_ptr(),
        ) as i64
    }
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
    arith: crate::intmath::ArithVersion,
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
            arith.min_decay_exponent(),
            arith.inc_max(),
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

/// What the C encoder observed (see `boa_shim_encode` in `host_shim.c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EncodeStats {
    /// A symbol was skipped because its table was invalid.
    pub bad_table: bool,
    /// Number of carries out of the 64-bit `low`.
    pub carries: u64,
    /// Longest run of queued `0xFF` bytes that a carry turned into `0x00`.
    pub max_ripple: u64,
    /// Longest queue of `0xFF` bytes seen between symbols.
    pub max_ff_queue: u64,
}

/// Range-encodes `syms[i]` with table `freqs[i]` by the C coder, without
/// validating the tables (the C code skips a symbol whose table entry is
/// unusable and reports it in [`EncodeStats::bad_table`]).
pub fn encode_unchecked(syms: &[u8], freqs: &[[u32; 256]]) -> (Vec<u8>, EncodeStats) {
    assert_eq!(syms.len(), freqs.len());
    let mut cap = syms.len() + crate::coder::MIN_STREAM_LEN + 16;
    loop {
        let mut out = vec![0u8; cap];
        let mut st = [0u64; 4];
        let n = unsafe {
            ffi::boa_shim_encode(
                syms.as_ptr(),
                freqs.as_ptr().cast(),
                syms.len() as u64,
                out.as_mut_ptr(),
                cap as u64,
                st.as_mut_ptr(),
            )
        } as usize;
        if n <= cap {
            out.truncate(n);
            let stats = EncodeStats {
                bad_table: st[0] != 0,
                carries: st[1],
                max_ripple: st[2],
                max_ff_queue: st[3],
            };
            return (out, stats);
        }
        cap = n;
    }
}

/// Range-encodes `syms[i]` with table `freqs[i]` by the C coder. Like
/// [`crate::coder::RangeEncoder::encode_freqs`], every table is validated
/// first (here all of them before any symbol is coded).
pub fn encode(syms: &[u8], freqs: &[[u32; 256]]) -> Result<Vec<u8>, CoderError> {
    for f in freqs {
        CumulativeFrequencies::new(f)?;
    }
    Ok(encode_unchecked(syms, freqs).0)
}

/// Status codes of `boa_coder.h` (`BOA_DEC_*`).
pub const DEC_OK: u32 = 0;
pub const DEC_CORRUPT: u32 = 1;
pub const DEC_TRUNCATED: u32 = 2;
pub const DEC_TOO_SHORT: u32 = 3;
pub const DEC_TRAILING: u32 = 4;
pub const CODER_BAD_TABLE: u32 = 5;

/// The raw result of the C decoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDecode {
    /// `BOA_DEC_*` after `boa_dec_finish`.
    pub status: u32,
    /// `boa_dec_t.err_pos`.
    pub err_pos: u64,
    /// The symbols decoded before the first error (all of them on success).
    pub symbols: Vec<u8>,
}

/// Decodes `freqs.len()` symbols with the C decoder, stopping at the first
/// error, then applies `boa_dec_finish`. Tables are not validated.
pub fn decode_unchecked(input: &[u8], freqs: &[[u32; 256]]) -> RawDecode {
    let mut syms = vec![0u16; freqs.len()];
    let (mut err_pos, mut decoded) = (0u64, 0u64);
    let status = unsafe {
        ffi::boa_shim_decode(
            input.as_ptr(),
            input.len() as u64,
            freqs.as_ptr().cast(),
            freqs.len() as u64,
            syms.as_mut_ptr(),
            &mut err_pos,
            &mut decoded,
        )
    };
    let symbols = syms[..decoded as usize].iter().map(|&s| s as u8).collect();
    RawDecode {
        status,
        err_pos,
        symbols,
    }
}

/// Decodes `freqs.len()` symbols with the C decoder and maps its status to the
/// [`CoderError`] that [`crate::coder::decode_all`] reports for the same
/// input. Tables are validated first, all before decoding (the Rust coder
/// validates table `i` when symbol `i` is decoded).
pub fn decode(input: &[u8], freqs: &[[u32; 256]]) -> Result<Vec<u8>, CoderError> {
    for f in freqs {
        CumulativeFrequencies::new(f)?;
    }
    let raw = decode_unchecked(input, freqs);
    let len = input.len();
    let at = raw.err_pos as usize;
    match raw.status {
        DEC_OK => Ok(raw.symbols),
        DEC_CORRUPT => Err(CoderError::Corrupt { consumed: at }),
        DEC_TRUNCATED => Err(CoderError::Truncated { needed: at, len }),
        DEC_TOO_SHORT => Err(CoderError::TooShort { len: at }),
        DEC_TRAILING => Err(CoderError::TrailingBytes {
            consumed: at,
            len,
            trailing: len - at,
        }),
        // Unreachable with validated tables.
        other => panic!("C decoder status {other} (bad table) after validation"),
    }
}
