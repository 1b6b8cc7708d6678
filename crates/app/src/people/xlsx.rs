//! Streaming reader of the first worksheet of an Excel roster (.xlsx = zip + XML), for the
//! roster import (`people::import`).
//!
//! This module owns reading an untrusted .xlsx safely, so a hostile upload cannot exhaust
//! memory or disk and a broken one gives a clear Chinese message instead of a panic:
//!
//! - **Zip-bomb safety.** Before the zip crate parses anything, the end-of-central-directory
//!   record is read and the number of entries and the directory's size are bounded
//!   ([`Limits::max_entries`], [`Limits::max_directory`]). Every entry's declared sizes are
//!   checked (an entry expanding more than [`Limits::max_ratio`] times is refused), and every
//!   part actually read goes through a capped reader that counts decompressed bytes: shared
//!   strings at most [`Limits::max_shared_strings`], the sheet at most [`Limits::max_sheet`],
//!   and again the ratio against the declared compressed size, so a directory that lies is
//!   caught while reading. A refusal is a [`FileError`] with kind `TooLarge` (`file_too_large`)
//!   or `Unsafe` (`xlsx_unsafe`); the import then writes nothing.
//! - **Bounded memory.** Only the shared-string table is held (one string buffer plus an
//!   offset per string); the sheet is parsed event by event and one row is held at a time.
//!   A single XML event (a cell, a tag) larger than 4 MiB, a cell longer than 64 KiB or a row
//!   longer than 1 MiB stops the import; at most 1,024 columns are kept.
//! - **Cells** are placed by their reference (`r="C5"`), so rows that skip cells keep their
//!   columns; the row number (`r="5"`) is the line number users see. Shared strings, inline
//!   strings (rich text runs joined, phonetic runs skipped), formula string results, numbers
//!   (kept as Excel wrote them, marked as numbers so the importer can refuse an ID number that
//!   Excel stored as a number and turn a date serial into a date), booleans and error values.
//! - The first worksheet is found through `xl/workbook.xml` and its relationships (falling back
//!   to `xl/worksheets/sheet1.xml`); the 1904 date system is honoured.

use std::borrow::Cow;
use std::io::{self, BufReader, Read, Seek, SeekFrom};

use chrono::NaiveDate;
use quick_xml::events::Event;
use zip::ZipArchive;

use super::import::{FileError, FileErrorKind, Kind, Record, Refused, RowSource, refused_in};

/// Caps on what an .xlsx may make us read.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Entries in the zip directory.
    pub max_entries: u64,
    /// Bytes of the zip's central directory.
    pub max_directory: u64,
    /// Decompressed bytes of `xl/sharedStrings.xml`.
    pub max_shared_strings: u64,
    /// Decompressed bytes of the worksheet.
    pub max_sheet: u64,
    /// Decompressed bytes of the small parts (workbook, relationships).
    pub max_part: u64,
    /// Largest decompressed/compressed ratio of an entry (past its first MiB).
    pub max_ratio: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 2_000,
            max_directory: 4 * 1024 * 1024,
            max_shared_strings: 64 * 1024 * 1024,
            max_sheet: 1024 * 1024 * 1024,
            max_part: 16 * 1024 * 1024,
            max_ratio: 250,
        }
    }
}

/// At most this many columns are kept per row.
pub const MAX_COLUMNS: usize = 1024;
/// Longest cell text kept (bytes).
const MAX_CELL: usize = 64 * 1024;
/// Longest row (bytes of cell text).
const MAX_ROW: usize = 1024 * 1024;
/// Largest single XML event (bytes read from the part between two events).
const MAX_EVENT: u64 = 4 * 1024 * 1024;
/// Ratio checks start after this many decompressed bytes.
const RATIO_GRACE: u64 = 1024 * 1024;

/// Does the file start like a zip (`PK\x03\x04`)?
pub fn is_zip(head: &[u8]) -> bool {
    head.starts_with(b"PK\x03\x04")
}

fn unreadable(m: impl Into<String>) -> FileError {
    FileError::new(FileErrorKind::Unreadable, m)
}

