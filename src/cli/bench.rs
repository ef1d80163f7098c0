//! Side-by-side codec benchmark: every codec runs in this process on the same
//! bytes, and every result is checked by decompressing and comparing.
//!
//! The classical baselines come from [`classical_codecs`]. Any other codec (the
//! boa-det neural codec included) plugs in through the [`BenchCodec`] trait; the CLI
//! appends such codecs to the classical list before calling [`run_bench`].
//!
//! Units: MB is 10^6 bytes. Speeds are the best (shortest) of `repeats` timings.
//! The storage-saving rate is `(original - compressed) / compression seconds`,
//! in MB/s: how fast a codec removes bytes from storage.
//!
//! Resources (where the platform tells, else empty): CPU seconds per GB
//! (10^9 bytes of input) of the fastest compression and decompression, all
//! threads and child processes counted, which is what a farm pays per GB
//! whatever the thread count; and the peak resident memory of the row (this
//! process, which also holds the input and output buffers, or the external
//! program), in MiB. Energy (RAPL) is not measured yet.

use super::platform::resources;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A lossless codec under test. Implementations must be single-threaded so that
/// speeds compare like for like.
pub trait BenchCodec {
    /// A short stable name, used in tables and by `--codecs` (for example `xz-9`).
    fn name(&self) -> String;
    /// Compresses `data` into a self-contained buffer.
    fn compress(&self, data: &[u8]) -> Result<Vec<u8>, String>;
    /// Decompresses `packed`; `original_len` is the length of the input to
    /// [`BenchCodec::compress`] (codecs without a stored length need it).
    fn decompress(&self, packed: &[u8], original_len: usize) -> Result<Vec<u8>, String>;
    /// The peak resident memory, in bytes, of the external program that ran
    /// the last call, for codecs that run one (`None`: in-process).
    fn last_child_peak(&self) -> Option<u64> {
        None
    }
}

/// xz (liblzma), preset 9, CRC64 check, single-threaded.
pub struct Xz {
    pub preset: u32,
}

impl BenchCodec for Xz {
    fn name(&self) -> String {
        format!("xz-{}", self.preset)
    }
    fn compress(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        liblzma::encode_all(data, self.preset).map_err(|e| e.to_string())
    }
    fn decompress(&self, packed: &[u8], original_len: usize) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(original_len);
        liblzma::read::XzDecoder::new(packed)
            .read_to_end(&mut out)
            .map_err(|e| e.to_string())?;
        Ok(out)
    }
}

/// zstd (libzstd) at a given level, single-threaded.
pub struct Zstd {
    pub level: i32,
}

impl BenchCodec for Zstd {
    fn name(&self) -> String {
        format!("zstd-{}", self.level)
    }
    fn compress(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        zstd::bulk::compress(data, self.level).map_err(|e| e.to_string())
    }
    fn decompress(&self, packed: &[u8], original_len: usize) -> Result<Vec<u8>, String> {
        zstd::bulk::decompress(packed, original_len).map_err(|e| e.to_string())
    }
}

/// bzip2 at a given block-size level (1 to 9).
pub struct Bzip2 {
    pub level: u32,
}

impl BenchCodec for Bzip2 {
    fn name(&self) -> String {
        format!("bzip2-{}", self.level)
    }
    fn compress(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(self.level));
        enc.write_all(data).map_err(|e| e.to_string())?;
        enc.finish().map_err(|e| e.to_string())
    }
    fn decompress(&self, packed: &[u8], original_len: usize) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(original_len);
        bzip2::read::BzDecoder::new(packed)
            .read_to_end(&mut out)
            .map_err(|e| e.to_string())?;
        Ok(out)
    }
}

/// Brotli (pure Rust port) at a quality and window size (log2 bytes).
pub struct Brotli {
    pub quality: i32,
    pub lgwin: i32,
}

impl BenchCodec for Brotli {
    fn name(&self) -> String {
        format!("brotli-{}", self.quality)
    }
    fn compress(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        let params = brotli::enc::BrotliEncoderParams {
            quality: self.quality,
            lgwin: self.lgwin,
            size_hint: data.len(),
            ..Default::default()
        };
        let mut out = Vec::new();
        brotli::BrotliCompress(&mut &data[..], &mut out, &params).map_err(|e| e.to_string())?;
        Ok(out)
    }
    fn decompress(&self, packed: &[u8], original_len: usize) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(original_len);
        brotli::BrotliDecompress(&mut &packed[..], &mut out).map_err(|e| e.to_string())?;
        Ok(out)
    }
}

