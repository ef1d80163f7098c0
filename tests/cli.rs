//! End-to-end tests of the `boa-det` binary.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_boa-det");

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let p = std::env::temp_dir().join(format!("boa-det-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn run_stdin(args: &[&str], input: &[u8]) -> Output {
    run_stdin_env(args, input, &[])
}

fn run_stdin_env(args: &[&str], input: &[u8], env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn no_panic(o: &Output) {
    let e = stderr(o);
    assert!(
        !e.contains("panicked") && !e.contains("RUST_BACKTRACE"),
        "{e}"
    );
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A d=16 synthetic model file and a text input.
fn setup(d: &Dir, seed: u64) -> (PathBuf, PathBuf) {
    let model = d.path(&format!("m{seed}.safetensors"));
    let o = run(&[
        "model",
        "synth",
        "--d-model",
        "16",
        "--layers",
        "1",
        "--seed",
        &seed.to_string(),
        "-o",
        s(&model),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let input = d.path("in.txt");
    let text: Vec<u8> = b"boa-det cli test line 0123456789\n"
        .iter()
        .copied()
        .cycle()
        .take(5000)
        .collect();
    std::fs::write(&input, text).unwrap();
    (model, input)
}

#[test]
fn round_trip_files_and_short_forms() {
    let d = Dir::new("rt");
    let (m, input) = setup(&d, 1);
    let o = run(&["-q", "--model", s(&m), "--chunk-size", "1K", s(&input)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let boa = d.path("in.txt.boa");
    assert!(boa.exists() && input.exists());
    let out = d.path("back.txt");
    let o = run(&["-d", "--model", s(&m), s(&boa), "-o", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&input).unwrap());
    // Subcommand forms, -t and -l.
    let o = run(&["verify", "--model", s(&m), s(&boa)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["-t", "--model", s(&m), s(&boa)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(": OK (5 chunks, 5000 bytes, model "),
        "{}",
        stderr(&o)
    );
    let one = d.path("one.boa");
    let o = run(&[
        "-q",
        "--model",
        s(&m),
        "--chunk-size",
        "8K",
        s(&input),
        "-o",
        s(&one),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["-t", "--model", s(&m), s(&one)]);
    assert!(
        stderr(&o).contains(": OK (1 chunk, 5000 bytes"),
        "{}",
        stderr(&o)
    );
    // The help names no model version that may go stale.
    let help = String::from_utf8_lossy(&run(&["--help"]).stdout).into_owned();
    assert!(
        help.contains("--chunk-size") && !help.contains("v3"),
        "{help}"
    );
    let o = run(&["-l", s(&boa)]);
    assert!(o.status.success());
    let listing = String::from_utf8_lossy(&o.stdout);
    assert!(listing.contains("chunks:          5"), "{listing}");
    // Decompress to the stripped name.
    std::fs::remove_file(&input).unwrap();
    let o = run(&["decompress", "--model", s(&m), s(&boa)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(input.exists());
    // Range.
    let o = run(&[
        "-d",
        "--model",
        s(&m),
        "--range",
        "100..1500",
        "-c",
        s(&boa),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout, &std::fs::read(&input).unwrap()[100..1500]);
}

/// Compresses `input` into `boa` with `--model m --chunk-size 1K` and
/// `flags`, checks that it decodes to the input, and returns `boa-det -l`'s
/// listing.
fn compress_list_decode(m: &Path, input: &Path, boa: &Path, flags: &[&str]) -> String {
    let mut args = vec!["-q", "--model", s(m), "--chunk-size", "1K"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[s(input), "-o", s(boa)]);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["-d", "--model", s(m), "-c", s(boa)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout, std::fs::read(input).unwrap());
    let o = run(&["-l", s(boa)]);
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The default codec on text mixes in the match model with its long finder
/// and the text field histograms (format version 6, codec
/// neural+match+long+text); `--text-fields off` writes codec
/// neural+match+long (format version 4), `--no-long` codec neural+match
/// (format version 2), `--no-match` the network alone in format version 1.
/// All decode, and on repetitive text the match model's archive is smaller.
#[test]
fn match_model_is_default_and_no_match_writes_format_1() {
    let d = Dir::new("match");
    let (m, input) = setup(&d, 1);
    let mut sizes = Vec::new();
    for (flags, version, codecs) in [
        (&[][..], "6", "neural+match+long+text x5"),
        (&["--text-fields", "off"][..], "4", "neural+match+long x5"),
        (&["--no-long"][..], "2", "neural+match x5"),
        // The untrained synthetic model alone does not shrink the text, so
        // without the match model every chunk is stored.
        (&["--no-match"][..], "1", "stored x5"),
    ] {
        let boa = d.path(&format!("in{version}.boa"));
        let listing = compress_list_decode(&m, &input, &boa, flags);
        assert!(
            listing.contains(&format!("format version:  {version}")),
            "{listing}"
        );
        assert!(
            listing.contains(&format!("codecs:          {codecs}")),
            "{listing}"
        );
        sizes.push(std::fs::metadata(&boa).unwrap().len());
    }
    assert!(
        sizes[0] * 2 < sizes[3] && sizes[1] * 2 < sizes[3] && sizes[2] * 2 < sizes[3],
        "{sizes:?}"
    );
}

/// `--record-size N` adds the column finder and the column histograms: codec
/// neural+match+long+columns+hist (format version 5); `--format-version 4`
/// leaves out the histograms, `--no-long` or `--format-version 3` also the
/// long finder, `--format-version 2` the column finder, `--format-version 1`
/// the match model; `off` leaves out the column finder, which on this text
/// makes the trial choose the text field histograms (codec
/// neural+match+long+text, format version 6) unless `--text-fields off` or
/// `--format-version 5`; `--text-fields on` uses them instead of a column
/// finder; all decode. Bad values, `--no-match` with a record size or
/// `--no-long`, and `--no-long` with `--text-fields` are usage errors that
/// write nothing.
#[test]
fn record_size_selects_the_column_codec() {
    let d = Dir::new("records");
    let (m, input) = setup(&d, 1);
    for (size, extra, version, codec) in [
        ("24", &[][..], "5", "neural+match+long+columns+hist"),
        (
            "24",
            &["--format-version", "5"],
            "5",
            "neural+match+long+columns+hist",
        ),
        (
            "24",
            &["--format-version", "4"],
            "4",
            "neural+match+long+columns",
        ),
        ("24", &["--no-long"], "3", "neural+match+columns"),
        (
            "24",
            &["--format-version", "3"],
            "3",
            "neural+match+columns",
        ),
        ("24", &["--format-version", "2"], "2", "neural+match"),
        ("24", &["--format-version", "1"], "1", "stored"),
        ("off", &["--no-long"], "2", "neural+match"),
        ("off", &[], "6", "neural+match+long+text"),
        ("off", &["--text-fields", "off"], "4", "neural+match+long"),
        ("off", &["--format-version", "5"], "4", "neural+match+long"),
        (
            "24",
            &["--text-fields", "on"],
            "6",
            "neural+match+long+text",
        ),
    ] {
        let boa = d.path(&format!("rec-{size}-{}.boa", extra.join("")));
        let mut flags = vec!["--record-size", size];
        flags.extend_from_slice(extra);
        let listing = compress_list_decode(&m, &input, &boa, &flags);
        assert!(
            listing.contains(&format!("format version:  {version}")),
            "{listing}"
        );
        assert!(listing.contains(&format!("{codec} x")), "{listing}");
    }
    let boa = d.path("bad.boa");
    for bad in [
        &["--record-size", "1"][..],
        &["--record-size", "x"],
        &["--no-match", "--record-size", "8"],
        &["--no-match", "--no-long"],
        &["--format-version", "0"],
        &["--format-version", "12"],
        &["--text-fields", "yes"],
        &["--no-long", "--text-fields", "on"],
    ] {
        let mut args = vec!["-q", "--model", s(&m)];
        args.extend_from_slice(bad);
        args.extend_from_slice(&[s(&input), "-o", s(&boa)]);
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", stderr(&o));
        assert!(!boa.exists());
    }
}

#[test]
fn stdin_stdout_and_thread_identity() {
    let d = Dir::new("stdio");
    let (m, input) = setup(&d, 1);
    let data = std::fs::read(&input).unwrap();
    let mut archives = Vec::new();
    for t in ["1", "2", "3"] {
        let o = run_stdin(
            &["-q", "-T", t, "--model", s(&m), "--chunk-size", "100"],
            &data,
        );
        assert!(o.status.success(), "{}", stderr(&o));
        archives.push(o.stdout);
    }
    assert!(archives.windows(2).all(|w| w[0] == w[1]));
    let o = run_stdin(&["-d", "--model", s(&m)], &archives[0]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout, data);
    let o = run_stdin(&["-d", "--model", s(&m), "-"], &archives[0]);
    assert_eq!(o.stdout, data);
    // Embedded model: no --model needed.
    let o = run_stdin(&["-q", "--model", s(&m), "--embed-model"], &data);
    let o = run_stdin(&["-d"], &o.stdout);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout, data);
}

/// An archive on stdin larger than the in-memory spool limit goes through the
/// temporary file (the limit lowered to a few bytes by `BOA_DET_SPOOL_MEMORY`,
/// since an archive past the real 64 MiB takes minutes to make here):
/// decompress, list and verify give the same results as from a file.
#[test]
fn stdin_archive_past_the_spool_limit() {
    let d = Dir::new("spool");
    let (m, input) = setup(&d, 1);
    let data = std::fs::read(&input).unwrap();
    let boa = d.path("in.boa");
    let o = run(&[
        "-q",
        "--model",
        s(&m),
        "--chunk-size",
        "100",
        s(&input),
        "-o",
        s(&boa),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let archive = std::fs::read(&boa).unwrap();
    assert!(archive.len() > 100);
    for limit in ["0", "17", &(archive.len() - 1).to_string()] {
        let env = [("BOA_DET_SPOOL_MEMORY", limit)];
        let o = run_stdin_env(&["-d", "--model", s(&m)], &archive, &env);
        assert!(o.status.success(), "limit {limit}: {}", stderr(&o));
        assert_eq!(o.stdout, data, "limit {limit}");
        // `list` takes no model: it reads the index only.
        for args in [vec!["list"], vec!["verify", "--model", s(&m)]] {
            let cmd = args[0];
            let from_file = run(&[&args[..], &[s(&boa)]].concat());
            let piped = run_stdin_env(&[&args[..], &["-"]].concat(), &archive, &env);
            assert!(
                piped.status.success(),
                "{cmd}, limit {limit}: {}",
                stderr(&piped)
            );
            assert_eq!(piped.status.code(), from_file.status.code());
        }
    }
    // A truncated archive through the file path is still refused cleanly.
    let env = [("BOA_DET_SPOOL_MEMORY", "0")];
    let o = run_stdin_env(
        &["-d", "--model", s(&m)],
        &archive[..archive.len() / 2],
        &env,
    );
    assert!(!o.status.success());
    no_panic(&o);
    // An unparsable limit is a usage error, not a silent default.
    let env = [("BOA_DET_SPOOL_MEMORY", "lots")];
    let o = run_stdin_env(&["-d", "--model", s(&m)], &archive, &env);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("BOA_DET_SPOOL_MEMORY"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn refusals() {
    let d = Dir::new("refuse");
    let (m, input) = setup(&d, 1);
    let (m2, _) = setup(&d, 2);
    let o = run(&["-q", "--model", s(&m), s(&input)]);
    assert!(o.status.success());
    let boa = d.path("in.txt.boa");
    let before = std::fs::read(&boa).unwrap();
    // Refuse to overwrite without -f.
    let o = run(&["-q", "--model", s(&m2), s(&input)]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&boa).unwrap(), before);
    let o = run(&["-q", "-f", "--model", s(&m), s(&input)]);
    assert!(o.status.success());
    // Wrong suffix.
    let o = run(&["-d", "--model", s(&m), s(&input)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("suffix"), "{}", stderr(&o));
    // The built-in default model: compress without --model, decode by fingerprint.
    let dflt = d.path("default.boa");
    let o = run(&["-q", s(&input), "-o", s(&dflt)]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Default v3's chunk length (docs/MODELS.md, "Longer chunks").
    let o = run(&["list", s(&dflt)]);
    let listing = String::from_utf8_lossy(&o.stdout);
    assert!(listing.contains("of 262144 bytes"), "{listing}");
    let back = d.path("default.back");
    let o = run(&["-d", "-q", s(&dflt), "-o", s(&back)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&back).unwrap(),
        std::fs::read(&input).unwrap()
    );
    // --device cuda without a GPU (or for a model its kernels do not
    // implement): exit 2 before any work, nothing written. With a GPU that
    // runs the model, the archive is the CPU's.
    let cuda_out = d.path("cuda.boa");
    let o = run(&[
        "--device",
        "cuda",
        "--model",
        s(&m),
        s(&input),
        "-o",
        s(&cuda_out),
    ]);
    let err = stderr(&o);
    if err.contains("CUDA unavailable: ") || err.contains("CUDA kernels: ") {
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(!cuda_out.exists());
    } else {
        assert!(o.status.success(), "{err}");
        assert_eq!(
            std::fs::read(&cuda_out).unwrap(),
            std::fs::read(&boa).unwrap()
        );
    }
    // Wrong model refused, naming both fingerprints; no output left behind.
    let out = d.path("x.out");
    let o = run(&["-d", "--model", s(&m2), s(&boa), "-o", s(&out)]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("fingerprint"), "{e}");
    assert!(!out.exists());
    no_panic(&o);
    // Missing input.
    let o = run(&["--model", s(&m), s(&d.path("nope"))]);
    assert_eq!(o.status.code(), Some(3));
    no_panic(&o);
}

#[test]
fn corrupt_archive_verify_names_chunk() {
    let d = Dir::new("corrupt");
    let (m, input) = setup(&d, 1);
    let o = run(&["-q", "--model", s(&m), "--chunk-size", "1000", s(&input)]);
    assert!(o.status.success());
    let boa = d.path("in.txt.boa");
    let l = run(&["-l", "-v", s(&boa)]);
    let listing = String::from_utf8_lossy(&l.stdout).into_owned();
    // Corrupt the payload of chunk 2.
    let line = listing.lines().find(|l| l.contains("chunk 2:")).unwrap();
    let offset: usize = line.rsplit(' ').next().unwrap().parse().unwrap();
    let mut a = std::fs::read(&boa).unwrap();
    a[offset + 3] ^= 0x20;
    std::fs::write(&boa, &a).unwrap();
    let o = run(&["verify", "--model", s(&m), s(&boa)]);
    assert_eq!(o.status.code(), Some(5));
    assert!(stderr(&o).contains("chunk 2"), "{}", stderr(&o));
    no_panic(&o);
    let out = d.path("o.txt");
    let o = run(&["-d", "--model", s(&m), s(&boa), "-o", s(&out)]);
    assert_eq!(o.status.code(), Some(5));
    assert!(!out.exists(), "partial output left behind");
    no_panic(&o);
    // Garbage and truncated archives.
    std::fs::write(&boa, &a[..a.len() / 2]).unwrap();
    let o = run(&["-t", "--model", s(&m), s(&boa)]);
    assert_eq!(o.status.code(), Some(5));
    no_panic(&o);
    let o = run_stdin(&["-d", "--model", s(&m)], b"not an archive at all");
    assert_eq!(o.status.code(), Some(5));
    no_panic(&o);
}

#[test]
fn empty_input_round_trip() {
    let d = Dir::new("empty");
    let (m, _) = setup(&d, 1);
    let o = run_stdin(&["--model", s(&m)], b"");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout.len(), 116);
    // No ratio for nothing.
    let e = stderr(&o);
    assert!(e.contains("<stdin>: empty input -> 116 bytes"), "{e}");
    assert!(!e.contains('%'), "{e}");
    let o = run_stdin(&["-d"], &o.stdout);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
}

/// Ctrl-C while writing a file: exit 130, no output and no temporary file left.
#[cfg(unix)]
#[test]
fn interrupt_removes_partial_output() {
    let d = Dir::new("sigint");
    let model = d.path("big.safetensors");
    let o = run(&[
        "model",
        "synth",
        "--d-model",
        "64",
        "--layers",
        "2",
        "-o",
        s(&model),
    ]);
    assert!(o.status.success());
    let input = d.path("big.bin");
    std::fs::write(&input, vec![7u8; 4 << 20]).unwrap();
    let out = d.path("big.boa");
    let child = Command::new(BIN)
        .args(["-q", "-T1", "--model", s(&model), s(&input), "-o", s(&out)])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the temporary output exists.
    let start = std::time::Instant::now();
    let has_tmp = || {
        std::fs::read_dir(&d.0).unwrap().any(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .contains("boa-det-tmp")
        })
    };
    while !has_tmp() && start.elapsed().as_secs() < 20 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(has_tmp(), "temporary output never appeared");
    let k = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(k.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert!(!out.exists());
    assert!(!has_tmp(), "temporary output left behind");
}

/// `boa-det -dc X | head -c 1`: the reader closes the pipe early; boa-det exits
/// quietly with 141 (as if killed by SIGPIPE), without an error message.
#[test]
fn closed_stdout_pipe_is_quiet() {
    let d = Dir::new("pipe");
    let input = d.path("big.bin");
    // stored chunks (incompressible bytes under any model) decode fast; 4 MiB
    // is far more than a pipe buffer
    let mut rng = boa_det::model::synth::SplitMix64(9);
    let mut data = vec![0u8; 4 << 20];
    rng.fill_bytes(&mut data);
    std::fs::write(&input, &data).unwrap();
    let (model, _) = setup(&d, 5);
    let arch = d.path("big.bin.boa");
    let o = run(&[
        "compress",
        "-q",
        "--model",
        s(&model),
        s(&input),
        "-o",
        s(&arch),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut child = Command::new(BIN)
        .args(["decompress", "-c", "--model", s(&model), s(&arch)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut one = [0u8; 1];
    child.stdout.take().unwrap().read_exact(&mut one).unwrap(); // then drop: closed
    let out = child.wait_with_output().unwrap();
    no_panic(&out);
    assert_eq!(out.status.code(), Some(141), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
}

/// Report commands (`model info`, `vectors check`, ...) print with `outln!`:
/// a reader that closed stdout before they write gives the same quiet 141,
/// never the panic of `println!`.
#[test]
fn report_commands_on_closed_stdout_are_quiet() {
    let d = Dir::new("pipe-report");
    let (model, _) = setup(&d, 6);
    for args in [
        vec!["model", "info", s(&model)],
        vec!["vectors", "check", "portability-vectors"],
    ] {
        // a pipe whose reader is gone before the child starts: its first
        // write fails with EPIPE (no race with the pipe buffer)
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(BIN)
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        no_panic(&out);
        assert_eq!(out.status.code(), Some(141), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
    }
}

/// `model eval --dump-frequencies` writes, per input byte, the network's and
/// the coded frequency; the coded ones sum to exactly the code length that
/// `--json` reports, and the match model visibly changes some of them.
#[test]
fn model_eval_dumps_the_coded_frequencies() {
    let d = Dir::new("evaldump");
    let (m, input) = setup(&d, 41);
    let dump = d.path("freqs.bin");
    let args = [
        "model",
        "eval",
        s(&m),
        s(&input),
        "--match-model",
        "--chunk-size",
        "1000",
        "--json",
        "--dump-frequencies",
        s(&dump),
    ];
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let raw = std::fs::read(&dump).unwrap();
    let n = std::fs::metadata(&input).unwrap().len() as usize;
    assert_eq!(raw.len(), 8 * n);
    let word = |k: usize| u32::from_le_bytes(raw[4 * k..4 * k + 4].try_into().unwrap());
    let (mut bits, mut changed) = (0.0f64, 0usize);
    for i in 0..n {
        let (network, coded) = (word(2 * i), word(2 * i + 1));
        assert!(network >= 1 && (1..1 << 24).contains(&coded));
        bits += 24.0 - (coded as f64).log2();
        changed += (network != coded) as usize;
    }
    let reported = report["bits"].as_f64().unwrap();
    assert!(
        (bits - reported).abs() < 1e-6 * reported,
        "{bits} vs {reported}"
    );
    assert!(
        changed > n / 2,
        "the match model changed only {changed} of {n}"
    );
    // Never overwrites: the second run refuses and leaves the dump as it was.
    let o = run(&args);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(std::fs::read(&dump).unwrap(), raw);
    // One input only.
    let o = run(&[
        "model",
        "eval",
        s(&m),
        s(&input),
        s(&input),
        "--dump-frequencies",
        s(&d.path("other.bin")),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    no_panic(&o);
}