fn unsafe_file(m: impl Into<String>) -> FileError {
    FileError::new(FileErrorKind::Unsafe, m)
}

const BOMB: &str = "文件解压后的大小或压缩比异常（可能是恶意构造的压缩包），已拒绝，未导入任何数据";

fn io_error(e: &io::Error, what: &str) -> FileError {
    refused_in(e).unwrap_or_else(|| unreadable(format!("无法读取 xlsx 文件的{what}：{e}")))
}

fn xml_error(e: &quick_xml::Error, what: &str) -> FileError {
    if let quick_xml::Error::Io(io) = e
        && let Some(f) = refused_in(io)
    {
        return f;
    }
    unreadable(format!("xlsx 文件的{what}格式错误，文件可能已损坏"))
}

/// Reads at most `cap` bytes from a part; refuses an expansion ratio beyond `max_ratio`
/// against the declared compressed size, and an XML event larger than [`MAX_EVENT`].
struct Capped<R> {
    inner: R,
    read: u64,
    cap: u64,
    compressed: u64,
    max_ratio: u64,
    since_mark: u64,
    what: &'static str,
}

impl<R> Capped<R> {
    fn mark(&mut self) {
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
fn check_directory<R: Read + Seek>(r: &mut R, limits: &Limits) -> Result<u64, FileError> {
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

/// Shared strings: one buffer and the end offset of each string.
#[derive(Debug, Default)]
struct Strings {
    text: String,
    ends: Vec<u32>,
}

impl Strings {
    fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)? as usize;
        let start = if i == 0 {
            0
        } else {
            *self.ends.get(i - 1)? as usize
        };
        self.text.get(start..end)
    }
}

/// An opened workbook: where its first sheet is, its shared strings and date system.
pub struct Book<R> {
    archive: ZipArchive<R>,
    strings: Strings,
    date1904: bool,
    sheet: usize,
    sheet_size: u64,
    sheet_compressed: u64,
    file_len: u64,
    limits: Limits,
}

/// Resolve a relationship target against `xl/`.
fn part_path(target: &str) -> String {
    let t = target.trim();
    if let Some(abs) = t.strip_prefix('/') {
        return abs.to_string();
    }
    let mut parts: Vec<&str> = vec!["xl"];
    for seg in t.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

fn attr<'a>(e: &'a quick_xml::events::BytesStart<'_>, name: &str) -> Option<Cow<'a, str>> {
    e.attributes()
        .flatten()
        .find(|a| {
            let k = a.key.0;
            k == name || k.rsplit_once(':').is_some_and(|(_, l)| l == name)
        })
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(|v| Cow::Owned(v.into_owned()))
        })
}

/// Append the text of a general reference (`&amp;`, `&#x41;`).
fn push_ref(out: &mut String, r: &quick_xml::events::BytesRef<'_>) {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        out.push(c);
    } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(r) {
        out.push_str(s);
    }
}

impl<R: Read + Seek> Book<R> {
    /// Open a workbook: check the zip directory, every entry's declared sizes, then read the
    /// workbook, its relationships and the shared strings (bounded).
    pub fn open(mut input: R, limits: Limits) -> Result<Self, FileError> {
        let file_len = check_directory(&mut input, &limits)?;
        let archive = ZipArchive::new(input)
            .map_err(|e| unreadable(format!("无法读取 xlsx 文件（压缩包损坏：{e}）")))?;
        if archive.len() as u64 > limits.max_entries {
            return Err(unsafe_file("压缩包中的文件过多，已拒绝"));
        }
        for i in 0..archive.len() {
            let e = archive
                .by_index_data(i)
                .map_err(|e| unreadable(format!("无法读取 xlsx 文件（{e}）")))?;
            let (size, packed) = (e.size(), e.compressed_size());
            if size > RATIO_GRACE && size / packed.max(1) > limits.max_ratio {
                return Err(unsafe_file(BOMB));
            }
            if e.encrypted() {
                return Err(unreadable("xlsx 文件已加密，请取消密码保护后再导入"));
            }
        }
        let mut book = Book {
            archive,
            strings: Strings::default(),
            date1904: false,
            sheet: 0,
            sheet_size: 0,
            sheet_compressed: 0,
            file_len,
            limits,
        };
        let (rid, date1904) = book.read_workbook()?;
        book.date1904 = date1904;
        let (sheet_path, strings_path) = book.read_rels(rid.as_deref())?;
        book.sheet = book
            .archive
            .index_for_name(&sheet_path)
            .or_else(|| book.archive.index_for_name("xl/worksheets/sheet1.xml"))
            .ok_or_else(|| unreadable("xlsx 文件中没有工作表"))?;
        {
            let e = book
                .archive
                .by_index_data(book.sheet)
                .map_err(|e| unreadable(format!("无法读取工作表（{e}）")))?;
            book.sheet_size = e.size();
            book.sheet_compressed = e.compressed_size();
        }
        if book.sheet_size > limits.max_sheet {
            return Err(FileError::new(
                FileErrorKind::TooLarge,
                format!(
                    "工作表解压后有 {} MB，超过上限 {} MB，请拆分后分批导入",
                    book.sheet_size / (1024 * 1024),
                    limits.max_sheet / (1024 * 1024)
                ),
            ));
        }
        if let Some(i) = book.archive.index_for_name(&strings_path) {
            book.strings = book.read_strings(i)?;
        }
        Ok(book)
    }

