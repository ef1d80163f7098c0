//! The `boa-det` binary under hostile conditions: signals mid-run, outputs
//! that are devices, FIFOs, symbolic links or the input itself, several
//! inputs with failures, concatenated archives, `--rm` and `-r`
//! (docs/CLI.md, "Files" and "Several inputs"). Inputs are small and use the
//! built-in model, so the suite runs in seconds.

#![cfg(unix)]

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_boa-det");

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let p = std::env::temp_dir().join(format!("boa-det-rob-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    /// Writes a small text input `name` and returns its path and bytes.
    fn input(&self, name: &str, seed: u8) -> (PathBuf, Vec<u8>) {
        let p = self.path(name);
        let data: Vec<u8> = format!("{name}: robustness test line {seed} 0123456789\n")
            .into_bytes()
            .into_iter()
            .cycle()
            .take(1500 + 100 * seed as usize)
            .collect();
        std::fs::write(&p, &data).unwrap();
        (p, data)
    }
    /// The names in the folder, sorted.
    fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
    fn has_temporary(&self) -> bool {
        self.names().iter().any(|n| n.contains("boa-det-tmp"))
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

fn run_in(dir: &Dir, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(&dir.0)
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn ok(o: &Output) {
    assert!(o.status.success(), "{:?}: {}", o.status, stderr(o));
    assert!(!stderr(o).contains("panicked"), "{}", stderr(o));
}

fn fails(o: &Output, code: i32, says: &str) {
    assert_eq!(o.status.code(), Some(code), "{}", stderr(o));
    assert!(
        stderr(o).contains(says),
        "wanted {says:?} in: {}",
        stderr(o)
    );
    assert!(!stderr(o).contains("panicked"), "{}", stderr(o));
}

/// Decompresses `archive` (a path) to standard output.
fn decoded(archive: &Path) -> Vec<u8> {
    let o = run(&["-d", "-c", s(archive)]);
    ok(&o);
    o.stdout
}

/// Starts compressing ~1.5 MB with one thread, waits for its temporary
/// output, sends `signal` and checks: exit 128 + number, no temporary or
/// partial output left, the input intact.
fn interrupted_by(signal: &str, number: i32) {
    let d = Dir::new(&format!("sig{signal}"));
    let input = d.path("big.bin");
    // Pseudo-random digits in lines: every chunk runs the model at full
    // cost. (Random bytes would not: they are detected as incompressible
    // and stored in milliseconds, so the signal could come after the
    // output was complete.)
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let data: Vec<u8> = (0..1_500_000)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if i % 64 == 63 {
                b'\n'
            } else {
                b'0' + ((x >> 24) % 10) as u8
            }
        })
        .collect();
    std::fs::write(&input, &data).unwrap();
    let child = Command::new(BIN)
        .args(["-q", "-T", "1", s(&input)])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !d.has_temporary() && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(d.has_temporary(), "temporary output never appeared");
    let k = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(k.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(128 + number), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("SIG{signal}")),
        "{}",
        stderr(&o)
    );
    assert_eq!(d.names(), ["big.bin"], "temporary or partial output left");
    assert!(std::fs::read(&input).unwrap() == data, "input changed");
}

#[test]
fn sigint_removes_the_temporary_output() {
    interrupted_by("INT", 2);
}

#[test]
fn sigterm_removes_the_temporary_output() {
    interrupted_by("TERM", 15);
}

#[test]
fn sighup_removes_the_temporary_output() {
    interrupted_by("HUP", 1);
}

#[test]
fn fifo_output_is_written_into() {
    let d = Dir::new("fifo");
    let (input, data) = d.input("in.txt", 1);
    let fifo = d.path("pipe");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    // No -f needed: a FIFO is written into, not replaced.
    ok(&run(&["-q", s(&input), "-o", s(&fifo)]));
    let archive = reader.join().unwrap();
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    assert!(!d.has_temporary());
    let back = d.path("back.boa");
    std::fs::write(&back, &archive).unwrap();
    assert_eq!(decoded(&back), data);
    // And decompression into a FIFO.
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    ok(&run(&["-d", "-q", s(&back), "-o", s(&fifo)]));
    assert_eq!(reader.join().unwrap(), data);
}

/// Fails unless /dev/null is still the character device; a regression that
/// replaced it (possible when the tests run as root) is repaired first, so
/// the machine is not left without it.
fn assert_dev_null_is_a_device() {
    let m = std::fs::symlink_metadata("/dev/null").unwrap();
    if !m.file_type().is_char_device() {
        // Made beside it and renamed over it: if mknod is not allowed, the
        // replacement stays rather than no /dev/null at all.
        let made = Command::new("mknod")
            .args(["-m", "666", "/dev/.null-repair", "c", "1", "3"])
            .status()
            .is_ok_and(|st| st.success());
        if made {
            let _ = std::fs::rename("/dev/.null-repair", "/dev/null");
        }
        panic!("/dev/null was replaced by a {:?}", m.file_type());
    }
}

#[test]
fn dev_null_stays_a_device() {
    let d = Dir::new("null");
    let (input, _) = d.input("in.txt", 1);
    for force in [false, true] {
        let mut args = vec!["-q", s(&input), "-o", "/dev/null"];
        if force {
            args.push("-f");
        }
        let o = run(&args);
        assert_dev_null_is_a_device();
        ok(&o);
    }
    ok(&run(&["-q", s(&input)]));
    let o = run(&["-d", "-q", s(&d.path("in.txt.boa")), "-o", "/dev/null"]);
    assert_dev_null_is_a_device();
    ok(&o);
    assert_eq!(d.names(), ["in.txt", "in.txt.boa"]);
}

#[test]
fn output_that_is_the_input_is_refused() {
    let d = Dir::new("same");
    let (input, data) = d.input("in", 1);
    std::os::unix::fs::symlink(&input, d.path("link")).unwrap();
    std::fs::hard_link(&input, d.path("hard")).unwrap();
    for out in ["in", "./in", "link", "hard", "../*/in"] {
        let out = if out.contains('*') {
            format!("../{}/in", d.0.file_name().unwrap().to_string_lossy())
        } else {
            out.to_string()
        };
        let o = run_in(&d, &["-q", "-f", "-o", &out, "in"]);
        fails(&o, 2, "is the input file");
        assert_eq!(
            std::fs::read(&input).unwrap(),
            data,
            "input damaged via {out}"
        );
    }
    // Standard input too.
    let o = Command::new(BIN)
        .current_dir(&d.0)
        .args(["-q", "-f", "-o", "in"])
        .stdin(std::fs::File::open(&input).unwrap())
        .output()
        .unwrap();
    fails(&o, 2, "is the input file");
    // Decompression.
    ok(&run_in(&d, &["-q", "in", "-o", "a.boa"]));
    let archive = std::fs::read(d.path("a.boa")).unwrap();
    let o = run_in(&d, &["-d", "-q", "-f", "-o", "./a.boa", "a.boa"]);
    fails(&o, 2, "is the input file");
    assert_eq!(std::fs::read(d.path("a.boa")).unwrap(), archive);
    assert!(!d.has_temporary());
    assert_eq!(std::fs::read(&input).unwrap(), data);
}

#[test]
fn symbolic_link_outputs_are_never_written_through() {
    let d = Dir::new("link");
    let (input, data) = d.input("in.txt", 1);
    let (target, target_data) = d.input("target", 2);
    let link = d.path("out.boa");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    // Without -f: refused, link and target as they were.
    let o = run(&["-q", s(&input), "-o", s(&link)]);
    fails(&o, 3, "symbolic link");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read(&target).unwrap(), target_data);
    // A dangling link is refused too, and nothing is created at its target.
    let dangling = d.path("dangling.boa");
    std::os::unix::fs::symlink(d.path("nowhere"), &dangling).unwrap();
    fails(
        &run(&["-q", s(&input), "-o", s(&dangling)]),
        3,
        "symbolic link",
    );
    assert!(!d.path("nowhere").exists());
    // With -f: the link itself is replaced; the target is untouched.
    ok(&run(&["-q", "-f", s(&input), "-o", s(&link)]));
    assert!(std::fs::symlink_metadata(&link).unwrap().is_file());
    assert_eq!(std::fs::read(&target).unwrap(), target_data);
    assert_eq!(decoded(&link), data);
    // A folder is never an output.
    std::fs::create_dir(d.path("folder")).unwrap();
    fails(
        &run(&["-q", "-f", s(&input), "-o", s(&d.path("folder"))]),
        3,
        "is a directory",
    );
    assert!(!d.has_temporary());
}

