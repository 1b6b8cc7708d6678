//! Roster import (花名册导入): persons from a CSV file (UTF-8, UTF-8 with BOM or GBK) or the
//! first worksheet of an Excel .xlsx file.
//!
//! This module owns reading a roster file safely and the merge rule, so the CLI
//! (`backstop persons import`), the upload page and the API (`people::import_pages`) behave
//! the same. The format is chosen from the file's first bytes (`PK\x03\x04` is a zip, hence
//! .xlsx), never from its name. Both formats feed one [`RowSource`]; header recognition,
//! validation, the merge rule and the write transaction are shared.
//!
//! - **Streaming, bounded memory.** CSV is read in 64 KiB chunks, decoded on the fly
//!   (`encoding_rs`; the encoding is chosen from the first 64 KiB: a UTF-8 BOM or valid UTF-8
//!   means UTF-8, anything else GBK/GB 18030) and parsed row by row; a line longer than 1 MiB
//!   or a file larger than `max_bytes` stops the import. XLSX is streamed too, with zip-bomb
//!   limits (`people::xlsx`). Only the first 1,000 rejects and warnings are kept in the
//!   report; every one is passed to the progress callback.
//! - **Header row** in Chinese (身份证号, 姓名, 性别, 出生日期, 联系电话, 区划代码, 现住址,
//!   户籍地址) or English (`id_number`, `name`, `sex`, `birth_date`, `phone`, `region_code`,
//!   `address`, `hukou_address`), found among the first 10 non-empty rows (title rows above it
//!   are skipped); an explicit [`Mapping`] (file column → field, e.g. from a saved template)
//!   overrides recognition. Unknown columns are ignored and listed; a file without an ID or a
//!   name column is refused with the columns found and the ones needed. The region column is
//!   optional when a default region is given; rows must lie inside it and inside the actor's
//!   scope. The ID number is required in a roster (it is the key that prevents duplicates);
//!   people without one are recorded one by one on the page.
//! - **Excel cells.** An ID number that Excel stored as a number (only 15 significant digits
//!   survive) is rejected with a reason telling the user to format the column as text; a
//!   number in the birth-date column is an Excel date serial and becomes a date; other numbers
//!   (phones, region codes) are written out as integers.
//! - **Every bad row** is reported with its line number (the Excel row number for .xlsx), a
//!   Chinese reason and the ID number masked for the importer, never in full.
//! - **Merge rule** for an ID number already on record (earlier in the same file, or in the
//!   database, in the actor's scope): the existing record is kept; its empty fields (phone,
//!   current address, household-registration address) are filled from the row; a non-empty
//!   field that differs (name, region, phone, addresses) keeps the recorded value and the row
//!   gets a warning naming the field. The row counts as *merged*, never as a second person.
//!   A number on record outside the actor's scope rejects the row (without saying where).
//! - **Pipelined writes** (ADR 0008): rows are written in batches of 1,000 in that one
//!   transaction; while the engine writes one batch, the next is read, sealed and bound, and
//!   the last batch's audit entries are hashed. A number already on record (or earlier in the
//!   batch) is skipped by the `INSERT` itself (`ON CONFLICT DO NOTHING`) and then merged.
//! - **All or nothing** by default: one write transaction, rolled back if any row was
//!   rejected; with `good_rows` the good rows are committed and the bad ones reported.
//!   Each created or merged person gets its own audit entry, and the import one summary entry
//!   (with the job id when run as a background job, whose result row is written in the same
//!   transaction).

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, Read, Seek, SeekFrom};

use backstop_core::clock::beijing_date;
use backstop_core::error::ErrorCode;
use backstop_core::mask::mask_phone;
use backstop_core::region::RegionCode;
use backstop_core::role::Permission;
use backstop_store::repeat_list;
use chrono::NaiveDate;
use encoding_rs::{Encoding, GBK, UTF_8};
use serde::Serialize;
use serde_json::json;

use super::xlsx;
use super::{Checked, RawFields, Stored, check_fields, load_by_index, seal};
use crate::audit::{self, Entry, Who};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::regions;
use crate::state::AppState;

/// Longest physical line accepted (bytes of UTF-8 after decoding).
pub const MAX_LINE_BYTES: usize = 1024 * 1024;
/// Rejects and warnings kept in the report (all are passed to the progress callback).
pub const MAX_ISSUES: usize = 1000;
/// Non-empty rows searched for the header row.
pub const HEADER_SCAN: usize = 10;
const CHUNK: usize = 64 * 1024;

/// Explicit column mapping: header text as in the file (trimmed) → field key
/// (`id_number`, `name`, …) or `ignore` (or empty) to skip the column. Columns not named
/// here are recognised from their header.
pub type Mapping = BTreeMap<String, String>;

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Default region for rows without a region column, and the bound every row must be in.
    pub region: Option<String>,
    /// Commit the good rows even if some were rejected (default: all or nothing).
    pub good_rows: bool,
    /// Largest file accepted, bytes.
    pub max_bytes: u64,
    /// Explicit column mapping overriding header recognition.
    pub mapping: Option<Mapping>,
    /// Limits on what an .xlsx may expand to.
    pub xlsx: xlsx::Limits,
    /// The background job this import runs for: its result row is written in the import's
    /// transaction and its id goes into the summary audit entry.
    pub job_id: Option<i64>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            region: None,
            good_rows: false,
            max_bytes: 2 * 1024 * 1024 * 1024,
            mapping: None,
            xlsx: xlsx::Limits::default(),
            job_id: None,
        }
    }
}

/// A rejected row or a warning, by line number (the header is line 1 in a CSV file; in an
/// .xlsx file the Excel row number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RowIssue {
    pub line: u64,
    pub reason: String,
    /// The row's ID number masked for the importer (empty when the row had none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id_masked: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// `utf-8`, `gbk` or `xlsx`.
    pub encoding: String,
    /// Data rows read (blank rows not counted).
    pub rows: u64,
    /// New persons created (0 if nothing was committed).
    pub imported: u64,
    /// Rows matched to an existing person by ID number.
    pub merged: u64,
    pub rejected: u64,
    /// Whether the changes were committed.
    pub committed: bool,
    /// The first rejects (line, reason).
    pub rejects: Vec<RowIssue>,
    /// The first merge warnings (line, reason).
    pub warnings: Vec<RowIssue>,
    pub warnings_total: u64,
    /// Header cells that were not recognised.
    pub ignored_columns: Vec<String>,
}

/// Progress events.
#[derive(Debug)]
pub enum Progress<'a> {
    /// Rows read so far, bytes of the file consumed, and the counts so far.
    Rows {
        rows: u64,
        bytes: u64,
        imported: u64,
        merged: u64,
        rejected: u64,
    },
    Rejected(&'a RowIssue),
    Warning(&'a RowIssue),
}

/// Why a whole file was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileErrorKind {
    /// Over a size limit (`file_too_large`).
    TooLarge,
    /// A zip that expands suspiciously (`xlsx_unsafe`).
    Unsafe,
    /// No ID or name column, duplicate columns, no region (`bad_columns`).
    Columns,
    /// Not a readable CSV or .xlsx (`unreadable_file`).
    Unreadable,
}

impl FileErrorKind {
    /// Stable code, as answered by the API and reported by import jobs.
    pub fn error_code(self) -> ErrorCode {
        match self {
            FileErrorKind::TooLarge => ErrorCode::FileTooLarge,
            FileErrorKind::Unsafe => ErrorCode::XlsxUnsafe,
            FileErrorKind::Columns => ErrorCode::BadColumns,
            FileErrorKind::Unreadable => ErrorCode::UnreadableFile,
        }
    }

    pub fn code(self) -> &'static str {
        self.error_code().as_str()
    }
}

/// A whole-file problem: nothing is imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub kind: FileErrorKind,
    pub message: String,
}

impl FileError {
    pub fn new(kind: FileErrorKind, message: impl Into<String>) -> Self {
        FileError {
            kind,
            message: message.into(),
        }
    }

    /// As a service error with the kind's own code: 413 `file_too_large` / `xlsx_unsafe`, 422
    /// `bad_columns` / `unreadable_file`.
    pub fn into_app(self) -> AppError {
        AppError::msg(self.kind.error_code(), self.message)
    }
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A [`FileError`] raised inside a reader, carried through `io::Error`.
#[derive(Debug)]
pub(crate) struct Refused(pub FileError);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for Refused {}

/// The file error carried by an I/O error, if any.
pub(crate) fn refused_in(e: &io::Error) -> Option<FileError> {
    e.get_ref()
        .and_then(|i| i.downcast_ref::<Refused>())
        .map(|r| r.0.clone())
}

/// Why an import stopped: the file (nothing written) or the service (permission, scope,
/// database).
#[derive(Debug, Clone)]
pub enum ImportError {
    File(FileError),
    App(AppError),
}

impl ImportError {
    /// Stable code: a [`FileErrorKind::code`] or the service error's code.
    pub fn code(&self) -> &'static str {
        match self {
            ImportError::File(f) => f.kind.code(),
            ImportError::App(e) => e.code.as_str(),
        }
    }

