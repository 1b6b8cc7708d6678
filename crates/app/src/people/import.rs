//! Roster import (花名册导入): persons from a CSV file in UTF-8, UTF-8 with BOM or GBK.
//!
//! This module owns reading a roster file safely and the merge rule, so the CLI
//! (`backstop persons import`) and, later, the upload page behave the same:
//!
//! - **Streaming, bounded memory.** The file is read in 64 KiB chunks, decoded on the fly
//!   (`encoding_rs`; the encoding is chosen from the first 64 KiB: a UTF-8 BOM or valid UTF-8
//!   means UTF-8, anything else GBK/GB 18030) and parsed row by row; a line longer than 1 MiB
//!   or a file larger than `max_bytes` stops the import. Only the first 1,000 rejects and
//!   warnings are kept in the report; every one is passed to the progress callback.
//! - **Header row** in Chinese (身份证号, 姓名, 性别, 出生日期, 联系电话, 区划代码, 现住址,
//!   户籍地址) or English (`id_number`, `name`, `sex`, `birth_date`, `phone`, `region_code`,
//!   `address`, `hukou_address`); unknown columns are ignored and listed. The region column is
//!   optional when a default region is given; rows must lie inside it and inside the actor's
//!   scope. The ID number is required in a roster (it is the key that prevents duplicates);
//!   people without one are recorded one by one on the page.
//! - **Every bad row** is reported with its line number and a Chinese reason.
//! - **Merge rule** for an ID number already on record (earlier in the same file, or in the
//!   database, in the actor's scope): the existing record is kept; its empty fields (phone,
//!   current address, household-registration address) are filled from the row; a non-empty
//!   field that differs (name, region, phone, addresses) keeps the recorded value and the row
//!   gets a warning naming the field. The row counts as *merged*, never as a second person.
//!   A number on record outside the actor's scope rejects the row (without saying where).
//! - **All or nothing** by default: one write transaction, rolled back if any row was
//!   rejected; with `good_rows` the good rows are committed and the bad ones reported.
//!   Each created or merged person gets its own audit entry, and the import one summary entry.

use std::collections::HashMap;
use std::io::{self, Read};

use backstop_core::clock::beijing_date;
use backstop_core::error::ErrorCode;
use backstop_core::region::RegionCode;
use backstop_core::role::Permission;
use chrono::NaiveDate;
use encoding_rs::{Encoding, GBK, UTF_8};
use serde::Serialize;
use serde_json::json;

use super::{Checked, RawFields, Stored, check_fields, id_index, load_by_index, seal};
use crate::audit::{self, Entry, Who};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::regions;
use crate::state::AppState;

/// Longest physical line accepted (bytes of UTF-8 after decoding).
pub const MAX_LINE_BYTES: usize = 1024 * 1024;
/// Rejects and warnings kept in the report (all are passed to the progress callback).
pub const MAX_ISSUES: usize = 1000;
const CHUNK: usize = 64 * 1024;

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Default region for rows without a region column, and the bound every row must be in.
    pub region: Option<String>,
    /// Commit the good rows even if some were rejected (default: all or nothing).
    pub good_rows: bool,
    /// Largest file accepted, bytes.
    pub max_bytes: u64,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            region: None,
            good_rows: false,
            max_bytes: 2 * 1024 * 1024 * 1024,
        }
    }
}

/// A rejected row or a warning, by physical line number (the header is line 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RowIssue {
    pub line: u64,
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// `utf-8` or `gbk`.
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
    /// Rows read so far and bytes of the file consumed.
    Rows {
        rows: u64,
        bytes: u64,
    },
    Rejected(&'a RowIssue),
    Warning(&'a RowIssue),
}

/// Columns the importer understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Col {
    Id,
    Name,
    Sex,
    Birth,
    Phone,
    Region,
    Address,
    Hukou,
}

