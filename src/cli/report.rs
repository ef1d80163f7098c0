//! What `-v` reports about each input (on standard error): the model, the
//! codecs of its chunks, the ratio, the time and what ran the network; with
//! `-vv` one line per chunk.

use crate::container::{ChunkEntry, Codec};
use crate::model::Fingerprint;
use std::time::Duration;

/// `codec xN, ...` over the chunks, in codec order; `-` for none.
pub fn codec_counts(entries: &[ChunkEntry]) -> String {
    let counts: Vec<String> = Codec::ALL
        .iter()
        .map(|&c| (c, entries.iter().filter(|e| e.codec == c).count()))
        .filter(|&(_, n)| n > 0)
        .map(|(c, n)| format!("{} x{n}", c.name()))
        .collect();
    if counts.is_empty() {
        "-".into()
    } else {
        counts.join(", ")
    }
}

/// A model as users know it: the built-in model's name with the fingerprint,
/// or the fingerprint alone.
pub fn model_label(fp: Fingerprint) -> String {
    match crate::default_models::builtin().find(|b| b.1 == fp) {
        Some((name, ..)) => format!("{name} ({fp})"),
        None => format!("{fp} (not built in)"),
    }
}

/// Threads, device and kernel level: what ran the network.
pub fn engine_line(device: crate::engine::Device) -> String {
    let threads = count(rayon::current_num_threads(), "thread");
    match device {
        crate::engine::Device::Cpu => {
            let kernels = match crate::engine::cpu::dispatch::selected() {
                Ok(k) => k.name,
                Err(_) => "none",
            };
            format!("{threads} on cpu, cpu kernels {kernels}")
        }
        gpu => format!("network on {gpu}, {threads} for the coder and mixing"),
    }
}

/// `n word`, with the word in the plural unless `n` is 1.
pub fn count(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// `original -> archive bytes (ratio x, bits/byte)`.
pub fn sizes(original: u64, archive: u64) -> String {
    if original == 0 {
        return format!("empty -> {archive} bytes");
    }
    format!(
        "{original} -> {archive} bytes (ratio {:.3}, {:.3} bits/byte)",
        original as f64 / archive.max(1) as f64,
        8.0 * archive as f64 / original as f64
    )
}

/// `T s, X MB/s` for `bytes` in `took`.
pub fn speed(bytes: u64, took: Duration) -> String {
    let secs = took.as_secs_f64().max(1e-9);
    format!("{:.2} s, {:.2} MB/s", secs, bytes as f64 / secs / 1e6)
}

/// The `-vv` line of one chunk; `base` is where its archive starts in the file.
pub fn chunk_line(i: usize, e: &ChunkEntry, base: u64) -> String {
    format!(
        "chunk {i}: {} {} -> {} bytes at {}",
        e.codec.name(),
        e.original_size,
        e.compressed_size,
        base + e.offset
    )
}

/// Prints the report of `name`: its lines indented under it.
pub fn print(name: &str, lines: &[String]) {
    eprintln!("{name}:");
    for l in lines {
        eprintln!("  {l}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(codec: Codec) -> ChunkEntry {
        ChunkEntry {
            offset: 0,
            compressed_size: 1,
            original_size: 2,
            codec,
            original_hash: 0,
            payload_hash: 0,
        }
    }

    #[test]
    fn codecs_are_counted_in_codec_order() {
        assert_eq!(codec_counts(&[]), "-");
        let e = [
            entry(Codec::Neural),
            entry(Codec::Stored),
            entry(Codec::Neural),
        ];
        assert_eq!(
            codec_counts(&e),
            format!("{} x1, {} x2", Codec::Stored.name(), Codec::Neural.name())
        );
    }

    #[test]
    fn sizes_and_models_read_well() {
        assert_eq!(sizes(0, 44), "empty -> 44 bytes");
        assert_eq!(
            sizes(1000, 250),
            "1000 -> 250 bytes (ratio 4.000, 2.000 bits/byte)"
        );
        let (name, fp, ..) = crate::default_models::builtin().next().unwrap();
        assert_eq!(model_label(fp), format!("{name} ({fp})"));
        assert!(model_label(Fingerprint([7; 16])).ends_with("(not built in)"));
    }
}
