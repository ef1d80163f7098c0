//! The CLI habits of issue 24 against the real binary: options scoped per
//! command, `--max-output` and `--max-model-steps`, the `-v`/`-q` levels,
//! `--help` examples, shell completions and manual pages, `bench` in
//! docs/CLI.md, and the progress bar on a terminal.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_boa-det");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Files in a fresh temporary folder: a d=16 synthetic model, a text input,
/// and its archive (codec `neural+match+long`, chunks of 1000 bytes: 5).
struct Fixture {
    dir: tempfile::TempDir,
    model: PathBuf,
    input: PathBuf,
    archive: PathBuf,
}

const INPUT_LEN: usize = 5000;

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let o = run(&[
        "model",
        "synth",
        "--d-model",
        "16",
        "--layers",
        "1",
        "--seed",
        "5",
        "-o",
        s(&model),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let input = dir.path().join("in.txt");
    let text: Vec<u8> = b"scoped options test line 0123456789\n"
        .iter()
        .copied()
        .cycle()
        .take(INPUT_LEN)
        .collect();
    std::fs::write(&input, text).unwrap();
    let archive = dir.path().join("in.txt.boa");
    let o = run(&[
        "-q",
        "--model",
        s(&model),
        "--embed-model",
        "--record-size",
        "off",
        "--text-fields",
        "off",
        "--chunk-size",
        "1000",
        s(&input),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    Fixture {
        dir,
        model,
        input,
        archive,
    }
}

/// The files in the fixture's folder, sorted.
fn listing(f: &Fixture) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(f.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Options that belong to other commands are refused with exit 2, in the
/// subcommand form (by clap) and in the zstd-style form (by our scope check),
/// before any file is touched.
#[test]
fn options_are_scoped_per_command() {
    let f = fixture();
    let a = s(&f.archive);
    let i = s(&f.input);
    let before = listing(&f);
    // (short form, subcommand, an option it does not take, its value)
    let cases: &[(&str, &str, &str, Option<&str>)] = &[
        ("-d", "decompress", "--record-size", Some("16")),
        ("-d", "decompress", "--chunk-size", Some("1K")),
        ("-d", "decompress", "--embed-model", None),
        ("-d", "decompress", "--no-match", None),
        ("-d", "decompress", "--format-version", Some("3")),
        ("-d", "decompress", "--text-fields", Some("on")),
        ("-t", "verify", "--record-size", Some("16")),
        ("-t", "verify", "--range", Some("0..10")),
        ("-t", "verify", "--output", Some("x")),
        ("-t", "verify", "--rm", None),
        ("-t", "verify", "--force", None),
        ("-l", "list", "--model", Some("m")),
        ("-l", "list", "--threads", Some("2")),
        ("-l", "list", "--device", Some("cpu")),
        ("-l", "list", "--max-output", Some("1")),
        ("-l", "list", "--stdout", None),
        ("-z", "compress", "--range", Some("0..10")),
        ("-z", "compress", "--max-output", Some("1M")),
        ("-z", "compress", "--max-model-steps", Some("1M")),
    ];
    for &(short, sub, opt, value) in cases {
        let target = if sub == "compress" { i } else { a };
        let mut tail = vec![opt];
        tail.extend(value);
        tail.push(target);
        let mut args = vec![short];
        args.extend(&tail);
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains(&format!("{opt} does not apply to {sub}")),
            "{args:?}: {e}"
        );
        let mut args = vec![sub];
        args.extend(&tail);
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(opt), "{args:?}: {}", stderr(&o));
    }
    assert_eq!(listing(&f), before, "a refused command touched the folder");
    // Each command still takes its own options in both forms.
    let m = s(&f.model);
    for args in [
        vec!["-d", "-c", "-T", "1", "--model", m, "--range", "10..20", a],
        vec!["decompress", "-c", "--max-output", "1M", a],
        vec!["-t", "-q", "-T", "1", "--max-model-steps", "5000", a],
        vec!["verify", "--model", m, "--device", "cpu", a],
        vec!["-l", "-v", "-r", a],
        vec!["list", "-q", a],
    ] {
        let o = run(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
}

/// `--max-output` and `--max-model-steps` refuse, from the index alone and
/// before any output is opened, what would exceed them (exit 6); at the
/// limit they decode. A file of concatenated archives counts all members.
#[test]
fn decode_limits_are_checked_before_any_work() {
    let f = fixture();
    let a = s(&f.archive);
    let out = f.dir.path().join("out.txt");
    let n = INPUT_LEN.to_string();
    let under = (INPUT_LEN - 1).to_string();
    for (opt, limit) in [("--max-output", &under), ("--max-model-steps", &under)] {
        for mode in ["-d", "-t"] {
            let mut args = vec![mode, opt, limit, a];
            if mode == "-d" {
                args.extend(["-o", s(&out)]);
            }
            let o = run(&args);
            assert_eq!(o.status.code(), Some(6), "{args:?}: {}", stderr(&o));
            assert!(stderr(&o).contains(opt), "{}", stderr(&o));
            assert!(!out.exists(), "{args:?} left an output");
        }
    }
    // Exactly at the limit it decodes.
    let o = run(&[
        "-d",
        "--max-output",
        &n,
        "--max-model-steps",
        &n,
        a,
        "-o",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(&f.input).unwrap()
    );
    // A range needs only its own bytes and the steps of its chunks (1000).
    let o = run(&[
        "-d",
        "-c",
        "--range",
        "0..10",
        "--max-output",
        "10",
        "--max-model-steps",
        "1000",
        a,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout.len(), 10);
    let o = run(&[
        "-d",
        "-c",
        "--range",
        "0..10",
        "--max-model-steps",
        "999",
        a,
    ]);
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    // Two members, each within the limit, are over it together.
    let twice = f.dir.path().join("twice.boa");
    let one = std::fs::read(&f.archive).unwrap();
    std::fs::write(&twice, [one.clone(), one].concat()).unwrap();
    for mode in [&["-d", "-c"][..], &["-t"]] {
        let o = run(&[mode, &["--max-output", &n, s(&twice)]].concat());
        assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("{} bytes", 2 * INPUT_LEN)),
            "{}",
            stderr(&o)
        );
    }
    let o = run(&[
        "-t",
        "--max-output",
        &(2 * INPUT_LEN).to_string(),
        s(&twice),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Sizes take binary suffixes; a bad one is a usage error.
    let o = run(&["-t", "--max-output", "4K", a]);
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    let o = run(&["-t", "--max-output", "4X", a]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// `-v` reports the model, the codecs of the chunks, the ratio and the time;
/// `-vv` every chunk; `-q` nothing; `-qq` not even the notice that `--rm`
/// kept an input.
#[test]
fn verbosity_levels() {
    let f = fixture();
    let a = s(&f.archive);
    let m = s(&f.model);
    let i = s(&f.input);
    let fp = {
        let o = run(&["-l", a]);
        let out = stdout(&o);
        let line = out.lines().find(|l| l.contains("model:")).unwrap();
        line.split_whitespace().nth(1).unwrap().to_string()
    };
    let o = run(&[
        "-v",
        "-c",
        "--model",
        m,
        "--record-size",
        "off",
        "--text-fields",
        "off",
        "--chunk-size",
        "1000",
        i,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    for want in [
        format!("{INPUT_LEN} -> "),
        "ratio ".into(),
        format!("model: {fp} (not built in)"),
        "codecs: neural+match+long x5".into(),
        "time: ".into(),
        "MB/s".into(),
        "thread".into(),
        "kernels".into(),
    ] {
        assert!(e.contains(&want), "-v lacks {want:?}:\n{e}");
    }
    assert!(!e.contains("chunk 0:"), "{e}");
    for args in [vec!["-d", "-c", "-vv", a], vec!["-t", "-vv", a]] {
        let o = run(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        let e = stderr(&o);
        for want in [
            "codecs: neural+match+long x5",
            "chunk 0: neural+match+long 1000 -> ",
            "chunk 4: neural+match+long 1000 -> ",
            "time: ",
        ] {
            assert!(e.contains(want), "{args:?} -vv lacks {want:?}:\n{e}");
        }
    }
    // -q: no summary.
    let o = run(&["-q", "-c", "--model", m, i]);
    assert!(o.status.success());
    assert_eq!(stderr(&o), "");
    // --rm with -c keeps the input: a notice, gone with -qq.
    let o = run(&["-q", "-c", "--rm", "--model", m, i]);
    assert!(stderr(&o).contains("kept"), "{}", stderr(&o));
    let o = run(&["-qq", "-c", "--rm", "--model", m, i]);
    assert_eq!(stderr(&o), "");
    assert!(f.input.exists());
    // Errors are printed at every level.
    let o = run(&["-qq", "-d", s(&f.dir.path().join("missing.boa"))]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("missing.boa"), "{}", stderr(&o));
}

/// Every command's `--help` ends with examples, and every example names the
/// command it shows.
#[test]
fn help_has_examples() {
    for (args, cmd) in [
        (vec!["--help"], "boa-det"),
        (vec!["compress", "--help"], "boa-det compress"),
        (vec!["decompress", "--help"], "boa-det decompress"),
        (vec!["verify", "--help"], "boa-det verify"),
        (vec!["list", "--help"], "boa-det list"),
        (vec!["bench", "--help"], "boa-det bench"),
        (vec!["man", "--help"], "boa-det man"),
        (vec!["completions", "--help"], "boa-det completions"),
    ] {
        let o = run(&args);
        assert!(o.status.success(), "{args:?}");
        let out = stdout(&o);
        let examples = out
            .split("Examples:\n")
            .nth(1)
            .unwrap_or_else(|| panic!("{args:?} has no examples:\n{out}"));
        assert!(examples.contains(cmd), "{args:?}:\n{examples}");
    }
}

/// `completions SHELL` prints a script for each shell clap_complete knows,
/// naming the subcommands and options; `man` prints a page or writes one per
/// command, never replacing a page without -f.
#[test]
fn completions_and_manual_pages() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = run(&["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let script = stdout(&o);
        for word in ["decompress", "verify", "max-output", "record-size"] {
            assert!(script.contains(word), "{shell} script lacks {word}");
        }
    }
    let o = run(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
    if Command::new("bash").arg("--version").output().is_ok() {
        // The bash script loads in bash and registers its completion.
        let o = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source <(\"{BIN}\" completions bash) && complete -p boa-det"
            ))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains("boa-det"), "{}", stdout(&o));
    }

    let o = run(&["man"]);
    assert!(o.status.success());
    let page = stdout(&o);
    assert!(page.starts_with(".ie") || page.contains(".TH"), "{page}");
    assert!(page.contains(".TH boa-det 1"), "{page}");
    assert!(page.contains(env!("CARGO_PKG_VERSION")), "{page}");

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("man1");
    let o = run(&["man", "-o", s(&d)]);
    assert!(o.status.success(), "{}", stderr(&o));
    for cmd in [
        "boa-det",
        "boa-det-compress",
        "boa-det-decompress",
        "boa-det-verify",
        "boa-det-list",
        "boa-det-bench",
        "boa-det-model",
        "boa-det-vectors",
    ] {
        let p = d.join(format!("{cmd}.1"));
        let text = std::fs::read_to_string(&p).unwrap_or_else(|_| panic!("no {cmd}.1"));
        assert!(text.contains(".TH"), "{cmd}.1");
    }
    let decompress = std::fs::read_to_string(d.join("boa-det-decompress.1")).unwrap();
    assert!(decompress.contains("max\\-output"), "{decompress}");
    assert!(!decompress.contains("record\\-size"), "{decompress}");
    // Existing pages are kept without -f and replaced with it.
    std::fs::write(d.join("boa-det.1"), "mine").unwrap();
    let o = run(&["man", "-o", s(&d)]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(d.join("boa-det.1")).unwrap(),
        "mine"
    );
    let o = run(&["man", "-f", "-o", s(&d)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        std::fs::read_to_string(d.join("boa-det.1"))
            .unwrap()
            .contains(".TH")
    );
}

/// docs/CLI.md documents `bench` with every option `bench --help` lists.
#[test]
fn bench_is_documented() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/CLI.md")).unwrap();
    let section = doc
        .split("\n## Bench")
        .nth(1)
        .expect("docs/CLI.md has a '## Bench' section");
    let section = section.split("\n## ").next().unwrap();
    let help = stdout(&run(&["bench", "--help"]));
    let options: Vec<&str> = help
        .split_whitespace()
        .filter(|w| w.starts_with("--") && *w != "--help")
        .map(|w| w.trim_end_matches([',', '.']))
        .collect();
    assert!(options.len() >= 5, "{help}");
    for opt in options {
        assert!(
            section.contains(opt),
            "docs/CLI.md's Bench section lacks {opt}"
        );
    }
}

/// On a terminal the bar moves per chunk and shows bytes, the ratio so far
/// (from each chunk as it is encoded) and speed; with -q, or when standard
/// error is not a terminal, it is not drawn.
#[test]
fn progress_bar_on_a_terminal() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: no `script` to give the binary a terminal");
        return;
    }
    let f = fixture();
    let big = f.dir.path().join("big.txt");
    let text: Vec<u8> = (0..200_000u32)
        .map(|k| b"0123456789 event\n"[(k % 17) as usize])
        .collect();
    std::fs::write(&big, &text).unwrap();
    let typescript = f.dir.path().join("typescript");
    let shell = |args: &str| {
        format!(
            "\"{BIN}\" {args} --model \"{}\" --no-match --chunk-size 4K -T 1 -f \"{}\"",
            s(&f.model),
            s(&big)
        )
    };
    // `script -q -e -c CMD FILE` runs CMD on a pseudo-terminal.
    let o = Command::new("script")
        .args(["-q", "-e", "-c", &shell(""), s(&typescript)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let seen = String::from_utf8_lossy(&std::fs::read(&typescript).unwrap()).into_owned();
    assert!(seen.contains("ratio"), "no ratio on the bar:\n{seen}");
    assert!(seen.contains("/s"), "no speed on the bar:\n{seen}");
    assert!(seen.contains("KiB"), "no byte counts on the bar:\n{seen}");
    // The bar was redrawn as chunks completed (several positions seen).
    let redraws = seen.matches('\r').count() + seen.matches("\x1b[").count();
    assert!(redraws >= 2, "the bar did not move:\n{seen}");
    // -q: no bar, no summary.
    let o = Command::new("script")
        .args(["-q", "-e", "-c", &shell("-q"), s(&typescript)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let seen = String::from_utf8_lossy(&std::fs::read(&typescript).unwrap()).into_owned();
    assert!(!seen.contains("ratio"), "-q drew a bar:\n{seen}");
    // Standard error not a terminal: no bar, the summary only.
    let o = run(&[
        "--model",
        s(&f.model),
        "--no-match",
        "-f",
        "--chunk-size",
        "4K",
        s(&big),
    ]);
    assert!(o.status.success());
    assert!(!stderr(&o).contains("ETA"), "{}", stderr(&o));
}
