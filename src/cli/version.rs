//! `boa-det --version [-v]`: the release, and with `-v` what this build reads
//! and writes, its built-in models and the kernel level it would use.

use super::CliError;
use crate::container::{FORMAT_VERSION_NEWEST, FORMAT_VERSION_OLDEST};
use crate::default_models;
use crate::engine::cpu::dispatch;
use crate::intmath::ArithVersion;
use crate::model::Model;

/// Prints the version line, and with `verbose` the build's capabilities.
pub fn print(verbose: bool) -> Result<(), CliError> {
    outln!("boa-det {}", env!("CARGO_PKG_VERSION"));
    if !verbose {
        return Ok(());
    }
    outln!(
        "format versions: reads {FORMAT_VERSION_OLDEST} to {FORMAT_VERSION_NEWEST}; compress \
         writes up to {FORMAT_VERSION_NEWEST} (the oldest version that holds the codecs it uses; \
         --format-version N caps it)"
    );
    outln!(
        "arith versions:  reads {} to {}; new models: {}",
        ArithVersion::OLDEST,
        ArithVersion::NEWEST,
        ArithVersion::NEWEST
    );
    outln!(
        "model files:     format {}",
        crate::model::file::FORMAT_VERSION
    );
    let default = default_models::default_fingerprint();
    let mut default_line = String::from("none built in; compress needs --model");
    let mut lines = Vec::new();
    for (name, fp, _, bytes) in default_models::builtin() {
        // Built-in models are checked by the tests; describe a failure rather than stop.
        let about = match Model::from_bytes(bytes) {
            Ok(m) => format!(
                "arith v{}, {} KiB chunks",
                m.arith,
                default_models::compress_chunk_len(&m) >> 10
            ),
            Err(e) => format!("invalid: {e}"),
        };
        let is_default = default == Some(fp);
        if is_default {
            default_line = format!("{name} {fp} ({about})");
        }
        lines.push(format!(
            "  {name} {fp} {about}{}",
            if is_default { " (default)" } else { "" }
        ));
    }
    outln!("default model:   {default_line}");
    outln!(
        "built-in models: {} (archives made with them decode without --model)",
        lines.len()
    );
    for l in lines {
        outln!("{l}");
    }
    let cpu: Vec<&str> = dispatch::Kernels::available()
        .iter()
        .map(|k| k.name)
        .collect();
    let cpu = cpu.join(", ");
    match dispatch::selected() {
        Ok(k) => {
            let how = match std::env::var_os(dispatch::KERNELS_ENV) {
                Some(v) if !v.is_empty() => "forced by BOA_DET_KERNELS",
                _ => "the best this CPU supports",
            };
            outln!("kernel level:    {} ({how}; this CPU: {cpu})", k.name)
        }
        Err(e) => outln!("kernel level:    none, commands refuse to run: {e}"),
    }
    use crate::engine::Device;
    let gpu = match (Device::Cuda { ordinal: 0 }).available() {
        Ok(()) => "cuda:0 present".to_string(),
        Err(e) => format!("none ({e})"),
    };
    let auto = super::archive_cmd::DeviceChoice::Auto.device();
    outln!(
        "gpu:             {gpu}; arith v{} kernels; --device auto uses {auto}{}",
        crate::engine::cuda::ARITH_VERSIONS
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", v"),
        if crate::engine::cuda::HARDWARE_VERIFIED {
            ""
        } else {
            " (the kernels have not yet been verified on a GPU)"
        }
    );
    let emu = match Device::CudaEmulated.available() {
        Ok(()) => "built in (--device cuda-emulated)".to_string(),
        Err(e) => format!("not built ({e})"),
    };
    outln!("simt emulator:   {emu}");
    Ok(())
}
