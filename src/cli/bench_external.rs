//! Compressors that `bench` runs as programs of their own, when they are
//! installed: the context-mixing frontier that boa-det is measured against.
//!
//! - `zpaq-m5`: zpaq (Debian package `zpaq`) at its strongest method,
//!   `zpaq a packed.zpaq in -m5`, extracted with `zpaq x packed.zpaq`.
//! - `paq8px-8`: paq8px (built from source, hxim/paq8px; in no package
//!   registry), `paq8px -8 in out`, `paq8px -d out in`.
//!
//! Each is found as `$BOA_BENCH_ZPAQ` / `$BOA_BENCH_PAQ8PX` when set, else on
//! `PATH`; a missing one adds no row. Every call works in a fresh temporary
//! directory (the programs append to archives that exist, and name their
//! outputs themselves), and its time includes writing and reading those
//! files. Their CPU time is counted with the bench process's (children's
//! `getrusage`), their peak memory from the program's own (`wait4`).

use super::bench::BenchCodec;
use super::platform::resources;
use std::cell::Cell;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How one external compressor is called, in a directory holding `in` (to
/// compress) or `packed` (to decompress; `output` names what the compressor
/// wrote, and the decompressor reads, there).
struct Recipe {
    name: &'static str,
    env: &'static str,
    program: &'static str,
    /// The compressed file's name (zpaq insists on its `.zpaq` suffix).
    output: &'static str,
    /// Arguments that turn `in` into `output`.
    compress: &'static [&'static str],
    /// Arguments that turn `output` back into `in` (in a directory without
    /// `in`).
    decompress: &'static [&'static str],
}

const RECIPES: [Recipe; 2] = [
    Recipe {
        name: "zpaq-m5",
        env: "BOA_BENCH_ZPAQ",
        program: "zpaq",
        output: "packed.zpaq",
        compress: &["a", "packed.zpaq", "in", "-m5"],
        decompress: &["x", "packed.zpaq"],
    },
    Recipe {
        name: "paq8px-8",
        env: "BOA_BENCH_PAQ8PX",
        program: "paq8px",
        output: "packed",
        compress: &["-8", "in", "packed"],
        decompress: &["-d", "packed", "in"],
    },
];

/// An installed external compressor as a bench row.
pub struct External {
    recipe: &'static Recipe,
    program: PathBuf,
    last_peak: Cell<Option<u64>>,
}

/// The external compressors installed here, in a fixed order.
pub fn installed() -> Vec<External> {
    RECIPES
        .iter()
        .filter_map(|recipe| {
            let program = match std::env::var_os(recipe.env) {
                Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
                _ => find_in_path(recipe.program),
            }?;
            Some(External {
                recipe,
                program,
                last_peak: Cell::new(None),
            })
        })
        .collect()
}

/// The names of every external row, installed or not (for messages).
pub fn known_names() -> Vec<&'static str> {
    RECIPES.iter().map(|r| r.name).collect()
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

impl External {
    /// Runs the program with `args` in `dir`; its output is discarded, its
    /// failure is an error naming the program and its exit status.
    fn run(&self, dir: &Path, args: &[&str]) -> Result<(), String> {
        let mut cmd = Command::new(&self.program);
        cmd.args(args.iter().map(OsString::from))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let (status, peak) = resources::run_measured(&mut cmd)
            .map_err(|e| format!("{}: {e}", self.program.display()))?;
        self.last_peak.set(peak);
        if status.success() {
            Ok(())
        } else {
            Err(format!(
                "{} {}: {status}",
                self.program.display(),
                args.join(" ")
            ))
        }
    }
}

fn scratch() -> Result<tempfile::TempDir, String> {
    tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))
}

impl BenchCodec for External {
    fn name(&self) -> String {
        self.recipe.name.to_string()
    }

    fn compress(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        let dir = scratch()?;
        std::fs::write(dir.path().join("in"), data).map_err(|e| e.to_string())?;
        self.run(dir.path(), self.recipe.compress)?;
        std::fs::read(dir.path().join(self.recipe.output)).map_err(|e| format!("its output: {e}"))
    }

    fn decompress(&self, packed: &[u8], _original_len: usize) -> Result<Vec<u8>, String> {
        let dir = scratch()?;
        std::fs::write(dir.path().join(self.recipe.output), packed).map_err(|e| e.to_string())?;
        self.run(dir.path(), self.recipe.decompress)?;
        std::fs::read(dir.path().join("in")).map_err(|e| format!("its output: {e}"))
    }

    fn last_child_peak(&self) -> Option<u64> {
        self.last_peak.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in "compressor" (a shell script copying the file) proves the
    /// plumbing: temporary files, arguments, peak memory, and that a failing
    /// program is an error, not a row of figures.
    #[cfg(unix)]
    #[test]
    fn external_program_round_trip_and_failure() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("fakezip");
        std::fs::write(
            &script,
            "#!/bin/sh\ncase $1 in a) cp \"$3\" \"$2\" ;; x) cp \"$2\" in ;; *) exit 3 ;; esac\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let ext = External {
            recipe: &RECIPES[0],
            program: script,
            last_peak: Cell::new(None),
        };
        let data = b"some bytes to pass through".repeat(100);
        let packed = ext.compress(&data).unwrap();
        assert_eq!(packed, data);
        assert!(ext.last_child_peak().unwrap() > 0);
        assert_eq!(ext.decompress(&packed, data.len()).unwrap(), data);
        let broken = External {
            recipe: &RECIPES[1], // "-8 in packed": the script exits 3
            ..ext
        };
        let err = broken.compress(&data).unwrap_err();
        assert!(err.contains("exit status: 3"), "{err}");
    }

    #[test]
    fn a_missing_program_gives_no_row() {
        assert!(find_in_path("boa-det-no-such-program-anywhere").is_none());
        assert_eq!(known_names(), ["zpaq-m5", "paq8px-8"]);
    }
}