impl Col {
    fn label(self) -> &'static str {
        match self {
            Col::Id => "身份证号",
            Col::Name => "姓名",
            Col::Sex => "性别",
            Col::Birth => "出生日期",
            Col::Phone => "联系电话",
            Col::Region => "区划代码",
            Col::Address => "现住址",
            Col::Hukou => "户籍地址",
        }
    }

    fn recognise(header: &str) -> Option<Col> {
        let h: String = header
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '\u{feff}' | '*' | '＊'))
            .collect::<String>()
            .to_lowercase();
        Some(match h.as_str() {
            "身份证号" | "身份证号码" | "公民身份号码" | "证件号码" | "身份证" | "id_number"
            | "idnumber" | "id_no" => Col::Id,
            "姓名" | "name" => Col::Name,
            "性别" | "sex" | "gender" => Col::Sex,
            "出生日期" | "出生年月日" | "birth_date" | "birthdate" | "date_of_birth" => {
                Col::Birth
            }
            "联系电话" | "电话" | "手机" | "手机号" | "手机号码" | "phone" | "mobile" => {
                Col::Phone
            }
            "区划代码" | "行政区划代码" | "region_code" | "region" => Col::Region,
            "现住址" | "住址" | "居住地址" | "现居住地址" | "address" => Col::Address,
            "户籍地址" | "户籍地" | "hukou_address" => Col::Hukou,
            _ => return None,
        })
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
                            return Err(io::Error::other(format!(
                                "有一行超过 {} KB，文件可能不是 CSV",
                                MAX_LINE_BYTES / 1024
                            )));
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
                return Err(io::Error::other(format!(
                    "文件超过上限 {} MB",
                    self.max_bytes / (1024 * 1024)
                )));
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

/// One data row, validated without the database.
#[derive(Debug, Clone)]
pub(crate) struct ParsedRow {
    pub line: u64,
    pub fields: Checked,
    /// The region code cell (empty if none).
    pub region: String,
}

/// The pure part of the import: decoding, header, per-row field checks.
pub(crate) struct RowReader<R: Read> {
    csv: csv::Reader<Decoded<io::Chain<io::Cursor<Vec<u8>>, R>>>,
    cols: HashMap<Col, usize>,
    pub encoding: &'static str,
    pub ignored: Vec<String>,
    today: NaiveDate,
    record: csv::StringRecord,
    /// Physical line number of the next record.
    next_line: u64,
}

/// Physical lines a record spans (1 + newlines inside quoted fields).
fn record_lines(r: &csv::StringRecord) -> u64 {
    1 + r
        .iter()
        .map(|f| f.bytes().filter(|&b| b == b'\n').count() as u64)
        .sum::<u64>()
}

