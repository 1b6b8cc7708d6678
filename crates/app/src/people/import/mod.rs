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
//!   A number on record outside the actor's scope makes the row this region's link to that
//!   record, counted and worded as a new person (the file learns nothing of the other region).
//! - **Pipelined writes** (ADR 0008): rows are written in batches of 1,000 in that one
//!   transaction; while the engine writes one batch, the next is read, sealed and bound, and
//!   the last batch's audit entries are hashed. The batch's numbers are claimed first in the
//!   national register (`person_numbers`, one statement, `ON CONFLICT DO NOTHING`; on SQLite,
//!   which has none, looked up in `persons`); a number already held (or earlier in the batch)
//!   is not inserted but merged.
//! - **All or nothing** by default: one write transaction, rolled back if any row was
//!   rejected; with `good_rows` the good rows are committed and the bad ones reported.
//!   Each created or merged person gets its own audit entry, and the import one summary entry
//!   (with the job id when run as a background job, whose result row is written in the same
//!   transaction).
//!
//! Layout, one concern per file: the options, report and errors and the two entry points are
//! here; `source` reads a file as rows of cells (CSV, or `people::xlsx`); `columns` decides
//! which column is which field (recognition, explicit and saved mappings); `rows` checks a row
//! without the database and builds the masked preview; `write` is the pipeline (ADR 0008)
//! and `queries` every statement of the import, its jobs and templates. The upload side
//! (formerly `import_pages`, still re-exported under that name): `storage` (encrypted files),
//! `upload` (multipart), `jobs` (background jobs, progress, rejected rows), `pages`, `api`.

pub(crate) mod api;
pub(crate) mod columns;
mod households;
pub(crate) mod jobs;
mod merge;
pub(crate) mod pages;
mod passes;
mod queries;
mod regions;
mod rows;
mod source;
pub(crate) mod storage;
#[cfg(test)]
mod tests;
mod upload;
mod villages;
mod write;

pub use crate::people::shown::id_text as mask_id_text;
pub use columns::{Columns, Field, header_key, normalise_header, resolve_columns};
pub(crate) use rows::RowReader;
pub use rows::{Preview, PreviewRow, preview};
use source::sniff_zip;
pub use source::{CsvSource, Kind, Record, RowSource};

use std::collections::BTreeMap;
use std::io::{self, Read, Seek};

use backstop_core::clock::beijing_date;
use backstop_core::error::ErrorCode;
use backstop_core::region::RegionCode;
use backstop_core::role::Permission;
use serde::Serialize;
use serde_json::json;

use super::xlsx;
use super::{Checked, RawFields, check_fields};
use crate::audit::{self, Entry, Who};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// Longest physical line accepted (bytes of UTF-8 after decoding).
pub const MAX_LINE_BYTES: usize = 1024 * 1024;
/// Rejects and warnings kept in the report (all are passed to the progress callback).
pub const MAX_ISSUES: usize = 1000;
/// Non-empty rows searched for the header row.
pub const HEADER_SCAN: usize = 10;

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
    /// Without a household column, group the rows of a village with the same current
    /// address into one household.
    pub households_by_address: bool,
    /// The background job this import runs for: its result row is written in the import's
    /// transaction and its id goes into the summary audit entry.
    pub job_id: Option<i64>,
    /// How long one of the import's write transactions may run before it commits and lets
    /// other writers go (ADR 0017): the longest another user's save waits for the import.
    pub chunk: std::time::Duration,
}

/// The default [`ImportOptions::chunk`]: a save that arrives during an import waits at most
/// about this long plus one batch (1,000 rows, some 60–150 ms) for the writer. Measured on
/// SQLite (`import_stall`, docs/BENCHMARKS.md): 100 ms cost the import a third of its speed
/// for a similar worst wait; 250 ms about a quarter.
pub const CHUNK: std::time::Duration = std::time::Duration::from_millis(250);

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            region: None,
            good_rows: false,
            max_bytes: 2 * 1024 * 1024 * 1024,
            mapping: None,
            xlsx: xlsx::Limits::default(),
            job_id: None,
            households_by_address: false,
            chunk: CHUNK,
        }
    }
}

/// A rejected row or a warning, by line number (the header is line 1 in a CSV file; in an
/// .xlsx file the Excel row number).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RowIssue {
    pub line: u64,
    pub reason: String,
    /// The row's ID number masked for the importer (empty when the row had none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id_masked: String,
    /// A rejected row's original cells (joined by `rows::RAW_SEP`), for the rejected-rows
    /// file only: never serialised, stored only sealed (`jobs::record_report`).
    #[serde(skip)]
    #[schema(ignore)]
    pub raw: String,
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
    /// The header row as in the file (for the rejected-rows file).
    #[serde(skip)]
    pub headers: Vec<String>,
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
    /// The first pass (nothing written yet): rows read and checked so far, bytes consumed,
    /// rows rejected.
    Checking {
        rows: u64,
        bytes: u64,
        rejected: u64,
    },
    /// A chunk was committed: everything up to `rows` is saved, whatever happens next.
    Committed {
        rows: u64,
        imported: u64,
        merged: u64,
    },
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
    /// The service failed after some chunks were committed: the first `rows` data rows are
    /// saved (`imported` new persons, `merged` into records on file), the rest are not.
    Interrupted {
        error: AppError,
        rows: u64,
        imported: u64,
        merged: u64,
    },
}

