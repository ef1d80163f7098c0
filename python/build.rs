//! Builds the HDF5 filter plugin (`hdf5_plugin/`, a cdylib of its own: HDF5
//! loads it from processes without Python) and copies `libh5boa.so` into
//! `pysrc/boa_det/plugins/`, so that maturin puts it in the wheel and
//! `pip install ./python` alone gives `boa_det.hdf5` its plugin. The nested
//! build has its own target folder and a clean cargo environment.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let here = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let plugin = here.join("hdf5_plugin");
    println!("cargo:rerun-if-changed={}", plugin.join("src").display());
    println!(
        "cargo:rerun-if-changed={}",
        plugin.join("Cargo.toml").display()
    );
    println!("cargo:rerun-if-changed={}", here.join("../src").display());
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        println!(
            "cargo:warning=the HDF5 plugin is built on Linux only; boa_det.hdf5 will not find it"
        );
        return;
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("hdf5-plugin");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(plugin.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&out);
    // The outer build's settings are for the extension module, not for this crate.
    for (k, _) in std::env::vars() {
        if (k.starts_with("CARGO_") && k != "CARGO_HOME") || k == "RUSTFLAGS" || k == "PYO3_PYTHON"
        {
            cmd.env_remove(k);
        }
    }
    let status = cmd.status().expect("cargo runs");
    assert!(status.success(), "building the HDF5 plugin failed");
    let dest = here.join("pysrc/boa_det/plugins");
    std::fs::create_dir_all(&dest).expect("plugins folder");
    std::fs::copy(out.join("release/libh5boa.so"), dest.join("libh5boa.so"))
        .expect("plugin copied");
}
