//! Where the bits go: `boa-det analyze`. An input is split into groups (the
//! columns of a table, the line types and fields of text; [`layout`]), and
//! each codec's cost is summed per group:
//! - for boa-det's levels, from the archive itself: every byte's exact cost
//!   under the archive's own chunks and codecs ([`costs`]);
//! - for a classical codec (xz), by compressing each group's bytes alone,
//!   which is what the group would cost in a column store.
//!
//! The report ([`report`]) is a terminal table, JSON, or an SVG chart
//! ([`svg`]). Floats are fine here: nothing in this module feeds a coder.

pub mod costs;
pub mod layout;
pub mod report;
pub mod svg;

pub use layout::{Groups, Layout, Separator, TableLayout};

/// How a codec's per-group figures were obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribution {
    /// Every byte's cost in the whole-file archive, summed per group.
    PerByte,
    /// Each group's bytes compressed on their own.
    GroupAlone,
}

/// One codec's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct CodecFigures {
    /// Its name in the report, e.g. `boa-det -4` or `xz -9`.
    pub name: String,
    /// The size of the whole input compressed as one file.
    pub archive_len: u64,
    pub attribution: Attribution,
    /// Bits per group, in group order.
    pub group_bits: Vec<f64>,
    /// For a table and [`Attribution::PerByte`]: bits per column per byte
    /// within the column (0 the first, for little-endian floats the lowest
    /// mantissa byte).
    pub lane_bits: Option<Vec<Vec<f64>>>,
}

impl CodecFigures {
    pub fn total_bits(&self) -> f64 {
        self.group_bits.iter().sum()
    }
}

/// The analysis of one input: its groups and every codec's cost of each.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// The input's name in the report.
    pub name: String,
    pub input_len: u64,
    pub layout: Layout,
    pub group_names: Vec<String>,
    pub group_bytes: Vec<u64>,
    pub codecs: Vec<CodecFigures>,
    of_byte: Vec<u32>,
}

impl Analysis {
    /// An analysis of `data` under `layout`, with no codec yet.
    pub fn new(name: &str, data: &[u8], layout: Layout) -> Analysis {
        let Groups { names, of_byte } = layout::groups(data, &layout);
        let mut group_bytes = vec![0u64; names.len()];
        for &g in &of_byte {
            group_bytes[g as usize] += 1;
        }
        Analysis {
            name: name.to_string(),
            input_len: data.len() as u64,
            layout,
            group_names: names,
            group_bytes,
            codecs: Vec::new(),
            of_byte,
        }
    }

    /// Adds a codec whose archive of the input is `archive_len` bytes and
    /// spends `bits[i]` on byte `i` ([`costs::archive_byte_bits`]).
    pub fn add_per_byte(&mut self, name: &str, archive_len: u64, bits: &[f32]) {
        let mut group_bits = vec![0f64; self.group_names.len()];
        for (&g, &b) in self.of_byte.iter().zip(bits) {
            group_bits[g as usize] += f64::from(b);
        }
        let lane_bits = match &self.layout {
            Layout::Table(t) => {
                let mut lanes: Vec<Vec<f64>> =
                    t.columns.iter().map(|c| vec![0.0; c.width]).collect();
                let at = t.byte_positions();
                let header = t.header.min(bits.len());
                for (i, &b) in bits[header..].iter().enumerate() {
                    let (k, l) = at[i % at.len()];
                    lanes[k][l] += f64::from(b);
                }
                Some(lanes)
            }
            Layout::Text(_) => None,
        };
        self.codecs.push(CodecFigures {
            name: name.to_string(),
            archive_len,
            attribution: Attribution::PerByte,
            group_bits,
            lane_bits,
        });
    }

    /// Adds a codec measured by compressing each group's bytes alone with
    /// `size_of` (compressed bytes of a byte string); `archive_len` is its
    /// size on the whole input.
    pub fn add_groups_alone(
        &mut self,
        name: &str,
        archive_len: u64,
        data: &[u8],
        size_of: impl Fn(&[u8]) -> u64 + Sync,
    ) {
        use rayon::prelude::*;
        let mut parts: Vec<Vec<u8>> = self
            .group_bytes
            .iter()
            .map(|&n| Vec::with_capacity(n as usize))
            .collect();
        for (&g, &b) in self.of_byte.iter().zip(data) {
            parts[g as usize].push(b);
        }
        let group_bits = parts
            .par_iter()
            .map(|p| {
                if p.is_empty() {
                    0.0
                } else {
                    size_of(p) as f64 * 8.0
                }
            })
            .collect();
        self.codecs.push(CodecFigures {
            name: name.to_string(),
            archive_len,
            attribution: Attribution::GroupAlone,
            group_bits,
            lane_bits: None,
        });
    }
}

#[cfg(test)]
mod tests;
