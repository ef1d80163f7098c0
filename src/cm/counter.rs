//! Adaptive bit probabilities and the hashed table that holds them.
//!
//! A counter is one `u32`: a 22-bit probability that the next bit is 1 in its
//! high bits, and in its low 10 bits how many times it has been updated (at
//! most its limit). Each update moves the probability towards the bit by
//! `1 / (n + 1.5)` of the distance, so a fresh counter learns fast and an old
//! one averages (`docs/FORMAT.md`, section 9.14.2).
#![deny(clippy::float_arithmetic)]

/// A counter that has never been updated: probability 1/2, count 0.
///
/// Counters are kept XORed with this value, so that a fresh counter is a
/// zero word and fresh tables come zeroed from the allocator (no pass over
/// them). Only the representation differs; [`p12`] and [`update`] take and
/// give the stored form.
pub const FRESH: u32 = 0;

/// The logical value of a fresh counter: probability `2^21` (1/2), count 0.
const FRESH_LOGICAL: u32 = 1 << 31;

/// `65536 / (n + 1.5)` rounded down, for `n` in `0..1024`.
static RATE: [u32; 1024] = {
    let mut t = [0u32; 1024];
    let mut n = 0;
    while n < 1024 {
        t[n] = 131072 / (2 * n as u32 + 3);
        n += 1;
    }
    t
};

/// The 12-bit probability of bit 1 held by counter `c`.
#[inline]
pub fn p12(c: u32) -> i32 {
    ((c ^ FRESH_LOGICAL) >> 20) as i32
}

/// Counter `c` after seeing `bit`, counting to at most `limit` (`< 1024`).
///
/// The new probability is `p + floor((target - p) * RATE[n] / 65536)`, with
/// `target` 0 or `2^22 - 1` and the floor of a negative value taken towards
/// minus infinity (an arithmetic right shift).
#[inline]
pub fn update(c: u32, bit: u32, limit: u32) -> u32 {
    let c = c ^ FRESH_LOGICAL;
    let p = i64::from(c >> 10);
    let n = c & 1023;
    let target = if bit != 0 { (1i64 << 22) - 1 } else { 0 };
    let p = p + (((target - p) * i64::from(RATE[n as usize])) >> 16);
    // p stays in 0..2^22: the step is at most 2/3 of the distance.
    (((p as u32) << 10) | (n + u32::from(n < limit))) ^ FRESH_LOGICAL
}

/// The number of updates counter `c` has seen (at most its limit).
#[inline]
pub fn count(c: u32) -> u32 {
    (c ^ FRESH_LOGICAL) & 1023
}

/// Counters for the 15 nodes of a nibble's binary tree (index 1..16; index
/// 0 holds the check value of the context that owns the slot). One slot is
/// one 64-byte cache line.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub struct Slot(pub [u32; 16]);

impl std::ops::Index<usize> for Slot {
    type Output = u32;
    #[inline]
    fn index(&self, i: usize) -> &u32 {
        &self.0[i]
    }
}

impl std::ops::IndexMut<usize> for Slot {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut u32 {
        &mut self.0[i]
    }
}

/// A hash table of [`Slot`]s: the context of each nibble finds its slot
/// with one lookup, so a byte costs two cache misses per context.
///
/// A context hash `h` (64 bits) selects the pair of slots at index
/// `(h >> 32) & mask & !1`; the one whose check equals the low 32 bits of
/// `h` (forced odd, so never 0) is used. If neither matches, the one whose
/// first node has seen fewer updates is reset for `h` (the first of the two
/// on a tie).
pub struct SlotTable {
    slots: Vec<Slot>,
    mask: usize,
}

impl SlotTable {
    /// A table of `2^log2_slots` fresh slots (`log2_slots >= 1`).
    pub fn new(log2_slots: u32) -> Self {
        Self {
            // Zeroed: every check empty, every counter fresh.
            slots: vec![Slot([0; 16]); 1 << log2_slots],
            mask: (1 << log2_slots) - 1,
        }
    }

    /// The index of the slot for context hash `h` (see the type).
    #[inline]
    pub fn find(&mut self, h: u64) -> usize {
        let check = (h as u32) | 1;
        let i = ((h >> 32) as usize) & self.mask & !1;
        if self.slots[i][0] == check {
            return i;
        }
        if self.slots[i + 1][0] == check {
            return i + 1;
        }
        let j = if count(self.slots[i + 1][1]) < count(self.slots[i][1]) {
            i + 1
        } else {
            i
        };
        let s = &mut self.slots[j];
        *s = Slot([FRESH; 16]);
        s[0] = check;
        j
    }

    /// Starts loading the slots of `h` into the cache (on x86-64; a no-op
    /// elsewhere). Only speed depends on it.
    #[inline]
    pub fn prefetch(&self, h: u64) {
        let i = ((h >> 32) as usize) & self.mask & !1;
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch never faults, and `i` is in bounds anyway.
        unsafe {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            _mm_prefetch::<_MM_HINT_T0>(self.slots.as_ptr().add(i).cast());
            _mm_prefetch::<_MM_HINT_T0>(self.slots.as_ptr().add(i + 1).cast());
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = i;
    }

    /// Slot `i` (from [`SlotTable::find`]).
    #[inline]
    pub fn slot(&mut self, i: usize) -> &mut Slot {
        &mut self.slots[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_learn_and_stay_in_range() {
        let mut c = FRESH;
        assert_eq!(p12(c), 2048);
        for _ in 0..2000 {
            c = update(c, 1, 1023);
        }
        assert!(p12(c) >= 4090, "{}", p12(c));
        assert_eq!(count(c), 1023);
        // A counter limited to 30 updates keeps adapting at 1/31.5.
        let mut d = FRESH;
        for _ in 0..2000 {
            d = update(d, 0, 30);
        }
        assert!(p12(d) <= 1, "{}", p12(d));
        assert_eq!(count(d), 30);
        for _ in 0..40 {
            d = update(d, 1, 30);
        }
        assert!(p12(d) > 2800, "{}", p12(d));
        // One update from fresh moves two thirds of the way.
        assert_eq!(p12(update(FRESH, 1, 255)), 3413);
    }

    #[test]
    fn slots_are_found_again_and_replaced_by_confidence() {
        let mut t = SlotTable::new(4);
        let a = t.find(0x0000_0003_1234_5678);
        t.slot(a)[1] = update(t.slot(a)[1], 1, 255);
        assert_eq!(t.find(0x0000_0003_1234_5678), a);
        // Another hash in the same pair takes the other, untouched slot.
        let b = t.find(0x0000_0002_9999_9999);
        assert_ne!(a, b);
        assert_eq!(t.find(0x0000_0003_1234_5678), a);
    }
}