impl<R: Read> RowReader<R> {
    /// Open a file: sniff the encoding, read and check the header row.
    pub fn open(mut input: R, max_bytes: u64, today: NaiveDate) -> Result<Self, String> {
        let mut head = vec![0u8; CHUNK];
        let n = read_full(&mut input, &mut head).map_err(|e| format!("无法读取文件：{e}"))?;
        head.truncate(n);
        let enc = sniff(&head)?;
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
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(decoded);
        let mut header = csv::StringRecord::new();
        let mut next_line = 1;
        loop {
            let more = csv
                .read_record(&mut header)
                .map_err(|e| format!("无法读取表头：{}", csv_error(&e)))?;
            if !more {
                return Err("文件为空（没有表头行）".to_string());
            }
            next_line += record_lines(&header);
            if header.iter().any(|c| !c.trim().is_empty()) {
                break;
            }
        }
        let mut cols = HashMap::new();
        let mut ignored = Vec::new();
        for (i, cell) in header.iter().enumerate() {
            match Col::recognise(cell) {
                Some(c) => {
                    if cols.insert(c, i).is_some() {
                        return Err(format!("表头中“{}”列重复", c.label()));
                    }
                }
                None if cell.trim().is_empty() => {}
                None => ignored.push(cell.trim().chars().take(40).collect()),
            }
        }
        let missing: Vec<&str> = [Col::Id, Col::Name]
            .into_iter()
            .filter(|c| !cols.contains_key(c))
            .map(Col::label)
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "缺少必需的列：{}。可识别的表头：身份证号、姓名、性别、出生日期、联系电话、区划代码、现住址、户籍地址（或 id_number, name, sex, birth_date, phone, region_code, address, hukou_address）",
                missing.join("、")
            ));
        }
        Ok(RowReader {
            csv,
            cols,
            encoding: if enc == UTF_8 { "utf-8" } else { "gbk" },
            ignored,
            today,
            record: csv::StringRecord::new(),
            next_line,
        })
    }

    pub fn has_region_column(&self) -> bool {
        self.cols.contains_key(&Col::Region)
    }

    /// Bytes of the file consumed so far.
    pub fn bytes(&self) -> u64 {
        self.csv.get_ref().consumed
    }

    fn cell(&self, c: Col) -> &str {
        self.cols
            .get(&c)
            .and_then(|&i| self.record.get(i))
            .unwrap_or("")
    }

    /// The next data row: `Ok(None)` at the end, `Ok(Some(Err(issue)))` for a bad row,
    /// `Err` when the file cannot be read on (I/O, over-long line, over-large file).
    #[allow(clippy::type_complexity)]
    pub fn next_row(&mut self) -> Result<Option<Result<ParsedRow, RowIssue>>, String> {
        loop {
            let more = self
                .csv
                .read_record(&mut self.record)
                .map_err(|e| csv_error(&e))?;
            if !more {
                return Ok(None);
            }
            let line = self.next_line;
            self.next_line += record_lines(&self.record);
            if self.record.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            if self.record.iter().any(|c| c.contains('\u{fffd}')) {
                return Ok(Some(Err(RowIssue {
                    line,
                    reason: "含有无法识别的字符（文件编码应为 UTF-8 或 GBK）".to_string(),
                })));
            }
            if self.cell(Col::Id).trim().is_empty() {
                return Ok(Some(Err(RowIssue {
                    line,
                    reason: "缺少身份证号（无证件人员请在页面上逐个登记）".to_string(),
                })));
            }
            // Line breaks inside an address cell (Alt+Enter in Excel) become spaces.
            let address = one_line(self.cell(Col::Address));
            let hukou_address = one_line(self.cell(Col::Hukou));
            let raw = RawFields {
                id_number: self.cell(Col::Id),
                name: self.cell(Col::Name),
                sex: self.cell(Col::Sex),
                birth_date: self.cell(Col::Birth),
                phone: self.cell(Col::Phone),
                address: &address,
                hukou_address: &hukou_address,
            };
            let region = self.cell(Col::Region).trim().to_string();
            return Ok(Some(match check_fields(&raw, self.today) {
                Ok(fields) => Ok(ParsedRow {
                    line,
                    fields,
                    region,
                }),
                Err(e) => Err(RowIssue {
                    line,
                    reason: e.message,
                }),
            }));
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

fn csv_error(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            format!("第 {line} 行无法解析")
        }
    }
}

fn file_error(message: String) -> AppError {
    AppError::msg(ErrorCode::Validation, message)
}