    pub fn message(&self) -> &str {
        match self {
            ImportError::File(f) => &f.message,
            ImportError::App(e) => &e.message,
        }
    }

    pub fn into_app(self) -> AppError {
        match self {
            ImportError::File(f) => f.into_app(),
            ImportError::App(e) => e,
        }
    }
}

impl From<FileError> for ImportError {
    fn from(e: FileError) -> Self {
        ImportError::File(e)
    }
}

impl From<AppError> for ImportError {
    fn from(e: AppError) -> Self {
        ImportError::App(e)
    }
}

impl From<sqlx::Error> for ImportError {
    fn from(e: sqlx::Error) -> Self {
        ImportError::App(e.into())
    }
}

/// The fields a roster column can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Id,
    Name,
    Sex,
    Birth,
    Phone,
    Region,
    Address,
    Hukou,
}

impl Field {
    pub const ALL: [Field; 8] = [
        Field::Id,
        Field::Name,
        Field::Sex,
        Field::Birth,
        Field::Phone,
        Field::Region,
        Field::Address,
        Field::Hukou,
    ];

    fn idx(self) -> usize {
        self as usize
    }

    /// Stable key, as in a [`Mapping`] and the English header.
    pub fn key(self) -> &'static str {
        match self {
            Field::Id => "id_number",
            Field::Name => "name",
            Field::Sex => "sex",
            Field::Birth => "birth_date",
            Field::Phone => "phone",
            Field::Region => "region_code",
            Field::Address => "address",
            Field::Hukou => "hukou_address",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Field::Id => "身份证号",
            Field::Name => "姓名",
            Field::Sex => "性别",
            Field::Birth => "出生日期",
            Field::Phone => "联系电话",
            Field::Region => "区划代码",
            Field::Address => "现住址",
            Field::Hukou => "户籍地址",
        }
    }

    /// A field from its key or Chinese label.
    pub fn from_key(s: &str) -> Option<Field> {
        let s = s.trim();
        Field::ALL
            .into_iter()
            .find(|f| f.key() == s || f.label() == s)
    }

    /// Recognise a header cell.
    pub fn recognise(header: &str) -> Option<Field> {
        let h = normalise_header(header).to_lowercase();
        Some(match h.as_str() {
            "身份证号" | "身份证号码" | "公民身份号码" | "证件号码" | "身份证" | "id_number"
            | "idnumber" | "id_no" => Field::Id,
            "姓名" | "name" => Field::Name,
            "性别" | "sex" | "gender" => Field::Sex,
            "出生日期" | "出生年月日" | "birth_date" | "birthdate" | "date_of_birth" => {
                Field::Birth
            }
            "联系电话" | "电话" | "手机" | "手机号" | "手机号码" | "phone" | "mobile" => {
                Field::Phone
            }
            "区划代码" | "行政区划代码" | "region_code" | "region" => Field::Region,
            "现住址" | "住址" | "居住地址" | "现居住地址" | "address" => {
                Field::Address
            }
            "户籍地址" | "户籍地" | "hukou_address" => Field::Hukou,
            _ => return None,
        })
    }
}

/// A header cell as compared: whitespace, BOM and required-field stars removed.
pub fn normalise_header(header: &str) -> String {
    header
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '\u{feff}' | '*' | '＊'))
        .collect()
}

/// Identifies a header row (for offering a saved template again): SHA-256 of the normalised
/// cells, trailing empty cells ignored.
pub fn header_key(headers: &[String]) -> String {
    let mut cells: Vec<String> = headers.iter().map(|h| normalise_header(h)).collect();
    while cells.last().is_some_and(String::is_empty) {
        cells.pop();
    }
    crate::kernel::crypto::sha256_hex(cells.join("\u{1f}").as_bytes())
}

/// Which column holds which field.
#[derive(Debug, Clone, Default)]
pub struct Columns {
    idx: [Option<usize>; 8],
    /// Header cells that were not recognised nor mapped (first 40 characters).
    pub ignored: Vec<String>,
}

impl Columns {
    /// The column of a field.
    pub fn of(&self, f: Field) -> Option<usize> {
        self.idx[f.idx()]
    }

    /// The field of column `i`.
    pub fn field_at(&self, i: usize) -> Option<Field> {
        Field::ALL.into_iter().find(|f| self.of(*f) == Some(i))
    }
}

fn mapped(mapping: Option<&Mapping>, header: &str) -> Option<Option<Field>> {
    let m = mapping?;
    let norm = normalise_header(header);
    let v = m.get(header.trim()).or_else(|| {
        m.iter()
            .find(|(k, _)| normalise_header(k) == norm)
            .map(|(_, v)| v)
    })?;
    Some(Field::from_key(v))
}

/// Assign fields to header cells (mapping first, then recognition). `Err` names a field
/// claimed by two columns.
fn assign(headers: &[&str], mapping: Option<&Mapping>) -> Result<Columns, FileError> {
    let mut cols = Columns::default();
    for (i, cell) in headers.iter().enumerate() {
        let field = match mapped(mapping, cell) {
            Some(f) => f,
            None => Field::recognise(cell),
        };
        match field {
            Some(f) => {
                if cols.idx[f.idx()].is_some() {
                    return Err(FileError::new(
                        FileErrorKind::Columns,
                        format!("表头中“{}”列重复", f.label()),
                    ));
                }
                cols.idx[f.idx()] = Some(i);
            }
            None if cell.trim().is_empty() => {}
            None => cols.ignored.push(cell.trim().chars().take(40).collect()),
        }
    }
    Ok(cols)
}