    /// An entry through the capped reader, or `None` when absent.
    fn part(
        &mut self,
        index: usize,
        cap: u64,
        what: &'static str,
    ) -> Result<Capped<zip::read::ZipFile<'_, R>>, FileError> {
        let max_ratio = self.limits.max_ratio;
        let f = self
            .archive
            .by_index(index)
            .map_err(|e| unreadable(format!("无法读取 xlsx 文件的{what}（{e}）")))?;
        if f.size() > cap {
            return Err(FileError::new(
                FileErrorKind::TooLarge,
                format!(
                    "xlsx 文件的{what}解压后超过 {} MB 上限",
                    cap / (1024 * 1024)
                ),
            ));
        }
        let compressed = f.compressed_size();
        Ok(Capped {
            inner: f,
            read: 0,
            cap,
            compressed,
            max_ratio,
            since_mark: 0,
            what,
        })
    }

    /// The first sheet's relationship id and the date system.
    fn read_workbook(&mut self) -> Result<(Option<String>, bool), FileError> {
        let Some(i) = self.archive.index_for_name("xl/workbook.xml") else {
            return Ok((None, false));
        };
        let cap = self.limits.max_part;
        let part = self.part(i, cap, "工作簿")?;
        let mut xml = quick_xml::Reader::from_reader(BufReader::new(part));
        let mut buf = Vec::new();
        let (mut rid, mut date1904) = (None, false);
        loop {
            xml.get_mut().get_mut().mark();
            match xml.read_event_into(&mut buf) {
                Ok(Event::Start(e) | Event::Empty(e)) => match e.local_name().as_ref() {
                    "workbookPr" => {
                        date1904 = attr(&e, "date1904")
                            .is_some_and(|v| v.as_ref() == "1" || v.as_ref() == "true");
                    }
                    "sheet" if rid.is_none() => rid = attr(&e, "id").map(Cow::into_owned),
                    _ => {}
                },
                Ok(Event::Eof) => break,
                Ok(_) => {}
                Err(e) => return Err(xml_error(&e, "工作簿")),
            }
            buf.clear();
        }
        Ok((rid, date1904))
    }

    /// Paths of the sheet with relationship `rid` and of the shared strings.
    fn read_rels(&mut self, rid: Option<&str>) -> Result<(String, String), FileError> {
        let mut sheet = "xl/worksheets/sheet1.xml".to_string();
        let mut strings = "xl/sharedStrings.xml".to_string();
        let Some(i) = self.archive.index_for_name("xl/_rels/workbook.xml.rels") else {
            return Ok((sheet, strings));
        };
        let cap = self.limits.max_part;
        let part = self.part(i, cap, "关系表")?;
        let mut xml = quick_xml::Reader::from_reader(BufReader::new(part));
        let mut buf = Vec::new();
        loop {
            xml.get_mut().get_mut().mark();
            match xml.read_event_into(&mut buf) {
                Ok(Event::Start(e) | Event::Empty(e))
                    if e.local_name().as_ref() == "Relationship" =>
                {
                    let id = attr(&e, "Id");
                    let target = attr(&e, "Target").unwrap_or_default();
                    let kind = attr(&e, "Type").unwrap_or_default();
                    if kind.ends_with("/sharedStrings") {
                        strings = part_path(&target);
                    } else if rid.is_some() && id.as_deref() == rid {
                        sheet = part_path(&target);
                    }
                }
                Ok(Event::Eof) => break,
                Ok(_) => {}
                Err(e) => return Err(xml_error(&e, "关系表")),
            }
            buf.clear();
        }
        Ok((sheet, strings))
    }

    fn read_strings(&mut self, index: usize) -> Result<Strings, FileError> {
        let cap = self.limits.max_shared_strings;
        let part = self.part(index, cap, "共享字符串表")?;
        let mut xml = quick_xml::Reader::from_reader(BufReader::new(part));
        let mut buf = Vec::new();
        let mut strings = Strings::default();
        let (mut in_si, mut in_t, mut in_rph) = (false, false, false);
        loop {
            xml.get_mut().get_mut().mark();
            let ev = xml.read_event_into(&mut buf);
            match ev {
                Ok(Event::Start(e)) => match e.local_name().as_ref() {
                    "si" => in_si = true,
                    "t" => in_t = in_si,
                    "rPh" => in_rph = true,
                    _ => {}
                },
                Ok(Event::Empty(e)) if e.local_name().as_ref() == "si" => {
                    strings.ends.push(strings.text.len() as u32);
                }
                Ok(Event::End(e)) => match e.local_name().as_ref() {
                    "si" => {
                        in_si = false;
                        strings.ends.push(strings.text.len() as u32);
                    }
                    "t" => in_t = false,
                    "rPh" => in_rph = false,
                    _ => {}
                },
                Ok(Event::Text(t)) if in_t && !in_rph => strings.text.push_str(&t.xml10_content()),
                Ok(Event::CData(t)) if in_t && !in_rph => strings.text.push_str(&t),
                Ok(Event::GeneralRef(r)) if in_t && !in_rph => push_ref(&mut strings.text, &r),
                Ok(Event::Eof) => break,
                Ok(_) => {}
                Err(e) => return Err(xml_error(&e, "共享字符串表")),
            }
            buf.clear();
        }
        if strings.text.len() > u32::MAX as usize {
            return Err(unsafe_file(BOMB));
        }
        Ok(strings)
    }

    /// The rows of the first sheet.
    pub fn rows(&mut self) -> Result<Sheet<'_, R>, FileError> {
        let cap = self.limits.max_sheet;
        let (sheet, size, compressed, file_len, date1904) = (
            self.sheet,
            self.sheet_size,
            self.sheet_compressed,
            self.file_len,
            self.date1904,
        );
        let max_ratio = self.limits.max_ratio;
        let f = self
            .archive
            .by_index(sheet)
            .map_err(|e| unreadable(format!("无法读取工作表（{e}）")))?;
        let part = Capped {
            inner: f,
            read: 0,
            cap,
            compressed,
            max_ratio,
            since_mark: 0,
            what: "工作表",
        };
        Ok(Sheet {
            xml: quick_xml::Reader::from_reader(BufReader::with_capacity(64 * 1024, part)),
            strings: &self.strings,
            date1904,
            size,
            file_len,
            buf: Vec::new(),
            last_row: 0,
            done: false,
            text: String::new(),
        })
    }

    /// Whether the workbook uses the 1904 date system.
    pub fn date1904(&self) -> bool {
        self.date1904
    }
}

