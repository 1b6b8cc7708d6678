//! From cells to checked rows: the header row found, each data row's cells read by field
//! (Excel numbers and date serials handled), validated without the database
//! (`people::check_fields`), and the masked preview the upload page shows.

use std::collections::VecDeque;

use chrono::NaiveDate;
use serde::Serialize;

use super::columns::*;
use super::source::*;
use super::*;
use crate::people::shown;

pub(super) fn one_line(s: &str) -> String {
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
    /// The village (community) name cell (empty if none).
    pub village: String,
    /// Care categories of the category cell.
    pub categories: Vec<&'static str>,
    /// The household number cell (empty if none).
    pub household: String,
    /// Relationship to the head, when the row gives one.
    pub relationship: Option<&'static str>,
    /// The original cells, joined by [`RAW_SEP`] (for the rejected-rows file).
    pub raw: String,
}

/// Separates the original cells of a row in [`ParsedRow::raw`] / [`RowIssue::raw`].
pub(crate) const RAW_SEP: char = '\u{1f}';

/// A preview cell: ID number and phone columns masked, and in other columns anything with
/// seven or more digits (an ID, phone or bank number in a 备注 column).
pub(super) fn mask_cell(field: Option<Field>, text: &str, reveal: bool) -> String {
    let t = text.trim();
    match field {
        Some(Field::Id) => shown::id_text(t, reveal),
        Some(Field::Phone) => shown::phone_text(t),
        Some(_) => t.to_string(),
        None => {
            let digits = t.bytes().filter(u8::is_ascii_digit).count();
            if is_region_code(t) {
                // A region code is not personal data: shown as it is.
                t.to_string()
            } else if digits >= 15 {
                shown::id_text(t, false)
            } else if digits >= 7 {
                shown::phone_text(t)
            } else {
                t.to_string()
            }
        }
    }
}

/// Digits only, of a region code's length (2, 4, 6, 9 or 12).
fn is_region_code(t: &str) -> bool {
    matches!(t.len(), 2 | 4 | 6 | 9 | 12) && t.bytes().all(|b| b.is_ascii_digit())
}

/// An integer-valued Excel number written out plainly (`13812345678`, not `1.38E10`);
/// anything else as Excel wrote it.
pub(super) fn number_text(raw: &str) -> std::borrow::Cow<'_, str> {
    match raw.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 => {
            std::borrow::Cow::Owned(format!("{}", v as i64))
        }
        _ => std::borrow::Cow::Borrowed(raw),
    }
}

pub(super) const ID_AS_NUMBER: &str = "身份证号被 Excel 存成了数字（超过 15 位的数字会丢失精度，末几位已不可靠）：请把身份证号列设置为“文本”格式，重新填写后再导入";

/// Read the first non-empty rows and pick the header: the first with at least two
/// recognised or mapped columns, else one with any, else the first non-empty row. Returns
/// the header and the rows read after it.
pub(super) fn find_header<S: RowSource>(
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
    pub(super) src: S,
    pub(super) cols: Columns,
    pub(super) today: NaiveDate,
    pub(super) reveal: bool,
    pub(super) rec: Record,
    pub(super) pending: VecDeque<Record>,
    pub encoding: &'static str,
    pub ignored: Vec<String>,
    /// The header row's cells (for the rejected-rows file).
    pub headers: Vec<String>,
    /// Columns of the header row.
    pub(super) width: usize,
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
        let headers: Vec<String> = cells.iter().map(|c| c.trim().to_string()).collect();
        Ok(RowReader {
            width: headers.len(),
            headers,
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

    pub fn has_village_column(&self) -> bool {
        self.cols.of(Field::Village).is_some()
    }

    /// The current row's cells as the user typed them (Excel integers written out, dates as
    /// dates), joined by [`RAW_SEP`], as many as the header has columns (or more).
    fn raw(&self) -> String {
        let n = self.width.max(self.rec.len());
        let mut out = String::new();
        for i in 0..n {
            if i > 0 {
                out.push(RAW_SEP);
            }
            let (k, t) = self.rec.get(i);
            match (k, self.cols.field_at(i)) {
                (Kind::Number, Some(Field::Birth)) => match t
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .and_then(|v| xlsx::excel_date(v, self.src.date1904()))
                {
                    Some(d) => out.push_str(&d.format("%Y-%m-%d").to_string()),
                    None => out.push_str(t),
                },
                (Kind::Number, _) => out.push_str(&number_text(t)),
                _ => out.push_str(&t.replace(RAW_SEP, " ")),
            }
        }
        out
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
            let raw = self.raw();
            let (id_kind, id_text) = self.cell(Field::Id);
            let reveal = self.reveal;
            let issue = |reason: &str| {
                Ok(Some(Err(RowIssue {
                    line,
                    reason: reason.to_string(),
                    id_masked: mask_id_text(id_text, reveal),
                    raw: raw.clone(),
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
            let fields = RawFields {
                id_number: id_trim,
                name: &name,
                sex: &sex,
                birth_date: &birth,
                phone: &phone,
                address: &address,
                hukou_address: &hukou_address,
            };
            let checked = check_fields(&fields, self.today);
            let region = text(Field::Region).trim().to_string();
            let village = one_line(&text(Field::Village));
            let categories = backstop_core::care_category::parse_roster(&text(Field::Category));
            let household = text(Field::Household).trim().chars().take(50).collect();
            let rel_text = text(Field::Relationship).trim().to_string();
            let relationship = match rel_text.as_str() {
                "" => Ok(None),
                r => crate::people::parse_relationship(r)
                    .map(Some)
                    .ok_or_else(|| {
                        format!(
                            "与户主关系“{}”无法识别（如：户主、配偶、子女、父母）",
                            r.chars().take(10).collect::<String>()
                        )
                    }),
            };
            let categories = categories.and_then(|c| relationship.map(|r| (c, r)));
            return Ok(Some(match (checked, categories) {
                (Ok(fields), Ok((categories, relationship))) => Ok(ParsedRow {
                    line,
                    fields,
                    region,
                    village,
                    categories,
                    household,
                    relationship,
                    raw,
                }),
                (Err(e), _) => Err(RowIssue {
                    line,
                    reason: e.message,
                    id_masked: mask_id_text(id_trim, reveal),
                    raw,
                }),
                (_, Err(reason)) => Err(RowIssue {
                    line,
                    reason,
                    id_masked: mask_id_text(id_trim, reveal),
                    raw,
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

pub(super) fn preview_from<S: RowSource>(
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