/// Assign and require the ID number and name columns; the error lists what was found.
pub fn resolve_columns(headers: &[&str], mapping: Option<&Mapping>) -> Result<Columns, FileError> {
    let cols = assign(headers, mapping)?;
    let missing: Vec<&str> = [Field::Id, Field::Name]
        .into_iter()
        .filter(|f| cols.of(*f).is_none())
        .map(Field::label)
        .collect();
    if !missing.is_empty() {
        let found: Vec<String> = headers
            .iter()
            .map(|h| h.trim().chars().take(40).collect::<String>())
            .filter(|h| !h.is_empty())
            .collect();
        return Err(FileError::new(
            FileErrorKind::Columns,
            format!(
                "缺少必需的列：{}。文件中的列：{}。需要：身份证号、姓名（可选：性别、出生日期、联系电话、区划代码、现住址、户籍地址；英文表头 id_number, name, sex, birth_date, phone, region_code, address, hukou_address 也可识别）。请修改表头，或在导入页面为各列选择对应的字段",
                missing.join("、"),
                if found.is_empty() {
                    "（无）".to_string()
                } else {
                    found.join("、")
                }
            ),
        ));
    }
    Ok(cols)
}

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
    cells: Vec<String>,
    kinds: Vec<Kind>,
    len: usize,
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

    fn is_blank(&self) -> bool {
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
struct Syntax {
    field_start: bool,
    line_empty: bool,
    in_quotes: bool,
    quote_pending: bool,
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
struct Decoded<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    raw: Vec<u8>,
    utf8: Vec<u8>,
    out: Vec<u8>,
    syntax: Syntax,
    pos: usize,
    done: bool,
    consumed: u64,
    max_bytes: u64,
    line_len: usize,
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
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
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
fn sniff(head: &[u8]) -> Result<&'static Encoding, String> {
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
    csv: csv::Reader<Decoded<io::Chain<io::Cursor<Vec<u8>>, R>>>,
    record: csv::StringRecord,
    next_line: u64,
    encoding: &'static str,
}

/// Physical lines a record spans (1 + newlines inside quoted fields).
fn record_lines(r: &csv::StringRecord) -> u64 {
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

fn io_file_error(e: &io::Error) -> FileError {
    refused_in(e)
        .unwrap_or_else(|| FileError::new(FileErrorKind::Unreadable, format!("无法读取文件：{e}")))
}

fn csv_error(e: &csv::Error) -> FileError {
    match e.kind() {
        csv::ErrorKind::Io(io) => io_file_error(io),
        _ => {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            FileError::new(FileErrorKind::Unreadable, format!("第 {line} 行无法解析"))
        }
    }
}

fn one_line(s: &str) -> String {
    s.split(['\r', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// One data row, validated without the database.
#[derive(Debug, Clone)]
pub(crate) struct ParsedRow {
    pub line: u64,
    pub fields: Checked,
    /// The region code cell (empty if none).
    pub region: String,
}

/// An ID number cell as shown to the importer: first 6 + stars + last 4 for roles that may
/// see that much, else first 1 + stars + last 1; short values all stars.
pub fn mask_id_text(s: &str, reveal: bool) -> String {
    let chars: Vec<char> = s.trim().chars().collect();
    let n = chars.len();
    if n >= 15 && reveal {
        let head: String = chars[..6].iter().collect();
        let tail: String = chars[n - 4..].iter().collect();
        format!("{head}{}{tail}", "*".repeat(n - 10))
    } else if n >= 3 {
        format!("{}{}{}", chars[0], "*".repeat(n - 2), chars[n - 1])
    } else {
        "*".repeat(n)
    }
}

/// A preview cell: ID number and phone columns masked, and in other columns anything with
/// seven or more digits (an ID, phone or bank number in a 备注 column).
fn mask_cell(field: Option<Field>, text: &str, reveal: bool) -> String {
    let t = text.trim();
    match field {
        Some(Field::Id) => mask_id_text(t, reveal),
        Some(Field::Phone) => mask_phone(t),
        Some(_) => t.to_string(),
        None => {
            let digits = t.bytes().filter(u8::is_ascii_digit).count();
            if digits >= 15 {
                mask_id_text(t, false)
            } else if digits >= 7 {
                mask_phone(t)
            } else {
                t.to_string()
            }
        }
    }
}

/// An integer-valued Excel number written out plainly (`13812345678`, not `1.38E10`);
/// anything else as Excel wrote it.
fn number_text(raw: &str) -> std::borrow::Cow<'_, str> {
    match raw.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 => {
            std::borrow::Cow::Owned(format!("{}", v as i64))
        }
        _ => std::borrow::Cow::Borrowed(raw),
    }
}

const ID_AS_NUMBER: &str = "身份证号被 Excel 存成了数字（超过 15 位的数字会丢失精度，末几位已不可靠）：请把身份证号列设置为“文本”格式，重新填写后再导入";

/// Read the first non-empty rows and pick the header: the first with at least two
/// recognised or mapped columns, else one with any, else the first non-empty row. Returns
/// the header and the rows read after it.
fn find_header<S: RowSource>(
    src: &mut S,
    mapping: Option<&Mapping>,
) -> Result<(Record, VecDeque<Record>), FileError> {
    let mut seen: Vec<Record> = Vec::new();
    loop {
        if seen.len() >= HEADER_SCAN {
            break;
        }
        let mut rec = Record::default();
        if !src.next_record(&mut rec)? {
            break;
        }
        if !rec.is_blank() {
            seen.push(rec);
        }
    }
    if seen.is_empty() {
        return Err(FileError::new(
            FileErrorKind::Columns,
            "文件为空（没有表头行）",
        ));
    }
    let score = |r: &Record| -> usize {
        let cells: Vec<&str> = r.texts().collect();
        assign(&cells, mapping)
            .map(|c| Field::ALL.iter().filter(|f| c.of(**f).is_some()).count())
            .unwrap_or(2)
    };
    let pick = seen
        .iter()
        .position(|r| score(r) >= 2)
        .or_else(|| seen.iter().position(|r| score(r) >= 1))
        .unwrap_or(0);
    let mut rest: VecDeque<Record> = seen.into_iter().skip(pick).collect();
    let header = rest.pop_front().unwrap_or_default();
    Ok((header, rest))
}

/// The pure part of the import: header, per-row field checks (no database).
pub(crate) struct RowReader<S: RowSource> {
    src: S,
    cols: Columns,
    today: NaiveDate,
    reveal: bool,
    rec: Record,
    pending: VecDeque<Record>,
    pub encoding: &'static str,
    pub ignored: Vec<String>,
}

impl<S: RowSource> RowReader<S> {
    /// Find and check the header row.
    pub fn open(
        mut src: S,
        mapping: Option<&Mapping>,
        today: NaiveDate,
        reveal: bool,
    ) -> Result<Self, FileError> {
        let (header, pending) = find_header(&mut src, mapping)?;
        let cells: Vec<&str> = header.texts().collect();
        let cols = resolve_columns(&cells, mapping)?;
        Ok(RowReader {
            encoding: src.format(),
            ignored: cols.ignored.clone(),
            src,
            cols,
            today,
            reveal,
            rec: Record::default(),
            pending,
        })
    }

    pub fn has_region_column(&self) -> bool {
        self.cols.of(Field::Region).is_some()
    }

    /// Bytes of the file consumed so far.
    pub fn bytes(&self) -> u64 {
        self.src.bytes()
    }

    fn cell(&self, f: Field) -> (Kind, &str) {
        match self.cols.of(f) {
            Some(i) => self.rec.get(i),
            None => (Kind::Text, ""),
        }
    }

    fn advance(&mut self) -> Result<bool, FileError> {
        if let Some(r) = self.pending.pop_front() {
            self.rec = r;
            return Ok(true);
        }
        self.src.next_record(&mut self.rec)
    }

    /// The next data row: `Ok(None)` at the end, `Ok(Some(Err(issue)))` for a bad row,
    /// `Err` when the file cannot be read on (I/O, over-long line, over-large file).
    #[allow(clippy::type_complexity)]
    pub fn next_row(&mut self) -> Result<Option<Result<ParsedRow, RowIssue>>, FileError> {
        loop {
            if !self.advance()? {
                return Ok(None);
            }
            if self.rec.is_blank() {
                continue;
            }
            let line = self.rec.line;
            let (id_kind, id_text) = self.cell(Field::Id);
            let reveal = self.reveal;
            let issue = |reason: &str| {
                Ok(Some(Err(RowIssue {
                    line,
                    reason: reason.to_string(),
                    id_masked: mask_id_text(id_text, reveal),
                })))
            };
            if self.encoding != "xlsx" && self.rec.texts().any(|c| c.contains('\u{fffd}')) {
                return issue("含有无法识别的字符（文件编码应为 UTF-8 或 GBK）");
            }
            let id_trim = id_text.trim();
            if id_trim.is_empty() {
                return issue("缺少身份证号（无证件人员请在页面上逐个登记）");
            }
            let exact_old = id_trim.len() == 15 && id_trim.bytes().all(|b| b.is_ascii_digit());
            if (id_kind == Kind::Number && !exact_old)
                || id_trim.contains("E+")
                || id_trim.contains("e+")
            {
                return issue(ID_AS_NUMBER);
            }
            // Excel numbers: a date serial in the birth-date column, integers elsewhere.
            let text = |f: Field| -> std::borrow::Cow<'_, str> {
                let (k, t) = self.cell(f);
                match (k, f) {
                    (Kind::Number, Field::Birth) => match t
                        .trim()
                        .parse::<f64>()
                        .ok()
                        .and_then(|v| xlsx::excel_date(v, self.src.date1904()))
                    {
                        Some(d) => std::borrow::Cow::Owned(d.format("%Y-%m-%d").to_string()),
                        None => std::borrow::Cow::Borrowed(t),
                    },
                    (Kind::Number, _) => number_text(t),
                    _ => std::borrow::Cow::Borrowed(t),
                }
            };
            // Line breaks inside an address cell (Alt+Enter in Excel) become spaces.
            let address = one_line(&text(Field::Address));
            let hukou_address = one_line(&text(Field::Hukou));
            let (name, sex, birth, phone) = (
                text(Field::Name),
                text(Field::Sex),
                text(Field::Birth),
                text(Field::Phone),
            );
            let raw = RawFields {
                id_number: id_trim,
                name: &name,
                sex: &sex,
                birth_date: &birth,
                phone: &phone,
                address: &address,
                hukou_address: &hukou_address,
            };
            let checked = check_fields(&raw, self.today);
            let region = text(Field::Region).trim().to_string();
            return Ok(Some(match checked {
                Ok(fields) => Ok(ParsedRow {
                    line,
                    fields,
                    region,
                }),
                Err(e) => Err(RowIssue {
                    line,
                    reason: e.message,
                    id_masked: mask_id_text(id_trim, reveal),
                }),
            }));
        }
    }
}

/// The first rows of a file as the upload page shows them (sensitive cells masked).
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    /// `utf-8`, `gbk` or `xlsx`.
    pub format: String,
    /// Line (row) number of the header.
    pub header_line: u64,
    pub headers: Vec<String>,
    /// The field each column will be read as (mapping, else recognition).
    pub fields: Vec<Option<&'static str>>,
    /// [`header_key`] of the header row.
    pub header_key: String,
    /// Why the columns cannot be imported as they are (no ID or name column, duplicates).
    pub column_error: Option<String>,
    pub rows: Vec<PreviewRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PreviewRow {
    pub line: u64,
    pub cells: Vec<String>,
}

fn preview_from<S: RowSource>(
    mut src: S,
    mapping: Option<&Mapping>,
    max_rows: usize,
    reveal: bool,
) -> Result<Preview, FileError> {
    let (header, mut pending) = find_header(&mut src, mapping)?;
    let headers: Vec<String> = header
        .texts()
        .take(xlsx::MAX_COLUMNS)
        .map(|h| h.trim().chars().take(60).collect())
        .collect();
    let refs: Vec<&str> = headers.iter().map(String::as_str).collect();
    let (cols, column_error) = match resolve_columns(&refs, mapping) {
        Ok(c) => (c, None),
        Err(e) => (assign(&refs, mapping).unwrap_or_default(), Some(e.message)),
    };
    let mut rows = Vec::new();
    let mut rec = Record::default();
    while rows.len() < max_rows {
        let got = match pending.pop_front() {
            Some(r) => {
                rec = r;
                true
            }
            None => src.next_record(&mut rec)?,
        };
        if !got {
            break;
        }
        if rec.is_blank() {
            continue;
        }
        let cells = (0..headers.len().max(rec.len()).min(xlsx::MAX_COLUMNS))
            .map(|i| {
                let (kind, t) = rec.get(i);
                let shown = match kind {
                    Kind::Number => number_text(t).into_owned(),
                    Kind::Text => t.to_string(),
                };
                let shown: String = shown.chars().take(200).collect();
                mask_cell(cols.field_at(i), &shown, reveal)
            })
            .collect();
        rows.push(PreviewRow {
            line: rec.line,
            cells,
        });
    }
    Ok(Preview {
        format: src.format().to_string(),
        header_line: header.line,
        fields: (0..headers.len())
            .map(|i| cols.field_at(i).map(Field::key))
            .collect(),
        header_key: header_key(&headers),
        headers,
        column_error,
        rows,
    })
}

/// Read the header and the first `max_rows` data rows of a file (CSV or .xlsx, by its first
/// bytes) for the upload page; ID numbers and phones are masked (`reveal`: 6+4 form).
pub fn preview<R: Read + Seek>(
    mut input: R,
    opts: &ImportOptions,
    max_rows: usize,
    reveal: bool,
) -> Result<Preview, FileError> {
    if sniff_zip(&mut input)? {
        let mut book = xlsx::Book::open(input, opts.xlsx)?;
        let sheet = book.rows()?;
        preview_from(sheet, opts.mapping.as_ref(), max_rows, reveal)
    } else {
        let src = CsvSource::open(input, opts.max_bytes)?;
        preview_from(src, opts.mapping.as_ref(), max_rows, reveal)
    }
}

/// Whether the input starts with a zip signature (the position is restored).
fn sniff_zip<R: Read + Seek>(input: &mut R) -> Result<bool, FileError> {
    let mut head = [0u8; 4];
    let n = read_full(input, &mut head).map_err(|e| io_file_error(&e))?;
    input
        .seek(SeekFrom::Start(0))
        .map_err(|e| io_file_error(&e))?;
    Ok(xlsx::is_zip(&head[..n]))
}

/// Check the default region: a valid code, in the actor's scope, existing.
async fn check_bound(
    state: &AppState,
    actor: &Actor,
    opts: &ImportOptions,
) -> AppResult<Option<RegionCode>> {
    match opts
        .region
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(r) => {
            let code = regions::parse_code("region_code", r)?;
            actor.check_region(&code)?;
            if regions::find(state, code.as_str()).await?.is_none() {
                return Err(super::ferr(
                    ErrorCode::UnknownRegion,
                    "region_code",
                    "区划代码不存在",
                ));
            }
            Ok(Some(code))
        }
        None => Ok(None),
    }
}

/// Import a roster CSV (see the module docs for the rules). Whole-file problems (unreadable,
/// wrong columns, over-large) are an error and change nothing; row problems are in the report.
pub async fn import_csv<R: Read>(
    state: &AppState,
    actor: &Actor,
    input: R,
    opts: &ImportOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> AppResult<ImportReport> {
    actor.require(Permission::PersonsWrite)?;
    let bound = check_bound(state, actor, opts).await?;
    let today = beijing_date(state.clock.now());
    let reveal = actor.can(Permission::PersonsRevealId);
    let src = CsvSource::open(input, opts.max_bytes).map_err(FileError::into_app)?;
    let rows =
        RowReader::open(src, opts.mapping.as_ref(), today, reveal).map_err(FileError::into_app)?;
    run(state, actor, rows, bound, opts, progress)
        .await
        .map_err(ImportError::into_app)
}

/// Import a roster file, CSV or .xlsx (chosen by the first bytes, `PK\x03\x04` = .xlsx).
pub async fn import_file<R: Read + Seek>(
    state: &AppState,
    actor: &Actor,
    mut input: R,
    opts: &ImportOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<ImportReport, ImportError> {
    actor.require(Permission::PersonsWrite)?;
    let bound = check_bound(state, actor, opts).await?;
    let today = beijing_date(state.clock.now());
    let reveal = actor.can(Permission::PersonsRevealId);
    if sniff_zip(&mut input)? {
        let mut book = xlsx::Book::open(input, opts.xlsx)?;
        let sheet = book.rows()?;
        let rows = RowReader::open(sheet, opts.mapping.as_ref(), today, reveal)?;
        run(state, actor, rows, bound, opts, progress).await
    } else {
        let src = CsvSource::open(input, opts.max_bytes)?;
        let rows = RowReader::open(src, opts.mapping.as_ref(), today, reveal)?;
        run(state, actor, rows, bound, opts, progress).await
    }
}

/// Rows looked up, checked and written together (one `SELECT … IN`, one multi-row `INSERT`,
/// one multi-row audit `INSERT` per batch instead of four statements per row).
const BATCH_ROWS: usize = 1000;

/// A row that passed every check that needs no database, waiting for its batch.
struct Pending {
    line: u64,
    code: RegionCode,
    fields: Checked,
    sealed: super::Sealed,
    /// The ID number masked for the importer (for row reports).
    id_masked: String,
}

impl Pending {
    fn issue(&self, reason: String) -> RowIssue {
        RowIssue {
            line: self.line,
            reason,
            id_masked: self.id_masked.clone(),
        }
    }

    fn index(&self) -> &str {
        self.sealed.id_index.as_deref().unwrap_or("")
    }
}

/// A multi-row statement with its arguments bound, ready to run on the import's connection.
type Statement = sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments>;

/// One batch of rows read and checked, with the statement inserting all of them (built by the
/// reader while the engine was busy; rebuilt for fewer rows if some turn out unwritable).
#[derive(Default)]
struct Batch {
    rows: Vec<Pending>,
    insert: Option<Statement>,
}

/// `INSERT` of the rows at `positions`, skipping any whose ID number is already on record or
/// taken by an earlier row of the statement (`ON CONFLICT DO NOTHING`), returning the ids of
/// the rows written.
fn insert_statement(
    state: &AppState,
    now: i64,
    rows: &[Pending],
    positions: impl ExactSizeIterator<Item = usize>,
) -> Statement {
    let mut sql = String::from(state.db.backend().bulk_insert());
    sql.push_str(
        " INTO persons (region_code, name, sex, birth_date, id_enc, id_index, \
         id_masked, phone_enc, phone_index, phone_masked, hukou_address, address, deceased, \
         created_at, updated_at, name_pinyin, name_initials) VALUES ",
    );
    sql.push_str(&repeat_list(
        "(?,?,?,?,?,?,?,?,?,?,?,?,0,?,?,?,?)",
        positions.len(),
    ));
    sql.push_str(" ON CONFLICT (id_index) DO NOTHING RETURNING id, id_index");
    let mut q = sqlx::query(sqlx::AssertSqlSafe(state.db.sql(&sql)));
    for p in positions {
        let (r, s) = (&rows[p], &rows[p].sealed);
        let (name_pinyin, name_initials) = super::pinyin::keys(&r.fields.name);
        q = q
            .bind(r.code.as_str().to_string())
            .bind(r.fields.name.clone())
            .bind(super::sex_str(r.fields.sex))
            .bind(super::date_str(r.fields.birth))
            .bind(s.id_enc.clone())
            .bind(s.id_index.clone())
            .bind(s.id_masked.clone())
            .bind(s.phone_enc.clone())
            .bind(s.phone_index.clone())
            .bind(s.phone_masked.clone())
            .bind(r.fields.hukou_address.clone())
            .bind(r.fields.address.clone())
            .bind(now)
            .bind(now)
            .bind(name_pinyin)
            .bind(name_initials);
    }
    q
}

/// Counts and row issues from one step of the pipeline (reading a batch, or writing one). Each
/// step keeps its own, and the import adds them to the report after both steps of a round
/// have finished, so the two can run at the same time. At most one batch's worth of issues.
#[derive(Default)]
struct Tally {
    imported: u64,
    merged: u64,
    rejects: Vec<RowIssue>,
    warnings: Vec<RowIssue>,
}

impl Tally {
    /// Add to the report (the first [`MAX_ISSUES`] issues of each kind are kept) and pass
    /// every issue to the progress callback.
    fn apply(self, report: &mut ImportReport, progress: &mut dyn FnMut(Progress<'_>)) {
        report.imported += self.imported;
        report.merged += self.merged;
        for issue in self.rejects {
            report.rejected += 1;
            progress(Progress::Rejected(&issue));
            if report.rejects.len() < MAX_ISSUES {
                report.rejects.push(issue);
            }
        }
        for warning in self.warnings {
            report.warnings_total += 1;
            progress(Progress::Warning(&warning));
            if report.warnings.len() < MAX_ISSUES {
                report.warnings.push(warning);
            }
        }
    }
}

/// How many rows the reader parses before letting the writer look at its statement (so the
/// writer's next statement is sent as soon as the previous one is done).
const YIELD_ROWS: usize = 50;

/// The reading side of the pipeline: rows parsed, checked without the database and sealed
/// (encrypted, blind-indexed), a batch at a time.
struct BatchReader<'a, S: RowSource> {
    state: &'a AppState,
    actor: &'a Actor,
    rows: RowReader<S>,
    bound: Option<RegionCode>,
    now: i64,
    /// Data rows read so far.
    read: u64,
    /// The end of the file was reached.
    done: bool,
}

impl<S: RowSource> BatchReader<'_, S> {
    /// Read up to [`BATCH_ROWS`] rows: the good ones into `out` (with their `INSERT`), the
    /// bad ones into `t`. Nothing once the end of the file has been reached.
    async fn fill(&mut self, out: &mut Batch, t: &mut Tally) -> Result<(), ImportError> {
        if self.done {
            return Ok(());
        }
        for n in 1..=BATCH_ROWS {
            if n % YIELD_ROWS == 0 {
                tokio::task::yield_now().await;
            }
            let next = self.rows.next_row().map_err(|f| {
                FileError::new(
                    f.kind,
                    format!(
                        "读取文件时出错（已读 {} 行，未导入任何数据）：{}",
                        self.read, f.message
                    ),
                )
            })?;
            let Some(row) = next else {
                self.done = true;
                break;
            };
            self.read += 1;
            match row {
                Ok(row) => {
                    if let Some(p) = self.check(row, t) {
                        out.rows.push(p);
                    }
                }
                Err(issue) => t.rejects.push(issue),
            }
        }
        if !out.rows.is_empty() {
            out.insert = Some(insert_statement(
                self.state,
                self.now,
                &out.rows,
                0..out.rows.len(),
            ));
        }
        Ok(())
    }

    /// The row's region (its own, else the default; inside the default and the actor's
    /// scope) and its sealed ID number and phone; `None` (with the reason in `t`) when the
    /// row cannot be imported.
    fn check(&self, row: ParsedRow, t: &mut Tally) -> Option<Pending> {
        let line = row.line;
        let id_masked = row
            .fields
            .id
            .as_ref()
            .map(|c| {
                if self.rows.reveal {
                    c.masked()
                } else {
                    c.masked_strict()
                }
            })
            .unwrap_or_default();
        let mut refuse = |reason: String| {
            t.rejects.push(RowIssue {
                line,
                reason,
                id_masked: id_masked.clone(),
            });
            None
        };
        let code = match (row.region.is_empty(), &self.bound) {
            (true, Some(b)) => b.clone(),
            (true, None) => return refuse("缺少区划代码".to_string()),
            (false, _) => match RegionCode::parse(&row.region) {
                Ok(c) => c,
                Err(e) => return refuse(format!("区划代码：{e}")),
            },
        };
        if let Some(b) = &self.bound
            && !b.contains(&code)
        {
            return refuse(format!(
                "区划代码 {} 不在导入区划 {} 范围内",
                code.as_str(),
                b.as_str()
            ));
        }
        if !self.actor.sees(&code) {
            return refuse(format!("区划代码 {} 不在您的管辖范围内", code.as_str()));
        }
        let cid = row.fields.id.as_ref()?;
        let sealed = seal(self.state, Some(cid), row.fields.phone.as_deref());
        Some(Pending {
            line,
            code,
            fields: row.fields,
            sealed,
            id_masked,
        })
    }
}

/// The writing side of the pipeline: the state of one import's write transaction.
struct Batcher<'a> {
    state: &'a AppState,
    actor: &'a Actor,
    who: Who,
    now: i64,
    /// Region codes already checked against the region table.
    known_regions: RegionCache,
    /// The import's region (the `--region` bound, else the actor's scope) as a code range.
    region_bounds: (String, String),
    /// The first person id this import created (to tell in-file duplicates from old records).
    first_new_id: Option<i64>,
    /// The audit chain's head, read once for the whole transaction.
    chain: audit::Chain,
    /// Creation entries of the last batch, appended while the engine inserts the next one.
    deferred: Vec<Entry<'static>>,
}

impl Batcher<'_> {
    /// Check, write and merge one batch: rows with a new ID number are inserted in one
    /// statement that skips numbers already on record (or earlier in the batch); the skipped
    /// rows are then merged into the records holding their numbers, in file order.
    ///
    /// The engine is kept busy: while it inserts this batch, the audit entries of the last
    /// one are chained and hashed; while it writes those, this batch's ids are matched to its
    /// rows (its own entries wait for the next batch, or for the end of the import).
    async fn flush(
        &mut self,
        conn: &mut sqlx::AnyConnection,
        batch: &mut Batch,
        t: &mut Tally,
    ) -> AppResult<()> {
        if batch.rows.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut batch.rows);
        let prebuilt = batch.insert.take();
        self.check_regions(conn, &rows).await?;
        let mut candidates = Vec::with_capacity(rows.len());
        for (pos, row) in rows.iter().enumerate() {
            if self.known_regions.exists(row.code.as_str()) {
                candidates.push(pos);
            } else {
                t.rejects
                    .push(row.issue(format!("区划代码 {} 不存在", row.code.as_str())));
            }
        }
        if candidates.is_empty() {
            return Ok(());
        }
        let insert = match prebuilt {
            Some(q) if candidates.len() == rows.len() => q,
            _ => insert_statement(self.state, self.now, &rows, candidates.iter().copied()),
        };
        let backend = self.state.db.backend();
        let deferred = std::mem::take(&mut self.deferred);
        let (chain, who, now) = (&mut self.chain, &self.who, self.now);
        let (inserted, audit) = tokio::join!(biased; insert.fetch_all(&mut *conn), async {
            chain.prepare(backend, now, who, &deferred)
        });
        let (inserted, audit) = (inserted?, audit?);
        let (written, matched) = tokio::join!(
            biased;
            async {
                for q in audit {
                    q.execute(&mut *conn).await?;
                }
                Ok::<_, sqlx::Error>(())
            },
            async { self.match_ids(&rows, &candidates, &inserted) }
        );
        written?;
        let (entries, skipped) = matched?;
        t.imported += entries.len() as u64;
        self.deferred = entries;
        if skipped.is_empty() {
            return Ok(());
        }
        // A merge's entry must follow the creation it may merge into.
        self.append_deferred(conn).await?;
        let mut known = self
            .load_indexed(conn, skipped.iter().map(|&p| rows[p].index()))
            .await?;
        for pos in skipped {
            let row = &rows[pos];
            let idx = row.index();
            let Some(existing) = known.get(idx) else {
                return Err(AppError::internal(
                    "person import",
                    "a row skipped as a duplicate has no record holding its number",
                ));
            };
            if !existing.in_scope(self.actor) {
                t.rejects.push(
                    row.issue(
                        "该身份证号已在您管辖范围以外登记，不能在此导入（请联系上级部门核实）"
                            .to_string(),
                    ),
                );
                continue;
            }
            let in_file = existing.created_at == self.now
                && self.first_new_id.is_some_and(|f| existing.id >= f);
            let existing_id = existing.id;
            let (notes, changed) = merge(
                self.state,
                conn,
                &mut self.chain,
                &self.who,
                self.now,
                existing,
                &row.fields,
                row.code.as_str(),
            )
            .await?;
            if changed && let Some(s) = load_by_index(conn, idx).await? {
                known.insert(idx.to_string(), s);
            }
            t.merged += 1;
            if !notes.is_empty() {
                let whence = if in_file {
                    "与文件中前面的行身份证号相同"
                } else {
                    "该身份证号已登记"
                };
                t.warnings.push(row.issue(format!(
                    "{whence}，已合并到人员 {existing_id}；{}",
                    notes.join("；")
                )));
            }
        }
        Ok(())
    }

    /// Look up the batch's region codes not seen before, in one query; at the first full
    /// batch (a file of more than one batch), load every code under the import's region once
    /// instead.
    async fn check_regions(
        &mut self,
        conn: &mut sqlx::AnyConnection,
        rows: &[Pending],
    ) -> AppResult<()> {
        if rows.len() >= BATCH_ROWS && !self.known_regions.is_complete() {
            let (lo, hi) = &self.region_bounds;
            let codes: Vec<String> =
                sqlx::query_scalar("SELECT code FROM regions WHERE code >= $1 AND code < $2")
                    .bind(lo.as_str())
                    .bind(hi.as_str())
                    .fetch_all(&mut *conn)
                    .await?;
            self.known_regions
                .complete(codes.iter().map(String::as_str));
        }
        let unknown = self
            .known_regions
            .unknown_of(rows.iter().map(|r| r.code.as_str()));
        if unknown.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "SELECT code FROM regions WHERE code IN ({})",
            repeat_list("?", unknown.len())
        );
        let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(self.state.db.sql(&sql)));
        for c in &unknown {
            q = q.bind(*c);
        }
        let found: std::collections::HashSet<String> =
            q.fetch_all(&mut *conn).await?.into_iter().collect();
        for c in unknown {
            self.known_regions.record(c, found.contains(c));
        }
        Ok(())
    }

    /// The persons on record holding any of these numbers, by blind index.
    async fn load_indexed<'i>(
        &self,
        conn: &mut sqlx::AnyConnection,
        indexes: impl Iterator<Item = &'i str>,
    ) -> AppResult<std::collections::HashMap<String, Stored>> {
        let mut idx: Vec<&str> = indexes.collect();
        idx.sort_unstable();
        idx.dedup();
        let sql = format!(
            "SELECT {}, p.id_index FROM persons p LEFT JOIN regions r ON r.code = p.region_code \
             WHERE p.id_index IN ({})",
            super::COLS,
            repeat_list("?", idx.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(self.state.db.sql(&sql)));
        for i in &idx {
            q = q.bind(*i);
        }
        let mut out = std::collections::HashMap::new();
        for r in q.fetch_all(&mut *conn).await? {
            let s = super::stored_from_row(&r)?;
            let key: Option<String> = sqlx::Row::try_get(&r, "id_index")?;
            if let Some(k) = key {
                out.insert(k, s);
            }
        }
        Ok(out)
    }

    /// The creation entries of the rows at `positions` the `INSERT` wrote (its rows give each
    /// written number its new id), and the positions it skipped, in order.
    fn match_ids(
        &mut self,
        rows: &[Pending],
        positions: &[usize],
        inserted: &[sqlx::any::AnyRow],
    ) -> AppResult<(Vec<Entry<'static>>, Vec<usize>)> {
        let mut ids = std::collections::HashMap::with_capacity(inserted.len());
        for r in inserted {
            let id: i64 = sqlx::Row::try_get(r, "id")?;
            let idx: Option<String> = sqlx::Row::try_get(r, "id_index")?;
            ids.insert(idx.unwrap_or_default(), id);
        }
        let mut entries = Vec::with_capacity(ids.len());
        let mut skipped = Vec::new();
        for &p in positions {
            let r = &rows[p];
            // The first row holding a number is the one inserted (rows go in in order).
            let Some(id) = ids.remove(r.index()) else {
                skipped.push(p);
                continue;
            };
            self.first_new_id = Some(self.first_new_id.map_or(id, |f| f.min(id)));
            entries.push(super::created_entry(
                id,
                r.code.as_str(),
                &r.fields,
                &r.sealed,
                "import",
            ));
        }
        if !ids.is_empty() {
            return Err(AppError::internal(
                "person import",
                "an inserted row came back with a number not in its batch",
            ));
        }
        Ok((entries, skipped))
    }

    /// Append the creation entries still waiting.
    async fn append_deferred(&mut self, conn: &mut sqlx::AnyConnection) -> AppResult<()> {
        let deferred = std::mem::take(&mut self.deferred);
        self.chain
            .append(
                conn,
                self.state.db.backend(),
                self.now,
                &self.who,
                &deferred,
            )
            .await?;
        Ok(())
    }
}