impl ImportError {
    /// Stable code: a [`FileErrorKind::code`] or the service error's code.
    pub fn code(&self) -> &'static str {
        match self {
            ImportError::File(f) => f.kind.code(),
            ImportError::App(e) => e.code.as_str(),
            ImportError::Interrupted { .. } => ErrorCode::Interrupted.as_str(),
        }
    }

    pub fn message(&self) -> String {
        match self {
            ImportError::File(f) => f.message.clone(),
            ImportError::App(e) => e.message.clone(),
            ImportError::Interrupted {
                error,
                rows,
                imported,
                merged,
            } => interrupted_message(&error.message, *rows, *imported, *merged),
        }
    }

    pub fn into_app(self) -> AppError {
        match self {
            ImportError::File(f) => f.into_app(),
            ImportError::App(e) => e,
            e @ ImportError::Interrupted { .. } => {
                AppError::msg(ErrorCode::Interrupted, e.message())
            }
        }
    }
}

/// What an official reads when an import stopped part-way: what is saved, what is not, and
/// that importing the same file again completes it (rows already saved are recognised by their
/// ID numbers and merged without change, never registered twice).
pub(crate) fn interrupted_message(reason: &str, rows: u64, imported: u64, merged: u64) -> String {
    if imported == 0 && merged == 0 {
        return format!("{reason}；未导入任何数据");
    }
    format!(
        "{reason}；已保存文件前 {rows} 行（新增 {imported} 人，合并 {merged} 人），其余未导入。\
         重新导入同一文件即可补齐：已保存的人员按身份证号识别，不会重复登记"
    )
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
        Some(r) => Ok(Some(
            crate::people::region_in_scope(state, actor, "region_code", r).await?,
        )),
        None => Ok(None),
    }
}

/// Import a roster CSV (see the module docs for the rules). Whole-file problems (unreadable,
/// wrong columns, over-large) are an error and change nothing; row problems are in the report.
pub async fn import_csv<R: Read + Seek>(
    state: &AppState,
    actor: &Actor,
    input: R,
    opts: &ImportOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> AppResult<ImportReport> {
    import_file(state, actor, input, opts, progress)
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
    let mapping = opts.mapping.as_ref();
    // All or nothing (the default): the whole file is checked first, and written (in chunks,
    // others' saves in between) only if no row is rejected. With `good_rows` the bad rows are
    // skipped as they come, in one pass.
    let r = if sniff_zip(&mut input)? {
        let mut book = xlsx::Book::open(input, opts.xlsx)?;
        let rows = RowReader::open(book.rows()?, mapping, today, reveal)?;
        let mut import = passes::Import::new(state, actor, &rows, bound, opts).await?;
        if opts.good_rows {
            import.write(rows, progress).await
        } else if let Some(refused) = import.check(rows, progress).await? {
            Ok(refused)
        } else {
            import
                .write(
                    RowReader::open(book.rows()?, mapping, today, reveal)?,
                    progress,
                )
                .await
        }
    } else {
        let rows = RowReader::open(
            CsvSource::open(&mut input, opts.max_bytes)?,
            mapping,
            today,
            reveal,
        )?;
        let mut import = passes::Import::new(state, actor, &rows, bound, opts).await?;
        if opts.good_rows {
            import.write(rows, progress).await
        } else if let Some(refused) = import.check(rows, progress).await? {
            Ok(refused)
        } else {
            input.seek(io::SeekFrom::Start(0)).map_err(|e| {
                FileError::new(
                    FileErrorKind::Unreadable,
                    format!("无法再次读取文件（{e}），未导入任何数据"),
                )
            })?;
            import
                .write(
                    RowReader::open(
                        CsvSource::open(&mut input, opts.max_bytes)?,
                        mapping,
                        today,
                        reveal,
                    )?,
                    progress,
                )
                .await
        }
    };
    // `/metrics`: imports by how they ended, and the rows they brought in.
    let backend = state.db.engine();
    let outcome = match &r {
        Ok(report) if report.committed => "committed",
        Ok(_) => "rolled_back",
        Err(_) => "failed",
    };
    metrics::counter!("backstop_person_imports_total", "backend" => backend, "outcome" => outcome)
        .increment(1);
    if let Ok(report) = &r
        && report.committed
    {
        for (kind, n) in [("imported", report.imported), ("merged", report.merged)] {
            metrics::counter!("backstop_person_import_rows_total", "backend" => backend, "kind" => kind)
                .increment(n);
        }
    }
    r
}
