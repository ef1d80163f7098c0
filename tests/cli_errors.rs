//! The `boa-det` binary on hostile inputs and environments: crafted lengths
//! stay within bounded memory, unusable settings give one-line errors.

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_boa-det");

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts a one-line `boa-det: ...` error (no panic) with exit code `code`
/// that mentions every string of `needles`.
fn assert_error(o: &Output, code: i32, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("boa-det: "), "{err}");
    for n in needles {
        assert!(err.contains(n), "{err:?} does not mention {n:?}");
    }
}

/// A one-chunk stored archive (format 1) with this arith version in its
/// header and, optionally, an embedded model blob.
fn stored_archive(arith_version: u16, blob: Option<&[u8]>) -> Vec<u8> {
    use boa_det::container::{ArchiveParams, ArchiveWriter};
    let params = ArchiveParams {
        format_version: 1,
        arith_version,
        model_fingerprint: [7; 16],
        chunk_len: 16,
    };
    let mut w = ArchiveWriter::new(Vec::new(), &params, blob).unwrap();
    w.write_stored(b"stored chunk").unwrap();
    w.finish().unwrap()
}

/// A model file whose header (16 MB of JSON whose parse would take about
/// 400 MB) is announced in its first 8 bytes.
#[cfg(target_os = "linux")]
fn write_costly_model(path: &std::path::Path) {
    let zeros = 8_000_000;
    let mut json = b"{\"t\":{\"dtype\":\"I8\",\"shape\":[0".to_vec();
    json.extend(std::iter::repeat_n(&b",0"[..], zeros - 1).flatten());
    json.extend_from_slice(b"],\"data_offsets\":[0,0]}}");
    let mut b = (json.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(&json);
    std::fs::write(path, b).unwrap();
}

/// Runs the binary with its address space limited to `kib` KiB, so that an
/// allocation the size of a crafted length would abort the process.
#[cfg(target_os = "linux")]
fn run_limited(kib: u32, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {kib} && exec \"$0\" \"$@\""))
        .arg(BIN)
        .args(args)
        .output()
        .unwrap()
}

/// `model info` and `compress --model` on a model file with a crafted header
/// length: refused from the length, in 150 MB of address space (before the
/// limit, the header was parsed and the process aborted there).
#[cfg(target_os = "linux")]
#[test]
fn crafted_model_header_is_refused_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("costly.safetensors");
    write_costly_model(&model);
    let input = dir.path().join("in.txt");
    std::fs::write(&input, b"some text to compress\n").unwrap();
    let m = model.to_str().unwrap();
    let o = run_limited(150_000, &["model", "info", m]);
    assert_error(&o, 4, &["model file too large", "header claims 16000"]);
    let out = dir.path().join("out.boa");
    let o = run_limited(
        150_000,
        &[
            "compress",
            "--model",
            m,
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert_error(&o, 4, &["model file too large"]);
    assert!(!out.exists());
}

/// An archive whose embedded model blob announces a header over the limit is
/// refused as corrupt, naming the limit, without parsing that header.
#[test]
fn embedded_model_with_crafted_header_length_is_refused() {
    let mut blob = 80_000_000u64.to_le_bytes().to_vec();
    blob.extend_from_slice(b"{junk");
    let archive = stored_archive(1, Some(&blob));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crafted.boa");
    std::fs::write(&path, archive).unwrap();
    let limit = boa_det::model::file::MAX_HEADER_BYTES.to_string();
    for mode in ["-t", "-dc"] {
        let o = Command::new(BIN)
            .args([mode, path.to_str().unwrap()])
            .output()
            .unwrap();
        assert_error(
            &o,
            5,
            &["embedded model is invalid", "80000000", limit.as_str()],
        );
    }
}

/// The names of the kernel levels this CPU supports, best last.
fn cpu_levels() -> Vec<&'static str> {
    boa_det::engine::cpu::dispatch::Kernels::available()
        .iter()
        .map(|k| k.name)
        .collect()
}

fn run_with_kernels(level: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("BOA_DET_KERNELS", level)
        .output()
        .unwrap()
}

