//! File output that never destroys user data. A regular file is written to a
//! temporary file in the destination directory, synced and renamed into
//! place; an existing file is replaced only when forced, a symbolic link is
//! replaced as a link (never written through), the input is never an output,
//! and a device or FIFO is written straight into (it cannot be replaced).
//! Temporary files still being written are removed on SIGINT, SIGTERM and
//! SIGHUP ([`install_signal_handler`]). What differs between operating
//! systems (file identities, special files, directory sync, signals) is in
//! [`super::platform`].

use super::platform::{self, Special};
use super::{CliError, exit};
use std::fs::{File, Metadata};
use std::io::Write;
use std::path::{Path, PathBuf};

pub use platform::FileId;

/// Writes `data` to `path` atomically. Without `force`, an existing file is an error.
pub fn write_new_file(path: &Path, data: &[u8], force: bool) -> Result<(), CliError> {
    let mut file = AtomicFile::create(path, force)?;
    file.writer()
        .write_all(data)
        .map_err(|e| write_error(path, e))?;
    file.commit().map(|_| ())
}

fn write_error(path: &Path, e: std::io::Error) -> CliError {
    CliError::new(exit::IO, format!("cannot write {}: {e}", path.display()))
}

fn exists_error(path: &Path) -> CliError {
    CliError::new(
        exit::IO,
        format!("{} already exists (use -f to overwrite)", path.display()),
    )
}

/// Temporary files being written, removed by the signal handler. Files are
/// created, renamed and removed with this lock held, so the handler (which
/// keeps it until the process exits) never races a half-done step.
static PENDING: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

fn pending() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    PENDING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Installs a handler for SIGINT, SIGTERM and SIGHUP (on Unix; see
/// [`platform::on_termination`]): a thread that, when one arrives, removes
/// every temporary output file still being written and exits with status
/// 128 + the signal number (130, 143, 129), as a shell reports a process
/// killed by it. Call once; later calls do nothing.
pub fn install_signal_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| platform::on_termination(remove_pending_and_exit));
}

fn remove_pending_and_exit(sig: i32, name: &str) -> ! {
    // Held until exit: no temporary file is created or renamed into place
    // after this point.
    let mut list = pending();
    for p in list.drain(..) {
        let _ = std::fs::remove_file(p);
    }
    eprintln!("boa-det: interrupted by {name}");
    std::process::exit(128 + sig);
}

/// How [`OutputFile::commit`] left the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// A regular file, renamed into place; `durable` when the file and its
    /// directory were both synced to disk.
    Regular { durable: bool },
    /// Written straight into a device, FIFO or socket.
    Stream,
}

/// What the destination path names now.
enum Existing {
    Nothing,
    Regular,
    /// A symbolic link to anything but a stream (or a dangling one).
    Link,
    Directory,
    /// A character device, FIFO or socket (possibly through a link).
    Stream,
    /// A block device (possibly through a link): written into only with -f.
    Block,
    /// A device of a kind the platform cannot tell (not on Unix; possibly
    /// through a link): written into only with -f.
    Device,
}

fn examine(dest: &Path, input: Option<FileId>) -> Result<Existing, CliError> {
    let lmeta = match std::fs::symlink_metadata(dest) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::Nothing),
        Err(e) => return Err(write_error(dest, e)),
    };
    let target = std::fs::metadata(dest).ok();
    if let (Some(input), Some(t)) = (input, &target)
        && t.is_file()
        && FileId::of_path(dest, t) == Some(input)
    {
        return Err(CliError::new(
            exit::USAGE,
            format!(
                "the output {} is the input file (refusing to write over it; choose another output)",
                dest.display()
            ),
        ));
    }
    let kind_of = |m: &Metadata| {
        platform::special(m).map(|s| match s {
            Special::Stream => Existing::Stream,
            Special::Block => Existing::Block,
            Special::Device => Existing::Device,
        })
    };
    if lmeta.file_type().is_symlink() {
        return Ok(target.as_ref().and_then(kind_of).unwrap_or(Existing::Link));
    }
    Ok(if lmeta.is_dir() {
        Existing::Directory
    } else if lmeta.is_file() {
        Existing::Regular
    } else {
        kind_of(&lmeta).unwrap_or(Existing::Regular)
    })
}

/// An output file: a regular file written through an [`AtomicFile`], or a
/// device, FIFO or socket written straight into.
pub enum OutputFile {
    Atomic(AtomicFile),
    Stream {
        path: PathBuf,
        file: std::io::BufWriter<File>,
    },
}

