//! The library's modules import each other without cycles, so that each can be
//! read (and replaced) from the bottom up: `intmath` and `coder` at the base,
//! then `model`, `engine`, `mixing`, `container`, `compress`, and the tools
//! (`cli`, `vectors`, `eval`) on top.
//!
//! The graph is read from the sources: a unit is a top-level module of `src/`,
//! or a part of `engine` ([`unit_of_path`]); an edge is a `crate::X::Y` path
//! (or, inside `engine/`, a `super::X` path) outside comments and tests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `engine`'s folders whose files are units of their own.
const ENGINE_DEVICES: &[&str] = &["cpu", "cuda"];

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

/// The module path of a file: `src/engine/cpu/mod.rs` is `engine::cpu`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The unit of a module path: a top-level module, or inside `engine` each
/// part (`engine/state`, `engine/reference`, ...) and inside its device
/// folders each part again (`engine/cpu/dispatch`, `engine/cpu/x86`), since
/// the kernel levels, the dispatch table and the graph must not import each
/// other either. `engine` alone is its root, which only re-exports.
fn unit_of_path(parts: &[String]) -> Option<String> {
    let keep = match parts {
        [] => return None,
        [first, ..] if first == "lib" || first == "main" => return None,
        [e, d, ..] if e == "engine" && ENGINE_DEVICES.contains(&d.as_str()) => 3,
        [e, ..] if e == "engine" => 2,
        _ => 1,
    };
    Some(parts[..keep.min(parts.len())].join("/"))
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

/// The path after every occurrence of `prefix` in `code`: its identifiers
/// joined by `::` (`crate::engine::cpu::dispatch::X` gives `engine`, `cpu`,
/// `dispatch`, `X`).
fn paths_after<'a>(code: &'a str, prefix: &str) -> Vec<Vec<&'a str>> {
    let ident = |s: &'a str| {
        let end = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        &s[..end]
    };
    code.match_indices(prefix)
        .map(|(i, _)| {
            let mut rest = &code[i + prefix.len()..];
            let mut path = Vec::new();
            loop {
                let id = ident(rest);
                if id.is_empty() {
                    break;
                }
                path.push(id);
                match rest[id.len()..].strip_prefix("::") {
                    Some(r) => rest = r,
                    None => break,
                }
            }
            path
        })
        .collect()
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(&src, f)).collect();
    // The unit a path names: its longest prefix that is a module of ours.
    let target = |path: Vec<String>| {
        (1..=path.len())
            .rev()
            .map(|k| path[..k].to_vec())
            .find(|p| modules.contains(p))
            .and_then(|p| unit_of_path(&p))
    };
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let module = module_of(&src, f);
        let Some(unit) = unit_of_path(&module) else {
            continue;
        };
        if f.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let code = code(&std::fs::read_to_string(f).unwrap());
        let mut targets = Vec::new();
        for path in paths_after(&code, "crate::") {
            targets.extend(target(path.into_iter().map(String::from).collect()));
        }
        if unit.starts_with("engine") {
            let parent = &module[..module.len().saturating_sub(1)];
            for path in paths_after(&code, "super::") {
                let path = parent
                    .iter()
                    .cloned()
                    .chain(path.into_iter().map(String::from));
                targets.extend(target(path.collect()));
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
        edges["engine/cpu/x86"].contains("engine/cpu/kernel_types"),
        "{edges:?}"
    );
    assert!(
        edges["engine/cpu/graph"].contains("engine/state"),
        "{edges:?}"
    );
    assert!(edges["engine/device"].contains("engine/cuda"), "{edges:?}");
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
        paths_after("use crate::engine::cpu::graph::X; crate::model", "crate::"),
        [vec!["engine", "cpu", "graph", "X"], vec!["model"]]
    );
}
