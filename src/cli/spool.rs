//! A seekable copy of a pipe. The archive reader seeks (the chunk index is at
//! the end), so an archive read from stdin is spooled first: in memory up to a
//! limit, then into an anonymous temporary file that the OS removes when it is
//! closed, even if the process dies. Memory stays bounded whatever the
//! archive's size.

use std::io::{Cursor, Read, Seek, SeekFrom, Write};

/// Bytes of a piped archive kept in memory before spilling to a temporary file.
pub const MEMORY_LIMIT: u64 = 64 << 20;

/// The environment variable that overrides [`MEMORY_LIMIT`] (bytes), for
/// machines with little memory and for tests of the temporary-file path.
pub const MEMORY_LIMIT_VAR: &str = "BOA_DET_SPOOL_MEMORY";

/// [`MEMORY_LIMIT`], or the value of [`MEMORY_LIMIT_VAR`] if it is set; an
/// unparsable value is an error, never silently replaced by the default.
pub fn memory_limit() -> Result<u64, String> {
    match std::env::var(MEMORY_LIMIT_VAR) {
        Err(std::env::VarError::NotPresent) => Ok(MEMORY_LIMIT),
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("{MEMORY_LIMIT_VAR}={v:?} is not a byte count (a whole number)")),
        Err(e) => Err(format!("{MEMORY_LIMIT_VAR}: {e}")),
    }
}

/// Something the archive reader can read and seek.
pub trait ReadSeek: Read + Seek {}
impl<T: Read + Seek> ReadSeek for T {}

/// Reads `src` to its end and returns a seekable copy positioned at its start:
/// a buffer if it holds at most `memory_limit` bytes, otherwise an anonymous
/// temporary file (in `std::env::temp_dir()`, or `TMPDIR`).
pub fn spool(mut src: impl Read, memory_limit: u64) -> std::io::Result<Box<dyn ReadSeek>> {
    let mut head = Vec::new();
    // One byte past the limit tells whether there is more.
    src.by_ref().take(memory_limit + 1).read_to_end(&mut head)?;
    if head.len() as u64 <= memory_limit {
        return Ok(Box::new(Cursor::new(head)));
    }
    let mut file = tempfile::tempfile()?;
    file.write_all(&head)?;
    drop(head);
    std::io::copy(&mut src, &mut file)?;
    file.seek(SeekFrom::Start(0))?;
    Ok(Box::new(std::io::BufReader::new(file)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_back(mut r: Box<dyn ReadSeek>) -> Vec<u8> {
        let mut v = Vec::new();
        r.read_to_end(&mut v).unwrap();
        // and seeking works: the last byte again
        if !v.is_empty() {
            r.seek(SeekFrom::End(-1)).unwrap();
            let mut b = [0u8];
            r.read_exact(&mut b).unwrap();
            assert_eq!(b[0], *v.last().unwrap());
        }
        v
    }

    #[test]
    fn small_and_large_inputs_read_back_identically() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for limit in [0u64, 1, 9_999, 10_000, 10_001, 1 << 20] {
            let copy = read_back(spool(&data[..], limit).unwrap());
            assert_eq!(copy, data, "limit {limit}");
        }
        assert!(read_back(spool(&[][..], 0).unwrap()).is_empty());
    }

    #[test]
    fn read_errors_are_reported() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("pipe broke"))
            }
        }
        let err = spool(Broken, 16).err().expect("an error");
        assert!(err.to_string().contains("pipe broke"));
    }
}
