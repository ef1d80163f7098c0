//! A fast, conservative test for chunks the model cannot shrink (random
//! bytes, compressed or encrypted data), so that they are stored without
//! running the network: a few nanoseconds per byte instead of microseconds.
//!
//! A chunk is judged incompressible only when all three hold, each a test
//! that uniformly random bytes pass with overwhelming probability and that
//! any structure the model exploits fails:
//! 1. its byte histogram is uniform: the collision count `sum c_b^2` is within
//!    eight standard deviations of a uniform source's (order 0);
//! 2. so is its histogram of byte pairs `(a, b)` folded to 4096 cells
//!    (`(a << 4) ^ b`; order 1);
//! 3. it has no repeats: no 8-byte window at an anchor occurs twice. Anchors
//!    are the positions whose window hashes to a multiple of 8, so both copies
//!    of a repeated stretch have the same ones (content-defined, as in
//!    rsync): a repeat of 64 bytes holds one with probability above 99.9 %,
//!    and a chunk with many repeats is certain to show one. These are the
//!    match finders' food.
//!
//! Chunks shorter than [`MIN_LEN`] are never judged: there the tests are too
//! weak to bound what the model could still gain. At [`MIN_LEN`] a chunk that
//! passes has at most about 0.1 % order-0 redundancy, at 256 KiB (the default
//! chunk) at most about 0.006 %.
//!
//! The decision is a pure integer function of the chunk, so the archive does
//! not depend on the machine. It only ever replaces a neural payload by the
//! stored chunk, which every format version reads.
#![deny(clippy::float_arithmetic)]

/// Shortest chunk the test judges.
pub const MIN_LEN: usize = 16 << 10;

/// Whether `chunk` is stored without running the model (see the module doc).
pub fn looks_incompressible(chunk: &[u8]) -> bool {
    chunk.len() >= MIN_LEN && order0_uniform(chunk) && order1_uniform(chunk) && !has_repeats(chunk)
}

/// Whether `n` samples spread over `cells` equally likely cells with
/// collision count `sum_sq = sum c^2` look uniform. For a uniform source,
/// `cells * sum_sq = n^2 + n * X` with `X` about chi-square with `cells - 1`
/// degrees of freedom (mean `cells - 1`, variance `2 (cells - 1)`); accept
/// `X` up to its mean plus eight standard deviations.
fn collisions_look_uniform(n: u64, cells: u64, sum_sq: u64) -> bool {
    let dof = cells - 1;
    let sd = crate::intmath::isqrt_u64(2 * dof) + 1;
    let bound = n * n + n * (dof + 8 * sd);
    u128::from(cells) * u128::from(sum_sq) <= u128::from(bound)
}

fn order0_uniform(chunk: &[u8]) -> bool {
    // Four histograms, so that consecutive equal bytes do not wait on each
    // other's increments.
    let mut hist = [[0u32; 256]; 4];
    let mut quads = chunk.chunks_exact(4);
    for q in &mut quads {
        for (h, &b) in hist.iter_mut().zip(q) {
            h[usize::from(b)] += 1;
        }
    }
    for &b in quads.remainder() {
        hist[0][usize::from(b)] += 1;
    }
    let sum_sq = (0..256)
        .map(|v| u64::from(hist[0][v] + hist[1][v] + hist[2][v] + hist[3][v]).pow(2))
        .sum();
    collisions_look_uniform(chunk.len() as u64, 256, sum_sq)
}

/// Cells of the folded pair histogram: 16 KiB of counts, in L1.
const PAIR_CELLS: usize = 1 << 12;

fn order1_uniform(chunk: &[u8]) -> bool {
    let mut hist = vec![0u32; PAIR_CELLS];
    for pair in chunk.windows(2) {
        hist[(usize::from(pair[0]) << 4) ^ usize::from(pair[1])] += 1;
    }
    let sum_sq = hist.iter().map(|&c| u64::from(c) * u64::from(c)).sum();
    collisions_look_uniform(chunk.len() as u64 - 1, PAIR_CELLS as u64, sum_sq)
}