#[test]
fn several_inputs_go_on_past_a_missing_one() {
    let d = Dir::new("multi");
    let (a, a_data) = d.input("a", 1);
    let (b, b_data) = d.input("b", 2);
    let missing = d.path("missing");
    let o = run(&["-q", s(&a), s(&missing), s(&b)]);
    fails(&o, 3, "missing");
    assert!(
        stderr(&o).contains("1 of 3 inputs failed"),
        "{}",
        stderr(&o)
    );
    assert_eq!(decoded(&d.path("a.boa")), a_data);
    assert_eq!(decoded(&d.path("b.boa")), b_data);
    let (ab, mb, bb) = (d.path("a.boa"), d.path("missing.boa"), d.path("b.boa"));
    for mode in ["-t", "-l"] {
        let o = run(&["-q", mode, s(&ab), s(&mb), s(&bb)]);
        fails(&o, 3, "1 of 3 inputs failed");
    }
    std::fs::remove_file(&a).unwrap();
    std::fs::remove_file(&b).unwrap();
    let o = run(&["-d", "-q", s(&ab), s(&mb), s(&bb)]);
    fails(&o, 3, "missing.boa");
    assert_eq!(std::fs::read(&a).unwrap(), a_data);
    assert_eq!(std::fs::read(&b).unwrap(), b_data);
    // The first failure's code: a corrupt archive (5) before a missing one (3).
    std::fs::write(d.path("bad.boa"), b"not an archive").unwrap();
    let o = run(&["-t", "-q", s(&d.path("bad.boa")), s(&mb), s(&ab)]);
    fails(&o, 5, "2 of 3 inputs failed");
    // A folder without -r is a failed input.
    let o = run(&["-q", "-c", s(&d.0), s(&a)]);
    fails(&o, 3, "is a directory");
}

