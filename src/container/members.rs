//! Concatenated archives. A file that holds several archives back to back
//! (`boa-det -c a b > x`, `cat a.boa b.boa > x`) reads as one stream of
//! members, without a byte of any archive changing: each member's footer
//! records where its index begins inside the member and how long the index
//! is, so the member's length is `index_offset + index_len + 40`, and a walk
//! from the end of the file finds every member without scanning for magic
//! bytes (docs/FORMAT.md section 7).

use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;

use thiserror::Error;

use super::format::{self, FOOTER_SIZE};
use super::{ArchiveReader, ContainerError, FOOTER_LEN, MIN_ARCHIVE_LEN};

/// The bytes `range` of a seekable source, itself readable and seekable as
/// if they were a whole file (offset 0 is `range.start`).
#[derive(Debug)]
pub struct Window<R> {
    inner: R,
    start: u64,
    len: u64,
    pos: u64,
}

impl<R: Read + Seek> Window<R> {
    /// The window `range` of `inner` (`range.end >= range.start`).
    pub fn new(inner: R, range: Range<u64>) -> Window<R> {
        Window {
            inner,
            start: range.start,
            len: range.end.saturating_sub(range.start),
            pos: 0,
        }
    }
}

impl<R: Read + Seek> Read for Window<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        if want == 0 {
            return Ok(0);
        }
        // The source may be shared with other windows: always seek first.
        self.inner.seek(SeekFrom::Start(self.start + self.pos))?;
        let n = self.inner.read(&mut buf[..want])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Read + Seek> Seek for Window<R> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let target = target.ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before the start of the archive",
            )
        })?;
        self.pos = target;
        Ok(target)
    }
}

/// Why a file is not a valid archive or concatenation of archives.
#[derive(Debug, Error)]
pub enum MembersError {
    /// The file, or its last member, is not a valid archive: the same error
    /// as [`ArchiveReader::open`] gives for the whole file.
    #[error("{0}")]
    Archive(ContainerError),
    /// The member at bytes `start..end` is not valid.
    #[error("the archive at bytes {start}..{end} is invalid: {source}")]
    Member {
        start: u64,
        end: u64,
        source: ContainerError,
    },
    /// The `end` bytes before the first valid member do not end with an archive.
    #[error("the {end} bytes before the archive at offset {end} are not an archive: {source}")]
    Leading { end: u64, source: ContainerError },
}

/// The length of the member that ends at `end`, from its footer; every
/// geometry rule the reader checks on the footer holds for it.
fn member_len<R: Read + Seek>(src: &mut R, end: u64) -> Result<u64, ContainerError> {
    if end < MIN_ARCHIVE_LEN {
        return Err(ContainerError::TooShort {
            len: end,
            min: MIN_ARCHIVE_LEN,
        });
    }
    let mut fb = [0u8; FOOTER_SIZE];
    src.seek(SeekFrom::Start(end - FOOTER_LEN))?;
    src.read_exact(&mut fb)?;
    let footer = format::parse_footer(&fb)?;
    if format::index_len_for(footer.chunk_count) != Some(footer.index_len) {
        return Err(ContainerError::IndexLenMismatch {
            index_len: footer.index_len,
            chunk_count: footer.chunk_count,
        });
    }
    footer
        .index_offset
        .checked_add(footer.index_len)
        .and_then(|n| n.checked_add(FOOTER_LEN))
        .filter(|&len| len <= end)
        .ok_or(ContainerError::IndexOutOfPlace {
            index_offset: footer.index_offset,
            index_len: footer.index_len,
            file_len: end,
        })
}

