//! The release number, its changelog, and what `--version` reports.

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_boa-det");
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn changelog() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/CHANGELOG.md")).unwrap()
}

/// The newest release's section of the changelog (up to the next `## `).
fn newest_release(log: &str) -> &str {
    let start = log.find("\n## ").expect("a release section") + 1;
    let end = log[start + 3..]
        .find("\n## ")
        .map_or(log.len(), |i| start + 3 + i);
    &log[start..end]
}

/// The changelog's newest release is the crate's version, and it states what
/// this build reads and which models it has built in.
#[test]
fn changelog_describes_this_release() {
    use boa_det::container::FORMAT_VERSION_NEWEST;
    let log = changelog();
    let newest = newest_release(&log);
    assert!(
        newest.starts_with(&format!("## {VERSION} ")),
        "newest changelog section: {}",
        newest.lines().next().unwrap_or("")
    );
    assert!(
        newest.contains(&format!("reads versions 1 to {FORMAT_VERSION_NEWEST}")),
        "{newest}"
    );
    // Every built-in model is named, with its fingerprint, by some release.
    for (name, fp, _, _) in boa_det::default_models::builtin() {
        let version = name.trim_start_matches("default-");
        assert!(log.contains(&fp.to_string()), "{name} {fp} missing");
        assert!(log.contains(&format!("default {version}")), "{name}");
    }
    // Releases are listed newest first.
    let headings: Vec<&str> = log
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(headings, [VERSION, "0.2.0", "0.1.1", "0.1.0"]);
}

/// Plain `--version` (and `-V`) is one line: the name and the release.
#[test]
fn plain_version_is_one_line() {
    for flag in ["--version", "-V"] {
        let o = run(&[flag]);
        assert_eq!(o.status.code(), Some(0));
        assert_eq!(
            String::from_utf8(o.stdout).unwrap(),
            format!("boa-det {VERSION}\n")
        );
    }
}
