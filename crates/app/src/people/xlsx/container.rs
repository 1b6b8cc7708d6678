//! The zip container of an .xlsx, read defensively: the central directory is bounded before
//! the zip crate parses it, and every part is read through a [`Capped`] reader that counts
//! decompressed bytes against a cap and against its declared compressed size (zip-bomb
//! safety). Split from the workbook and sheet parsing so the limits live in one place.

use std::io::{self, Read, Seek, SeekFrom};

use super::{BOMB, Limits, MAX_EVENT, RATIO_GRACE, io_error, unreadable, unsafe_file};
use crate::people::import::{FileError, Refused};

/// Reads at most `cap` bytes from a part; refuses an expansion ratio beyond `max_ratio`
/// against the declared compressed size, and an XML event larger than [`MAX_EVENT`].
pub(super) struct Capped<R> {
    pub(super) inner: R,
    pub(super) read: u64,
    pub(super) cap: u64,
    pub(super) compressed: u64,
    pub(super) max_ratio: u64,
    pub(super) since_mark: u64,
    pub(super) what: &'static str,
}

impl<R> Capped<R> {
    /// `inner` from its start: `cap` bytes at most, and a ratio of at most `max_ratio` to
    /// its `compressed` size; `what` names it in errors.
    pub(super) fn new(
        inner: R,
        cap: u64,
        compressed: u64,
        max_ratio: u64,
        what: &'static str,
    ) -> Self {
        Capped {
            inner,
            read: 0,
            cap,
            compressed,
            max_ratio,
            since_mark: 0,
            what,
        }
    }

    pub(super) fn mark(&mut self) {
        self.since_mark = 0;
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Never ask for more than one byte past the cap: enough to see it was passed.
        let room = self.cap.saturating_sub(self.read).saturating_add(1);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.read += n as u64;
        self.since_mark += n as u64;
        if self.read > self.cap {
            return Err(io::Error::other(Refused(unsafe_file(format!(
                "{}解压后超过 {} MB（与压缩包中声明的大小不符），已拒绝，未导入任何数据",
                self.what,
                self.cap / (1024 * 1024)
            )))));
        }
        if self.read > RATIO_GRACE && self.read / self.compressed.max(1) > self.max_ratio {
            return Err(io::Error::other(Refused(unsafe_file(BOMB))));
        }
        if self.since_mark > MAX_EVENT {
            return Err(io::Error::other(Refused(unreadable(format!(
                "{}中有超过 {} MB 的单个单元格或标记，文件可能已损坏",
                self.what,
                MAX_EVENT / (1024 * 1024)
            )))));
        }
        Ok(n)
    }
}

fn le16(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 2)
        .map(|s| u64::from(u16::from_le_bytes([s[0], s[1]])))
        .unwrap_or(0)
}

fn le32(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 4)
        .map(|s| u64::from(u32::from_le_bytes([s[0], s[1], s[2], s[3]])))
        .unwrap_or(0)
}

fn le64(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .and_then(|s| <[u8; 8]>::try_from(s).ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0)
}

/// Read the end-of-central-directory record and bound the directory before the zip crate
/// builds it in memory. Returns the file length.
pub(super) fn check_directory<R: Read + Seek>(
    r: &mut R,
    limits: &Limits,
) -> Result<u64, FileError> {
    let io = |e: io::Error| io_error(&e, "目录");
    let len = r.seek(SeekFrom::End(0)).map_err(io)?;
    let tail_len = len.min(22 + 65_535 + 20);
    r.seek(SeekFrom::Start(len - tail_len)).map_err(io)?;
    let mut tail = vec![0u8; usize::try_from(tail_len).unwrap_or(0)];
    r.read_exact(&mut tail).map_err(io)?;
    let pos = (0..=tail.len().saturating_sub(22))
        .rev()
        .find(|&i| tail.get(i..i + 4) == Some(&b"PK\x05\x06"[..]))
        .ok_or_else(|| unreadable("不是有效的 xlsx 文件（找不到压缩包目录），文件可能已损坏"))?;
    let mut entries = le16(&tail, pos + 10);
    let mut dir_size = le32(&tail, pos + 12);
    if entries == 0xFFFF || dir_size == 0xFFFF_FFFF {
        // Zip64: the locator sits just before the record.
        let loc = pos
            .checked_sub(20)
            .filter(|&l| tail.get(l..l + 4) == Some(&b"PK\x06\x07"[..]))
            .ok_or_else(|| unreadable("xlsx 文件的压缩包目录损坏"))?;
        let at = le64(&tail, loc + 8);
        if at >= len {
            return Err(unreadable("xlsx 文件的压缩包目录损坏"));
        }
        r.seek(SeekFrom::Start(at)).map_err(io)?;
        let mut rec = [0u8; 56];
        r.read_exact(&mut rec).map_err(io)?;
        if rec[..4] != b"PK\x06\x06"[..] {
            return Err(unreadable("xlsx 文件的压缩包目录损坏"));
        }
        entries = le64(&rec, 32);
        dir_size = le64(&rec, 40);
    }
    if entries > limits.max_entries || dir_size > limits.max_directory {
        return Err(unsafe_file(format!(
            "压缩包中有 {entries} 个文件（目录 {} KB），超过上限，不像是正常的 Excel 文件，已拒绝",
            dir_size / 1024
        )));
    }
    r.seek(SeekFrom::Start(0)).map_err(io)?;
    Ok(len)
}
