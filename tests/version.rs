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

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// The line of `out` that starts with `key`, without the key.
fn field<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key:?} line in\n{out}"))
        .trim()
}

/// `--version -v` states what this build reads and writes, its models and its
/// kernel level, each derived from the code that decides it.
#[test]
fn verbose_version_describes_the_build() {
    use boa_det::container::FORMAT_VERSION_NEWEST;
    use boa_det::engine::cpu::dispatch::Kernels;
    use boa_det::intmath::ArithVersion;
    let o = run(&["--version", "-v"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert_eq!(
        out.lines().next(),
        Some(format!("boa-det {VERSION}").as_str())
    );
    assert!(
        field(&out, "format versions:").starts_with(&format!(
            "reads 1 to {FORMAT_VERSION_NEWEST}; compress writes up to {FORMAT_VERSION_NEWEST}"
        )),
        "{out}"
    );
    assert_eq!(
        field(&out, "arith versions:"),
        format!(
            "reads {} to {}; new models: {}",
            ArithVersion::OLDEST,
            ArithVersion::NEWEST,
            ArithVersion::NEWEST
        )
    );
    assert_eq!(field(&out, "model files:"), "format 1");

    let default = boa_det::default_models::default_fingerprint().unwrap();
    let builtin: Vec<_> = boa_det::default_models::builtin().collect();
    let (default_name, ..) = builtin.iter().find(|(_, fp, ..)| *fp == default).unwrap();
    assert!(
        field(&out, "default model:").starts_with(&format!("{default_name} {default}")),
        "{out}"
    );
    assert!(field(&out, "built-in models:").starts_with(&builtin.len().to_string()));
    for (name, fp, _, bytes) in &builtin {
        let arith = boa_det::model::Model::from_bytes(bytes).unwrap().arith;
        let line = format!("  {name} {fp} arith v{arith}, ");
        assert!(
            out.lines().any(|l| l.starts_with(&line)),
            "{line:?} in\n{out}"
        );
    }

    let cpu: Vec<&str> = Kernels::available().iter().map(|k| k.name).collect();
    assert_eq!(
        field(&out, "kernel level:"),
        format!(
            "{} (the best this CPU supports; this CPU: {})",
            Kernels::best().name,
            cpu.join(", ")
        )
    );

    // The other spellings print the same.
    for args in [&["-V", "-v"][..], &["-vV"], &["--verbose", "--version"]] {
        assert_eq!(stdout(&run(args)), out, "{args:?}");
    }
}

/// `--version` works whatever `BOA_DET_KERNELS` says: `-v` shows a forced
/// level, or why it would be refused, in the kernel line.
#[test]
fn version_reports_the_forced_kernel_level() {
    let with = |level: &str, args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env("BOA_DET_KERNELS", level)
            .output()
            .unwrap()
    };
    let o = with("bogus", &["-V"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), format!("boa-det {VERSION}\n"));
    let o = with("bogus", &["-V", "-v"]);
    assert_eq!(o.status.code(), Some(0));
    let line = stdout(&o);
    let kernels = field(&line, "kernel level:");
    assert!(
        kernels.starts_with(
            "none, commands refuse to run: BOA_DET_KERNELS=bogus: unknown kernel level"
        ),
        "{kernels}"
    );
    let o = with("scalar", &["-V", "-v"]);
    let out = stdout(&o);
    assert!(
        field(&out, "kernel level:")
            .starts_with("scalar (forced by BOA_DET_KERNELS; this CPU: scalar"),
        "{out}"
    );
}

/// docs/CLI.md shows this build's `--version -v` output (all but the kernel,
/// GPU and emulator lines, which depend on the machine and the build).
#[test]
fn cli_doc_shows_the_verbose_version() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/CLI.md")).unwrap();
    let out = stdout(&run(&["-V", "-v"]));
    let machine = ["kernel level:", "gpu:", "simt emulator:"];
    assert!(out.lines().any(|l| l.starts_with("gpu:")), "{out}");
    for line in out
        .lines()
        .filter(|l| !machine.iter().any(|m| l.starts_with(m)))
    {
        assert!(
            doc.lines().any(|d| d == line),
            "docs/CLI.md lacks the line {line:?}"
        );
    }
}
