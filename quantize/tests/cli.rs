//! The `boa-det-quantize` binary's argument checks.

use std::process::Command;

/// A description longer than a model file may hold is refused up front,
/// before any file is read (so no model is written that loaders would refuse).
#[test]
fn overlong_description_is_refused() {
    let max = boa_det::model::file::MAX_DESCRIPTION_BYTES;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("model.safetensors");
    let run = |len: usize| {
        Command::new(env!("CARGO_BIN_EXE_boa-det-quantize"))
            .arg(dir.path().join("missing.float.safetensors"))
            .args(["--calib", "missing.bin", "-o"])
            .arg(&out)
            .args(["--description", &"d".repeat(len)])
            .output()
            .unwrap()
    };
    let o = run(max + 1);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(
        err.contains("--description") && err.contains(&max.to_string()),
        "{err}"
    );
    // At the limit the description passes and the missing checkpoint is named.
    let o = run(max);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("missing.float.safetensors"), "{err}");
    assert!(!out.exists());
}
