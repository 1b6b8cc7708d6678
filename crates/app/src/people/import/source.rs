//! Reading a roster file as rows of cells: the [`RowSource`] both formats feed, the CSV reader
//! (streamed in 64 KiB chunks, UTF-8 / UTF-8 with BOM / GBK chosen from the first bytes,
//! bounded line length and file size) and the zip sniff that sends an .xlsx to
//! `people::xlsx` instead. Nothing here knows what a column means.

use std::io::{self, Read, Seek, SeekFrom};

use encoding_rs::{Encoding, GBK, UTF_8};

use super::*;

pub(super) const CHUNK: usize = 64 * 1024;

/// How a cell was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    #[default]
    Text,
    /// An .xlsx number, as Excel wrote it (`13812345678`, `1.30110198001011E+17`, `29221`).
    Number,
}

/// One row of cells, reused from row to row (the strings keep their capacity).
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// Line (CSV) or row number (.xlsx).
    pub line: u64,
    pub(super) cells: Vec<String>,
    pub(super) kinds: Vec<Kind>,
    pub(super) len: usize,
}

impl Record {
    pub fn clear(&mut self) {
        self.len = 0;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn put(&mut self, i: usize, kind: Kind, text: &str) {
        if i < self.cells.len() {
            self.cells[i].clear();
            self.cells[i].push_str(text);
            self.kinds[i] = kind;
        } else {
            self.cells.push(text.to_string());
            self.kinds.push(kind);
        }
    }

    /// Append a cell.
    pub fn push(&mut self, kind: Kind, text: &str) {
        self.put(self.len, kind, text);
        self.len += 1;
    }

    /// Set cell `col`, padding with empty cells.
    pub fn set(&mut self, col: usize, kind: Kind, text: &str) {
        while self.len < col {
            self.push(Kind::Text, "");
        }
        if col < self.len {
            self.put(col, kind, text);
        } else {
            self.push(kind, text);
        }
    }

    /// Cell `i` (empty text beyond the end).
    pub fn get(&self, i: usize) -> (Kind, &str) {
        if i < self.len {
            (self.kinds[i], self.cells[i].as_str())
        } else {
            (Kind::Text, "")
        }
    }

    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.cells[..self.len].iter().map(String::as_str)
    }

    pub(super) fn is_blank(&self) -> bool {
        self.texts().all(|c| c.trim().is_empty())
    }
}

/// Rows of a roster file, in order.
pub trait RowSource {
    /// Read the next row into `rec`; `false` at the end. Blank rows may be returned.
    fn next_record(&mut self, rec: &mut Record) -> Result<bool, FileError>;
    /// Bytes of the file consumed so far (estimated for .xlsx).
    fn bytes(&self) -> u64;
    /// `utf-8`, `gbk` or `xlsx`.
    fn format(&self) -> &'static str;
    /// Date serials count from 1904 (.xlsx only).
    fn date1904(&self) -> bool {
        false
    }
}

/// Where the CSV syntax is, for [`Decoded`]'s blank-line marking (same rules as the `csv`
/// crate's defaults: a quote opens a quoted field only at the start of a field, `""` inside is
/// a quote, a quote followed by anything else closes it).
#[derive(Debug, Clone, Copy)]
pub(super) struct Syntax {
    pub(super) field_start: bool,
    pub(super) line_empty: bool,
    pub(super) in_quotes: bool,
    pub(super) quote_pending: bool,
}

impl Default for Syntax {
    fn default() -> Self {
        Syntax {
            field_start: true,
            line_empty: true,
            in_quotes: false,
            quote_pending: false,
        }
    }
}

impl Syntax {
    /// Copy `input` to `out`, turning each blank line outside quotes into `,` so the CSV
    /// parser (which silently skips blank lines) yields a record for every physical line and
    /// line numbers stay exact. The importer skips all-empty records.
    fn mark_blank_lines(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &b in input {
            if self.in_quotes {
                if self.quote_pending {
                    self.quote_pending = false;
                    if b == b'"' {
                        out.push(b);
                        continue;
                    }
                    self.in_quotes = false;
                } else {
                    if b == b'"' {
                        self.quote_pending = true;
                    }
                    out.push(b);
                    continue;
                }
            }
            match b {
                b'"' if self.field_start => {
                    self.in_quotes = true;
                    self.field_start = false;
                    self.line_empty = false;
                }
                b',' => {
                    self.field_start = true;
                    self.line_empty = false;
                }
                b'\n' => {
                    if self.line_empty {
                        out.push(b',');
                    }
                    self.field_start = true;
                    self.line_empty = true;
                }
                b'\r' => {}
                _ => {
                    self.field_start = false;
                    self.line_empty = false;
                }
            }
            out.push(b);
        }
    }
}

