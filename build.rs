//! Host builds of the CUDA sources; no CUDA toolkit is needed for either.
//! - Feature `c-shim` (tests): `kernels/host_shim.c`, the integer helpers
//!   shared with the kernels, with the system C compiler, so the Rust tests
//!   check them bit for bit against the reference.
//! - Feature `cuda-emulator`: the unmodified `kernels/*.cu` as C++20 against
//!   the SIMT emulator (`kernels/emulator/`), for `--device cuda-emulated`.
//!   `BOA_EMU_CXXFLAGS` adds flags (the sanitizer build of
//!   `tests/emulator/sanitizers.sh`); `BOA_EMU_KERNELS_DIR` compiles the
//!   kernels of another folder (the planted bugs of
//!   `tests/emulator/mutants.sh`).
//!
//! A build with neither feature needs no C or C++ compiler.
fn main() {
    for f in [
        "kernels/host_shim.c",
        "kernels/boa_int.h",
        "kernels/boa_coder.h",
        "kernels/boa_cuda_compat.h",
        "kernels/boa_forward.cu",
        "kernels/boa_coder.cu",
        "kernels/emulator/boa_emu.h",
        "kernels/emulator/boa_emu.cpp",
        "kernels/emulator/registry.cpp",
        "kernels/ptx/boa_forward.ptx",
        "kernels/ptx/boa_coder.ptx",
    ] {
        println!("cargo:rerun-if-changed={f}");
    }
    println!("cargo:rerun-if-env-changed=BOA_EMU_CXXFLAGS");
    println!("cargo:rerun-if-env-changed=BOA_EMU_KERNELS_DIR");
    if std::env::var_os("CARGO_FEATURE_CUDA_EMULATOR").is_some() {
        let dir = std::env::var("BOA_EMU_KERNELS_DIR").unwrap_or_else(|_| "kernels".into());
        if dir != "kernels" {
            println!("cargo:warning=SIMT emulator built from the kernels in {dir}");
            for f in ["boa_forward.cu", "boa_coder.cu", "boa_int.h", "boa_coder.h"] {
                println!("cargo:rerun-if-changed={dir}/{f}");
            }
        }
        let mut b = cc::Build::new();
        b.cpp(true)
            .file(format!("{dir}/emulator/boa_emu.cpp"))
            .file(format!("{dir}/emulator/registry.cpp"))
            .include(&dir)
            .std("c++20")
            .warnings(true)
            .extra_warnings(true)
            .flag_if_supported("-Wconversion");
        if let Ok(extra) = std::env::var("BOA_EMU_CXXFLAGS") {
            for f in extra.split_whitespace() {
                b.flag(f);
            }
        }
        b.compile("boa_emu");
    }
    if std::env::var_os("CARGO_FEATURE_C_SHIM").is_none() {
        return;
    }
    cc::Build::new()
        .file("kernels/host_shim.c")
        .include("kernels")
        .std("c11")
        .warnings(true)
        .extra_warnings(true)
        .flag_if_supported("-Wconversion")
        .compile("boa_host_shim");
}