/// LZ4 block format (`lz4_flex`); the block stores no length, so decompression
/// uses `original_len`.
pub struct Lz4;

impl BenchCodec for Lz4 {
    fn name(&self) -> String {
        "lz4".to_string()
    }
    fn compress(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        Ok(lz4_flex::block::compress(data))
    }
    fn decompress(&self, packed: &[u8], original_len: usize) -> Result<Vec<u8>, String> {
        lz4_flex::block::decompress(packed, original_len).map_err(|e| e.to_string())
    }
}

/// The classical baselines, in table order: xz-9, zstd-3, zstd-19, bzip2-9,
/// brotli-11 (window 2^24), lz4.
pub fn classical_codecs() -> Vec<Box<dyn BenchCodec>> {
    vec![
        Box::new(Xz { preset: 9 }),
        Box::new(Zstd { level: 3 }),
        Box::new(Zstd { level: 19 }),
        Box::new(Bzip2 { level: 9 }),
        Box::new(Brotli {
            quality: 11,
            lgwin: 24,
        }),
        Box::new(Lz4),
    ]
}

/// One file under one codec. A row with `error` set has no valid figures: the
/// codec failed or the round trip did not reproduce the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub file: String,
    pub codec: String,
    pub original_bytes: u64,
    pub compressed_bytes: u64,
    /// original / compressed.
    pub ratio: f64,
    pub compress_mb_s: f64,
    pub decompress_mb_s: f64,
    /// (original - compressed) / compression seconds, in MB/s.
    pub saving_mb_s: f64,
    /// CPU seconds per 10^9 input bytes of the fastest compression.
    pub compress_cpu_s_per_gb: Option<f64>,
    /// CPU seconds per 10^9 input bytes of the fastest decompression.
    pub decompress_cpu_s_per_gb: Option<f64>,
    /// Peak resident memory during the row, MiB.
    pub peak_mib: Option<f64>,
    pub error: Option<String>,
}

impl Row {
    fn failed(file: &str, codec: &str, original_bytes: u64, error: String) -> Row {
        Row {
            file: file.to_string(),
            codec: codec.to_string(),
            original_bytes,
            compressed_bytes: 0,
            ratio: 0.0,
            compress_mb_s: 0.0,
            decompress_mb_s: 0.0,
            saving_mb_s: 0.0,
            compress_cpu_s_per_gb: None,
            decompress_cpu_s_per_gb: None,
            peak_mib: None,
            error: Some(error),
        }
    }

    /// "ok" or "ERROR: ...".
    pub fn check(&self) -> String {
        match &self.error {
            None => "ok".to_string(),
            Some(e) => format!("ERROR: {e}"),
        }
    }
}

fn mb_per_s(bytes: f64, t: Duration) -> f64 {
    let s = t.as_secs_f64().max(1e-9);
    bytes / 1e6 / s
}

/// One timed call: its wall time, CPU time (if known) and result.
fn timed<T>(run: impl FnOnce() -> T) -> (Duration, Option<Duration>, T) {
    let cpu0 = resources::cpu_time();
    let t0 = Instant::now();
    let out = run();
    let wall = t0.elapsed();
    let cpu = cpu0
        .zip(resources::cpu_time())
        .map(|(a, b)| b.saturating_sub(a));
    (wall, cpu, out)
}

/// CPU seconds per 10^9 bytes of `n` input bytes.
fn cpu_s_per_gb(cpu: Option<Duration>, n: u64) -> Option<f64> {
    cpu.filter(|_| n > 0)
        .map(|c| c.as_secs_f64() * 1e9 / n as f64)
}

