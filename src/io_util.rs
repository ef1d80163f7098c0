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