/// Rows of a worksheet, one at a time.
pub struct Sheet<'a, R: Read> {
    xml: quick_xml::Reader<BufReader<Capped<zip::read::ZipFile<'a, R>>>>,
    strings: &'a Strings,
    date1904: bool,
    size: u64,
    file_len: u64,
    buf: Vec<u8>,
    last_row: u64,
    done: bool,
    text: String,
}

/// Column index (0-based) of a cell reference such as `C5` or `AB12`.
pub fn column_of(reference: &str) -> Option<usize> {
    let mut col: usize = 0;
    let mut any = false;
    for b in reference.bytes() {
        if b.is_ascii_alphabetic() {
            col = col
                .checked_mul(26)?
                .checked_add((b.to_ascii_uppercase() - b'A') as usize + 1)?;
            any = true;
            if col > 16_384 {
                return None;
            }
        } else {
            break;
        }
    }
    any.then(|| col - 1)
}

/// Date of an Excel serial number (1900 system with its phantom 29 Feb 1900, or 1904).
pub fn excel_date(serial: f64, date1904: bool) -> Option<NaiveDate> {
    if !serial.is_finite() || !(1.0..3_000_000.0).contains(&serial) {
        return None;
    }
    let days = serial.floor() as i64;
    let (base, days) = if date1904 {
        (NaiveDate::from_ymd_opt(1904, 1, 1)?, days)
    } else if days < 60 {
        (NaiveDate::from_ymd_opt(1899, 12, 31)?, days)
    } else if days == 60 {
        return None;
    } else {
        (NaiveDate::from_ymd_opt(1899, 12, 30)?, days)
    };
    base.checked_add_signed(chrono::Duration::days(days))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CellType {
    Shared,
    Inline,
    Str,
    Bool,
    Number,
}

fn cell_type(t: Option<&str>) -> CellType {
    match t.unwrap_or("n") {
        "s" => CellType::Shared,
        "inlineStr" => CellType::Inline,
        "b" => CellType::Bool,
        "n" => CellType::Number,
        // "str" (formula result), "e" (error value), "d" (ISO date): text as written.
        _ => CellType::Str,
    }
}

impl<R: Read> Sheet<'_, R> {
    /// Decompressed bytes of the sheet read so far, scaled to the file's size (progress).
    fn file_bytes(&self) -> u64 {
        let read = self.xml.get_ref().get_ref().read;
        if self.size == 0 {
            return 0;
        }
        let frac = (read.min(self.size) as f64) / (self.size as f64);
        (self.file_len as f64 * frac) as u64
    }

    /// Read the next `<row>` into `rec` (possibly with no cells); `false` at the end.
    fn read_row(&mut self, rec: &mut Record) -> Result<bool, FileError> {
        rec.clear();
        if self.done {
            return Ok(false);
        }
        let mut in_row = false;
        let mut cell: Option<(usize, CellType)> = None;
        let (mut in_v, mut in_is, mut in_t, mut in_rph) = (false, false, false, false);
        let mut next_col = 0usize;
        let mut row_bytes = 0usize;
        loop {
            self.xml.get_mut().get_mut().mark();
            self.buf.clear();
            let ev = self
                .xml
                .read_event_into(&mut self.buf)
                .map_err(|e| xml_error(&e, "工作表"))?;
            let capture = in_v || (in_t && !in_rph);
            match ev {
                Event::Start(e) => match e.local_name().as_ref() {
                    "row" => {
                        in_row = true;
                        let r = attr(&e, "r").and_then(|v| v.trim().parse::<u64>().ok());
                        rec.line = r.unwrap_or(self.last_row + 1);
                        self.last_row = rec.line;
                        next_col = 0;
                    }
                    "c" if in_row => {
                        let col = attr(&e, "r")
                            .and_then(|r| column_of(&r))
                            .unwrap_or(next_col);
                        cell = Some((col, cell_type(attr(&e, "t").as_deref())));
                        self.text.clear();
                    }
                    "v" => in_v = cell.is_some(),
                    "is" => in_is = cell.is_some(),
                    "t" => in_t = in_is,
                    "rPh" => in_rph = true,
                    _ => {}
                },
                Event::Empty(e) => match e.local_name().as_ref() {
                    "row" => {
                        let r = attr(&e, "r").and_then(|v| v.trim().parse::<u64>().ok());
                        self.last_row = r.unwrap_or(self.last_row + 1);
                    }
                    "c" if in_row => {
                        let col = attr(&e, "r")
                            .and_then(|r| column_of(&r))
                            .unwrap_or(next_col);
                        next_col = col.saturating_add(1);
                    }
                    _ => {}
                },
                Event::End(e) => match e.local_name().as_ref() {
                    "v" => in_v = false,
                    "t" => in_t = false,
                    "is" => in_is = false,
                    "rPh" => in_rph = false,
                    "c" => {
                        if let Some((col, t)) = cell.take() {
                            next_col = col.saturating_add(1);
                            row_bytes += self.text.len();
                            if row_bytes > MAX_ROW {
                                return Err(unreadable(format!(
                                    "第 {} 行超过 {} KB，文件可能已损坏",
                                    rec.line,
                                    MAX_ROW / 1024
                                )));
                            }
                            if col < MAX_COLUMNS {
                                let v = self.text.trim();
                                match t {
                                    CellType::Shared => {
                                        let s = v
                                            .parse::<usize>()
                                            .ok()
                                            .and_then(|i| self.strings.get(i))
                                            .ok_or_else(|| {
                                                unreadable(format!(
                                                    "第 {} 行引用了不存在的共享字符串，文件可能已损坏",
                                                    rec.line
                                                ))
                                            })?;
                                        rec.set(col, Kind::Text, s);
                                    }
                                    CellType::Inline | CellType::Str => {
                                        rec.set(col, Kind::Text, &self.text)
                                    }
                                    CellType::Bool => rec.set(
                                        col,
                                        Kind::Text,
                                        if v == "1" { "TRUE" } else { "FALSE" },
                                    ),
                                    CellType::Number => rec.set(col, Kind::Number, v),
                                }
                            }
                        }
                    }
                    "row" if in_row => return Ok(true),
                    "sheetData" => {
                        self.done = true;
                        return Ok(in_row);
                    }
                    _ => {}
                },
                Event::Text(t) if capture => {
                    self.text.push_str(&t.xml10_content());
                }
                Event::CData(t) if capture => {
                    self.text.push_str(&t);
                }
                Event::GeneralRef(r) if capture => push_ref(&mut self.text, &r),
                Event::Eof => {
                    self.done = true;
                    return Ok(in_row);
                }
                _ => {}
            }
            if self.text.len() > MAX_CELL {
                return Err(unreadable(format!(
                    "第 {} 行有单元格超过 {} KB，文件可能已损坏",
                    rec.line,
                    MAX_CELL / 1024
                )));
            }
        }
    }
}

