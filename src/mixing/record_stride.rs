//! Finding the record length of a table of fixed-size records, so that the
//! compressor can offer the column finder ([`super::column_finder`]), and
//! the bounds of a stride.
//!
//! This is a compressor heuristic, not part of the format: the stride it picks
//! is stored in each payload, and the compressor only uses it when a trial
//! encoding is smaller (`compress::choose_mixing`). It is a pure function of
//! the input bytes, so archives do not depend on the machine.
#![deny(clippy::float_arithmetic)]

/// Smallest and largest record stride of the column finder and the column
/// histograms (a payload's stride prefix outside these is invalid).
pub const MIN_RECORD_STRIDE: u32 = 2;
pub const MAX_RECORD_STRIDE: u32 = 1 << 20;

/// Bytes of the input examined.
pub const SAMPLE_LEN: usize = 128 << 10;
/// Largest stride looked for (the sample must hold at least 4 records).
pub const MAX_DETECTED_STRIDE: usize = 16 << 10;
const _: () = assert!(MAX_DETECTED_STRIDE as u64 <= MAX_RECORD_STRIDE as u64);
const _: () = assert!(MAX_RECORD_STRIDE == crate::cm::MAX_STRIDE);

/// A winning lag up to this long may be a word rather than a record.
pub const MAX_WORD_LEN: usize = 8;

/// The likely record lengths of `data`, best first (at most three), empty if
/// it does not look like a table.
///
/// For each lag `s`, count the positions whose byte equals the byte `s`
/// earlier. A record length shows as a sharp peak: more equal bytes at `s`
/// than at `s - 1` and `s + 1` (runs of one value, such as zero padding, raise
/// all lags alike and make no peak). The lag with the highest peak wins if
/// the peak covers at least 1 % of the sample; ties go to the shorter lag.
/// Data that repeats every few records also peaks at a multiple of the record
/// length, so the divisor of the winner with the highest peak, if that is at
/// least half the winner's, is the second candidate (the compressor's trial
/// decides between them). A winner of at most [`MAX_WORD_LEN`] bytes may be
/// the column width of a wide table rather than its record, so its multiple
/// with the highest peak (again at least half the winner's) is offered last.
pub fn record_stride_candidates(data: &[u8]) -> Vec<u32> {
    let x = &data[..data.len().min(SAMPLE_LEN)];
    let n = x.len();
    let max_s = (n / 4).min(MAX_DETECTED_STRIDE);
    if max_s < MIN_RECORD_STRIDE as usize {
        return Vec::new();
    }
    let equal_at = |s: usize| -> u64 {
        // u32 lanes so the compiler vectorizes the count.
        x[s..]
            .iter()
            .zip(&x[..n - s])
            .map(|(a, b)| u32::from(a == b))
            .sum::<u32>()
            .into()
    };
    let eq: Vec<u64> = (0..=max_s + 1)
        .map(|s| if s == 0 { 0 } else { equal_at(s) })
        .collect();
    let peak = |s: usize| eq[s].saturating_sub(eq[s - 1].max(eq[s + 1]));
    let lags = MIN_RECORD_STRIDE as usize..=max_s;
    let Some(best) = lags.clone().rev().max_by_key(|&s| peak(s)) else {
        return Vec::new();
    };
    if peak(best) == 0 || peak(best) * 100 < n as u64 {
        return Vec::new();
    }
    let mut out = vec![best];
    // Highest peak; ties go to the shorter lag.
    if let Some(d) = (MIN_RECORD_STRIDE as usize..best)
        .rev()
        .filter(|&d| best % d == 0 && peak(d) * 2 >= peak(best))
        .max_by_key(|&d| peak(d))
    {
        out.push(d);
    }
    // A winner of a word's length (wide tables of 4- or 8-byte columns, where
    // equal neighbouring words peak higher than whole records): the record
    // is a multiple of it, so the multiple with the highest peak, if that is
    // at least half the winner's, is a candidate too.
    if best <= MAX_WORD_LEN {
        // Highest peak; ties go to the shorter multiple.
        if let Some(m) = (2..=max_s / best)
            .rev()
            .map(|k| k * best)
            .filter(|&m| peak(m) * 2 >= peak(best))
            .max_by_key(|&m| peak(m))
        {
            out.push(m);
        }
    }
    // Every lag is <= MAX_DETECTED_STRIDE <= MAX_RECORD_STRIDE.
    out.into_iter()
        .filter_map(|s| u32::try_from(s).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of `cols` little-endian f32-like words: a slowly varying high
    /// half and noisy low bytes, as in real float columns.
    fn table(rows: usize, cols: usize) -> Vec<u8> {
        let mut x = 0x2545_f491u32;
        let mut out = Vec::new();
        for _ in 0..rows {
            for c in 0..cols {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let lo = (x >> 16) as u16;
                out.extend_from_slice(&lo.to_le_bytes());
                out.extend_from_slice(&[(x >> 31) as u8 | 0x10, 0x40 + c as u8]);
            }
        }
        out
    }

    #[test]
    fn finds_the_record_length_of_tables() {
        for cols in [3, 20, 30, 97] {
            let t = table(400, cols);
            let c = record_stride_candidates(&t);
            assert!(c.contains(&(4 * cols as u32)), "{cols} columns: {c:?}");
        }
    }

    #[test]
    fn no_stride_in_noise_runs_or_tiny_inputs() {
        let mut x = 1u32;
        let noise: Vec<u8> = (0..50_000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 24) as u8
            })
            .collect();
        assert!(record_stride_candidates(&noise).is_empty());
        assert!(record_stride_candidates(&[0u8; 10_000]).is_empty());
        assert!(record_stride_candidates(&[]).is_empty());
        assert!(record_stride_candidates(b"abcabc").is_empty());
    }

    /// A wide table of 4-byte columns where neighbouring words are often
    /// equal (a value repeated over padded slots) peaks highest at the word;
    /// its record length is offered as the multiple.
    #[test]
    fn offers_the_record_of_a_word_peak() {
        let cols = 300u32;
        let mut x = 7u32;
        let mut t = Vec::new();
        for _ in 0..60 {
            let mut run = 0;
            for c in 0..cols {
                // Groups of 5 columns: a value of this row in three slots,
                // then two columns that hold the same value in every row.
                if c % 5 == 0 {
                    x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    run = x | 0x0101_0101;
                }
                let w = if c % 5 < 3 {
                    run
                } else {
                    0x4120_0000 + c * 0x0101
                };
                t.extend_from_slice(&w.to_le_bytes());
            }
        }
        let c = record_stride_candidates(&t);
        assert!(
            c.first().is_some_and(|&s| s as usize <= MAX_WORD_LEN),
            "{c:?}"
        );
        assert!(c.contains(&(4 * cols)), "{c:?}");
    }

    /// Rows that repeat a pattern every 4 records peak at 4 records too; the
    /// record length itself is offered second.
    #[test]
    fn offers_the_divisor_of_a_periodic_table() {
        let mut t = table(400, 10);
        for (r, row) in t.chunks_mut(40).enumerate() {
            for w in row.chunks_mut(4) {
                w[1] = (r % 4) as u8;
            }
        }
        let c = record_stride_candidates(&t);
        assert_eq!(c, [160, 40]);
    }
}
