//! `boa-det-quantize`: float BOA checkpoint (f32/f16/bf16 safetensors) to a
//! boa-det integer model (arith v1 or v2), calibrated on sample data and checked by
//! running the real integer engine.

mod float_model;
mod quant;

use calib::segments;
use clap::Parser;
use float_model::{FloatModel, Ranges};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "boa-det-quantize",
    version,
    about = "Quantize a float BOA checkpoint to a boa-det integer model"
)]
struct Args {
    /// Float checkpoint (safetensors with BOA's tensor names).
    float_model: PathBuf,
    /// Calibration data files (activation ranges are measured on them).
    #[arg(long = "calib", required = true, num_args = 1..)]
    calib: Vec<PathBuf>,
    /// Output integer model file.
    #[arg(short, long)]
    output: PathBuf,
    /// Calibration segments per file.
    #[arg(long, default_value_t = 8)]
    segments: usize,
    /// Bytes per calibration segment.
    #[arg(long, default_value_t = 2048)]
    segment_len: usize,
    /// Quantile of |activation| that sets each int8 scale (1.0 = the maximum).
    #[arg(long, default_value_t = 0.999)]
    clip: f64,
    /// Description stored in the model file.
    #[arg(long, default_value = "")]
    description: String,
    /// Overwrite the output.
    #[arg(short, long)]
    force: bool,
    /// Keep the range rule's scan increment scale instead of choosing it per layer
    /// by measuring the integer model on the calibration segments.
    #[arg(long)]
    no_search: bool,
    /// Fix the scan's inc_shift of every layer (implies no search of it).
    #[arg(long)]
    inc_shift: Option<u8>,
    /// Arithmetic version of the integer model (docs/ARITHMETIC.md): 2, the
    /// newest, unless reproducing a model made for 1.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=2))]
    arith: u16,
    /// Also write the float scales of the final quantization as JSON (site name ->
    /// scale; see `quant::Scales`), for checking the training side's simulation.
    #[arg(long, value_name = "FILE")]
    scales_out: Option<PathBuf>,
}

mod calib {
    /// Evenly spaced segments of `len` bytes from `data` (the whole file if short).
    pub fn segments(data: &[u8], count: usize, len: usize) -> Vec<&[u8]> {
        if data.len() <= len || count <= 1 {
            return vec![&data[..data.len().min(len.max(1) * count.max(1))]];
        }
        let stride = (data.len() - len) / (count - 1);
        (0..count)
            .map(|i| &data[i * stride..i * stride + len])
            .collect()
    }
}

/// Float cross-entropy (bits) of segments, each a fresh stream primed with byte 0.
fn float_bits(fm: &FloatModel, segs: &[&[u8]], rg: &mut Ranges) -> (f64, u64) {
    let mut bits = 0f64;
    let mut n = 0u64;
    for seg in segs {
        let mut st = fm.new_state();
        let mut prev = boa_det::engine::PRIME_BYTE;
        for &b in seg.iter() {
            let logits = fm.step(&mut st, prev, rg);
            let mx = logits.iter().cloned().fold(f32::MIN, f32::max) as f64;
            let lse = mx
                + logits
                    .iter()
                    .map(|&l| (l as f64 - mx).exp())
                    .sum::<f64>()
                    .ln();
            bits += (lse - logits[b as usize] as f64) / std::f64::consts::LN_2;
            n += 1;
            prev = b;
        }
    }
    (bits, n)
}

