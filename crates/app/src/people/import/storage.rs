//! Encrypted storage of uploads: a roster file is streamed straight into a file under the
//! data directory in chunked AES-256-GCM with the service's key (each 64 KiB chunk carries the
//! file's random id, its index and a last-chunk flag, so chunks cannot be reordered, dropped or
//! spliced) and never sits on disk in plain text; [`SealedReader`] reads it back with seeking.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path as FsPath, PathBuf};

use rand::RngCore;

use crate::kernel::crypto::KeyRing;
use crate::state::AppState;

pub(super) const MAGIC: &[u8; 6] = b"BSUP1\0";
pub(super) const HEADER: u64 = 6 + 16;
pub(super) const PLAIN_CHUNK: usize = 64 * 1024;
/// Key-ring envelope (version 1 + nonce 12 + tag 16) and our chunk header (id 16 + index 8 +
/// last 1).
pub(super) const OVERHEAD: usize = 1 + 12 + 16 + 16 + 8 + 1;
pub(super) const SEALED_CHUNK: u64 = (PLAIN_CHUNK + OVERHEAD) as u64;

/// Seals a stream of bytes into chunks.
pub(super) struct Sealer {
    pub(super) keys: KeyRing,
    pub(super) file_id: [u8; 16],
    pub(super) index: u64,
    pub(super) buf: Vec<u8>,
}

impl Sealer {
    /// A sealer and the file header to write first.
    pub(super) fn new(keys: KeyRing) -> (Self, Vec<u8>) {
        let mut file_id = [0u8; 16];
        rand::rng().fill_bytes(&mut file_id);
        let mut head = MAGIC.to_vec();
        head.extend_from_slice(&file_id);
        (
            Sealer {
                keys,
                file_id,
                index: 0,
                buf: Vec::with_capacity(PLAIN_CHUNK * 2),
            },
            head,
        )
    }

    fn seal(&mut self, chunk: &[u8], last: bool) -> Vec<u8> {
        let mut inner = Vec::with_capacity(chunk.len() + 25);
        inner.extend_from_slice(&self.file_id);
        inner.extend_from_slice(&self.index.to_be_bytes());
        inner.push(u8::from(last));
        inner.extend_from_slice(chunk);
        self.index += 1;
        self.keys.encrypt(&inner)
    }

    /// Add bytes; returns sealed bytes ready to be written. A full chunk is sealed only once
    /// more data follows it, so the last chunk can be marked.
    pub(super) fn push(&mut self, data: &[u8]) -> Vec<u8> {
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        while self.buf.len() > PLAIN_CHUNK {
            let rest = self.buf.split_off(PLAIN_CHUNK);
            let chunk = std::mem::replace(&mut self.buf, rest);
            out.extend_from_slice(&self.seal(&chunk, false));
        }
        out
    }

    pub(super) fn finish(mut self) -> Vec<u8> {
        let chunk = std::mem::take(&mut self.buf);
        self.seal(&chunk, true)
    }
}

pub(super) fn corrupt() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "上传的文件已损坏或被改动")
}

/// Reads a sealed upload back as plain bytes, with seeking (the .xlsx reader needs it).
pub struct SealedReader {
    pub(super) file: std::fs::File,
    pub(super) keys: KeyRing,
    pub(super) file_id: [u8; 16],
    pub(super) chunks: u64,
    pub(super) len: u64,
    pub(super) pos: u64,
    pub(super) cached: Option<u64>,
    pub(super) plain: Vec<u8>,
}

impl SealedReader {
    pub fn open(path: &FsPath, keys: KeyRing) -> io::Result<Self> {
        let mut file = std::fs::File::open(path)?;
        let size = file.metadata()?.len();
        let mut head = [0u8; HEADER as usize];
        file.read_exact(&mut head)?;
        if &head[..6] != MAGIC || size <= HEADER {
            return Err(corrupt());
        }
        let mut file_id = [0u8; 16];
        file_id.copy_from_slice(&head[6..]);
        let body = size - HEADER;
        let chunks = body.div_ceil(SEALED_CHUNK);
        let last = body - (chunks - 1) * SEALED_CHUNK;
        if last < OVERHEAD as u64 {
            return Err(corrupt());
        }
        let len = (chunks - 1) * PLAIN_CHUNK as u64 + (last - OVERHEAD as u64);
        Ok(SealedReader {
            file,
            keys,
            file_id,
            chunks,
            len,
            pos: 0,
            cached: None,
            plain: Vec::new(),
        })
    }