impl<R: Read> RowSource for Sheet<'_, R> {
    fn next_record(&mut self, rec: &mut Record) -> Result<bool, FileError> {
        self.read_row(rec)
    }

    fn bytes(&self) -> u64 {
        self.file_bytes()
    }

    fn format(&self) -> &'static str {
        "xlsx"
    }

    fn date1904(&self) -> bool {
        self.date1904
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::{Cursor, Write};

    /// All rows of a workbook: (row number, [(kind, text)]).
    type Grid = Vec<(u64, Vec<(Kind, String)>)>;

    fn read_all(bytes: &[u8], limits: Limits) -> Result<Grid, FileError> {
        let mut book = Book::open(Cursor::new(bytes.to_vec()), limits)?;
        let mut sheet = book.rows()?;
        let mut out = Vec::new();
        let mut rec = Record::default();
        while sheet.next_record(&mut rec)? {
            if out.len() > 100_000 {
                break;
            }
            let cells = (0..rec.len())
                .map(|i| {
                    let (k, t) = rec.get(i);
                    (k, t.to_string())
                })
                .collect();
            out.push((rec.line, cells));
        }
        Ok(out)
    }

    fn workbook() -> Vec<u8> {
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        let _ = ws.write_string(0, 0, "姓名");
        let _ = ws.write_string(0, 2, "身份证号");
        let _ = ws.write_string(1, 0, "张三 & <李>");
        let _ = ws.write_string(1, 2, "13011019800101001X");
        let _ = ws.write_number(3, 1, 13812345678.0);
        let _ = ws.write_boolean(3, 3, true);
        let _ = ws.write_number(3, 4, 29221.0);
        wb.save_to_buffer().unwrap_or_default()
    }

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in entries {
            let _ = z.start_file(*name, opts);
            let _ = z.write_all(data);
        }
        z.finish().map(Cursor::into_inner).unwrap_or_default()
    }

    #[test]
    fn reads_cells_by_reference_with_all_kinds() {
        {
            let rows = read_all(&workbook(), Limits::default()).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(rows.len(), 3, "{rows:?}");
            assert_eq!(rows[0].0, 1);
            assert_eq!(rows[0].1[0].1, "姓名");
            assert_eq!(rows[0].1[1].1, "", "skipped cell B1 padded");
            assert_eq!(rows[0].1[2].1, "身份证号");
            assert_eq!(rows[1].1[0].1, "张三 & <李>");
            assert_eq!(rows[1].1[2], (Kind::Text, "13011019800101001X".to_string()));
            assert_eq!(rows[2].0, 4, "row numbers kept");
            assert_eq!(rows[2].1[1], (Kind::Number, "13812345678".to_string()));
            assert_eq!(rows[2].1[3], (Kind::Text, "TRUE".to_string()));
            assert_eq!(rows[2].1[4], (Kind::Number, "29221".to_string()));
        }
    }

    #[test]
    fn hand_written_parts_rich_text_and_sparse_rows() {
        let sheet = br#"<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="3"><c r="C3" t="s"><v>1</v></c><c r="A3" t="inlineStr"><is><r><t>A</t></r><r><t xml:space="preserve"> &amp; B</t></r><rPh><t>x</t></rPh></is></c></row>
<row><c t="str"><f>1+1</f><v>two</v></c><c t="e"><v>#N/A</v></c></row>
<row r="9"/>
</sheetData></worksheet>"#;
        let strings = br#"<sst><si><t>zero</t></si><si><r><t>o</t></r><r><t>ne&#x4E00;</t></r></si><si/></sst>"#;
        let bytes = zip_of(&[
            ("xl/worksheets/sheet1.xml", sheet),
            ("xl/sharedStrings.xml", strings),
        ]);
        let rows = read_all(&bytes, Limits::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(rows[0].0, 3);
        assert_eq!(rows[0].1[0].1, "A & B");
        assert_eq!(rows[0].1[2].1, "one一");
        assert_eq!(rows[1].0, 4);
        assert_eq!(rows[1].1[0].1, "two");
        assert_eq!(rows[1].1[1].1, "#N/A");
    }

    #[test]
    fn bombs_and_lies_are_refused() {
        // Declared ratio far beyond the limit.
        let zeros = vec![b'<'; 4 * 1024 * 1024];
        let bytes = zip_of(&[("xl/worksheets/sheet1.xml", &zeros)]);
        let e = read_all(&bytes, Limits::default()).map(|_| ()).unwrap_err();
        assert_eq!(e.kind, FileErrorKind::Unsafe, "{e}");
        // A sheet over the configured cap.
        let body: String = (1..20_000)
            .map(|i| format!("<row r=\"{i}\"><c t=\"inlineStr\"><is><t>{i}</t></is></c></row>"))
            .collect();
        let sheet = format!("<worksheet><sheetData>{body}</sheetData></worksheet>");
        let bytes = zip_of(&[("xl/worksheets/sheet1.xml", sheet.as_bytes())]);
        let small = Limits {
            max_sheet: 100_000,
            ..Limits::default()
        };
        let e = read_all(&bytes, small).map(|_| ()).unwrap_err();
        assert_eq!(e.kind, FileErrorKind::TooLarge, "{e}");
        // A directory that lies about the size is caught while reading.
        let mut lying = bytes.clone();
        let cd = lying
            .windows(4)
            .rposition(|w| w == b"PK\x01\x02")
            .unwrap_or_default();
        lying[cd + 24..cd + 28].copy_from_slice(&1000u32.to_le_bytes());
        let e = read_all(&lying, small).map(|_| ()).unwrap_err();
        assert!(
            matches!(e.kind, FileErrorKind::Unsafe | FileErrorKind::Unreadable),
            "{e:?}"
        );
        // Too many entries.
        let names: Vec<String> = (0..30).map(|i| format!("f{i}")).collect();
        let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
        let bytes = zip_of(&entries);
        let few = Limits {
            max_entries: 10,
            ..Limits::default()
        };
        let e = read_all(&bytes, few).map(|_| ()).unwrap_err();
        assert_eq!(e.kind, FileErrorKind::Unsafe, "{e}");
        // Not a zip at all.
        let e = read_all(b"PK\x03\x04garbage", Limits::default())
            .map(|_| ())
            .unwrap_err();
        assert_eq!(e.kind, FileErrorKind::Unreadable);
    }

    #[test]
    fn columns_and_relationships() {
        assert_eq!(column_of("A1"), Some(0));
        assert_eq!(column_of("c5"), Some(2));
        assert_eq!(column_of("AB12"), Some(27));
        assert_eq!(column_of("XFD1"), Some(16_383));
        assert_eq!(column_of("ZZZZ1"), None);
        assert_eq!(column_of("12"), None);
        assert_eq!(
            part_path("worksheets/sheet2.xml"),
            "xl/worksheets/sheet2.xml"
        );
        assert_eq!(part_path("/xl/worksheets/s.xml"), "xl/worksheets/s.xml");
        assert_eq!(part_path("../x/y.xml"), "x/y.xml");
    }

    fn small_limits() -> Limits {
        Limits {
            max_entries: 50,
            max_directory: 64 * 1024,
            max_shared_strings: 256 * 1024,
            max_sheet: 1024 * 1024,
            max_part: 64 * 1024,
            max_ratio: 250,
        }
    }

    /// Reading never yields more rows than bytes of sheet XML allow.
    fn bounded(bytes: &[u8]) -> Result<(), TestCaseError> {
        if let Ok(rows) = read_all(bytes, small_limits()) {
            prop_assert!(rows.len() <= 1024 * 1024 / 5);
            for (_, cells) in rows {
                prop_assert!(cells.len() <= MAX_COLUMNS);
                prop_assert!(cells.iter().map(|c| c.1.len()).sum::<usize>() <= MAX_ROW + MAX_CELL);
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Fuzz: arbitrary bytes, with and without a zip signature.
        #[test]
        fn never_panics_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..3000)) {
            bounded(&bytes)?;
            let mut z = b"PK\x03\x04".to_vec();
            z.extend_from_slice(&bytes);
            bounded(&z)?;
        }

        /// Fuzz: small zips whose parts are arbitrary XML-ish text.
        #[test]
        fn never_panics_on_small_zips(
            sheet in "(<row( r=\"[0-9]{1,3}\")?>|<c( r=\"[A-Z]{1,3}[0-9]{1,3}\")?( t=\"(s|inlineStr|b|str|n|e)\")?>|<v>|</v>|<is>|<t>|</t>|</is>|</c>|</row>|[0-9a-z&;#<>/\"= ]){0,200}",
            strings in "(<si>|</si>|<t>|</t>|<r>|</r>|<rPh>|</rPh>|[a-z0-9&;#]){0,80}",
            rels in "(<Relationship Id=\"rId1\" Target=\"[a-z/\\.]{0,20}\" Type=\"[a-z/]{0,20}\"/>|[a-z<> ]){0,5}",
        ) {
            let wb = br#"<workbook><workbookPr date1904="1"/><sheets><sheet name="a" r:id="rId1"/></sheets></workbook>"#;
            let sheet = format!("<worksheet><sheetData>{sheet}</sheetData></worksheet>");
            let bytes = zip_of(&[
                ("xl/workbook.xml", wb),
                ("xl/_rels/workbook.xml.rels", rels.as_bytes()),
                ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
                ("xl/sharedStrings.xml", format!("<sst>{strings}</sst>").as_bytes()),
            ]);
            bounded(&bytes)?;
        }

        /// Fuzz: a valid workbook with bytes flipped, cut or inserted.
        #[test]
        fn never_panics_on_mutated_workbooks(
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let valid = workbook();
            let mut m = valid.clone();
            for (i, b) in &flips {
                let at = i.index(m.len());
                m[at] ^= b | 1;
            }
            bounded(&m)?;
            let mut c = valid.clone();
            c.truncate(cut.index(valid.len()));
            bounded(&c)?;
        }
    }
}