/// Which region codes exist, remembered for the import with a bound on memory.
///
/// A small file asks the region table about each batch's new codes (a cache of at most `cap`
/// answers). A large one loads every code under the import's region once
/// ([`RegionCache::complete`]): a roster spreads over many villages, and asking about each
/// (about 9 µs a code) was 7 % of a national 1,000,000-row import. The whole table is 662,000
/// codes, about 10 MB as a set of numbers, whatever the size of the file.
struct RegionCache {
    known: std::collections::HashMap<String, bool>,
    cap: usize,
    /// Every code under the import's region, as [`RegionCache::number`]s.
    all: Option<std::collections::HashSet<u64>>,
}

impl RegionCache {
    fn new(cap: usize) -> Self {
        RegionCache {
            known: std::collections::HashMap::new(),
            cap,
            all: None,
        }
    }

    /// A code of up to 15 digits as one number, its length in the low 4 bits (so `11` and
    /// `011` differ); `None` for anything else, which no region has.
    fn number(code: &str) -> Option<u64> {
        if code.is_empty() || code.len() > 15 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let v: u64 = code.parse().ok()?;
        Some(v * 16 + code.len() as u64)
    }

    fn is_complete(&self) -> bool {
        self.all.is_some()
    }

    /// Know exactly `codes` (every code under the import's region) from now on.
    fn complete<'c>(&mut self, codes: impl Iterator<Item = &'c str>) {
        let all = codes.filter_map(Self::number).collect();
        self.known = std::collections::HashMap::new();
        self.all = Some(all);
    }

    /// The codes among `codes` not yet known, sorted and unique. When the cache is full it is
    /// emptied first, so every code of this batch is either known or in the answer.
    fn unknown_of<'c>(&mut self, codes: impl Iterator<Item = &'c str>) -> Vec<&'c str> {
        if self.all.is_some() {
            return Vec::new();
        }
        if self.known.len() >= self.cap {
            self.known.clear();
        }
        let mut out: Vec<&str> = codes.filter(|c| !self.known.contains_key(*c)).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    fn record(&mut self, code: &str, exists: bool) {
        self.known.insert(code.to_string(), exists);
    }

    fn exists(&self, code: &str) -> bool {
        match &self.all {
            Some(all) => Self::number(code).is_some_and(|n| all.contains(&n)),
            None => self.known.get(code).copied().unwrap_or(false),
        }
    }
}