/// Whether the 8-byte window at one anchor equals the window at another
/// (see the module doc), through an open-addressing hash set of the anchor
/// windows (exact: nothing is ever overwritten).
fn has_repeats(chunk: &[u8]) -> bool {
    let n = chunk.len().saturating_sub(7);
    // About n / 8 anchors; the set is kept at most half full.
    let bits = (n / 2).max(64).next_power_of_two().trailing_zeros();
    let mask = (1usize << bits) - 1;
    let mut keys = vec![0u64; mask + 1];
    let mut filled = vec![false; mask + 1];
    let mut anchors = 0usize;
    for i in 0..n {
        let w = u64::from_le_bytes(chunk[i..i + 8].try_into().expect("8 bytes"));
        let hash = w.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        if hash >> 61 != 0 {
            continue;
        }
        // Too many anchors for the set: not what random bytes give.
        anchors += 1;
        if 2 * anchors > mask {
            return true;
        }
        let mut h = (hash >> (61 - bits)) as usize & mask;
        while filled[h] {
            if keys[h] == w {
                return true;
            }
            h = (h + 1) & mask;
        }
        keys[h] = w;
        filled[h] = true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::synth::SplitMix64;

    fn random(n: usize, seed: u64) -> Vec<u8> {
        let mut v = vec![0u8; n];
        SplitMix64(seed).fill_bytes(&mut v);
        v
    }

    #[test]
    fn random_chunks_are_incompressible() {
        for (n, seed) in [(MIN_LEN, 1), (100_000, 2), (256 << 10, 3), (1 << 20, 4)] {
            assert!(
                looks_incompressible(&random(n, seed)),
                "{n} bytes, seed {seed}"
            );
        }
        // Many seeds at the shortest length, where the bounds are tightest.
        for seed in 10..60 {
            assert!(looks_incompressible(&random(MIN_LEN, seed)), "seed {seed}");
        }
    }

    #[test]
    fn short_chunks_are_never_judged() {
        assert!(!looks_incompressible(&random(MIN_LEN - 1, 5)));
        assert!(!looks_incompressible(&[]));
    }

    #[test]
    fn structure_the_model_uses_is_noticed() {
        let n = 256 << 10;
        // Order 0: one byte value in 200 replaced by zero (about 0.5 % bias).
        let mut biased = random(n, 6);
        biased.iter_mut().step_by(200).for_each(|b| *b = 0);
        assert!(!looks_incompressible(&biased));
        // Order 1: uniform bytes, each even one followed by its complement.
        let mut paired = random(n, 7);
        for i in (0..n - 1).step_by(2) {
            paired[i + 1] = !paired[i];
        }
        assert!(order0_uniform(&paired));
        assert!(!looks_incompressible(&paired));
        // Repeats: a few 64-byte stretches copied once each, anywhere.
        for seed in 0..8u64 {
            let mut copied = random(n, 8 + seed);
            for k in 0..4 {
                let from = 1000 + 9000 * k + seed as usize;
                let src = copied[from..from + 64].to_vec();
                let to = 150_000 + 17_000 * k + 3 * seed as usize;
                copied[to..to + 64].copy_from_slice(&src);
            }
            assert!(has_repeats(&copied), "seed {seed}");
            assert!(!looks_incompressible(&copied), "seed {seed}");
        }
        // Text and tables.
        let text = b"E 1 0 -1 1 0 3 5 0 0 0 0 1.2345e+03 ".repeat(n / 36);
        assert!(!looks_incompressible(&text));
        let table: Vec<u8> = (0..n as u32 / 4)
            .flat_map(|i| (i as f32 * 0.37).to_bits().to_le_bytes())
            .collect();
        assert!(!looks_incompressible(&table));
    }

    #[test]
    fn uniformity_bound_is_exact_integer_arithmetic() {
        // n^2 + n * (dof + 8 sd): 256 cells, dof 255, sd = isqrt(510) + 1 = 23.
        let n = 1000u64;
        let bound = n * n + n * (255 + 8 * 23);
        assert!(collisions_look_uniform(n, 256, bound / 256));
        assert!(!collisions_look_uniform(n, 256, bound / 256 + 1));
    }
}