/// A reader that decodes the source to UTF-8 as it goes, marks blank lines, and refuses
/// over-long lines and over-large files.
pub(super) struct Decoded<R> {
    pub(super) inner: R,
    pub(super) decoder: encoding_rs::Decoder,
    pub(super) raw: Vec<u8>,
    pub(super) utf8: Vec<u8>,
    pub(super) out: Vec<u8>,
    pub(super) syntax: Syntax,
    pub(super) pos: usize,
    pub(super) done: bool,
    pub(super) consumed: u64,
    pub(super) max_bytes: u64,
    pub(super) line_len: usize,
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos < self.out.len() {
                let n = buf.len().min(self.out.len() - self.pos);
                let chunk = &self.out[self.pos..self.pos + n];
                for &b in chunk {
                    if b == b'\n' {
                        self.line_len = 0;
                    } else {
                        self.line_len += 1;
                        if self.line_len > MAX_LINE_BYTES {
                            return Err(io::Error::other(Refused(FileError::new(
                                FileErrorKind::Unreadable,
                                format!(
                                    "有一行超过 {} KB，文件可能不是 CSV",
                                    MAX_LINE_BYTES / 1024
                                ),
                            ))));
                        }
                    }
                }
                buf[..n].copy_from_slice(chunk);
                self.pos += n;
                return Ok(n);
            }
            if self.done {
                return Ok(0);
            }
            let n = read_full(&mut self.inner, &mut self.raw)?;
            self.consumed += n as u64;
            if self.consumed > self.max_bytes {
                return Err(io::Error::other(Refused(FileError::new(
                    FileErrorKind::TooLarge,
                    format!("文件超过上限 {} MB", self.max_bytes / (1024 * 1024)),
                ))));
            }
            let last = n == 0;
            let cap = self
                .decoder
                .max_utf8_buffer_length(n)
                .unwrap_or(n * 3 + 16)
                .max(16);
            self.utf8.clear();
            self.utf8.resize(cap, 0);
            let (_, read, written, _) =
                self.decoder
                    .decode_to_utf8(&self.raw[..n], &mut self.utf8, last);
            debug_assert_eq!(read, n);
            self.out.clear();
            self.syntax
                .mark_blank_lines(&self.utf8[..written], &mut self.out);
            self.pos = 0;
            self.done = last;
        }
    }
}

/// Fill `buf` as far as the source allows (fewer bytes only at the end).
pub(super) fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Choose the encoding from the first bytes: BOM or valid UTF-8 → UTF-8, else GBK.
pub(super) fn sniff(head: &[u8]) -> Result<&'static Encoding, String> {
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return Err("不支持 UTF-16 编码的文件，请另存为 UTF-8 或 GBK 的 CSV".to_string());
    }
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Ok(UTF_8);
    }
    match std::str::from_utf8(head) {
        Ok(_) => Ok(UTF_8),
        // Valid up to a character cut off by the end of the sample.
        Err(e) if e.error_len().is_none() => Ok(UTF_8),
        Err(_) => Ok(GBK),
    }
}

/// CSV rows.
pub struct CsvSource<R: Read> {
    pub(super) csv: csv::Reader<Decoded<io::Chain<io::Cursor<Vec<u8>>, R>>>,
    pub(super) record: csv::StringRecord,
    pub(super) next_line: u64,
    pub(super) encoding: &'static str,
}

/// Physical lines a record spans (1 + newlines inside quoted fields).
pub(super) fn record_lines(r: &csv::StringRecord) -> u64 {
    1 + r
        .iter()
        .map(|f| f.bytes().filter(|&b| b == b'\n').count() as u64)
        .sum::<u64>()
}

impl<R: Read> CsvSource<R> {
    /// Sniff the encoding from the first 64 KiB and set up the decoder.
    pub fn open(mut input: R, max_bytes: u64) -> Result<Self, FileError> {
        let mut head = vec![0u8; CHUNK];
        let n = read_full(&mut input, &mut head).map_err(|e| io_file_error(&e))?;
        head.truncate(n);
        let enc = sniff(&head).map_err(|m| FileError::new(FileErrorKind::Unreadable, m))?;
        let decoder = if enc == UTF_8 {
            UTF_8.new_decoder_with_bom_removal()
        } else {
            enc.new_decoder_without_bom_handling()
        };
        let decoded = Decoded {
            inner: io::Cursor::new(head).chain(input),
            decoder,
            raw: vec![0u8; CHUNK],
            utf8: Vec::new(),
            out: Vec::new(),
            syntax: Syntax::default(),
            pos: 0,
            done: false,
            consumed: 0,
            max_bytes,
            line_len: 0,
        };
        let csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(decoded);
        Ok(CsvSource {
            csv,
            record: csv::StringRecord::new(),
            next_line: 1,
            encoding: if enc == UTF_8 { "utf-8" } else { "gbk" },
        })
    }
}

impl<R: Read> RowSource for CsvSource<R> {
    fn next_record(&mut self, rec: &mut Record) -> Result<bool, FileError> {
        let more = self
            .csv
            .read_record(&mut self.record)
            .map_err(|e| csv_error(&e))?;
        rec.clear();
        if !more {
            return Ok(false);
        }
        rec.line = self.next_line;
        self.next_line += record_lines(&self.record);
        for cell in self.record.iter() {
            rec.push(Kind::Text, cell);
        }
        Ok(true)
    }

    fn bytes(&self) -> u64 {
        self.csv.get_ref().consumed
    }

    fn format(&self) -> &'static str {
        self.encoding
    }
}

pub(super) fn io_file_error(e: &io::Error) -> FileError {
    refused_in(e)
        .unwrap_or_else(|| FileError::new(FileErrorKind::Unreadable, format!("无法读取文件：{e}")))
}

pub(super) fn csv_error(e: &csv::Error) -> FileError {
    match e.kind() {
        csv::ErrorKind::Io(io) => io_file_error(io),
        _ => {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            FileError::new(FileErrorKind::Unreadable, format!("第 {line} 行无法解析"))
        }
    }
}

/// Whether the input starts with a zip signature (the position is restored).
pub(super) fn sniff_zip<R: Read + Seek>(input: &mut R) -> Result<bool, FileError> {
    let mut head = [0u8; 4];
    let n = read_full(input, &mut head).map_err(|e| io_file_error(&e))?;
    input
        .seek(SeekFrom::Start(0))
        .map_err(|e| io_file_error(&e))?;
    Ok(xlsx::is_zip(&head[..n]))
}
