//! AVX-512 VNNI GEMM: `vpdpbusd` (u8 x s8 -> s32, four products per lane).
//!
//! Activations `a` in [-127, 127] enter as the unsigned bytes `a + 128` (= `a ^ 0x80`,
//! applied in the register right after the broadcast, so the activations are read
//! where they lie), so the raw sum is `sum_k (a[k] + 128) W[j][k]`; the packed per-row constant
//! `corr[j] = bias[j] - 128 * sum_k W[j][k]` (see `PackedLinear::new_corr`) is the
//! accumulator's initial value, giving exactly §1.3's `bias[j] + sum_k a[k] W[j][k]`
//! modulo 2^32, hence exactly (the true value fits int32, `vpdpbusd` wraps, never saturates).
//!
//! Weight layout: blocks of 16 rows; within a block, for each group of 4 columns,
//! 64 bytes = 16 rows x 4 consecutive columns, so one 512-bit load feeds 16
//! output rows and a broadcast of 4 activation bytes; no horizontal sums.
//! Rows are padded to a multiple of 32 and columns to a multiple of 4 with zeros
//! (a column count that is not a multiple of 4 goes through a padded copy of the
//! activations, whose padding meets zero weights).
//!
//! The requantizing entries ([`gemm_q8`], [`gemm_q16`]) requantize in the
//! micro-kernel's epilogue, while the accumulators are still in registers
//! (§1.1-1.2, 16 channels per zmm): the exact 64-bit products `acc * m` of the
//! even and odd int32 lanes by two `vpmuldq`, `+ 2^(s-1)`, the arithmetic shift
//! `vpsravq` (floor), the clamp in 64 bits, then the odd results moved into the
//! high halves and blended, and narrowed with `vpmovdb`/`vpmovdw` (exact: the values
//! are already clamped). The loader guarantees `1 <= s <= 62` and
//! `|acc * m| + 2^(s-1) < 2^63` (§9.2), so no lane overflows.
#![deny(clippy::float_arithmetic)]

use super::{dot4_gemm_blocks, groups, interleave_weights};
use crate::engine::cpu::kernel_types::PackedLinear;
use crate::intmath::{Q8_MAX, Q16_MAX};
use crate::model::Linear;
use std::arch::x86_64::*;

/// Rows per register block, and blocks per micro-kernel call.
const RB: usize = 16;
const ROW_PAD: usize = 2 * RB;
/// Streams per micro-kernel call (2 * NS accumulators + 2 weights + 1 broadcast <= 32 zmm).
const NS_MAX: usize = 8;
/// `rq_lanes` per 16-row block: `2^(s-1)` of the even rows, of the odd rows, then
/// `s` of the even rows and of the odd rows, 8 x i64 each.
const LANES_PER_BLOCK: usize = 4 * 8;

/// What the micro-kernel's epilogue writes: int32 accumulators, or requantized int8 or q16.
const OUT_I32: u8 = 0;
const OUT_Q8: u8 = 1;
const OUT_Q16: u8 = 2;

pub fn supported() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vnni")
}

pub fn pack(l: &Linear) -> PackedLinear {
    let rows_pad = l.rows.next_multiple_of(ROW_PAD);
    let data = interleave_weights(l, RB, 4, rows_pad, |w| w);
    let mut corr = PackedLinear::new_corr(l, 128);
    corr.resize(rows_pad, 0);
    let mut rq = l.rq.clone();
    // Padding rows: m = 0, s = 1 (their results are never stored).
    rq.mult.resize(rows_pad, 0);
    rq.shift.resize(rows_pad, 1);
    let mut lanes = vec![0i64; rows_pad / RB * LANES_PER_BLOCK];
    for (j, &s) in rq.shift.iter().enumerate() {
        let s = i64::from(s.max(1));
        let (b, r) = (j / RB, j % RB);
        let at = b * LANES_PER_BLOCK + (r % 2) * 8 + r / 2;
        lanes[at] = 1 << (s - 1);
        lanes[at + 16] = s;
    }
    PackedLinear {
        rows: l.rows,
        cols: l.cols,
        data8: data,
        data16: Vec::new(),
        corr,
        rq,
        rq_lanes: lanes,
    }
}

/// `acc[s * rows + j] = bias[j] + sum_k W[j][k] a[s * cols + k]`.
pub fn gemm(p: &PackedLinear, a: &[i8], n: usize, acc: &mut [i32]) {
    gemm_into::<OUT_I32, i32>(p, a, n, acc)
}

/// [`gemm`], then the layer's requantization to int8, fused.
pub fn gemm_q8(p: &PackedLinear, a: &[i8], n: usize, out: &mut [i8]) {
    gemm_into::<OUT_Q8, i8>(p, a, n, out)
}

/// [`gemm`], then the layer's requantization to q16, fused.
pub fn gemm_q16(p: &PackedLinear, a: &[i8], n: usize, out: &mut [i16]) {
    gemm_into::<OUT_Q16, i16>(p, a, n, out)
}