#[test]
fn stdout_with_several_inputs_is_a_concatenation_that_decodes() {
    let d = Dir::new("concat");
    let (a, a_data) = d.input("a", 1);
    let (b, b_data) = d.input("b", 3);
    let o = run(&["-q", "-c", s(&a), s(&b)]);
    ok(&o);
    let cat = d.path("ab.boa");
    std::fs::write(&cat, &o.stdout).unwrap();
    let both: Vec<u8> = a_data.iter().chain(&b_data).copied().collect();
    assert_eq!(decoded(&cat), both);
    // Through standard input too.
    let o = Command::new(BIN)
        .args(["-d", "-c"])
        .stdin(std::fs::File::open(&cat).unwrap())
        .output()
        .unwrap();
    ok(&o);
    assert_eq!(o.stdout, both);
    // A byte range across the boundary.
    let lo = a_data.len() - 10;
    let o = run(&[
        "-d",
        "-c",
        "--range",
        &format!("{lo}..{}", lo + 25),
        s(&cat),
    ]);
    ok(&o);
    assert_eq!(o.stdout, both[lo..lo + 25]);
    let o = run(&[
        "-d",
        "-c",
        "--range",
        &format!("0..{}", both.len() + 1),
        s(&cat),
    ]);
    fails(&o, 2, "outside");
    let o = run(&["-t", s(&cat)]);
    ok(&o);
    assert!(
        stderr(&o).contains("OK (2 members, 2 chunks"),
        "{}",
        stderr(&o)
    );
    let o = run(&["-l", s(&cat)]);
    ok(&o);
    let listing = String::from_utf8_lossy(&o.stdout);
    assert!(listing.contains("members:         2"), "{listing}");
    assert!(
        listing.contains(&format!("original size:   {}", both.len())),
        "{listing}"
    );
    // Decompressing several archives to stdout concatenates their contents.
    ok(&run(&["-q", s(&a), s(&b)]));
    let o = run(&["-d", "-c", s(&d.path("a.boa")), s(&d.path("b.boa"))]);
    ok(&o);
    assert_eq!(o.stdout, both);
    // Bytes after or before the archives are still refused.
    let mut tail = std::fs::read(&cat).unwrap();
    tail.extend_from_slice(b"junk");
    std::fs::write(&cat, &tail).unwrap();
    fails(&run(&["-t", s(&cat)]), 5, "not a valid .boa archive");
    let mut head = b"junk".to_vec();
    head.extend_from_slice(&tail[..tail.len() - 4]);
    std::fs::write(&cat, &head).unwrap();
    fails(&run(&["-t", s(&cat)]), 5, "not an archive");
    // A damaged chunk is named with its member.
    let mut bad = tail[..tail.len() - 4].to_vec();
    let second = std::fs::read(d.path("a.boa")).unwrap().len();
    bad[second + 50] ^= 0x10;
    std::fs::write(&cat, &bad).unwrap();
    fails(&run(&["-t", s(&cat)]), 5, "member 2: chunk 0 is bad");
    let out = d.path("out");
    fails(&run(&["-d", s(&cat), "-o", s(&out)]), 5, "member 2");
    assert!(!out.exists() && !d.has_temporary());
}