/// Benchmarks every codec on `data`, one row per codec, in codec order.
pub fn bench_bytes(
    name: &str,
    data: &[u8],
    codecs: &[Box<dyn BenchCodec>],
    repeats: usize,
) -> Vec<Row> {
    let repeats = repeats.max(1);
    let n = data.len() as u64;
    let mut rows = Vec::with_capacity(codecs.len());
    for codec in codecs {
        let cname = codec.name();
        let measured_peak = resources::reset_peak_memory();
        let mut child_peak: Option<u64> = None;
        let mut note_child = |c: &dyn BenchCodec| {
            if let Some(p) = c.last_child_peak() {
                child_peak = Some(child_peak.map_or(p, |q| q.max(p)));
            }
        };
        let mut packed = Vec::new();
        let (mut best_c, mut cpu_c) = (Duration::MAX, None);
        let mut failure = None;
        for _ in 0..repeats {
            let (wall, cpu, result) = timed(|| codec.compress(data));
            note_child(codec.as_ref());
            match result {
                Ok(p) => {
                    if wall < best_c {
                        (best_c, cpu_c) = (wall, cpu);
                    }
                    packed = p;
                }
                Err(e) => {
                    failure = Some(format!("compress: {e}"));
                    break;
                }
            }
        }
        let (mut best_d, mut cpu_d) = (Duration::MAX, None);
        if failure.is_none() {
            for _ in 0..repeats {
                let (wall, cpu, result) = timed(|| codec.decompress(&packed, data.len()));
                note_child(codec.as_ref());
                match result {
                    Ok(out) => {
                        if wall < best_d {
                            (best_d, cpu_d) = (wall, cpu);
                        }
                        if out != data {
                            failure = Some(format!(
                                "round trip mismatch ({} bytes back, {} expected)",
                                out.len(),
                                data.len()
                            ));
                            break;
                        }
                    }
                    Err(e) => {
                        failure = Some(format!("decompress: {e}"));
                        break;
                    }
                }
            }
        }
        if let Some(e) = failure {
            rows.push(Row::failed(name, &cname, n, e));
            continue;
        }
        let own_peak = if measured_peak {
            resources::peak_memory()
        } else {
            None
        };
        let peak = match (own_peak, child_peak) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let c = packed.len() as u64;
        rows.push(Row {
            file: name.to_string(),
            codec: cname,
            original_bytes: n,
            compressed_bytes: c,
            ratio: if c == 0 { 0.0 } else { n as f64 / c as f64 },
            compress_mb_s: mb_per_s(n as f64, best_c),
            decompress_mb_s: mb_per_s(n as f64, best_d),
            saving_mb_s: mb_per_s(n as f64 - c as f64, best_c),
            compress_cpu_s_per_gb: cpu_s_per_gb(cpu_c, n),
            decompress_cpu_s_per_gb: cpu_s_per_gb(cpu_d, n),
            peak_mib: peak.map(|b| b as f64 / (1u64 << 20) as f64),
            error: None,
        });
    }
    rows
}

/// Reads each file and benchmarks every codec on it. A file that cannot be
/// read gives one error row per codec.
pub fn run_bench(files: &[PathBuf], codecs: &[Box<dyn BenchCodec>], repeats: usize) -> Vec<Row> {
    let mut rows = Vec::new();
    for path in files {
        let name = display_name(path);
        match std::fs::read(path) {
            Ok(data) => rows.extend(bench_bytes(&name, &data, codecs, repeats)),
            Err(e) => {
                for codec in codecs {
                    rows.push(Row::failed(&name, &codec.name(), 0, format!("read: {e}")));
                }
            }
        }
    }
    rows
}

fn display_name(path: &Path) -> String {
    path.display().to_string()
}

/// Output format of a benchmark table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Md,
    Csv,
    Json,
}

/// Renders rows in `format`.
pub fn render(rows: &[Row], format: Format) -> String {
    match format {
        Format::Md => to_markdown(rows),
        Format::Csv => to_csv(rows),
        Format::Json => to_json(rows),
    }
}

/// A markdown table, one line per row, numbers right-aligned.
pub fn to_markdown(rows: &[Row]) -> String {
    let mut s = String::from(
        "| file | codec | bytes | compressed | ratio | comp MB/s | decomp MB/s | saving MB/s | comp CPU s/GB | decomp CPU s/GB | peak MiB | check |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {:.3} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.file.replace('|', "\\|"),
            r.codec,
            thousands(r.original_bytes),
            thousands(r.compressed_bytes),
            r.ratio,
            speed(r.compress_mb_s),
            speed(r.decompress_mb_s),
            speed(r.saving_mb_s),
            optional(r.compress_cpu_s_per_gb, 0),
            optional(r.decompress_cpu_s_per_gb, 0),
            optional(r.peak_mib, 1),
            r.check().replace('|', "\\|"),
        ));
    }
    let notes = efficiency_notes(rows);
    if !notes.is_empty() {
        s.push('\n');
        for n in notes {
            s.push_str(&n);
            s.push('\n');
        }
    }
    s
}