/// The GEMM with epilogue `OUT` writing elements of type `T` (`i32`, `i8`, `i16` for
/// [`OUT_I32`], [`OUT_Q8`], [`OUT_Q16`]) to `out[s * rows + j]`.
fn gemm_into<const OUT: u8, T: Copy + Default>(
    p: &PackedLinear,
    a: &[i8],
    n: usize,
    out: &mut [T],
) {
    let (rows, cols) = (p.rows, p.cols);
    assert!(a.len() >= n * cols && out.len() >= n * rows);
    assert!(
        supported(),
        "avx512 kernels called on a CPU without AVX-512 VNNI"
    );
    let c4 = groups(cols, 4);
    let rows_pad = p.corr.len();
    assert!(rows_pad.is_multiple_of(ROW_PAD) && p.data8.len() == rows_pad * 4 * c4);
    assert!(p.rq.mult.len() == rows_pad && p.rq_lanes.len() == rows_pad / RB * LANES_PER_BLOCK);
    dot4_gemm_blocks::<T, ROW_PAD, NS_MAX>(
        rows,
        cols,
        a,
        n,
        out,
        |r0, act, ns, stride, dst, dst_stride| {
            let w = &p.data8[r0 * c4 * 4..(r0 + ROW_PAD) * c4 * 4];
            let b = r0 / RB;
            let block = RowBlock {
                corr: &p.corr[r0..r0 + ROW_PAD],
                mult: &p.rq.mult[r0..r0 + ROW_PAD],
                lanes: &p.rq_lanes[b * LANES_PER_BLOCK..(b + 2) * LANES_PER_BLOCK],
            };
            // SAFETY: `supported()` was checked above; `micro` asserts that the
            // slices cover every address it reads and writes.
            unsafe {
                match ns {
                    8 => micro::<8, OUT, T>(w, act, stride, &block, dst, dst_stride),
                    7 => micro::<7, OUT, T>(w, act, stride, &block, dst, dst_stride),
                    6 => micro::<6, OUT, T>(w, act, stride, &block, dst, dst_stride),
                    5 => micro::<5, OUT, T>(w, act, stride, &block, dst, dst_stride),
                    4 => micro::<4, OUT, T>(w, act, stride, &block, dst, dst_stride),
                    3 => micro::<3, OUT, T>(w, act, stride, &block, dst, dst_stride),
                    2 => micro::<2, OUT, T>(w, act, stride, &block, dst, dst_stride),
                    _ => micro::<1, OUT, T>(w, act, stride, &block, dst, dst_stride),
                }
            }
        },
    );
}

/// A 32-row block's constants: the accumulators' initial values and the requantization.
struct RowBlock<'a> {
    corr: &'a [i32],
    mult: &'a [i32],
    lanes: &'a [i64],
}

/// 32 rows x NS streams over all columns; stream `s`'s 32 results go to
/// `out[s * out_stride..][..32]`.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
fn micro<const NS: usize, const OUT: u8, T>(
    w: &[i8],
    act: &[i8],
    stride: usize,
    block: &RowBlock,
    out: &mut [T],
    out_stride: usize,
) {
    let c4 = stride / 4;
    assert!(w.len() >= 2 * c4 * 64 && act.len() >= NS * stride);
    assert!(block.corr.len() >= ROW_PAD && block.mult.len() >= ROW_PAD);
    assert!(block.lanes.len() >= 2 * LANES_PER_BLOCK);
    assert!(out.len() >= (NS - 1) * out_stride + ROW_PAD);
    assert!(std::mem::size_of::<T>() == [4, 1, 2][OUT as usize]);
    // SAFETY (all unaligned loads/stores below): bounds asserted just above;
    // every store writes ROW_PAD elements of size_of::<T>() bytes at `s * out_stride`.
    unsafe {
        let wp = w.as_ptr();
        let ap = act.as_ptr();
        let c0 = _mm512_loadu_si512(block.corr.as_ptr() as *const _);
        let c1 = _mm512_loadu_si512(block.corr.as_ptr().add(RB) as *const _);
        let mut acc0 = [c0; NS];
        let mut acc1 = [c1; NS];
        let w1 = wp.add(c4 * 64);
        let offset = _mm512_set1_epi8(-128);
        for q in 0..c4 {
            let wa = _mm512_loadu_si512(wp.add(q * 64) as *const _);
            let wb = _mm512_loadu_si512(w1.add(q * 64) as *const _);
            for s in 0..NS {
                let x = _mm512_xor_si512(
                    _mm512_set1_epi32(std::ptr::read_unaligned(
                        ap.add(s * stride + 4 * q) as *const i32
                    )),
                    offset,
                );
                acc0[s] = _mm512_dpbusd_epi32(acc0[s], x, wa);
                acc1[s] = _mm512_dpbusd_epi32(acc1[s], x, wb);
            }
        }
        let op = out.as_mut_ptr();
        match OUT {
            OUT_I32 => {
                for s in 0..NS {
                    let o = op.add(s * out_stride) as *mut i32;
                    _mm512_storeu_si512(o as *mut _, acc0[s]);
                    _mm512_storeu_si512(o.add(RB) as *mut _, acc1[s]);
                }
            }
            _ => {
                let lim = if OUT == OUT_Q8 { Q8_MAX } else { Q16_MAX } as i64;
                let rq0 = BlockRequant::load(block.mult.as_ptr(), block.lanes.as_ptr(), lim);
                let rq1 = BlockRequant::load(
                    block.mult.as_ptr().add(RB),
                    block.lanes.as_ptr().add(LANES_PER_BLOCK),
                    lim,
                );
                for s in 0..NS {
                    let (v0, v1) = (rq0.apply(acc0[s]), rq1.apply(acc1[s]));
                    if OUT == OUT_Q8 {
                        let o = op.add(s * out_stride) as *mut i8;
                        _mm_storeu_si128(o as *mut _, _mm512_cvtepi32_epi8(v0));
                        _mm_storeu_si128(o.add(RB) as *mut _, _mm512_cvtepi32_epi8(v1));
                    } else {
                        let o = op.add(s * out_stride) as *mut i16;
                        _mm256_storeu_si256(o as *mut _, _mm512_cvtepi32_epi16(v0));
                        _mm256_storeu_si256(o.add(RB) as *mut _, _mm512_cvtepi32_epi16(v1));
                    }
                }
            }
        }
    }
}