/// The byte ranges of the archives that `src` holds back to back, in order,
/// each validated as [`ArchiveReader::open`] validates a file. A single
/// archive gives one range, and any error it has is the one opening it as a
/// whole gives. The walk goes from the end to the start, each step at least
/// [`MIN_ARCHIVE_LEN`] bytes, and allocates one range per member.
pub fn member_ranges<R: Read + Seek>(src: &mut R) -> Result<Vec<Range<u64>>, MembersError> {
    let file_len = src
        .seek(SeekFrom::End(0))
        .map_err(|e| MembersError::Archive(e.into()))?;
    let mut len = match member_len(src, file_len) {
        Ok(len) if len < file_len => len,
        _ => {
            ArchiveReader::open(Window::new(&mut *src, 0..file_len))
                .map_err(MembersError::Archive)?;
            return Ok(std::iter::once(0..file_len).collect());
        }
    };
    let mut ranges = Vec::new();
    let mut end = file_len;
    loop {
        let start = end - len;
        ArchiveReader::open(Window::new(&mut *src, start..end))
            .map_err(|source| MembersError::Member { start, end, source })?;
        ranges.push(start..end);
        end = start;
        if end == 0 {
            break;
        }
        len = member_len(src, end).map_err(|source| MembersError::Leading { end, source })?;
    }
    ranges.reverse();
    Ok(ranges)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::{ArchiveParams, ArchiveWriter, xxh3_64};
    use std::io::Cursor;

    /// A stored-chunk archive of `data` in chunks of `chunk_len`.
    fn archive(data: &[u8], chunk_len: u32) -> Vec<u8> {
        let params = ArchiveParams {
            format_version: 1,
            arith_version: 1,
            model_fingerprint: [7; 16],
            chunk_len,
        };
        let mut w = ArchiveWriter::new(Vec::new(), &params, None).unwrap();
        for c in data.chunks(chunk_len as usize) {
            w.write_stored(c).unwrap();
        }
        w.finish().unwrap()
    }

    fn contents(file: &[u8]) -> Vec<u8> {
        let mut src = Cursor::new(file);
        let mut out = Vec::new();
        for r in member_ranges(&mut src).unwrap() {
            let mut a = ArchiveReader::open(Window::new(&mut src, r)).unwrap();
            let n = a.chunk_count();
            for i in 0..n {
                out.extend(a.read_chunk(i, |_, p| Ok(p.to_vec())).unwrap());
            }
            assert_eq!(xxh3_64(&out[out.len() - a.total_len() as usize..]), {
                a.content_hash()
            });
        }
        out
    }

    #[test]
    fn single_archive_is_one_member() {
        let a = archive(b"hello world", 4);
        let ranges = member_ranges(&mut Cursor::new(&a)).unwrap();
        assert_eq!(ranges.len(), 1);
        assert_eq!(ranges[0], 0..a.len() as u64);
        assert_eq!(contents(&a), b"hello world");
    }

    #[test]
    fn concatenations_read_back_in_order() {
        let (a, b, e) = (
            archive(b"first part ", 3),
            archive(b"second", 64),
            archive(b"", 8),
        );
        for parts in [
            vec![&a, &b],
            vec![&b, &a, &b],
            vec![&e, &a, &e, &e],
            vec![&e, &e],
        ] {
            let file: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
            let ranges = member_ranges(&mut Cursor::new(&file)).unwrap();
            assert_eq!(ranges.len(), parts.len());
            let mut at = 0u64;
            for (r, p) in ranges.iter().zip(&parts) {
                assert_eq!(*r, at..at + p.len() as u64);
                at = r.end;
            }
            let want: Vec<u8> = parts.iter().flat_map(|p| contents(p)).collect();
            assert_eq!(contents(&file), want);
        }
    }

    #[test]
    fn damaged_files_keep_their_single_archive_errors() {
        let a = archive(b"some bytes to store", 5);
        // Appended garbage, truncation, prepended garbage, a damaged first member.
        let mut appended = a.clone();
        appended.extend_from_slice(b"trailing junk");
        assert!(matches!(
            member_ranges(&mut Cursor::new(&appended)),
            Err(MembersError::Archive(ContainerError::BadFooterMagic))
        ));
        let cut = &a[..a.len() - 1];
        assert!(matches!(
            member_ranges(&mut Cursor::new(cut)),
            Err(MembersError::Archive(_))
        ));
        assert!(matches!(
            member_ranges(&mut Cursor::new(&a[..10])),
            Err(MembersError::Archive(ContainerError::TooShort { .. }))
        ));
        let mut prepended = b"junk".to_vec();
        prepended.extend_from_slice(&a);
        let err = member_ranges(&mut Cursor::new(&prepended)).unwrap_err();
        assert!(matches!(err, MembersError::Leading { end: 4, .. }), "{err}");
        let mut two = a.clone();
        two.extend_from_slice(&a);
        two[0] ^= 1; // the first member's header magic
        let err = member_ranges(&mut Cursor::new(&two)).unwrap_err();
        assert!(
            matches!(err, MembersError::Member { start: 0, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("magic"), "{err}");
    }

    #[test]
    fn window_reads_and_seeks_inside_its_range() {
        let data: Vec<u8> = (0..100u8).collect();
        let mut w = Window::new(Cursor::new(&data), 10..20);
        assert_eq!(w.seek(SeekFrom::End(0)).unwrap(), 10);
        assert_eq!(w.seek(SeekFrom::End(-3)).unwrap(), 7);
        let mut v = Vec::new();
        w.read_to_end(&mut v).unwrap();
        assert_eq!(v, [17, 18, 19]);
        w.seek(SeekFrom::Start(0)).unwrap();
        let mut b = [0u8; 4];
        w.read_exact(&mut b).unwrap();
        assert_eq!(b, [10, 11, 12, 13]);
        assert!(w.seek(SeekFrom::Current(-5)).is_err());
        w.seek(SeekFrom::Start(50)).unwrap();
        assert_eq!(w.read(&mut b).unwrap(), 0);
    }
}