    /// Plain length.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn load(&mut self, index: u64) -> io::Result<()> {
        if self.cached == Some(index) {
            return Ok(());
        }
        self.file
            .seek(SeekFrom::Start(HEADER + index * SEALED_CHUNK))?;
        let mut sealed = Vec::with_capacity(SEALED_CHUNK as usize);
        (&mut self.file)
            .take(SEALED_CHUNK)
            .read_to_end(&mut sealed)?;
        let inner = self.keys.decrypt(&sealed).ok_or_else(corrupt)?;
        let last = index + 1 == self.chunks;
        if inner.len() < 25
            || inner[..16] != self.file_id
            || inner[16..24] != index.to_be_bytes()
            || inner[24] != u8::from(last)
            || (!last && inner.len() != 25 + PLAIN_CHUNK)
        {
            return Err(corrupt());
        }
        self.plain.clear();
        self.plain.extend_from_slice(&inner[25..]);
        self.cached = Some(index);
        Ok(())
    }
}

impl Read for SealedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let index = self.pos / PLAIN_CHUNK as u64;
        self.load(index)?;
        let at = (self.pos - index * PLAIN_CHUNK as u64) as usize;
        let n = buf.len().min(self.plain.len().saturating_sub(at));
        buf[..n].copy_from_slice(&self.plain[at..at + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for SealedReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before start"))?;
        self.pos = target;
        Ok(target)
    }
}

/// Where uploads are kept while their job is pending or running.
pub fn upload_dir(state: &AppState) -> PathBuf {
    state
        .config
        .upload_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("backstop-uploads"))
}

pub(super) fn file_path(state: &AppState, token: &str) -> PathBuf {
    upload_dir(state).join(format!("{token}.sealed"))
}

pub(super) async fn ensure_dir(dir: &FsPath) -> io::Result<()> {
    let owned = dir.to_path_buf();
    tokio::task::spawn_blocking(move || backstop_store::create_private_dir(&owned))
        .await
        .map_err(io::Error::other)??;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tokio::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).await?;
    }
    Ok(())
}

/// Create a new upload file, 0600 on Unix (only the service's user reads even the sealed bytes).
pub(super) async fn create_file(path: &FsPath) -> io::Result<tokio::fs::File> {
    let mut opts = tokio::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    opts.open(path).await
}

pub(super) async fn remove_file(state: &AppState, token: &str) {
    let _ = tokio::fs::remove_file(file_path(state, token)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_files_round_trip_seek_and_detect_tampering() {
        let keys = KeyRing::from_master([3u8; 32]);
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for len in [
            0usize,
            1,
            PLAIN_CHUNK - 1,
            PLAIN_CHUNK,
            PLAIN_CHUNK + 1,
            3 * PLAIN_CHUNK + 17,
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let (mut s, mut out) = Sealer::new(keys.clone());
            for part in data.chunks(1000) {
                out.extend_from_slice(&s.push(part));
            }
            out.extend_from_slice(&s.finish());
            if len > 20 {
                assert!(
                    !out.windows(20).any(|w| w == &data[..20]),
                    "plaintext at rest"
                );
            }
            let path = dir.path().join(format!("f{len}"));
            std::fs::write(&path, &out).unwrap_or_else(|e| panic!("{e}"));
            let mut r = SealedReader::open(&path, keys.clone()).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(r.len(), len as u64);
            let mut back = Vec::new();
            r.read_to_end(&mut back).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(back, data);
            if len > 10 {
                r.seek(SeekFrom::End(-5)).unwrap_or_else(|e| panic!("{e}"));
                let mut tail = Vec::new();
                r.read_to_end(&mut tail).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(tail, data[len - 5..]);
            }
            // Any flipped byte, or a dropped last chunk, is detected.
            let mut bad = out.clone();
            let at = bad.len() - 3;
            bad[at] ^= 1;
            std::fs::write(&path, &bad).unwrap_or_else(|e| panic!("{e}"));
            let mut r = SealedReader::open(&path, keys.clone()).unwrap_or_else(|e| panic!("{e}"));
            if len > 0 {
                assert!(
                    r.read_to_end(&mut Vec::new()).is_err(),
                    "tampering detected"
                );
            }
            if len > PLAIN_CHUNK {
                let cut = &out[..HEADER as usize + SEALED_CHUNK as usize];
                std::fs::write(&path, cut).unwrap_or_else(|e| panic!("{e}"));
                let r = SealedReader::open(&path, keys.clone());
                let failed = r.and_then(|mut r| r.read_to_end(&mut Vec::new())).is_err();
                assert!(failed, "truncation detected");
            }
        }
    }
}