/// The parallel efficiency of each multi-threaded boa-det row against the
/// one-thread row of the same file and device: `speed(TN) / (N * speed(T1))`
/// for compression and decompression, one line each.
pub fn efficiency_notes(rows: &[Row]) -> Vec<String> {
    // "boa-det-T4@cuda:0" -> (4, "@cuda:0"); "boa-det" -> (1, "");
    // "boa-det-L1-T2" -> (2, "-L1"): the level goes with the device as what
    // must match the one-thread row.
    let threads = |codec: &str| -> Option<(u32, String)> {
        let (base, device) = codec.split_once('@').map_or((codec, ""), |(b, d)| (b, d));
        let mut key = if device.is_empty() {
            String::new()
        } else {
            format!("@{device}")
        };
        let mut rest = base.strip_prefix("boa-det")?;
        if let Some(l) = rest.strip_prefix("-L") {
            let digits = l.find(|c: char| !c.is_ascii_digit()).unwrap_or(l.len());
            key = format!("-L{}{key}", &l[..digits]);
            rest = &l[digits..];
        }
        match rest {
            "" => Some((1, key)),
            t => Some((t.strip_prefix("-T")?.parse().ok()?, key)),
        }
    };
    let mut notes = Vec::new();
    for r in rows.iter().filter(|r| r.error.is_none()) {
        let Some((n, device)) = threads(&r.codec).filter(|&(n, _)| n > 1) else {
            continue;
        };
        let one = rows.iter().find(|o| {
            o.file == r.file && o.error.is_none() && threads(&o.codec) == Some((1, device.clone()))
        });
        if let Some(one) = one {
            let eff = |multi: f64, single: f64| 100.0 * multi / (f64::from(n) * single);
            notes.push(format!(
                "{}: {} against {}: parallel efficiency {:.0} % compressing, {:.0} % decompressing",
                r.file,
                r.codec,
                one.codec,
                eff(r.compress_mb_s, one.compress_mb_s),
                eff(r.decompress_mb_s, one.decompress_mb_s),
            ));
        }
    }
    notes
}

/// A speed in MB/s with two decimals, or three significant digits below 0.1
/// (paq8px runs at a few KB/s: 0.00571, not 0.00).
fn speed(v: f64) -> String {
    if v >= 0.1 || v <= 0.0 {
        format!("{v:.2}")
    } else {
        let decimals = (2 - v.log10().floor() as i32).clamp(3, 9) as usize;
        format!("{v:.decimals$}")
    }
}

