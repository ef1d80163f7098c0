//! Compression levels against the real binary: `-1` to `-5`, `--level`,
//! `--fast` and `--best`, what each writes, and the errors for levels that
//! do not exist and options that do not apply (`src/levels.rs`).

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_boa-det");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// HepMC-like lines, 12 KiB.
fn write_input(dir: &Path) -> std::path::PathBuf {
    let mut t = String::new();
    let mut x = 12345u32;
    let mut i = 0;
    while t.len() < 12 << 10 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        i += 1;
        t.push_str(&format!(
            "P {i} 211 {}.{:04}e+01 {} 1\n",
            x % 997,
            x % 9973,
            x % 5
        ));
    }
    let p = dir.join("in.hepmc");
    std::fs::write(&p, t).unwrap();
    p
}

/// `compress -c` with `flags`, the archive bytes (asserting success).
fn compress(input: &Path, flags: &[&str]) -> Vec<u8> {
    let mut args = vec!["compress", "-c"];
    args.extend_from_slice(flags);
    args.push(input.to_str().unwrap());
    let o = run(&args);
    assert!(o.status.success(), "{flags:?}: {}", stderr(&o));
    o.stdout
}

#[test]
fn levels_write_their_presets_and_decode() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path());
    let original = std::fs::read(&input).unwrap();
    let default = compress(&input, &[]);
    let mut sizes = Vec::new();
    for n in 1..=3 {
        let short = compress(&input, &[&format!("-{n}")]);
        let long = compress(&input, &["--level", &n.to_string()]);
        assert_eq!(short, long, "-{n} and --level {n}");
        assert_ne!(short, default);
        // The format version of the context-mixing codec (bytes 8..10).
        assert_eq!(u16::from_le_bytes([short[8], short[9]]), 7, "-{n}");
        let a = dir.path().join(format!("l{n}.boa"));
        std::fs::write(&a, &short).unwrap();
        let o = run(&["decompress", "-c", a.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(o.stdout, original, "-{n}");
        let o = run(&["list", "-v", a.to_str().unwrap()]);
        assert!(String::from_utf8_lossy(&o.stdout).contains("cm x1"));
        sizes.push(short.len());
    }
    assert!(sizes.iter().all(|&s| s < original.len() / 3), "{sizes:?}");
    // -4 is what compress writes without a level; -5 codes the network's
    // tables with the context mixer (format version 7); -6 adds the
    // kinematic model on text (codec 13, version 8); -7 adds the
    // counting-field model (codec 14, version 9); -8 makes the context
    // mixer the wide one (codec 16, version 10). --best names -9 today,
    // whose relation model is for tables of records: on text it writes
    // what -8 writes.
    assert_eq!(compress(&input, &["-4"]), default);
    let five = compress(&input, &["-5"]);
    let six = compress(&input, &["-6"]);
    let seven = compress(&input, &["-7"]);
    let best = compress(&input, &["--best"]);
    assert_eq!(best, compress(&input, &["-9"]));
    assert_eq!(best, compress(&input, &["-8"]));
    // The input's particle ids count (1, 2, 3, ...), which only -7 and -8
    // model.
    assert!(
        seven.len() < six.len(),
        "-7 {} !< -6 {}",
        seven.len(),
        six.len()
    );
    for (n, archive, version, codec) in [
        (5, &five, 7, "text+cm x1"),
        (6, &six, 8, "text+cm+kin x1"),
        (7, &seven, 9, "text+cm+kin+count x1"),
        (8, &best, 10, "text+cm+kin+count+wide x1"),
    ] {
        assert_eq!(
            u16::from_le_bytes([archive[8], archive[9]]),
            version,
            "-{n}"
        );
        assert!(
            archive.len() < default.len(),
            "-{n}: {} !< {}",
            archive.len(),
            default.len()
        );
        let a = dir.path().join(format!("l{n}.boa"));
        std::fs::write(&a, archive).unwrap();
        let o = run(&["decompress", "-c", a.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(o.stdout, original);
        let o = run(&["list", "-v", a.to_str().unwrap()]);
        let listing = String::from_utf8_lossy(&o.stdout);
        assert!(listing.contains(codec), "-{n}: {listing}");
    }
    assert_eq!(compress(&input, &["--fast"]), compress(&input, &["-1"]));
    // The zstd-style form takes the level too.
    let o = Command::new(BIN)
        .args(["-2", "-c", input.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout, compress(&input, &["-2"]));
}

#[test]
fn undefined_levels_and_options_that_do_not_apply_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path());
    let i = input.to_str().unwrap();
    for (args, says) in [
        (
            vec!["compress", "-c", "--level", "10", i],
            "10 is not in 1..=9",
        ),
        (
            vec!["compress", "-c", "-1", "--no-match", i],
            "--no-match does not apply to level 1",
        ),
        (
            vec!["compress", "-c", "--fast", "--format-version", "6", i],
            "--format-version below 7 does not apply",
        ),
        (
            vec!["compress", "-c", "-2", "--text-fields", "on", i],
            "--text-fields does not apply",
        ),
        (
            vec!["compress", "-c", "--fast", "--best", i],
            "cannot be used with",
        ),
        (vec!["decompress", "-c", "-1", i], "--level"),
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
}
