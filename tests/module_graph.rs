//! The library's modules import each other without cycles, so that each can be
//! read (and replaced) from the bottom up: `intmath` and `coder` at the base,
//! then `model`, `engine`, `mixing`, `container`, `compress`, and the tools
//! (`cli`, `vectors`, `eval`) on top.
//!
//! The graph is read from the sources: a unit is a top-level module of `src/`
//! (an `engine` submodule counts as its own unit, since the kernel levels and
//! the dispatch table must not import each other either); an edge is a
//! `crate::X` path (or, inside `engine/`, a `super::X` path to a sibling)
//! outside comments and tests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ENGINE_PARTS: &[&str] = &["dispatch", "group", "kernels", "kernel_types", "x86"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The unit a file belongs to; `None` for the crate root.
fn unit_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    match parts[0].as_str() {
        "lib" | "main" => None,
        "engine" if parts.len() > 1 && ENGINE_PARTS.contains(&parts[1].as_str()) => {
            Some(format!("engine/{}", parts[1]))
        }
        m => Some(m.to_string()),
    }
}

/// The code of a file without comments and without its test module.
fn code(text: &str) -> String {
    let text = text.split("\n#[cfg(test)]\nmod tests {").next().unwrap();
    let text = text
        .split("\n#[cfg(test)]\npub(crate) mod tests {")
        .next()
        .unwrap();
    text.lines()
        .map(|l| l.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The identifiers after every occurrence of `prefix` in `code`, with the one
/// after them (for `crate::engine::dispatch`).
fn paths_after<'a>(code: &'a str, prefix: &str) -> Vec<(&'a str, Option<&'a str>)> {
    let ident = |s: &'a str| {
        let end = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        &s[..end]
    };
    code.match_indices(prefix)
        .map(|(i, _)| {
            let rest = &code[i + prefix.len()..];
            let first = ident(rest);
            let second = rest[first.len()..].strip_prefix("::").map(ident);
            (first, second)
        })
        .collect()
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let Some(unit) = unit_of(&src, &f) else {
            continue;
        };
        if f.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let code = code(&std::fs::read_to_string(&f).unwrap());
        let mut targets = Vec::new();
        for (first, second) in paths_after(&code, "crate::") {
            match (first, second) {
                ("engine", Some(s)) if ENGINE_PARTS.contains(&s) => {
                    targets.push(format!("engine/{s}"))
                }
                (m, _) if !m.is_empty() => targets.push(m.to_string()),
                _ => {}
            }
        }
        if unit.starts_with("engine/") {
            for (first, _) in paths_after(&code, "super::") {
                if ENGINE_PARTS.contains(&first) {
                    targets.push(format!("engine/{first}"));
                }
            }
        }
        let e = edges.entry(unit.clone()).or_default();
        e.extend(targets.into_iter().filter(|t| *t != unit));
    }
    edges
}

/// A cycle through `start`, if any (depth-first search).
fn cycle_from(edges: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn walk(
        edges: &BTreeMap<String, BTreeSet<String>>,
        start: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        let last = path.last().unwrap().clone();
        for next in edges.get(&last).into_iter().flatten() {
            if next == start {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(edges, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_string()];
    let mut seen = BTreeSet::new();
    walk(edges, start, &mut path, &mut seen).then_some(path)
}

#[test]
fn the_module_graph_has_no_cycle() {
    let edges = graph();
    // The graph was read: the pipeline's known imports are in it.
    assert!(edges["compress"].contains("container"), "{edges:?}");
    assert!(
        edges["engine/x86"].contains("engine/kernel_types"),
        "{edges:?}"
    );
    for unit in edges.keys() {
        if let Some(cycle) = cycle_from(&edges, unit) {
            panic!("import cycle: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (a, b) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")] {
        edges.entry(a.into()).or_default().insert(b.into());
    }
    assert_eq!(cycle_from(&edges, "a").unwrap(), ["a", "b", "c", "a"]);
    assert_eq!(cycle_from(&edges, "d"), None);
    assert_eq!(
        paths_after("use crate::engine::dispatch::X; crate::model", "crate::"),
        [("engine", Some("dispatch")), ("model", None)]
    );
}
