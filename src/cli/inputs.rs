//! The list of inputs: the paths named on the command line and, with `-r`,
//! the files found in the folders among them (docs/CLI.md, "Several inputs").

use super::{CliError, exit};
use std::path::{Path, PathBuf};

/// The inputs to process, and what could not be read while finding them.
#[derive(Debug, Default)]
pub struct Inputs {
    pub files: Vec<PathBuf>,
    pub errors: Vec<CliError>,
}

/// Whether a file name is a temporary output of a `boa-det` run.
fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && name.contains(".boa-det-tmp.")
}

/// Expands `named`: with `recursive`, a folder (named, or a link to one
/// named) is replaced by the regular files under it, in name order, that
/// `wanted` accepts; links found inside folders are followed to files but
/// never to folders (no loops), other entries (devices, FIFOs) are skipped,
/// and entries that cannot be read are reported in `errors`. Everything else
/// is kept as named, for the command to open or refuse.
pub fn expand(named: &[PathBuf], recursive: bool, wanted: impl Fn(&Path) -> bool) -> Inputs {
    let mut out = Inputs::default();
    for p in named {
        if recursive && p.as_os_str() != "-" && p.is_dir() {
            walk(p, &wanted, &mut out);
        } else {
            out.files.push(p.clone());
        }
    }
    out
}

fn walk(root: &Path, wanted: &dyn Fn(&Path) -> bool, out: &mut Inputs) {
    let unreadable = |p: &Path, e: std::io::Error| {
        CliError::new(exit::IO, format!("{}: cannot read: {e}", p.display()))
    };
    // An explicit stack: depth is bounded by memory, not by the call stack.
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) => {
                out.errors.push(unreadable(&dir, e));
                continue;
            }
        };
        let mut names = Vec::new();
        for entry in entries {
            match entry {
                Ok(e) => names.push(e.file_name()),
                Err(e) => out.errors.push(unreadable(&dir, e)),
            }
        }
        names.sort();
        let mut subdirs = Vec::new();
        for name in names {
            let path = dir.join(&name);
            if is_temporary(&name.to_string_lossy()) {
                continue;
            }
            let meta = match std::fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    out.errors.push(unreadable(&path, e));
                    continue;
                }
            };
            let is_link = meta.file_type().is_symlink();
            let meta = if is_link {
                match std::fs::metadata(&path) {
                    Ok(m) => m,
                    Err(e) => {
                        out.errors.push(unreadable(&path, e));
                        continue;
                    }
                }
            } else {
                meta
            };
            if meta.is_dir() {
                if !is_link {
                    subdirs.push(path);
                }
            } else if meta.is_file() && wanted(&path) {
                out.files.push(path);
            }
        }
        // Depth first, in name order.
        dirs.extend(subdirs.into_iter().rev());
    }
}

// Symbolic links need privileges on Windows: the test is Unix's.
#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn walks_in_name_order_skipping_links_to_folders() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("b/c")).unwrap();
        std::fs::create_dir_all(r.join("a")).unwrap();
        for f in ["z.txt", "a/1", "a/2.boa", "b/c/3", "b/4"] {
            std::fs::write(r.join(f), f).unwrap();
        }
        std::fs::write(r.join(".x.boa-det-tmp.1"), "tmp").unwrap();
        std::os::unix::fs::symlink(r, r.join("b/loop")).unwrap();
        std::os::unix::fs::symlink(r.join("z.txt"), r.join("b/link")).unwrap();
        std::os::unix::fs::symlink(r.join("gone"), r.join("dangling")).unwrap();
        let named = vec![r.to_path_buf(), PathBuf::from("-")];
        let got = expand(&named, true, |p| p.extension().is_none_or(|e| e != "boa"));
        let rel: Vec<String> = got
            .files
            .iter()
            .map(|p| {
                p.strip_prefix(r)
                    .map_or("-".into(), |q| q.display().to_string())
            })
            .collect();
        assert_eq!(rel, ["z.txt", "a/1", "b/4", "b/link", "b/c/3", "-"]);
        assert_eq!(got.errors.len(), 1, "{:?}", got.errors);
        assert!(got.errors[0].message.contains("dangling"));
        // Without -r a folder stays an input (for the command to refuse).
        let flat = expand(&named, false, |_| true);
        assert_eq!(flat.files, named);
        assert!(flat.errors.is_empty());
    }
}