#[test]
fn rm_removes_inputs_only_after_a_checked_output() {
    let d = Dir::new("rm");
    let (a, a_data) = d.input("a", 1);
    let boa = d.path("a.boa");
    ok(&run(&["-q", "--rm", s(&a)]));
    assert!(!a.exists());
    assert_eq!(decoded(&boa), a_data);
    ok(&run(&["-d", "-q", "--rm", s(&boa)]));
    assert!(!boa.exists());
    assert_eq!(std::fs::read(&a).unwrap(), a_data);
    // Failures keep the input: an existing output without -f, a folder that
    // does not exist.
    std::fs::write(&boa, b"in the way").unwrap();
    fails(&run(&["-q", "--rm", s(&a)]), 3, "already exists");
    assert_eq!(std::fs::read(&a).unwrap(), a_data);
    std::fs::remove_file(&boa).unwrap();
    let far = d.path("no/such/folder/a.boa");
    fails(
        &run(&["-q", "--rm", s(&a), "-o", s(&far)]),
        3,
        "cannot write",
    );
    assert_eq!(std::fs::read(&a).unwrap(), a_data);
    // Outputs that cannot be checked afterwards keep the input.
    let o = run(&["--rm", "-c", s(&a)]);
    ok(&o);
    assert!(stderr(&o).contains("kept"), "{}", stderr(&o));
    ok(&run(&["-q", "--rm", s(&a), "-o", "/dev/null"]));
    assert_eq!(std::fs::read(&a).unwrap(), a_data);
    // -k after --rm wins; --rm with --range is refused.
    ok(&run(&["-q", "--rm", "-k", s(&a)]));
    assert!(a.exists() && boa.exists());
    fails(
        &run(&["-d", "--rm", "--range", "0..5", s(&boa), "-o", "x"]),
        2,
        "--range",
    );
    assert!(boa.exists());
    // A corrupt archive is kept (and no output is left).
    std::fs::remove_file(&a).unwrap();
    let mut bad = std::fs::read(&boa).unwrap();
    bad[50] ^= 0x10;
    std::fs::write(&boa, &bad).unwrap();
    fails(&run(&["-d", "-q", "--rm", s(&boa)]), 5, "a.boa");
    assert_eq!(std::fs::read(&boa).unwrap(), bad);
    assert!(!a.exists() && !d.has_temporary());
}

#[test]
fn recursive_walk_compresses_and_restores_a_tree() {
    let d = Dir::new("tree");
    std::fs::create_dir_all(d.path("t/sub/deeper")).unwrap();
    let files = ["t/one", "t/sub/two", "t/sub/deeper/three"];
    let mut contents = Vec::new();
    for (i, f) in files.iter().enumerate() {
        contents.push(d.input(f, i as u8).1);
    }
    // A link back up (a loop if followed) and a dangling link.
    std::os::unix::fs::symlink(d.path("t"), d.path("t/sub/up")).unwrap();
    std::os::unix::fs::symlink(d.path("t/gone"), d.path("t/sub/dangling")).unwrap();
    let o = run(&["-q", "-r", s(&d.path("t"))]);
    fails(&o, 3, "dangling");
    for f in files {
        assert!(d.path(&format!("{f}.boa")).exists(), "{f}.boa missing");
    }
    // The archives are not compressed again on a second run.
    let o = run(&["-q", "-r", "-f", s(&d.path("t"))]);
    assert!(!stderr(&o).contains(".boa.boa"));
    assert!(!d.path("t/one.boa.boa").exists());
    std::fs::remove_file(d.path("t/sub/dangling")).unwrap();
    ok(&run(&["-t", "-q", "-r", s(&d.path("t"))]));
    for f in files {
        std::fs::remove_file(d.path(f)).unwrap();
    }
    ok(&run(&["-d", "-q", "-r", "--rm", s(&d.path("t"))]));
    for (f, want) in files.iter().zip(&contents) {
        assert_eq!(&std::fs::read(d.path(f)).unwrap(), want);
        assert!(!d.path(&format!("{f}.boa")).exists());
    }
}
