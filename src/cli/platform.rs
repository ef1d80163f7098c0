//! What the command line does differently from one operating system to
//! another, behind one small interface; no other module of the command line
//! calls an OS-specific API (`std::os::*`, `signal_hook`, Win32).
//!
//! - Unix (Linux, macOS, the BSDs): a file's identity is its device and
//!   inode; character devices, FIFOs and sockets are streams, block devices
//!   are written only with `-f`; a directory is synced by `fsync` on it;
//!   SIGINT, SIGTERM and SIGHUP run the cleanup.
//! - Windows: a file's identity is its volume serial number and file index
//!   (`GetFileInformationByHandle`); anything that is neither a file, a
//!   directory nor a link (`NUL`, a console, a pipe, a raw disk) is written
//!   only with `-f`, as Windows cannot tell a disk from a console here; a
//!   directory is synced by `FlushFileBuffers` on a handle to it, and where
//!   that fails the output counts as not durable (so `--rm` keeps the
//!   input). Weaker: there is no signal cleanup, so Ctrl-C can leave a
//!   `.NAME.boa-det-tmp.PID` file beside the output (never the output
//!   itself, which is only ever renamed into place whole).
//! - Any other target builds with no identities (the output-is-input check
//!   and the `--rm` identity check rely on size and time alone), no special
//!   files, no directory sync and no signal cleanup.

use std::fs::{File, Metadata};
use std::path::Path;

/// The identity of a file: two paths, or a path and an open file, name the
/// same file exactly when their identities match, whatever the spelling or
/// links in between. Device and inode on Unix; volume serial number and file
/// index on Windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

/// A file that is not a regular file, directory or link, by how an output
/// there is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code, reason = "each platform makes only some of the kinds")]
pub enum Special {
    /// A character device, FIFO or socket: written straight into.
    Stream,
    /// A block device: written straight into, only with `-f`.
    Block,
    /// A device of unknown kind (not Unix): written straight into, only
    /// with `-f`.
    Device,
}

#[cfg(unix)]
mod imp {
    use super::{FileId, Special};
    use std::fs::{File, Metadata};
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    use std::path::Path;

    pub fn id_of_open(_file: &File, meta: &Metadata) -> Option<FileId> {
        Some(id(meta))
    }

    pub fn id_of_path(_path: &Path, meta: &Metadata) -> Option<FileId> {
        Some(id(meta))
    }

    fn id(meta: &Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }

    pub fn id_of_stdin() -> Option<FileId> {
        use std::os::fd::AsFd;
        let fd = std::io::stdin().as_fd().try_clone_to_owned().ok()?;
        File::from(fd).metadata().ok().map(|m| id(&m))
    }

    pub fn special(meta: &Metadata) -> Option<Special> {
        let t = meta.file_type();
        if t.is_char_device() || t.is_fifo() || t.is_socket() {
            Some(Special::Stream)
        } else if t.is_block_device() {
            Some(Special::Block)
        } else {
            None
        }
    }

    pub fn sync_dir(dir: &Path) -> bool {
        File::open(dir).and_then(|d| d.sync_all()).is_ok()
    }

    /// The signals after which the temporary files are removed.
    const CLEANUP_SIGNALS: [i32; 3] = [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ];

    pub fn on_termination(handler: fn(i32, &str) -> !) {
        let Ok(mut signals) = signal_hook::iterator::Signals::new(CLEANUP_SIGNALS) else {
            return;
        };
        let _ = std::thread::Builder::new()
            .name("boa-det-signals".into())
            .spawn(move || {
                if let Some(sig) = signals.forever().next() {
                    let name = signal_hook::low_level::signal_name(sig).unwrap_or("a signal");
                    handler(sig, name);
                }
            });
    }
}

#[cfg(windows)]
mod imp {
    use super::{FileId, Special};
    use std::fs::{File, Metadata, OpenOptions};
    use std::os::windows::fs::OpenOptionsExt;
    use std::os::windows::io::{AsHandle, AsRawHandle};
    use std::path::Path;
    use windows_sys::Win32::Storage::FileSystem::{
        BY_HANDLE_FILE_INFORMATION, FILE_FLAG_BACKUP_SEMANTICS, GetFileInformationByHandle,
    };

    pub fn id_of_open(file: &File, _meta: &Metadata) -> Option<FileId> {
        let mut info = std::mem::MaybeUninit::<BY_HANDLE_FILE_INFORMATION>::uninit();
        // SAFETY: the handle is open for the call; `info` is written in
        // full when the call succeeds, and read only then.
        let info = unsafe {
            if GetFileInformationByHandle(file.as_raw_handle(), info.as_mut_ptr()) == 0 {
                return None;
            }
            info.assume_init()
        };
        Some(FileId {
            dev: u64::from(info.dwVolumeSerialNumber),
            ino: (u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow),
        })
    }

    /// Opens `path` (following links) with no access rights, which reading
    /// its identity needs no more than a stat does on Unix.
    pub fn id_of_path(path: &Path, meta: &Metadata) -> Option<FileId> {
        let file = OpenOptions::new()
            .access_mode(0)
            .custom_flags(FILE_FLAG_BACKUP_SEMANTICS)
            .open(path)
            .ok()?;
        id_of_open(&file, meta)
    }

    pub fn id_of_stdin() -> Option<FileId> {
        let handle = std::io::stdin().as_handle().try_clone_to_owned().ok()?;
        let file = File::from(handle);
        let meta = file.metadata().ok()?;
        id_of_open(&file, &meta)
    }

    pub fn special(meta: &Metadata) -> Option<Special> {
        let t = meta.file_type();
        (!t.is_file() && !t.is_dir() && !t.is_symlink()).then_some(Special::Device)
    }

