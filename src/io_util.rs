//! File output that never destroys user data: write to a temporary file in the
//! destination directory, then rename into place; refuse to overwrite unless forced.

use crate::cli::{CliError, exit};
use std::io::Write;
use std::path::Path;

/// Writes `data` to `path` atomically. Without `force`, an existing file is an error.
pub fn write_new_file(path: &Path, data: &[u8], force: bool) -> Result<(), CliError> {
    if !force && path.exists() {
        return Err(CliError::new(
            exit::IO,
            format!("{} already exists (use -f to overwrite)", path.display()),
        ));
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.boa-det-tmp.{}", std::process::id()));
    let io_err = |e: std::io::Error| {
        CliError::new(exit::IO, format!("cannot write {}: {e}", path.display()))
    };
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(e));
    }
    Ok(())
}

/// Temporary files being written, removed by the interrupt handler.
static PENDING: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());

fn pending() -> std::sync::MutexGuard<'static, Vec<std::path::PathBuf>> {
    PENDING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Installs a Ctrl-C handler that removes every temporary output file still
/// being written and exits with status 130. Call once; later calls do nothing.
pub fn install_interrupt_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            for p in pending().drain(..) {
                let _ = std::fs::remove_file(p);
            }
            eprintln!("boa-det: interrupted");
            std::process::exit(130);
        });
    });
}

/// A file written under a temporary name in the destination directory and
/// renamed into place by [`AtomicFile::commit`]. Dropped without commit (an
/// error) or interrupted, the temporary file is removed, so a failed run never
/// leaves partial output.
pub struct AtomicFile {
    dest: std::path::PathBuf,
    tmp: std::path::PathBuf,
    file: Option<std::io::BufWriter<std::fs::File>>,
    force: bool,
}

impl AtomicFile {
    /// Starts writing `dest`. Without `force`, an existing `dest` is an error.
    pub fn create(dest: &Path, force: bool) -> Result<AtomicFile, CliError> {
        if !force && dest.exists() {
            return Err(CliError::new(
                exit::IO,
                format!("{} already exists (use -f to overwrite)", dest.display()),
            ));
        }
        let dir = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.boa-det-tmp.{}", std::process::id()));
        pending().push(tmp.clone());
        let file = std::fs::File::create(&tmp).map_err(|e| {
            pending().retain(|p| p != &tmp);
            CliError::new(exit::IO, format!("cannot write {}: {e}", dest.display()))
        })?;
        Ok(AtomicFile {
            dest: dest.to_path_buf(),
            tmp,
            file: Some(std::io::BufWriter::with_capacity(1 << 20, file)),
            force,
        })
    }

    /// The writer for the contents.
    pub fn writer(&mut self) -> &mut dyn Write {
        match self.file.as_mut() {
            Some(f) => f,
            None => unreachable!("AtomicFile used after commit"),
        }
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(mut self) -> Result<(), CliError> {
        let dest = self.dest.clone();
        let io_err = |e: std::io::Error| {
            CliError::new(exit::IO, format!("cannot write {}: {e}", dest.display()))
        };
        let file = self.file.take().map(|f| f.into_inner());
        let Some(file) = file else {
            return Ok(());
        };
        let file = file.map_err(|e| io_err(e.into_error()))?;
        file.sync_all().map_err(io_err)?;
        drop(file);
        if !self.force && self.dest.exists() {
            return Err(CliError::new(
                exit::IO,
                format!(
                    "{} already exists (use -f to overwrite)",
                    self.dest.display()
                ),
            ));
        }
        std::fs::rename(&self.tmp, &self.dest).map_err(io_err)?;
        pending().retain(|p| p != &self.tmp);
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if pending().iter().any(|p| p == &self.tmp) {
            self.file.take();
            let _ = std::fs::remove_file(&self.tmp);
            pending().retain(|p| p != &self.tmp);
        }
    }
}