fn run(a: Args) -> Result<(), String> {
    // Loaders refuse headers beyond what the longest description needs.
    let max = boa_det::model::file::MAX_DESCRIPTION_BYTES;
    if a.description.len() > max {
        return Err(format!(
            "--description has {} bytes; a model file holds at most {max}",
            a.description.len()
        ));
    }
    for path in std::iter::once(&a.output).chain(&a.scales_out) {
        if path.exists() && !a.force {
            return Err(format!(
                "{} already exists (use -f to overwrite)",
                path.display()
            ));
        }
    }
    let bytes =
        std::fs::read(&a.float_model).map_err(|e| format!("{}: {e}", a.float_model.display()))?;
    let fm = FloatModel::load(&bytes).map_err(|e| format!("{}: {e}", a.float_model.display()))?;
    let mut data = Vec::new();
    for p in &a.calib {
        data.push(std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?);
    }
    let segs: Vec<&[u8]> = data
        .iter()
        .flat_map(|d| segments(d, a.segments, a.segment_len))
        .collect();
    let mut rg = Ranges::default();
    let (fbits, n) = float_bits(&fm, &segs, &mut rg);
    let desc = if a.description.is_empty() {
        format!(
            "quantized from {}",
            a.float_model
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
        )
    } else {
        a.description.clone()
    };
    let mut opts = quant::QuantOptions {
        arith: boa_det::intmath::ArithVersion::from_number(a.arith as u64)
            .ok_or_else(|| format!("arith version {} is not implemented", a.arith))?,
        clip: a.clip,
        inc_shift: vec![a.inc_shift; fm.layers.len()],
        site_clip: Default::default(),
    };
    let (mut model, mut scales) = quant::quantize(&fm, &rg, &opts, desc.clone())?;
    // Measured with the real integer engine on the calibration segments.
    let int_bits = |m: &boa_det::model::Model| -> f64 {
        segs.iter()
            .map(|seg| boa_det::eval::code_length(m, seg, seg.len().max(1)).bits)
            .sum()
    };
    let mut ibits = int_bits(&model);
    if !a.no_search {
        // The scan's increment scale, layer by layer (unless fixed by --inc-shift):
        // a few shifts below the range rule (finer increments, the largest ones
        // clamped) and one above.
        let rules: Vec<u8> = model.layers.iter().map(|l| l.inc_shift).collect();
        for (li, &rule) in rules.iter().enumerate().filter(|_| a.inc_shift.is_none()) {
            let mut best = (ibits, rule);
            for cand in rule.saturating_sub(4)..=(rule + 1).min(40) {
                if cand == rule {
                    continue;
                }
                opts.inc_shift[li] = Some(cand);
                let (m, _) = quant::quantize(&fm, &rg, &opts, desc.clone())?;
                let b = int_bits(&m);
                println!(
                    "layer {li}: inc_shift {cand:2}: {:.4} bits/byte (range rule {rule}: {:.4})",
                    b / n as f64,
                    ibits / n as f64
                );
                if b < best.0 {
                    best = (b, cand);
                }
            }
            opts.inc_shift[li] = Some(best.1);
            ibits = best.0;
            println!("layer {li}: inc_shift {} chosen", best.1);
        }
        // Each int8 site's clip quantile, one pass in network order.
        for site in quant::int8_sites(fm.layers.len()) {
            let mut best = (ibits, a.clip);
            for q in [0.99, 0.995, 0.998, 0.9995, 0.9999, 1.0] {
                if q == a.clip {
                    continue;
                }
                opts.site_clip.insert(site.clone(), q);
                let b = int_bits(&quant::quantize(&fm, &rg, &opts, desc.clone())?.0);
                if b < best.0 {
                    best = (b, q);
                }
            }
            opts.site_clip.insert(site.clone(), best.1);
            if best.1 != a.clip {
                println!(
                    "site {site}: clip {} ({:.4} bits/byte)",
                    best.1,
                    best.0 / n as f64
                );
            }
            ibits = best.0;
        }
        (model, scales) = quant::quantize(&fm, &rg, &opts, desc.clone())?;
    }
    std::fs::write(&a.output, model.to_bytes())
        .map_err(|e| format!("{}: {e}", a.output.display()))?;
    if let Some(path) = &a.scales_out {
        let json = serde_json::to_string_pretty(&scales).map_err(|e| e.to_string())?;
        std::fs::write(path, json + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let (fb, ib) = (fbits / n as f64, ibits / n as f64);
    println!(
        "wrote {} (fingerprint {})",
        a.output.display(),
        model.fingerprint()
    );
    println!("calibration: {} segments, {n} bytes", segs.len());
    println!("float   bits/byte: {fb:.4}");
    println!(
        "integer bits/byte: {ib:.4}  ({:+.2}% vs float)",
        (ib / fb - 1.0) * 100.0
    );
    Ok(())
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("boa-det-quantize: {e}");
            ExitCode::from(4)
        }
    }
}
