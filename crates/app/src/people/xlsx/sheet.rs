//! One worksheet's rows, parsed event by event (one row held at a time): cells placed by their
//! reference, shared and inline strings, numbers kept as Excel wrote them, dates by serial.
//! The workbook (`super::Book`) opens it; the roster import reads it as a `RowSource`.

use std::io::{BufReader, Read};

use chrono::NaiveDate;
use quick_xml::events::Event;

use super::container::Capped;
use super::{MAX_CELL, MAX_COLUMNS, MAX_ROW, Strings, attr, push_ref, unreadable, xml_error};
use crate::people::import::{FileError, Kind, Record, RowSource};

/// Rows of a worksheet, one at a time.
pub struct Sheet<'a, R: Read> {
    pub(super) xml: quick_xml::Reader<BufReader<Capped<zip::read::ZipFile<'a, R>>>>,
    pub(super) strings: &'a Strings,
    pub(super) date1904: bool,
    pub(super) size: u64,
    pub(super) file_len: u64,
    pub(super) buf: Vec<u8>,
    pub(super) last_row: u64,
    pub(super) done: bool,
    pub(super) text: String,
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