/// Import a roster (see the module docs for the rules). Whole-file problems (unreadable,
/// wrong columns, over-large) are an error and change nothing; row problems are in the report.
pub async fn import_csv<R: Read>(
    state: &AppState,
    actor: &Actor,
    input: R,
    opts: &ImportOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> AppResult<ImportReport> {
    actor.require(Permission::PersonsWrite)?;
    let bound = match opts
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
            Some(code)
        }
        None => None,
    };
    let today = beijing_date(state.clock.now());
    let mut rows = RowReader::open(input, opts.max_bytes, today).map_err(file_error)?;
    if bound.is_none() && !rows.has_region_column() {
        return Err(file_error(
            "文件没有“区划代码”列：请指定导入区划（--region）".to_string(),
        ));
    }
    let mut report = ImportReport {
        encoding: rows.encoding.to_string(),
        ignored_columns: rows.ignored.clone(),
        ..ImportReport::default()
    };
    let now = state.now_ms();
    let who = Who::from(actor);
    let backend = state.db.backend();
    let mut known_regions: HashMap<String, bool> = HashMap::new();
    let mut first_new_id: Option<i64> = None;
    let mut w = state.db.begin_write().await?;

    loop {
        let next = rows.next_row().map_err(|m| {
            file_error(format!(
                "读取文件时出错（已读 {} 行，未导入任何数据）：{m}",
                report.rows
            ))
        })?;
        let Some(row) = next else { break };
        report.rows += 1;
        if report.rows.is_multiple_of(1000) {
            progress(Progress::Rows {
                rows: report.rows,
                bytes: rows.bytes(),
            });
        }
        let row = match row {
            Ok(r) => r,
            Err(issue) => {
                reject(&mut report, progress, issue);
                continue;
            }
        };
        let line = row.line;
        // Region: the row's, else the default; inside the default and the actor's scope.
        let code = match (row.region.is_empty(), &bound) {
            (true, Some(b)) => b.clone(),
            (true, None) => {
                reject(
                    &mut report,
                    progress,
                    RowIssue {
                        line,
                        reason: "缺少区划代码".to_string(),
                    },
                );
                continue;
            }
            (false, _) => match RegionCode::parse(&row.region) {
                Ok(c) => c,
                Err(e) => {
                    reject(
                        &mut report,
                        progress,
                        RowIssue {
                            line,
                            reason: format!("区划代码：{e}"),
                        },
                    );
                    continue;
                }
            },
        };
        if let Some(b) = &bound
            && !b.contains(&code)
        {
            reject(
                &mut report,
                progress,
                RowIssue {
                    line,
                    reason: format!(
                        "区划代码 {} 不在导入区划 {} 范围内",
                        code.as_str(),
                        b.as_str()
                    ),
                },
            );
            continue;
        }
        if !actor.sees(&code) {
            reject(
                &mut report,
                progress,
                RowIssue {
                    line,
                    reason: format!("区划代码 {} 不在您的管辖范围内", code.as_str()),
                },
            );
            continue;
        }
        let exists = match known_regions.get(code.as_str()) {
            Some(&e) => e,
            None => {
                let found: Option<String> =
                    sqlx::query_scalar("SELECT code FROM regions WHERE code = $1")
                        .bind(code.as_str())
                        .fetch_optional(w.conn())
                        .await?;
                if known_regions.len() >= 100_000 {
                    known_regions.clear();
                }
                known_regions.insert(code.as_str().to_string(), found.is_some());
                found.is_some()
            }
        };
        if !exists {
            reject(
                &mut report,
                progress,
                RowIssue {
                    line,
                    reason: format!("区划代码 {} 不存在", code.as_str()),
                },
            );
            continue;
        }
        let Some(cid) = row.fields.id.as_ref() else {
            continue;
        };
        let idx = id_index(state, cid);
        match load_by_index(w.conn(), &idx).await? {
            None => {
                let sealed = seal(state, Some(cid), row.fields.phone.as_deref());
                let id = super::insert(
                    w.conn(),
                    backend,
                    now,
                    &who,
                    code.as_str(),
                    &row.fields,
                    &sealed,
                    "import",
                )
                .await?;
                first_new_id.get_or_insert(id);
                report.imported += 1;
            }
            Some(existing) if !existing.in_scope(actor) => {
                reject(
                    &mut report,
                    progress,
                    RowIssue {
                        line,
                        reason:
                            "该身份证号已在您管辖范围以外登记，不能在此导入（请联系上级部门核实）"
                                .to_string(),
                    },
                );
            }
            Some(existing) => {
                let in_file =
                    existing.created_at == now && first_new_id.is_some_and(|f| existing.id >= f);
                let notes = merge(
                    state,
                    w.conn(),
                    &who,
                    now,
                    &existing,
                    &row.fields,
                    code.as_str(),
                )
                .await?;
                report.merged += 1;
                if !notes.is_empty() {
                    let whence = if in_file {
                        "与文件中前面的行身份证号相同"
                    } else {
                        "该身份证号已登记"
                    };
                    let issue = RowIssue {
                        line,
                        reason: format!(
                            "{whence}，已合并到人员 {}；{}",
                            existing.id,
                            notes.join("；")
                        ),
                    };
                    report.warnings_total += 1;
                    progress(Progress::Warning(&issue));
                    if report.warnings.len() < MAX_ISSUES {
                        report.warnings.push(issue);
                    }
                }
            }
        }
    }
    progress(Progress::Rows {
        rows: report.rows,
        bytes: rows.bytes(),
    });
    let commit = report.rejected == 0 || opts.good_rows;
    let summary = |outcome: &'static str, r: &ImportReport| Entry {
        action: "person.import",
        object_type: "person",
        object_id: String::new(),
        region_code: bound
            .as_ref()
            .map(|b| b.to_string())
            .unwrap_or_else(|| actor.scope.as_str().to_string()),
        outcome,
        detail: json!({
            "rows": r.rows, "imported": r.imported, "merged": r.merged, "rejected": r.rejected,
            "good_rows": opts.good_rows, "encoding": r.encoding,
        }),
    };
    if commit {
        audit::append(w.conn(), backend, now, &who, summary("success", &report)).await?;
        w.commit().await?;
        report.committed = true;
    } else {
        drop(w);
        audit::append_alone(state, &who, summary("failure", &report)).await?;
        report.imported = 0;
        report.merged = 0;
    }
    Ok(report)
}