    pub fn sync_dir(dir: &Path) -> bool {
        OpenOptions::new()
            .write(true)
            .custom_flags(FILE_FLAG_BACKUP_SEMANTICS)
            .open(dir)
            .and_then(|d| d.sync_all())
            .is_ok()
    }

    pub fn on_termination(_handler: fn(i32, &str) -> !) {}
}

#[cfg(not(any(unix, windows)))]
mod imp {
    use super::{FileId, Special};
    use std::fs::{File, Metadata};
    use std::path::Path;

    pub fn id_of_open(_file: &File, _meta: &Metadata) -> Option<FileId> {
        None
    }

    pub fn id_of_path(_path: &Path, _meta: &Metadata) -> Option<FileId> {
        None
    }

    pub fn id_of_stdin() -> Option<FileId> {
        None
    }

    pub fn special(_meta: &Metadata) -> Option<Special> {
        None
    }

    pub fn sync_dir(_dir: &Path) -> bool {
        false
    }

    pub fn on_termination(_handler: fn(i32, &str) -> !) {}
}

impl FileId {
    /// The identity of the open `file`, whose metadata is `meta`.
    pub fn of_open(file: &File, meta: &Metadata) -> Option<FileId> {
        imp::id_of_open(file, meta)
    }

    /// The identity of the file `path` names (through links), whose
    /// metadata (`std::fs::metadata`) is `meta`.
    pub fn of_path(path: &Path, meta: &Metadata) -> Option<FileId> {
        imp::id_of_path(path, meta)
    }

    /// The identity of what standard input is connected to.
    pub fn of_stdin() -> Option<FileId> {
        imp::id_of_stdin()
    }
}

/// What kind of special file `meta` (of a path, through links or not)
/// describes; `None` for a regular file, directory, link or anything else.
pub fn special(meta: &Metadata) -> Option<Special> {
    imp::special(meta)
}

/// Syncs the directory `dir` to disk (after a rename into it); `false` where
/// it cannot be (some file systems, some platforms).
pub fn sync_dir(dir: &Path) -> bool {
    imp::sync_dir(dir)
}

/// Runs `handler(signal number, signal name)` on a thread of its own when
/// the process is asked to terminate (Unix: SIGINT, SIGTERM, SIGHUP; the
/// handler exits the process). Elsewhere it does nothing. Call once.
pub fn on_termination(handler: fn(i32, &str) -> !) {
    imp::on_termination(handler)
}

/// What `bench` measures of a codec beyond wall time: the CPU time and the
/// peak memory of this process and the programs it runs. `None` where the
/// platform cannot tell (never a made-up figure).
pub mod resources {
    use std::time::Duration;

    /// User plus system CPU time of this process (all its threads) and of
    /// its waited-for children, so far. Unix: `getrusage`.
    pub fn cpu_time() -> Option<Duration> {
        #[cfg(unix)]
        {
            let usage = |who| {
                let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
                // SAFETY: getrusage writes one `rusage` into the buffer it is given.
                let rc = unsafe { libc::getrusage(who, ru.as_mut_ptr()) };
                // SAFETY: zero-initialised, and filled in when rc == 0.
                (rc == 0).then(|| unsafe { ru.assume_init() })
            };
            let tv = |t: libc::timeval| {
                Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
            };
            let (me, kids) = (usage(libc::RUSAGE_SELF)?, usage(libc::RUSAGE_CHILDREN)?);
            Some(tv(me.ru_utime) + tv(me.ru_stime) + tv(kids.ru_utime) + tv(kids.ru_stime))
        }
        #[cfg(not(unix))]
        {
            None
        }
    }

    /// Starts a new peak-memory window: Linux resets this process's
    /// high-water mark of resident memory (`/proc/self/clear_refs`, "5").
    /// `false` where it cannot, after which [`peak_memory`] says `None`.
    pub fn reset_peak_memory() -> bool {
        #[cfg(target_os = "linux")]
        {
            std::fs::write("/proc/self/clear_refs", "5").is_ok()
        }
        #[cfg(not(target_os = "linux"))]
        {
            false
        }
    }

    /// The peak resident memory of this process, in bytes, since the last
    /// successful [`reset_peak_memory`] (Linux: `VmHWM` in `/proc/self/status`).
    pub fn peak_memory() -> Option<u64> {
        #[cfg(target_os = "linux")]
        {
            let status = std::fs::read_to_string("/proc/self/status").ok()?;
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        }
        #[cfg(not(target_os = "linux"))]
        {
            None
        }
    }

    /// Runs `cmd` to completion and returns its exit status and its peak
    /// resident memory in bytes (Unix: `wait4`'s `ru_maxrss`; KiB on Linux,
    /// bytes on macOS).
    pub fn run_measured(
        cmd: &mut std::process::Command,
    ) -> std::io::Result<(std::process::ExitStatus, Option<u64>)> {
        let child = cmd.spawn()?;
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            let pid = child.id() as libc::pid_t;
            let mut status = 0;
            let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
            loop {
                // SAFETY: waits for our own child; writes an int and one `rusage`.
                let rc = unsafe { libc::wait4(pid, &mut status, 0, ru.as_mut_ptr()) };
                if rc == pid {
                    break;
                }
                let err = std::io::Error::last_os_error();
                if err.kind() != std::io::ErrorKind::Interrupted {
                    return Err(err);
                }
            }
            // SAFETY: filled in by the successful wait4 above.
            let maxrss = unsafe { ru.assume_init() }.ru_maxrss.max(0) as u64;
            let unit = if cfg!(target_os = "macos") { 1 } else { 1024 };
            Ok((
                std::process::ExitStatus::from_raw(status),
                Some(maxrss * unit),
            ))
        }
        #[cfg(not(unix))]
        {
            let mut child = child;
            Ok((child.wait()?, None))
        }
    }
}