/// An unknown `BOA_DET_KERNELS` is a usage error before any work, for every
/// command (it panicked with a backtrace in compress): one line naming the
/// variable, every level and the ones this CPU supports; no output written.
#[test]
fn unknown_kernel_level_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "text to compress, text to compress\n".repeat(50)).unwrap();
    let i = input.to_str().unwrap();
    let levels = cpu_levels().join(", ");
    let expect = [
        "BOA_DET_KERNELS=bogus",
        "unknown kernel level",
        "scalar, avx2, avxvnni, avx512, neon, dotprod, i8mm",
        levels.as_str(),
    ];
    for args in [
        vec![i],
        vec!["compress", i, "-o", "-"],
        vec!["model", "info", i],
        vec!["-l", i],
    ] {
        let o = run_with_kernels("bogus", &args);
        assert_error(&o, 2, &expect);
        assert!(o.stdout.is_empty(), "{args:?}");
    }
    assert!(!dir.path().join("in.txt.boa").exists());
    // An empty value means "not set": the best level, and the command works.
    let o = run_with_kernels("", &["-q", "-c", i]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// A known level this CPU lacks is refused the same way, naming the levels
/// the CPU has (skipped on a CPU with every level).
#[test]
fn unsupported_kernel_level_is_a_usage_error() {
    let have = cpu_levels();
    let Some(missing) = boa_det::engine::cpu::dispatch::LEVELS
        .into_iter()
        .find(|l| !have.contains(l))
    else {
        eprintln!("SKIPPED: this CPU supports every kernel level");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "some text\n").unwrap();
    let o = run_with_kernels(missing, &["-q", "-c", input.to_str().unwrap()]);
    let forced = format!("BOA_DET_KERNELS={missing}");
    let supports = format!("it supports {}", have.join(", "));
    assert_error(
        &o,
        2,
        &[
            forced.as_str(),
            "not supported by this CPU",
            supports.as_str(),
        ],
    );
    // Every level the CPU has is accepted.
    for level in have {
        let o = run_with_kernels(level, &["-q", "-c", input.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{level}: {}", stderr(&o));
    }
}

/// An archive of an arith version this build lacks is refused naming the
/// versions it implements (derived from the constants, not written out).
#[test]
fn unknown_arith_version_in_an_archive_names_the_implemented_range() {
    use boa_det::intmath::ArithVersion;
    let too_new = ArithVersion::NEWEST.number() + 1;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arith.boa");
    std::fs::write(&path, stored_archive(too_new, None)).unwrap();
    let o = Command::new(BIN)
        .args(["-t", path.to_str().unwrap()])
        .output()
        .unwrap();
    let expect = format!(
        "archive uses arith version {too_new}, this build implements {} to {}",
        ArithVersion::OLDEST,
        ArithVersion::NEWEST
    );
    assert_error(&o, 4, &[expect.as_str()]);
}

/// An archive newer than this build is refused naming the format versions it
/// reads (the message said "1 to 2" while the build read 1 to 6).
#[test]
fn too_new_format_version_names_the_readable_range() {
    use boa_det::container::{FORMAT_VERSION_NEWEST, FORMAT_VERSION_OLDEST, xxh3_64};
    let mut archive = stored_archive(1, None);
    let too_new = FORMAT_VERSION_NEWEST + 1;
    archive[8..10].copy_from_slice(&too_new.to_le_bytes());
    let sum = xxh3_64(&archive[..36]);
    archive[36..44].copy_from_slice(&sum.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.boa");
    std::fs::write(&path, archive).unwrap();
    let expect = format!(
        "unsupported format version {too_new} (this build reads and writes versions \
         {FORMAT_VERSION_OLDEST} to {FORMAT_VERSION_NEWEST})"
    );
    for mode in ["-t", "-l"] {
        let o = Command::new(BIN)
            .args([mode, path.to_str().unwrap()])
            .output()
            .unwrap();
        assert_error(&o, 5, &[expect.as_str()]);
    }
}