fn reject(report: &mut ImportReport, progress: &mut dyn FnMut(Progress<'_>), issue: RowIssue) {
    report.rejected += 1;
    progress(Progress::Rejected(&issue));
    if report.rejects.len() < MAX_ISSUES {
        report.rejects.push(issue);
    }
}

/// Merge a row into an existing person (see the module docs); returns the warnings.
async fn merge(
    state: &AppState,
    conn: &mut sqlx::AnyConnection,
    who: &Who,
    now: i64,
    cur: &Stored,
    row: &Checked,
    region: &str,
) -> AppResult<Vec<String>> {
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
        return Ok(notes);
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
    audit::append(
        conn,
        state.db.backend(),
        now,
        who,
        Entry {
            action: "person.merge",
            object_type: "person",
            object_id: cur.id.to_string(),
            region_code: cur.region_code.clone(),
            outcome: "success",
            detail,
        },
    )
    .await?;
    Ok(notes)
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

    fn all_rows(bytes: &[u8]) -> Result<Vec<Result<ParsedRow, RowIssue>>, String> {
        let mut r = RowReader::open(bytes, u64::MAX, today())?;
        let mut out = Vec::new();
        while let Some(row) = r.next_row()? {
            out.push(row);
        }
        Ok(out)
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
        }
        let gbk = GBK.encode(&text).0.into_owned();
        let r = RowReader::open(&gbk[..], u64::MAX, today()).map(|r| r.encoding);
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
        assert!(e.contains("身份证号"), "{e}");
        assert!(all_rows("姓名,姓名,身份证号\n".as_bytes()).is_err());
        assert!(all_rows(&[0xFF, 0xFE, 0, 0]).is_err());
        let long = format!("name,id_number\n{}\n", "x".repeat(MAX_LINE_BYTES + 10));
        assert!(all_rows(long.as_bytes()).is_err());
        let mut r = RowReader::open("name,id_number\na,b\n".as_bytes(), 10, today())
            .map(|_| ())
            .err();
        // The header alone is beyond 10 bytes: refused while reading.
        assert!(r.take().is_some());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn never_panics_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
            let _ = all_rows(&bytes);
            let mut with_header = "身份证号,姓名,性别,出生日期,联系电话,区划代码,现住址\n".as_bytes().to_vec();
            with_header.extend_from_slice(&bytes);
            let _ = all_rows(&with_header);
        }

        #[test]
        fn never_panics_on_random_cells(cells in prop::collection::vec("[0-9Xx,\"\n\r 男女a-z\\-/]{0,20}", 0..30)) {
            let body = format!("id_number,name,sex,birth_date,phone\n{}", cells.join(","));
            let _ = all_rows(body.as_bytes());
        }
    }
}
