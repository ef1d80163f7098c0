//! Source scan: no floating point in the kernels or in the integer engine.
//!
//! `kernels/` (`.cu`, `.cuh`, `.h`, `.c`) must not name a float type, a float
//! intrinsic or fast-math outside comments; `src/intmath`, `src/cm`, `src/engine`,
//! `src/model`, `src/mixing`, and `src/coder` must not use
//! `f32`/`f64`, `as f..` casts or float methods outside comments and outside
//! their tests (top-level `#[cfg(test)]` modules and `tests.rs` files, which
//! are only such modules: a test may check an integer table against floating
//! point). `src/cli` is not scanned.

use std::path::{Path, PathBuf};

fn files(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = entry.unwrap().path();
        if p.is_dir() {
            files(&p, exts, out);
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| exts.contains(&e))
        {
            out.push(p);
        }
    }
}

/// Removes `//` line comments and `/* */` block comments (string literals in
/// these sources never contain comment markers).
fn strip_comments(src: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut in_block = false;
    for line in src.lines() {
        let mut kept = String::new();
        let mut rest = line;
        loop {
            if in_block {
                match rest.find("*/") {
                    Some(i) => {
                        rest = &rest[i + 2..];
                        in_block = false;
                    }
                    None => break,
                }
            } else {
                let line_c = rest.find("//");
                let block_c = rest.find("/*");
                match (line_c, block_c) {
                    (Some(l), Some(b)) if b < l => {
                        kept.push_str(&rest[..b]);
                        rest = &rest[b + 2..];
                        in_block = true;
                    }
                    (None, Some(b)) => {
                        kept.push_str(&rest[..b]);
                        rest = &rest[b + 2..];
                        in_block = true;
                    }
                    (Some(l), _) => {
                        kept.push_str(&rest[..l]);
                        break;
                    }
                    (None, None) => {
                        kept.push_str(rest);
                        break;
                    }
                }
            }
        }
        lines.push(kept);
    }
    lines
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `word` occurs in `line` as a token: no identifier character before
/// it (when it starts with one) and, for a whole identifier, none after it.
fn contains_token(line: &str, word: &str) -> bool {
    let mut start = 0;
    while let Some(i) = line[start..].find(word) {
        let at = start + i;
        let before = line[..at].chars().next_back();
        let after = line[at + word.len()..].chars().next();
        let left_ok = !word.starts_with(is_ident) || !before.is_some_and(is_ident);
        // Only whole identifiers need a right boundary: " as f" is a prefix pattern.
        let right_ok = !word.chars().all(is_ident) || !after.is_some_and(is_ident);
        if left_ok && right_ok {
            return true;
        }
        start = at + word.len();
    }
    false
}

/// Blanks the lines of top-level test modules (`#[cfg(test)]` at column 0,
/// through the `}` at column 0 that closes the module), keeping line numbers.
fn without_test_modules(mut lines: Vec<String>) -> Vec<String> {
    let mut i = 0;
    while i < lines.len() {
        let opens_module = lines[i] == "#[cfg(test)]"
            && lines
                .get(i + 1)
                .is_some_and(|l| l.contains("mod ") && l.trim_end().ends_with('{'));
        if opens_module {
            while i < lines.len() && lines[i] != "}" {
                lines[i].clear();
                i += 1;
            }
        }
        i += 1;
    }
    lines
}

fn scan(dirs: &[&str], exts: &[&str], forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = Vec::new();
    for d in dirs {
        files(&root.join(d), exts, &mut paths);
    }
    assert!(!paths.is_empty(), "no files found in {dirs:?}");
    let mut hits = Vec::new();
    for p in paths {
        // `tests.rs` is always a `#[cfg(test)] mod tests;` (checked below).
        if p.file_name().is_some_and(|n| n == "tests.rs") {
            let parent = std::fs::read_to_string(p.with_file_name("mod.rs"))
                .or_else(|_| std::fs::read_to_string(p.parent().unwrap().with_extension("rs")))
                .unwrap_or_default();
            assert!(
                parent.contains("#[cfg(test)]\nmod tests;"),
                "{} is not a test-only module",
                p.display()
            );
            continue;
        }
        let src = std::fs::read_to_string(&p).unwrap();
        let mut lines = strip_comments(&src);
        if p.extension().is_some_and(|e| e == "rs") {
            lines = without_test_modules(lines);
        }
        for (n, line) in lines.iter().enumerate() {
            for w in forbidden {
                if contains_token(line, w) {
                    hits.push(format!(
                        "{}:{}: `{w}` in: {}",
                        p.display(),
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    hits
}

const C_FORBIDDEN: &[&str] = &[
    "float",
    "double",
    "half",
    "__half",
    "__nv_bfloat16",
    "__expf",
    "expf(",
    "logf(",
    "rsqrtf",
    "sqrtf",
    "__fdividef",
    "fast-math",
    "use_fast_math",
];

const RUST_FORBIDDEN: &[&str] = &[
    "f32",
    "f64",
    " as f",
    ".sqrt(",
    ".exp(",
    ".exp2(",
    ".ln(",
    ".log2(",
    ".powf(",
    ".powi(",
    ".floor(",
    ".ceil(",
    ".round(",
    ".trunc(",
    ".recip(",
    ".mul_add(",
];

#[test]
fn kernels_have_no_floating_point() {
    let hits = scan(&["kernels"], &["cu", "cuh", "h", "c", "cpp"], C_FORBIDDEN);
    assert!(
        hits.is_empty(),
        "floating point in kernels:\n{}",
        hits.join("\n")
    );
}

/// Device intrinsics and inline assembly live in `kernels/boa_cuda_compat.h`
/// alone (under nvcc the CUDA intrinsic, on the host the emulator's plain
/// C++), so the emulator runs the same kernel code the GPU does; and every
/// `.cu` file includes that header first.
#[test]
fn kernels_reach_the_machine_only_through_the_compat_header() {
    const ONLY_IN_COMPAT: &[&str] = &["asm", "__dp4a", "__dp2a_lo", "__dp2a_hi", "mma", "__vadd4"];
    let hits: Vec<String> = scan(&["kernels"], &["cu", "cuh", "h", "c"], ONLY_IN_COMPAT)
        .into_iter()
        .filter(|h| !h.contains("boa_cuda_compat.h:"))
        .collect();
    assert!(
        hits.is_empty(),
        "intrinsics outside boa_cuda_compat.h:\n{}",
        hits.join("\n")
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("kernels");
    let mut cu = Vec::new();
    files(&root, &["cu"], &mut cu);
    assert!(!cu.is_empty());
    for p in cu {
        let src = std::fs::read_to_string(&p).unwrap();
        let first = src.lines().find(|l| l.starts_with("#include"));
        assert_eq!(
            first,
            Some("#include \"boa_cuda_compat.h\""),
            "{}: must include boa_cuda_compat.h first",
            p.display()
        );
    }
}

#[test]
fn integer_engine_has_no_floating_point() {
    let hits = scan(
        &[
            "src/intmath",
            "src/cm",
            "src/engine",
            "src/model",
            "src/mixing",
            "src/coder",
        ],
        &["rs"],
        RUST_FORBIDDEN,
    );
    assert!(
        hits.is_empty(),
        "floating point in the integer engine:\n{}",
        hits.join("\n")
    );
}

#[test]
fn the_scanner_finds_what_it_should() {
    let src = "int a; // float in a comment\n/* double\n half */ float b;\nhalf_t ok; x = expf(y);";
    let lines = strip_comments(src);
    let found: Vec<&str> = C_FORBIDDEN
        .iter()
        .copied()
        .filter(|w| lines.iter().any(|l| contains_token(l, w)))
        .collect();
    assert_eq!(found, ["float", "expf("]);
    assert!(contains_token("let x = y as f64;", " as f"));
    assert!(!contains_token("let buf32 = 1;", "f32"));
    assert!(contains_token("v.sqrt()", ".sqrt("));
    // Test modules are skipped, not what follows them.
    let src =
        "fn a() {}\n#[cfg(test)]\nmod tests {\n    fn t() { 1.0f64.log2(); }\n}\nfn b(x: f32) {}";
    let lines = without_test_modules(strip_comments(src));
    let hits: Vec<usize> = (0..lines.len())
        .filter(|&i| contains_token(&lines[i], "f64") || contains_token(&lines[i], "f32"))
        .collect();
    assert_eq!(hits, [5]);
}