/// The shared validation, merge and commit path, as a two-step pipeline in one write
/// transaction: while one batch of [`BATCH_ROWS`] rows is written (looked up, inserted,
/// merged, audited — the database's work, on its own thread or server), the next is read,
/// checked without the database and sealed. The two steps take turns on this task (the reader
/// yields every [`YIELD_ROWS`] rows), so the engine's time and ours overlap instead of adding.
async fn run<S: RowSource>(
    state: &AppState,
    actor: &Actor,
    rows: RowReader<S>,
    bound: Option<RegionCode>,
    opts: &ImportOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<ImportReport, ImportError> {
    if bound.is_none() && !rows.has_region_column() {
        return Err(FileError::new(
            FileErrorKind::Columns,
            "文件没有“区划代码”列：请指定导入区划（--region）",
        )
        .into());
    }
    let mut report = ImportReport {
        encoding: rows.encoding.to_string(),
        ignored_columns: rows.ignored.clone(),
        ..ImportReport::default()
    };
    let now = state.now_ms();
    let backend = state.db.backend();
    let mut batcher = Batcher {
        state,
        actor,
        who: Who::from(actor),
        now,
        known_regions: RegionCache::new(100_000),
        region_bounds: bound
            .as_ref()
            .map(RegionCode::scope_bounds)
            .unwrap_or_else(|| actor.scope_bounds()),
        first_new_id: None,
        chain: audit::Chain::default(),
        deferred: Vec::new(),
    };
    let mut reader = BatchReader {
        state,
        actor,
        rows,
        bound: bound.clone(),
        now,
        read: 0,
        done: false,
    };
    // One transaction for the whole file, on a connection set up for bulk inserts.
    let mut w = state.db.begin_bulk_write().await?;
    batcher.chain.start(w.conn(), backend).await?;
    let mut batch = Batch::default();
    loop {
        if batch.rows.is_empty() && reader.done {
            break;
        }
        let mut next = Batch {
            rows: Vec::with_capacity(BATCH_ROWS),
            insert: None,
        };
        let (mut written, mut read) = (Tally::default(), Tally::default());
        let (w_result, r_result) = tokio::join!(
            biased;
            batcher.flush(w.conn(), &mut batch, &mut written),
            reader.fill(&mut next, &mut read)
        );
        written.apply(&mut report, progress);
        read.apply(&mut report, progress);
        w_result?;
        r_result?;
        report.rows = reader.read;
        progress(Progress::Rows {
            rows: report.rows,
            bytes: reader.rows.bytes(),
            imported: report.imported,
            merged: report.merged,
            rejected: report.rejected,
        });
        batch = next;
    }
    batcher.append_deferred(w.conn()).await?;
    // Rows are rejected when read or when their batch is written: report them in file order.
    report.rejects.sort_by_key(|i| i.line);
    report.warnings.sort_by_key(|i| i.line);
    let commit = report.rejected == 0 || opts.good_rows;
    let summary = |outcome: &'static str, r: &ImportReport| Entry {
        action: "person.import",
        object_type: "person",
        object_id: opts.job_id.map(|j| format!("job:{j}")).unwrap_or_default(),
        region_code: bound
            .as_ref()
            .map(|b| b.to_string())
            .unwrap_or_else(|| actor.scope.as_str().to_string()),
        outcome,
        detail: json!({
            "rows": r.rows, "imported": r.imported, "merged": r.merged, "rejected": r.rejected,
            "good_rows": opts.good_rows, "encoding": r.encoding, "job": opts.job_id,
        }),
    };
    if commit {
        report.committed = true;
        let entry = summary("success", &report);
        batcher
            .chain
            .append(
                w.conn(),
                backend,
                now,
                &batcher.who,
                std::slice::from_ref(&entry),
            )
            .await?;
        if let Some(job) = opts.job_id {
            super::import_pages::record_report(w.conn(), job, &report, now).await?;
        }
        w.commit().await?;
    } else {
        w.rollback().await?;
        audit::append_alone(state, &batcher.who, summary("failure", &report)).await?;
        report.imported = 0;
        report.merged = 0;
    }
    Ok(report)
}

