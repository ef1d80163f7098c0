//! Compiles `kernels/host_shim.c` (the integer helpers shared with the CUDA
//! kernels) with the system C compiler, so the Rust tests can check them bit
//! for bit against the reference. No CUDA toolkit is needed. Only with the
//! feature `c-shim` (tests); a build without it needs no C compiler.
fn main() {
    for f in [
        "kernels/host_shim.c",
        "kernels/boa_int.h",
        "kernels/boa_coder.h",
        "kernels/ptx/boa_forward.ptx",
        "kernels/ptx/boa_coder.ptx",
    ] {
        println!("cargo:rerun-if-changed={f}");
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