/// A figure with `decimals` decimals, or empty where it was not measured.
fn optional(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(String::new, |v| format!("{v:.decimals$}"))
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The CSV header line (without newline).
pub const CSV_HEADER: &str = "file,codec,original_bytes,compressed_bytes,ratio,compress_mb_s,decompress_mb_s,saving_mb_s,compress_cpu_s_per_gb,decompress_cpu_s_per_gb,peak_mib,check";

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// RFC 4180 CSV with a header line; text fields are quoted when needed.
pub fn to_csv(rows: &[Row]) -> String {
    let mut s = String::from(CSV_HEADER);
    s.push('\n');
    for r in rows {
        s.push_str(&format!(
            "{},{},{},{},{:.6},{:.4},{:.4},{:.4},{},{},{},{}\n",
            csv_field(&r.file),
            csv_field(&r.codec),
            r.original_bytes,
            r.compressed_bytes,
            r.ratio,
            r.compress_mb_s,
            r.decompress_mb_s,
            r.saving_mb_s,
            optional(r.compress_cpu_s_per_gb, 3),
            optional(r.decompress_cpu_s_per_gb, 3),
            optional(r.peak_mib, 3),
            csv_field(&r.check()),
        ));
    }
    s
}

/// A JSON array of objects, one per row; `error` is null on success.
pub fn to_json(rows: &[Row]) -> String {
    let arr: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "file": r.file,
                "codec": r.codec,
                "original_bytes": r.original_bytes,
                "compressed_bytes": r.compressed_bytes,
                "ratio": r.ratio,
                "compress_mb_s": r.compress_mb_s,
                "decompress_mb_s": r.decompress_mb_s,
                "saving_mb_s": r.saving_mb_s,
                "compress_cpu_s_per_gb": r.compress_cpu_s_per_gb,
                "decompress_cpu_s_per_gb": r.decompress_cpu_s_per_gb,
                "peak_mib": r.peak_mib,
                "error": r.error,
            })
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&serde_json::Value::Array(arr))
        .expect("serializing plain JSON values cannot fail");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    fn structured_bytes() -> Vec<u8> {
        let mut v = Vec::new();
        for i in 0..5000u32 {
            let f = (i as f32 * 0.25).sin() * 100.0;
            v.extend_from_slice(&f.to_le_bytes());
            v.extend_from_slice(&(i % 7).to_le_bytes());
            v.extend_from_slice(format!("E {i} 1 2.5e+01\n").as_bytes());
        }
        v
    }

    #[test]
    fn classical_codecs_round_trip() {
        let inputs = [
            Vec::new(),
            vec![7u8],
            random_bytes(100_000, 42),
            structured_bytes(),
        ];
        for codec in classical_codecs() {
            for data in &inputs {
                let packed = codec.compress(data).unwrap();
                let back = codec.decompress(&packed, data.len()).unwrap();
                assert_eq!(&back, data, "{} on {} bytes", codec.name(), data.len());
            }
            let s = structured_bytes();
            assert!(
                codec.compress(&s).unwrap().len() < s.len() / 2,
                "{}",
                codec.name()
            );
        }
    }

    #[test]
    fn codec_names_are_unique() {
        let names: Vec<String> = classical_codecs().iter().map(|c| c.name()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
        assert_eq!(
            names,
            ["xz-9", "zstd-3", "zstd-19", "bzip2-9", "brotli-11", "lz4"]
        );
    }

    /// A codec that lies: its round trip does not reproduce the input.
    struct Broken;
    impl BenchCodec for Broken {
        fn name(&self) -> String {
            "broken".into()
        }
        fn compress(&self, data: &[u8]) -> Result<Vec<u8>, String> {
            Ok(data[..data.len() / 2].to_vec())
        }
        fn decompress(&self, packed: &[u8], _: usize) -> Result<Vec<u8>, String> {
            Ok(packed.to_vec())
        }
    }

    fn sample_rows() -> Vec<Row> {
        let mut codecs = classical_codecs();
        codecs.push(Box::new(Broken));
        let mut rows = bench_bytes("a, \"quoted\" | file", &structured_bytes(), &codecs, 1);
        rows.extend(bench_bytes(
            "random.bin",
            &random_bytes(20_000, 9),
            &codecs,
            2,
        ));
        rows
    }

    #[test]
    fn mismatch_is_an_error_row() {
        let rows = sample_rows();
        assert_eq!(rows.len(), 14);
        for r in &rows {
            if r.codec == "broken" {
                assert!(r.error.as_deref().unwrap().contains("mismatch"), "{r:?}");
            } else {
                assert_eq!(r.error, None, "{r:?}");
                assert!(r.compressed_bytes > 0 && r.ratio > 0.0 && r.compress_mb_s > 0.0);
                if cfg!(target_os = "linux") {
                    // Measured, and plausible: the process holds at least
                    // the input, and some CPU time went into the codec.
                    assert!(r.peak_mib.unwrap() > 0.01, "{r:?}");
                    assert!(r.compress_cpu_s_per_gb.unwrap() >= 0.0, "{r:?}");
                }
            }
        }
    }

    #[test]
    fn missing_file_gives_error_rows() {
        let rows = run_bench(
            &[PathBuf::from("/nonexistent/boa-det-bench")],
            &classical_codecs(),
            1,
        );
        assert_eq!(rows.len(), 6);
        assert!(
            rows.iter()
                .all(|r| r.error.as_deref().unwrap().starts_with("read:"))
        );
    }

    #[test]
    fn markdown_has_every_row() {
        let rows = sample_rows();
        let md = to_markdown(&rows);
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(
            lines.len(),
            rows.len() + 2,
            "no multi-threaded rows, no notes"
        );
        for (line, r) in lines[2..].iter().zip(&rows) {
            assert!(line.starts_with("| ") && line.ends_with(" |"));
            assert!(line.contains(&format!("| {} |", r.codec)));
        }
        assert!(md.contains("ERROR: round trip mismatch"));
        assert!(md.contains("a, \"quoted\" \\| file"));
    }

    /// Splits one RFC 4180 line (no embedded newlines) into fields.
    fn parse_csv_line(line: &str) -> Vec<String> {
        let mut fields = vec![String::new()];
        let mut quoted = false;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, quoted) {
                ('"', true) if chars.peek() == Some(&'"') => {
                    chars.next();
                    fields.last_mut().unwrap().push('"');
                }
                ('"', _) => quoted = !quoted,
                (',', false) => fields.push(String::new()),
                (c, _) => fields.last_mut().unwrap().push(c),
            }
        }
        fields
    }

    #[test]
    fn csv_parses_back() {
        let rows = sample_rows();
        let csv = to_csv(&rows);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], CSV_HEADER);
        assert_eq!(lines.len(), rows.len() + 1);
        let ncols = CSV_HEADER.split(',').count();
        for (line, r) in lines[1..].iter().zip(&rows) {
            let f = parse_csv_line(line);
            assert_eq!(f.len(), ncols, "{line}");
            assert_eq!(f[0], r.file);
            assert_eq!(f[1], r.codec);
            assert_eq!(f[2].parse::<u64>().unwrap(), r.original_bytes);
            assert_eq!(f[3].parse::<u64>().unwrap(), r.compressed_bytes);
            assert!((f[4].parse::<f64>().unwrap() - r.ratio).abs() < 1e-5);
            assert_eq!(f[11], r.check());
        }
    }

    #[test]
    fn json_parses_back() {
        let rows = sample_rows();
        let v: serde_json::Value = serde_json::from_str(&to_json(&rows)).unwrap();
        let arr = v.as_array().unwrap();
        assert_eq!(arr.len(), rows.len());
        for (o, r) in arr.iter().zip(&rows) {
            assert_eq!(o["file"], r.file.as_str());
            assert_eq!(o["codec"], r.codec.as_str());
            assert_eq!(o["compressed_bytes"].as_u64().unwrap(), r.compressed_bytes);
            assert!((o["ratio"].as_f64().unwrap() - r.ratio).abs() <= 1e-12 * r.ratio.max(1.0));
            assert_eq!(o["error"].as_str(), r.error.as_deref());
        }
    }

    #[test]
    fn parallel_efficiency_pairs_rows_by_file_and_device() {
        let row = |file: &str, codec: &str, c: f64, d: f64| Row {
            compress_mb_s: c,
            decompress_mb_s: d,
            ..Row::failed(file, codec, 1, String::new())
        };
        let ok = |mut r: Row| {
            r.error = None;
            r
        };
        let rows = vec![
            ok(row("a", "boa-det", 1.0, 2.0)),
            ok(row("a", "boa-det-T2", 1.5, 4.0)),
            ok(row("a", "boa-det-T4@cuda:0", 9.0, 9.0)), // no one-thread row on that device
            ok(row("b", "boa-det-T2", 1.0, 1.0)),        // no one-thread row for b
            ok(row("a", "boa-det-L1", 2.0, 2.0)),
            ok(row("a", "boa-det-L1-T2", 3.0, 4.0)),
            ok(row("a", "xz-9", 1.0, 1.0)),
        ];
        assert_eq!(
            efficiency_notes(&rows),
            [
                "a: boa-det-T2 against boa-det: parallel efficiency 75 % compressing, 100 % decompressing",
                "a: boa-det-L1-T2 against boa-det-L1: parallel efficiency 75 % compressing, 100 % decompressing"
            ]
        );
        assert!(to_markdown(&rows).ends_with("100 % decompressing\n"));
    }

    #[test]
    fn slow_speeds_keep_three_significant_digits() {
        assert_eq!(speed(0.0), "0.00");
        assert_eq!(speed(123.456), "123.46");
        assert_eq!(speed(0.1), "0.10");
        assert_eq!(speed(0.0571), "0.0571");
        assert_eq!(speed(0.005713), "0.00571");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(19_200_000), "19,200,000");
    }
}