/// Merge a row into an existing person (see the module docs); returns the warnings and
/// whether the record was changed.
#[allow(clippy::too_many_arguments)]
async fn merge(
    state: &AppState,
    conn: &mut sqlx::AnyConnection,
    chain: &mut audit::Chain,
    who: &Who,
    now: i64,
    cur: &Stored,
    row: &Checked,
    region: &str,
) -> AppResult<(Vec<String>, bool)> {
    let mut notes = Vec::new();
    if row.name != cur.name {
        notes.push(format!("姓名与已登记的“{}”不一致，保留已登记值", cur.name));
    }
    if region != cur.region_code {
        notes.push(format!(
            "区划代码与已登记的 {} 不一致，保留已登记值",
            cur.region_code
        ));
    }
    let mut phone = None;
    if let Some(p) = row.phone.as_deref() {
        if cur.phone_masked.is_empty() {
            phone = Some(seal(state, None, Some(p)));
        } else if cur.phone_index.as_deref() != Some(&state.keys.blind_index("phone", p)) {
            notes.push("联系电话与已登记的不一致，保留已登记值".to_string());
        }
    }
    let mut fill = |label: &str, new: &str, old: &str| -> Option<String> {
        if new.is_empty() || new == old {
            None
        } else if old.is_empty() {
            Some(new.to_string())
        } else {
            notes.push(format!("{label}与已登记的不一致，保留已登记值"));
            None
        }
    };
    let address = fill("现住址", &row.address, &cur.address);
    let hukou = fill("户籍地址", &row.hukou_address, &cur.hukou_address);
    if phone.is_none() && address.is_none() && hukou.is_none() {
        return Ok((notes, false));
    }
    let phone_masked = phone
        .as_ref()
        .map(|s| s.phone_masked.clone())
        .unwrap_or_else(|| cur.phone_masked.clone());
    sqlx::query(
        "UPDATE persons SET phone_enc = COALESCE($1, phone_enc), \
         phone_index = COALESCE($2, phone_index), phone_masked = $3, address = $4, \
         hukou_address = $5, updated_at = $6 WHERE id = $7",
    )
    .bind(phone.as_ref().and_then(|s| s.phone_enc.clone()))
    .bind(phone.as_ref().and_then(|s| s.phone_index.clone()))
    .bind(&phone_masked)
    .bind(address.as_deref().unwrap_or(&cur.address))
    .bind(hukou.as_deref().unwrap_or(&cur.hukou_address))
    .bind(now)
    .bind(cur.id)
    .execute(&mut *conn)
    .await?;
    let detail = audit::diff(&[
        ("phone", json!(cur.phone_masked), json!(phone_masked)),
        (
            "address",
            json!(cur.address),
            json!(address.as_deref().unwrap_or(&cur.address)),
        ),
        (
            "hukou_address",
            json!(cur.hukou_address),
            json!(hukou.as_deref().unwrap_or(&cur.hukou_address)),
        ),
    ]);
    let entry = Entry {
        action: "person.merge",
        object_type: "person",
        object_id: cur.id.to_string(),
        region_code: cur.region_code.clone(),
        outcome: "success",
        detail,
    };
    chain
        .append(
            conn,
            state.db.backend(),
            now,
            who,
            std::slice::from_ref(&entry),
        )
        .await?;
    Ok((notes, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 2).unwrap_or_default()
    }

    fn id(region: &str, ymd: &str, seq: &str) -> String {
        let body = format!("{region}{ymd}{seq}");
        let c = backstop_core::citizen_id::check_char(&body).unwrap_or('0');
        format!("{body}{c}")
    }

    type Rows = Vec<Result<ParsedRow, RowIssue>>;

    fn rows_of<S: RowSource>(src: S, mapping: Option<&Mapping>) -> Result<Rows, FileError> {
        let mut r = RowReader::open(src, mapping, today(), false)?;
        let mut out = Vec::new();
        while let Some(row) = r.next_row()? {
            out.push(row);
        }
        Ok(out)
    }

    fn all_rows(bytes: &[u8]) -> Result<Rows, String> {
        let src = CsvSource::open(bytes, u64::MAX).map_err(|e| e.message)?;
        rows_of(src, None).map_err(|e| e.message)
    }

    /// A source of typed cells, standing in for a worksheet.
    struct Cells(Vec<(u64, Vec<(Kind, &'static str)>)>, usize);

    impl RowSource for Cells {
        fn next_record(&mut self, rec: &mut Record) -> Result<bool, FileError> {
            rec.clear();
            let Some((line, cells)) = self.0.get(self.1) else {
                return Ok(false);
            };
            self.1 += 1;
            rec.line = *line;
            for (k, t) in cells {
                rec.push(*k, t);
            }
            Ok(true)
        }
        fn bytes(&self) -> u64 {
            0
        }
        fn format(&self) -> &'static str {
            "xlsx"
        }
    }

    #[test]
    fn region_cache_looks_up_every_code_again_after_it_is_emptied() {
        let mut c = RegionCache::new(3);
        assert_eq!(c.unknown_of(["b", "a", "b"].into_iter()), vec!["a", "b"]);
        c.record("a", true);
        c.record("b", false);
        assert!(c.exists("a") && !c.exists("b") && !c.exists("z"));
        assert_eq!(c.unknown_of(["a", "c"].into_iter()), vec!["c"]);
        c.record("c", true);
        // Full: the next batch must look up "a" again, not trust a forgotten answer.
        assert_eq!(c.unknown_of(["a", "d"].into_iter()), vec!["a", "d"]);
        c.record("a", true);
        c.record("d", false);
        assert!(c.exists("a") && !c.exists("d") && !c.exists("c"));
    }

    #[test]
    fn region_cache_once_complete_knows_exactly_the_loaded_codes() {
        let mut c = RegionCache::new(3);
        c.record("110101001001", false);
        c.complete(["110101001001", "11", "350527000000"].into_iter());
        assert!(c.is_complete());
        assert!(c.unknown_of(["999999999999", "11"].into_iter()).is_empty());
        assert!(c.exists("110101001001") && c.exists("11") && c.exists("350527000000"));
        // Same digits, other length; not loaded; not a code at all.
        assert!(!c.exists("011") && !c.exists("110101001002") && !c.exists(""));
        assert!(!c.exists("1234567890123456") && !c.exists("11a"));
    }

    #[test]
    fn reads_utf8_bom_and_gbk_with_line_numbers() {
        let a = id("130110", "19800101", "001");
        let text = format!("姓名,身份证号,性别\n张三,{a},男\n\n李四,123,女\n");
        let crlf = text.replace('\n', "\r\n");
        for bytes in [
            crlf.into_bytes(),
            text.clone().into_bytes(),
            [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat(),
            GBK.encode(&text).0.into_owned(),
        ] {
            let rows = all_rows(&bytes).unwrap_or_default();
            assert_eq!(rows.len(), 2);
            let first = rows[0].as_ref().map(|r| (r.line, r.fields.name.clone()));
            assert_eq!(first, Ok((2, "张三".to_string())));
            let second = rows[1].as_ref().map(|r| r.line).unwrap_err();
            assert_eq!(second.line, 4);
            assert!(second.reason.contains("身份证号"), "{}", second.reason);
            assert_eq!(second.id_masked, "1*3");
        }
        let gbk = GBK.encode(&text).0.into_owned();
        let r = CsvSource::open(&gbk[..], u64::MAX).map(|r| r.format());
        assert_eq!(r.ok(), Some("gbk"));
    }

    #[test]
    fn line_numbers_count_quoted_newlines_and_blank_lines() {
        let a = id("130110", "19800101", "001");
        let text =
            format!("\n姓名,身份证号,现住址\n\"张\"\"三\",{a},\"一号\n\n二楼\"\n\n,,\n李四,1,\n");
        let rows = all_rows(text.as_bytes()).unwrap_or_default();
        assert_eq!(rows.len(), 2, "{rows:?}");
        let first = rows[0]
            .as_ref()
            .map(|r| (r.line, r.fields.name.clone(), r.fields.address.clone()));
        assert_eq!(
            first,
            Ok((3, "张\"三".to_string(), "一号 二楼".to_string()))
        );
        assert_eq!(rows[1].as_ref().map_err(|i| i.line).err(), Some(8));
    }

    #[test]
    fn header_problems_and_limits() {
        assert!(all_rows(b"").is_err());
        let e = all_rows("姓名,电话\n张三,1\n".as_bytes()).unwrap_err();
        assert!(
            e.contains("身份证号") && e.contains("文件中的列：姓名、电话"),
            "{e}"
        );
        assert!(all_rows("姓名,姓名,身份证号\n".as_bytes()).is_err());
        assert!(all_rows(&[0xFF, 0xFE, 0, 0]).is_err());
        let long = format!("name,id_number\n{}\n", "x".repeat(MAX_LINE_BYTES + 10));
        assert!(all_rows(long.as_bytes()).is_err());
        let small = CsvSource::open("name,id_number\na,b\n".as_bytes(), 10)
            .and_then(|s| rows_of(s, None).map(|_| ()));
        // The header alone is beyond 10 bytes: refused while reading, as too large.
        assert_eq!(small.map_err(|e| e.kind), Err(FileErrorKind::TooLarge));
    }

    #[test]
    fn title_rows_above_the_header_are_skipped() {
        let a = id("130110", "19800101", "001");
        let text = format!("低保花名册,,\n填报单位：某村,,\n序号,姓名,身份证号\n1,张三,{a}\n");
        let rows = all_rows(text.as_bytes()).unwrap_or_default();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0].as_ref().map(|r| r.line).ok(), Some(4));
    }

    #[test]
    fn explicit_mapping_overrides_recognition() {
        let a = id("130110", "19800101", "002");
        let text = format!("证件,名字,电话\n{a},王五,13800000000\n");
        let e = all_rows(text.as_bytes()).unwrap_err();
        assert!(e.contains("证件、名字、电话"), "{e}");
        let mut m = Mapping::new();
        m.insert("证件".into(), "id_number".into());
        m.insert("名字".into(), "姓名".into());
        m.insert("电话".into(), "ignore".into());
        let src = CsvSource::open(text.as_bytes(), u64::MAX).map_err(|e| e.message);
        let rows = src.and_then(|s| rows_of(s, Some(&m)).map_err(|e| e.message));
        let rows = rows.unwrap_or_default();
        assert_eq!(rows.len(), 1);
        let r = rows[0]
            .as_ref()
            .map(|r| (r.fields.name.clone(), r.fields.phone.clone()));
        assert_eq!(r.ok(), Some(("王五".to_string(), None)));
        // Mapping two columns to one field is refused.
        m.insert("电话".into(), "id_number".into());
        let src = CsvSource::open(text.as_bytes(), u64::MAX);
        let e = src.and_then(|s| rows_of(s, Some(&m)));
        assert_eq!(e.err().map(|e| e.kind), Some(FileErrorKind::Columns));
    }

    #[test]
    fn excel_numbers_ids_dates_and_phones() {
        let a = id("130110", "19800101", "003");
        let a: &'static str = Box::leak(a.into_boxed_str());
        let src = Cells(
            vec![
                (
                    1,
                    vec![
                        (Kind::Text, "身份证号"),
                        (Kind::Text, "姓名"),
                        (Kind::Text, "出生日期"),
                        (Kind::Text, "联系电话"),
                    ],
                ),
                (
                    2,
                    vec![
                        (Kind::Text, a),
                        (Kind::Text, "甲"),
                        (Kind::Number, "29221"),
                        (Kind::Number, "13812345678"),
                    ],
                ),
                (
                    5,
                    vec![(Kind::Number, "1.30110198001011E+17"), (Kind::Text, "乙")],
                ),
                (
                    6,
                    vec![(Kind::Number, "130110198001011000"), (Kind::Text, "丙")],
                ),
                (
                    7,
                    vec![(Kind::Text, a), (Kind::Text, "丁"), (Kind::Number, "29222")],
                ),
            ],
            0,
        );
        let rows = rows_of(src, None).unwrap_or_default();
        assert_eq!(rows.len(), 4, "{rows:?}");
        let first = rows[0]
            .as_ref()
            .map(|r| (r.fields.birth, r.fields.phone.clone()));
        assert_eq!(
            first.ok(),
            Some((
                NaiveDate::from_ymd_opt(1980, 1, 1),
                Some("13812345678".to_string())
            ))
        );
        for (i, line) in [(1, 5), (2, 6)] {
            let e = rows[i].as_ref().map(|_| ()).unwrap_err();
            assert_eq!(e.line, line);
            assert!(e.reason.contains("文本"), "{}", e.reason);
            assert!(!e.id_masked.contains("198001"), "{}", e.id_masked);
        }
        // 29222 is 1980-01-02: not the date in the ID number.
        let e = rows[3].as_ref().map(|_| ()).unwrap_err();
        assert!(e.reason.contains("出生日期"), "{}", e.reason);
    }

    #[test]
    fn excel_dates() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd);
        assert_eq!(xlsx::excel_date(1.0, false), d(1900, 1, 1));
        assert_eq!(xlsx::excel_date(59.0, false), d(1900, 2, 28));
        assert_eq!(xlsx::excel_date(60.0, false), None);
        assert_eq!(xlsx::excel_date(61.0, false), d(1900, 3, 1));
        assert_eq!(xlsx::excel_date(29221.5, false), d(1980, 1, 1));
        assert_eq!(xlsx::excel_date(27759.0, true), d(1980, 1, 1));
        assert_eq!(xlsx::excel_date(f64::NAN, false), None);
        assert_eq!(xlsx::excel_date(-3.0, false), None);
    }

    #[test]
    fn masking_of_ids_and_preview_cells() {
        assert_eq!(
            mask_id_text("13011019800101001X", true),
            "130110********001X"
        );
        assert_eq!(
            mask_id_text("13011019800101001X", false),
            "1****************X"
        );
        assert_eq!(mask_id_text("12", false), "**");
        assert!(!mask_cell(None, "卡号 6222020200112233445", false).contains("0200112233"));
        assert_eq!(mask_cell(None, "13812345678", false), "138****5678");
        assert_eq!(mask_cell(None, "3号楼101", false), "3号楼101");
        assert_eq!(
            mask_cell(Some(Field::Region), "130110001001", false),
            "130110001001"
        );
        let a = id("130110", "19800101", "004");
        let text = format!("姓名,身份证号,备注\n张三,{a},13812345678\n");
        let p = preview(
            io::Cursor::new(text.into_bytes()),
            &ImportOptions::default(),
            10,
            false,
        );
        let p = p.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.headers, vec!["姓名", "身份证号", "备注"]);
        assert_eq!(p.fields, vec![Some("name"), Some("id_number"), None]);
        assert_eq!(p.rows.len(), 1);
        assert_eq!(p.rows[0].cells[1], mask_id_text(&a, false));
        assert_eq!(p.rows[0].cells[2], "138****5678");
        assert!(p.column_error.is_none());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Fuzz: arbitrary bytes never panic the CSV reader, and it yields no more rows than
        /// the input has lines, with bounded reasons.
        #[test]
        fn never_panics_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
            let lines = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
            if let Ok(rows) = all_rows(&bytes) {
                prop_assert!(rows.len() <= lines);
            }
            let mut with_header = "身份证号,姓名,性别,出生日期,联系电话,区划代码,现住址\n".as_bytes().to_vec();
            with_header.extend_from_slice(&bytes);
            if let Ok(rows) = all_rows(&with_header) {
                prop_assert!(rows.len() <= lines);
                for r in rows {
                    if let Err(i) = r {
                        prop_assert!(i.reason.len() < 2000);
                        prop_assert!(i.id_masked.chars().count() <= 2000);
                    }
                }
            }
            let _ = preview(io::Cursor::new(with_header), &ImportOptions::default(), 10, false);
        }

        #[test]
        fn never_panics_on_random_cells(cells in prop::collection::vec("[0-9Xx,\"\n\r 男女a-z\\-/]{0,20}", 0..30)) {
            let body = format!("id_number,name,sex,birth_date,phone\n{}", cells.join(","));
            let _ = all_rows(body.as_bytes());
        }
    }
}
