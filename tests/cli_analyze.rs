//! `boa-det analyze` against the real binary: the table, JSON and SVG it
//! writes for text and tables, and its errors (`src/cli/analyze_cmd.rs`).

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_boa-det");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// HepMC3-like text, about 6 KiB.
fn write_text(dir: &Path) -> std::path::PathBuf {
    let mut t =
        String::from("HepMC::Version 3.02.05\nHepMC::Asciiv3-START_EVENT_LISTING\nE 1 2 40\n");
    let mut x = 777u32;
    for i in 1..=120 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        t.push_str(&format!(
            "P {i} {} 211 {}.{:03} -{}.5 1\n",
            i / 3,
            x % 997,
            x % 991,
            x % 13
        ));
    }
    let p = dir.join("ev.hepmc3");
    std::fs::write(&p, t).unwrap();
    p
}

/// A table of 3 columns (float, counter, float) with a sidecar naming them.
fn write_table(dir: &Path) -> std::path::PathBuf {
    let mut d = Vec::new();
    for r in 0..600u32 {
        d.extend_from_slice(&(r as f32 * 1.25).to_le_bytes());
        d.extend_from_slice(&r.to_le_bytes());
        d.extend_from_slice(&((r % 7) as f32 * 0.1).to_le_bytes());
    }
    let p = dir.join("t.rm.bin");
    std::fs::write(&p, d).unwrap();
    std::fs::write(
        dir.join("t.columns.tsv"),
        "# cols=3\n0\tpt\tf4\n1\tevent\ti4\n2\teta\tf4\n",
    )
    .unwrap();
    p
}

#[test]
fn text_fields_in_the_table_json_and_chart() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_text(dir.path());
    let o = run(&[
        "analyze",
        "--levels",
        "1",
        "-T",
        "1",
        input.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8(o.stdout).unwrap();
    for want in ["boa-det -1", "xz -9", "P: px", "P: pdg", "line types"] {
        assert!(table.contains(want), "{want} missing:\n{table}");
    }
    let plot = dir.path().join("bits.svg");
    let o = run(&[
        "analyze",
        "--levels",
        "1",
        "--no-xz",
        "--json",
        "--plot",
        plot.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let bytes: u64 = json["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["bytes"].as_u64().unwrap())
        .sum();
    assert_eq!(bytes, std::fs::metadata(&input).unwrap().len());
    assert_eq!(json["codecs"].as_array().unwrap().len(), 1);
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("P: px"));
    // The chart is never overwritten without -f, and the file is kept.
    std::fs::write(&plot, "mine").unwrap();
    let o = run(&[
        "analyze",
        "--levels",
        "1",
        "--no-xz",
        "--plot",
        plot.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("already exists"));
    assert_eq!(std::fs::read_to_string(&plot).unwrap(), "mine");
}

#[test]
fn table_columns_come_from_the_sidecar_with_their_mantissa_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_table(dir.path());
    let o = run(&[
        "analyze",
        "--levels",
        "1",
        "--no-xz",
        input.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8(o.stdout).unwrap();
    assert!(table.contains("3 columns, records of 12 bytes"), "{table}");
    assert!(table.contains("Lowest mantissa bytes"), "{table}");
    assert!(
        table.contains("all 2 float columns (600 records)"),
        "{table}"
    );
    // --record that disagrees with the named columns is a usage error.
    let o = run(&[
        "analyze",
        "--record",
        "16",
        "--columns",
        dir.path().join("t.columns.tsv").to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn bad_inputs_are_clean_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let o = run(&["analyze", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot read"));
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    let o = run(&["analyze", empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let input = write_text(dir.path());
    for bad in [
        &["--levels", "10"][..],
        &["--limit", "0"],
        &["--limit", "12Q"],
    ] {
        let mut args = vec!["analyze"];
        args.extend_from_slice(bad);
        args.push(input.to_str().unwrap());
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"));
    }
}