/// One 16-row block's requantization constants in registers.
struct BlockRequant {
    mult: __m512i,
    mult_odd: __m512i,
    half_even: __m512i,
    half_odd: __m512i,
    shift_even: __m512i,
    shift_odd: __m512i,
    lo: __m512i,
    hi: __m512i,
}

impl BlockRequant {
    /// # Safety
    /// `mult` points to 16 readable i32, `lanes` to [`LANES_PER_BLOCK`] readable i64.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn load(mult: *const i32, lanes: *const i64, lim: i64) -> BlockRequant {
        // SAFETY: the caller's contract.
        unsafe {
            let m = _mm512_loadu_si512(mult as *const _);
            BlockRequant {
                mult: m,
                mult_odd: _mm512_srli_epi64(m, 32),
                half_even: _mm512_loadu_si512(lanes as *const _),
                half_odd: _mm512_loadu_si512(lanes.add(8) as *const _),
                shift_even: _mm512_loadu_si512(lanes.add(16) as *const _),
                shift_odd: _mm512_loadu_si512(lanes.add(24) as *const _),
                lo: _mm512_set1_epi64(-lim),
                hi: _mm512_set1_epi64(lim),
            }
        }
    }

    /// `clamp(rshift_round(acc * m, s), -lim, lim)` for 16 int32 lanes.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn apply(&self, acc: __m512i) -> __m512i {
        // vpmuldq multiplies the sign-extended low halves of each 64-bit lane.
        let even = _mm512_mul_epi32(acc, self.mult);
        let odd = _mm512_mul_epi32(_mm512_srli_epi64(acc, 32), self.mult_odd);
        let round = |p: __m512i, half: __m512i, s: __m512i| {
            let v = _mm512_srav_epi64(_mm512_add_epi64(p, half), s);
            _mm512_min_epi64(_mm512_max_epi64(v, self.lo), self.hi)
        };
        let even = round(even, self.half_even, self.shift_even);
        let odd = round(odd, self.half_odd, self.shift_odd);
        // Even results sit in the low halves already; the odd ones move up.
        _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32))
    }
}

/// Peak int8 MAC rate of one core: a dependency-free stream of `vpdpbusd`
/// (16 independent accumulators). Returns the MACs done and the time taken.
pub fn peak_macs(iters: u64) -> (u64, std::time::Duration) {
    assert!(supported(), "AVX-512 VNNI not supported");
    let t0 = std::time::Instant::now();
    // SAFETY: feature support checked above.
    let sink = unsafe { peak_loop(iters) };
    let took = t0.elapsed();
    std::hint::black_box(sink);
    (iters * 16 * 64, took)
}

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
fn peak_loop(iters: u64) -> i32 {
    let a = _mm512_set1_epi8(3);
    let b = _mm512_set1_epi8(-5);
    let mut acc = [_mm512_setzero_si512(); 16];
    let (a, b) = (std::hint::black_box(a), std::hint::black_box(b));
    for _ in 0..iters {
        for v in acc.iter_mut() {
            *v = _mm512_dpbusd_epi32(*v, a, b);
            // SAFETY: an empty asm block that only claims to read and modify the
            // register, so the compiler can neither fold the loop nor spill it.
            unsafe {
                std::arch::asm!(
                    "/* {0} */",
                    inout(zmm_reg) * v,
                    options(pure, nomem, nostack)
                )
            };
        }
    }
    let mut t = _mm512_setzero_si512();
    for v in acc {
        t = _mm512_add_epi32(t, v);
    }
    _mm512_reduce_add_epi32(t)
}