impl OutputFile {
    /// Opens `dest` for writing, by the rules in `docs/CLI.md` ("Files"):
    /// a new or (with `force`) existing regular file or symbolic link is
    /// written under a temporary name and renamed into place; a directory is
    /// refused; a character device, FIFO or socket, or a link to one, is
    /// written into directly (a block device only with `force`); the file
    /// `input` (the input being processed) is never an output.
    pub fn create(dest: &Path, force: bool, input: Option<FileId>) -> Result<OutputFile, CliError> {
        match examine(dest, input)? {
            Existing::Nothing => AtomicFile::create(dest, force).map(OutputFile::Atomic),
            Existing::Regular if force => AtomicFile::create(dest, true).map(OutputFile::Atomic),
            Existing::Regular => Err(exists_error(dest)),
            Existing::Link if force => AtomicFile::create(dest, true).map(OutputFile::Atomic),
            Existing::Link => Err(CliError::new(
                exit::IO,
                format!(
                    "{} already exists as a symbolic link (use -f to replace the link itself; its target is never written)",
                    dest.display()
                ),
            )),
            Existing::Directory => Err(CliError::new(
                exit::IO,
                format!("{} is a directory", dest.display()),
            )),
            Existing::Block if !force => Err(CliError::new(
                exit::IO,
                format!(
                    "{} is a block device (use -f to write into it)",
                    dest.display()
                ),
            )),
            Existing::Device if !force => Err(CliError::new(
                exit::IO,
                format!(
                    "{} is not a regular file (use -f to write into it)",
                    dest.display()
                ),
            )),
            Existing::Stream | Existing::Block | Existing::Device => {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(dest)
                    .map_err(|e| write_error(dest, e))?;
                Ok(OutputFile::Stream {
                    path: dest.to_path_buf(),
                    file: std::io::BufWriter::with_capacity(1 << 20, file),
                })
            }
        }
    }

    /// The writer for the contents.
    pub fn writer(&mut self) -> &mut dyn Write {
        match self {
            OutputFile::Atomic(f) => f.writer(),
            OutputFile::Stream { file, .. } => file,
        }
    }

    /// Finishes the output: renames a regular file into place (see
    /// [`AtomicFile::commit`]); flushes a stream.
    pub fn commit(self) -> Result<Committed, CliError> {
        match self {
            OutputFile::Atomic(f) => f.commit(),
            OutputFile::Stream { path, mut file } => {
                file.flush().map_err(|e| write_error(&path, e))?;
                Ok(Committed::Stream)
            }
        }
    }
}

/// A file written under a temporary name in the destination directory and
/// renamed into place by [`AtomicFile::commit`]. Dropped without commit (an
/// error) or interrupted, the temporary file is removed, so a failed run never
/// leaves partial output. The rename replaces a symbolic link at the
/// destination, never its target.
pub struct AtomicFile {
    dest: PathBuf,
    tmp: PathBuf,
    file: Option<std::io::BufWriter<File>>,
    force: bool,
}

impl AtomicFile {
    /// Starts writing `dest`. Without `force`, an existing `dest` (a dangling
    /// symbolic link too) is an error.
    pub fn create(dest: &Path, force: bool) -> Result<AtomicFile, CliError> {
        if !force && std::fs::symlink_metadata(dest).is_ok() {
            return Err(exists_error(dest));
        }
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = parent_dir(dest).join(format!(".{name}.boa-det-tmp.{}", std::process::id()));
        let mut list = pending();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    CliError::new(
                        exit::IO,
                        format!(
                            "cannot write {}: the temporary file {} already exists (left by an interrupted run?)",
                            dest.display(),
                            tmp.display()
                        ),
                    )
                } else {
                    write_error(dest, e)
                }
            })?;
        list.push(tmp.clone());
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

    /// Flushes and syncs the file, renames it into place and syncs the
    /// directory (`durable` says whether that last sync worked: some file
    /// systems cannot sync a directory).
    pub fn commit(mut self) -> Result<Committed, CliError> {
        let dest = self.dest.clone();
        let Some(file) = self.file.take() else {
            return Err(write_error(&dest, std::io::Error::other("committed twice")));
        };
        let file = file
            .into_inner()
            .map_err(|e| write_error(&dest, e.into_error()))?;
        file.sync_all().map_err(|e| write_error(&dest, e))?;
        drop(file);
        {
            let mut list = pending();
            if !self.force && std::fs::symlink_metadata(&dest).is_ok() {
                return Err(exists_error(&dest));
            }
            std::fs::rename(&self.tmp, &dest).map_err(|e| write_error(&dest, e))?;
            list.retain(|p| p != &self.tmp);
        }
        let durable = platform::sync_dir(parent_dir(&dest));
        Ok(Committed::Regular { durable })
    }
}

/// The directory `path` is in (`.` for a bare name).
pub fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        let mut list = pending();
        if list.iter().any(|p| p == &self.tmp) {
            self.file.take();
            let _ = std::fs::remove_file(&self.tmp);
            list.retain(|p| p != &self.tmp);
        }
    }
}
