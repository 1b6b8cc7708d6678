//! Roster upload (花名册导入): the upload pages, the API, the background import jobs, the
//! saved column mappings (templates) and the encrypted storage of uploads.
//!
//! This module owns everything between "a user picks a file" and "the import ran":
//!
//! - **Upload** (`POST /persons/import`, `POST /api/v1/persons/imports`, multipart): the file
//!   is streamed straight into an encrypted file under the data directory (chunked
//!   AES-256-GCM with the service's key; each 64 KiB chunk carries the file's random id, its
//!   index and a last-chunk flag, so chunks cannot be reordered, dropped or spliced) and never
//!   sits on disk in plain text. Uploads over `Config::max_upload_bytes` (default 200 MB) are
//!   refused with a Chinese message (413), never a 500.
//! - **Preview** (`GET /persons/import/{id}`): the header and first 10 rows with ID numbers and
//!   phones masked, a select per column, the saved template offered again when the header row
//!   matches, the choice 全部或全无 / 只导入正确的行, then start.
//! - **Jobs**: one row per upload (`person_import_jobs`), visible only to the user who started
//!   it (anyone else: 404). The import runs as a background task on the blocking pool (the file
//!   is read and decrypted there); live progress is kept in memory and polled by the page with
//!   htmx; the result (counts, first 1,000 issues, or the error with a stable code) is written
//!   to the job row — in the import's own transaction when it commits. The encrypted file is
//!   deleted when the job ends or is abandoned; stale ones are swept (on upload and at start).
//! - **Rejected rows** as an Excel file (line, reason, masked ID; who exported it and when).
//! - **Templates** (`person_import_templates`): a named mapping per organisation (or, for users
//!   without one, per scope), audited when saved.

use std::collections::HashMap;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path as FsPath, PathBuf};
use std::sync::{LazyLock, Mutex};

use askama::Template;
use axum::extract::{DefaultBodyLimit, Form, Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use backstop_core::error::ErrorCode;
use backstop_core::region::Scope;
use backstop_core::role::Permission;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use super::import::{
    self, Field, FileError, FileErrorKind, ImportError, ImportOptions, ImportReport, Mapping,
    Preview, Progress, RowIssue,
};
use crate::audit::{self, Entry, Who};
use crate::kernel::actor::Actor;
use crate::kernel::crypto::KeyRing;
use crate::kernel::error::{AppError, AppResult, ErrorBody};
use crate::kernel::extract::{Api, Page};
use crate::kernel::web::Routes;
use crate::kernel::web::{Nav, PageResult, render};
use crate::state::AppState;

// ---------------------------------------------------------------------------------------
// Encrypted storage of uploads.

const MAGIC: &[u8; 6] = b"BSUP1\0";
const HEADER: u64 = 6 + 16;
const PLAIN_CHUNK: usize = 64 * 1024;
/// Key-ring envelope (version 1 + nonce 12 + tag 16) and our chunk header (id 16 + index 8 +
/// last 1).
const OVERHEAD: usize = 1 + 12 + 16 + 16 + 8 + 1;
const SEALED_CHUNK: u64 = (PLAIN_CHUNK + OVERHEAD) as u64;

/// Seals a stream of bytes into chunks.
struct Sealer {
    keys: KeyRing,
    file_id: [u8; 16],
    index: u64,
    buf: Vec<u8>,
}

impl Sealer {
    /// A sealer and the file header to write first.
    fn new(keys: KeyRing) -> (Self, Vec<u8>) {
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
    fn push(&mut self, data: &[u8]) -> Vec<u8> {
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        while self.buf.len() > PLAIN_CHUNK {
            let rest = self.buf.split_off(PLAIN_CHUNK);
            let chunk = std::mem::replace(&mut self.buf, rest);
            out.extend_from_slice(&self.seal(&chunk, false));
        }
        out
    }

    fn finish(mut self) -> Vec<u8> {
        let chunk = std::mem::take(&mut self.buf);
        self.seal(&chunk, true)
    }
}

fn corrupt() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "上传的文件已损坏或被改动")
}

/// Reads a sealed upload back as plain bytes, with seeking (the .xlsx reader needs it).
pub struct SealedReader {
    file: std::fs::File,
    keys: KeyRing,
    file_id: [u8; 16],
    chunks: u64,
    len: u64,
    pos: u64,
    cached: Option<u64>,
    plain: Vec<u8>,
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

fn file_path(state: &AppState, token: &str) -> PathBuf {
    upload_dir(state).join(format!("{token}.sealed"))
}

async fn ensure_dir(dir: &FsPath) -> io::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tokio::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).await?;
    }
    Ok(())
}

async fn remove_file(state: &AppState, token: &str) {
    let _ = tokio::fs::remove_file(file_path(state, token)).await;
}

// ---------------------------------------------------------------------------------------
// Receiving an upload.

/// A stored upload and the other multipart fields.
struct Upload {
    token: String,
    file_name: String,
    size: u64,
    format: &'static str,
    fields: HashMap<String, String>,
}

fn too_large(max: u64) -> AppError {
    AppError::msg(
        ErrorCode::FileTooLarge,
        format!(
            "文件过大：上传的文件不能超过 {} MB，请拆分后分批导入",
            max / (1024 * 1024)
        ),
    )
}

fn clean_name(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() && !matches!(c, '/' | '\\'))
        .take(100)
        .collect()
}

/// Stream the multipart body: the `file` field into an encrypted file, other fields (at most
/// 64 KiB each) into a map. On any failure the partial file is removed.
async fn receive(
    state: &AppState,
    headers: &HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> AppResult<Upload> {
    let max = state.config.max_upload_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max.saturating_add(1024 * 1024)) {
        return Err(too_large(max));
    }
    let mut multipart = multipart.map_err(|_| {
        AppError::msg(
            ErrorCode::BadRequest,
            "请以 multipart/form-data 方式上传文件（字段名 file）",
        )
    })?;
    let dir = upload_dir(state);
    ensure_dir(&dir)
        .await
        .map_err(|e| AppError::internal("upload dir", e))?;
    let token = hex::encode({
        let mut b = [0u8; 16];
        rand::rng().fill_bytes(&mut b);
        b
    });
    let path = dir.join(format!("{token}.sealed"));
    let result = receive_into(state, &mut multipart, &path, max).await;
    match result {
        Ok((Some((file_name, size, format)), fields)) => Ok(Upload {
            token,
            file_name,
            size,
            format,
            fields,
        }),
        Ok((None, _)) => {
            let _ = tokio::fs::remove_file(&path).await;
            Err(AppError::field(
                ErrorCode::Validation,
                "file",
                "请选择要导入的文件（CSV 或 Excel .xlsx）",
            ))
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&path).await;
            Err(e)
        }
    }
}

type Received = (Option<(String, u64, &'static str)>, HashMap<String, String>);

async fn receive_into(
    state: &AppState,
    multipart: &mut Multipart,
    path: &FsPath,
    max: u64,
) -> AppResult<Received> {
    use tokio::io::AsyncWriteExt;
    let broken = |_| AppError::msg(ErrorCode::BadRequest, "上传中断或格式错误，请重新上传");
    let mut fields = HashMap::new();
    let mut file = None;
    while let Some(mut field) = multipart.next_field().await.map_err(broken)? {
        let name = field.name().unwrap_or("").to_string();
        if name == "file" && file.is_none() {
            let file_name = clean_name(field.file_name().unwrap_or(""));
            let mut out = tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .await
                .map_err(|e| AppError::internal("upload file", e))?;
            let (mut sealer, head) = Sealer::new(state.keys.clone());
            let werr = |e| AppError::internal("upload write", e);
            out.write_all(&head).await.map_err(werr)?;
            let mut size = 0u64;
            let mut first = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(broken)? {
                size += chunk.len() as u64;
                if size > max {
                    return Err(too_large(max));
                }
                if first.len() < 4 {
                    first.extend_from_slice(&chunk[..chunk.len().min(4)]);
                }
                let sealed = sealer.push(&chunk);
                if !sealed.is_empty() {
                    out.write_all(&sealed).await.map_err(werr)?;
                }
            }
            out.write_all(&sealer.finish()).await.map_err(werr)?;
            out.sync_all().await.map_err(werr)?;
            let format = if super::xlsx::is_zip(&first) {
                "xlsx"
            } else {
                "csv"
            };
            file = Some((file_name, size, format));
        } else {
            let mut text = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(broken)? {
                text.extend_from_slice(&chunk);
                if text.len() > 64 * 1024 {
                    return Err(AppError::msg(
                        ErrorCode::BadRequest,
                        format!("字段 {name} 过长"),
                    ));
                }
            }
            fields.insert(name, String::from_utf8_lossy(&text).into_owned());
        }
    }
    Ok((file, fields))
}

// ---------------------------------------------------------------------------------------
// Jobs.

/// One issue as stored with the job.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobIssue {
    /// Line in the file (Excel row number for .xlsx).
    pub line: u64,
    pub reason: String,
    /// The row's ID number, masked.
    #[serde(default)]
    pub id_masked: String,
    /// `reject` or `warning` (merged, recorded value kept).
    pub kind: String,
}

/// An import job as its owner sees it (`GET /api/v1/persons/imports/{id}`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportJob {
    pub id: i64,
    /// `uploaded` (waiting to be started on the page), `running`, `done` (committed),
    /// `rolled_back` (all or nothing: rows were rejected, nothing imported), `failed` (the file
    /// was refused, see `error_code`), `abandoned`.
    pub status: String,
    pub committed: bool,
    /// `csv` or `xlsx`.
    pub format: String,
    pub file_name: String,
    pub region_code: String,
    pub good_rows: bool,
    pub bytes_total: i64,
    pub bytes_done: i64,
    pub rows: i64,
    pub imported: i64,
    pub merged: i64,
    pub rejected: i64,
    pub warnings: i64,
    /// The first 1,000 rejects and warnings.
    pub issues: Vec<JobIssue>,
    /// When failed: `file_too_large`, `xlsx_unsafe`, `bad_columns`, `unreadable_file`,
    /// `interrupted`, or a service code (`not_found`, `unknown_region`, …).
    pub error_code: String,
    pub error: String,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    #[serde(skip)]
    user_id: i64,
    #[serde(skip)]
    token: String,
    /// The explicit column mapping used (header → field), empty when recognised.
    #[schema(value_type = Object)]
    pub mapping: Mapping,
}

const JOB_COLS: &str = "id, user_id, token, file_name, format, region_code, good_rows, mapping, \
    status, committed, bytes_total, bytes_done, rows_read, imported, merged, rejected, warnings, \
    issues, error_code, error, created_at, finished_at";

fn job_from_row(r: &sqlx::any::AnyRow) -> Result<ImportJob, sqlx::Error> {
    let issues: String = r.try_get("issues")?;
    Ok(ImportJob {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        token: r.try_get("token")?,
        file_name: r.try_get("file_name")?,
        format: r.try_get("format")?,
        region_code: r.try_get("region_code")?,
        good_rows: r.try_get::<i64, _>("good_rows")? != 0,
        mapping: serde_json::from_str(&r.try_get::<String, _>("mapping")?).unwrap_or_default(),
        status: r.try_get("status")?,
        committed: r.try_get::<i64, _>("committed")? != 0,
        bytes_total: r.try_get("bytes_total")?,
        bytes_done: r.try_get("bytes_done")?,
        rows: r.try_get("rows_read")?,
        imported: r.try_get("imported")?,
        merged: r.try_get("merged")?,
        rejected: r.try_get("rejected")?,
        warnings: r.try_get("warnings")?,
        issues: serde_json::from_str(&issues).unwrap_or_default(),
        error_code: r.try_get("error_code")?,
        error: r.try_get("error")?,
        created_at: r.try_get("created_at")?,
        finished_at: r.try_get("finished_at")?,
    })
}

/// Live progress of running jobs, by token (the job row is written only at the end: on
/// SQLite the import holds the one write lock until then).
#[derive(Debug, Clone, Copy, Default)]
struct Live {
    bytes: u64,
    rows: u64,
    imported: u64,
    merged: u64,
    rejected: u64,
}

static LIVE: LazyLock<Mutex<HashMap<String, Live>>> = LazyLock::new(Default::default);

fn live_set(token: &str, l: Live) {
    if let Ok(mut m) = LIVE.lock() {
        m.insert(token.to_string(), l);
    }
}

fn live_get(token: &str) -> Option<Live> {
    LIVE.lock().ok().and_then(|m| m.get(token).copied())
}

fn live_remove(token: &str) {
    if let Ok(mut m) = LIVE.lock() {
        m.remove(token);
    }
}

/// A job of the actor (anyone else's, or a missing one: 404).
pub async fn get_job(state: &AppState, actor: &Actor, id: i64) -> AppResult<ImportJob> {
    actor.require(Permission::PersonsWrite)?;
    let sql = format!("SELECT {JOB_COLS} FROM person_import_jobs WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(AppError::not_found)?;
    let mut job = job_from_row(&row)?;
    if actor.user_id != Some(job.user_id) {
        return Err(AppError::not_found());
    }
    if job.status == "running"
        && let Some(l) = live_get(&job.token)
    {
        job.bytes_done = l.bytes as i64;
        job.rows = l.rows as i64;
        job.imported = l.imported as i64;
        job.merged = l.merged as i64;
        job.rejected = l.rejected as i64;
    }
    Ok(job)
}

/// The actor's latest jobs.
async fn my_jobs(state: &AppState, actor: &Actor) -> AppResult<Vec<ImportJob>> {
    let Some(uid) = actor.user_id else {
        return Ok(Vec::new());
    };
    let sql = format!(
        "SELECT {JOB_COLS} FROM person_import_jobs WHERE user_id = $1 ORDER BY id DESC LIMIT 10"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(uid)
        .fetch_all(state.db.pool())
        .await?;
    let mut out = Vec::new();
    for r in &rows {
        out.push(job_from_row(r)?);
    }
    Ok(out)
}

fn issues_json(report: &ImportReport) -> String {
    let mut list: Vec<JobIssue> = Vec::new();
    let mut add = |i: &RowIssue, kind: &str| {
        if list.len() < import::MAX_ISSUES {
            list.push(JobIssue {
                line: i.line,
                reason: i.reason.clone(),
                id_masked: i.id_masked.clone(),
                kind: kind.to_string(),
            });
        }
    };
    for i in &report.rejects {
        add(i, "reject");
    }
    for i in &report.warnings {
        add(i, "warning");
    }
    serde_json::to_string(&list).unwrap_or_else(|_| "[]".to_string())
}

/// Write a finished import's result into its job row (called in the import's transaction
/// when it commits, else on its own).
pub(crate) async fn record_report(
    conn: &mut sqlx::AnyConnection,
    job: i64,
    report: &ImportReport,
    now: i64,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE person_import_jobs SET status = $1, committed = $2, bytes_done = bytes_total, \
         rows_read = $3, imported = $4, merged = $5, rejected = $6, warnings = $7, issues = $8, \
         error_code = '', error = '', finished_at = $9 WHERE id = $10",
    )
    .bind(if report.committed {
        "done"
    } else {
        "rolled_back"
    })
    .bind(i64::from(report.committed))
    .bind(report.rows as i64)
    .bind(report.imported as i64)
    .bind(report.merged as i64)
    .bind(report.rejected as i64)
    .bind(report.warnings_total as i64)
    .bind(issues_json(report))
    .bind(now)
    .bind(job)
    .execute(conn)
    .await?;
    Ok(())
}

/// Mark a job failed (the file was refused): job row and one failure summary entry.
async fn record_failure(
    state: &AppState,
    actor: &Actor,
    job: i64,
    region: &str,
    code: &str,
    message: &str,
) -> AppResult<()> {
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    sqlx::query(
        "UPDATE person_import_jobs SET status = 'failed', committed = 0, error_code = $1, \
         error = $2, finished_at = $3 WHERE id = $4",
    )
    .bind(code)
    .bind(message.chars().take(2000).collect::<String>())
    .bind(now)
    .bind(job)
    .execute(w.conn())
    .await?;
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &Who::from(actor),
        Entry {
            action: "person.import",
            object_type: "person",
            object_id: format!("job:{job}"),
            region_code: if region.is_empty() {
                actor.scope.as_str().to_string()
            } else {
                region.to_string()
            },
            outcome: "failure",
            detail: json!({"job": job, "error_code": code}),
        },
    )
    .await?;
    w.commit().await?;
    Ok(())
}

/// Record a stored upload as a job (`uploaded`, or `running` when started at once).
async fn insert_job(
    state: &AppState,
    actor: &Actor,
    up: &Upload,
    status: &str,
    region: &str,
    good_rows: bool,
    mapping: &str,
) -> AppResult<i64> {
    let uid = actor.user_id.ok_or_else(AppError::forbidden)?;
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO person_import_jobs (user_id, token, file_name, format, region_code, \
         good_rows, mapping, status, bytes_total, created_at, started_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(uid)
    .bind(&up.token)
    .bind(&up.file_name)
    .bind(up.format)
    .bind(region)
    .bind(i64::from(good_rows))
    .bind(mapping)
    .bind(status)
    .bind(up.size as i64)
    .bind(now)
    .bind((status == "running").then_some(now))
    .fetch_one(w.conn())
    .await?;
    w.commit().await?;
    Ok(id)
}

/// Run a job in the background: on the blocking pool (file reads and decryption), driving the
/// database through the runtime. The file is deleted at the end, whatever happens.
fn spawn_job(state: AppState, actor: Actor, job: ImportJob, opts: ImportOptions) {
    let handle = tokio::runtime::Handle::current();
    let (s2, token, id, region) = (
        state.clone(),
        job.token.clone(),
        job.id,
        job.region_code.clone(),
    );
    let a2 = actor.clone();
    live_set(&token, Live::default());
    let task = tokio::task::spawn_blocking(move || {
        handle.block_on(run_job(&state, &actor, &job, &opts));
    });
    tokio::spawn(async move {
        if task.await.is_err() {
            let _ = record_failure(
                &s2,
                &a2,
                id,
                &region,
                "internal",
                "导入意外中止，未导入任何数据",
            )
            .await;
        }
        remove_file(&s2, &token).await;
        live_remove(&token);
    });
}

async fn run_job(state: &AppState, actor: &Actor, job: &ImportJob, opts: &ImportOptions) {
    let path = file_path(state, &job.token);
    let token = job.token.clone();
    let result = match SealedReader::open(&path, state.keys.clone()) {
        Ok(reader) => {
            let mut progress = |p: Progress<'_>| {
                if let Progress::Rows {
                    rows,
                    bytes,
                    imported,
                    merged,
                    rejected,
                } = p
                {
                    live_set(
                        &token,
                        Live {
                            bytes,
                            rows,
                            imported,
                            merged,
                            rejected,
                        },
                    );
                }
            };
            import::import_file(state, actor, reader, opts, &mut progress).await
        }
        Err(_) => Err(ImportError::File(FileError::new(
            FileErrorKind::Unreadable,
            "上传的文件已不存在或已损坏，请重新上传",
        ))),
    };
    let outcome = match result {
        Ok(report) if report.committed => Ok(()),
        Ok(report) => {
            async {
                let mut w = state.db.begin_write().await?;
                record_report(w.conn(), job.id, &report, state.now_ms()).await?;
                w.commit().await?;
                Ok::<(), AppError>(())
            }
            .await
        }
        Err(e) => {
            record_failure(
                state,
                actor,
                job.id,
                &job.region_code,
                e.code(),
                e.message(),
            )
            .await
        }
    };
    if let Err(e) = outcome {
        tracing::warn!(
            job = job.id,
            code = e.code.as_str(),
            "import job result not recorded"
        );
    }
}

/// Delete uploads of jobs abandoned at the preview for an hour; at start (`at_start`) also
/// end the jobs this process was running when it stopped, and delete files older than a day.
pub async fn sweep(state: &AppState, at_start: bool) -> AppResult<u64> {
    let now = state.now_ms();
    let hour = 3_600_000;
    let rows = sqlx::query(
        "SELECT id, token, status, created_at FROM person_import_jobs \
         WHERE status = 'uploaded' OR status = 'running'",
    )
    .fetch_all(state.db.pool())
    .await?;
    let mut swept = 0;
    for r in &rows {
        let id: i64 = r.try_get("id")?;
        let token: String = r.try_get("token")?;
        let status: String = r.try_get("status")?;
        let created: i64 = r.try_get("created_at")?;
        let here = tokio::fs::try_exists(file_path(state, &token))
            .await
            .unwrap_or(false);
        let (new_status, code, msg) =
            if status == "uploaded" && (created < now - hour || (at_start && here)) {
                ("abandoned", "", "")
            } else if at_start && status == "running" && (here || created < now - 24 * hour) {
                (
                    "failed",
                    ErrorCode::Interrupted.as_str(),
                    "服务重启，导入被中断，未导入任何数据；请重新上传",
                )
            } else {
                continue;
            };
        let mut w = state.db.begin_write().await?;
        sqlx::query(
            "UPDATE person_import_jobs SET status = $1, error_code = $2, error = $3, \
             finished_at = $4 WHERE id = $5 AND status = $6",
        )
        .bind(new_status)
        .bind(code)
        .bind(msg)
        .bind(now)
        .bind(id)
        .bind(&status)
        .execute(w.conn())
        .await?;
        w.commit().await?;
        remove_file(state, &token).await;
        swept += 1;
    }
    if at_start && let Ok(mut dir) = tokio::fs::read_dir(upload_dir(state)).await {
        while let Ok(Some(e)) = dir.next_entry().await {
            let old = e
                .metadata()
                .await
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() > 24 * 3600);
            let ours = e.file_name().to_string_lossy().ends_with(".sealed");
            if old && ours {
                let _ = tokio::fs::remove_file(e.path()).await;
                swept += 1;
            }
        }
    }
    Ok(swept)
}

// ---------------------------------------------------------------------------------------
// Templates (saved column mappings).

fn owner_key(actor: &Actor) -> String {
    match actor.org_id {
        Some(o) => format!("org:{o}"),
        None => format!("region:{}", actor.scope.as_str()),
    }
}

/// A saved mapping.
#[derive(Debug, Clone)]
pub struct SavedTemplate {
    pub id: i64,
    pub name: String,
    pub header_key: String,
    pub mapping: Mapping,
}

fn template_from_row(r: &sqlx::any::AnyRow) -> Result<SavedTemplate, sqlx::Error> {
    let m: String = r.try_get("mapping")?;
    Ok(SavedTemplate {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        header_key: r.try_get("header_key")?,
        mapping: serde_json::from_str(&m).unwrap_or_default(),
    })
}

/// The templates of the actor's organisation (or scope), newest first.
pub async fn templates(state: &AppState, actor: &Actor) -> AppResult<Vec<SavedTemplate>> {
    actor.require(Permission::PersonsWrite)?;
    let rows = sqlx::query(
        "SELECT id, name, header_key, mapping FROM person_import_templates WHERE owner = $1 \
         ORDER BY updated_at DESC, id DESC LIMIT 100",
    )
    .bind(owner_key(actor))
    .fetch_all(state.db.pool())
    .await?;
    let mut out = Vec::new();
    for r in &rows {
        out.push(template_from_row(r)?);
    }
    Ok(out)
}

/// Save (or replace) a named mapping for the actor's organisation; audited.
pub async fn save_template(
    state: &AppState,
    actor: &Actor,
    name: &str,
    header_key: &str,
    mapping: &Mapping,
) -> AppResult<i64> {
    actor.require(Permission::PersonsWrite)?;
    let name = crate::kernel::error::text_field("name", name, 50, true)?;
    let owner = owner_key(actor);
    let now = state.now_ms();
    let text = serde_json::to_string(mapping).unwrap_or_else(|_| "{}".to_string());
    let mut w = state.db.begin_write().await?;
    let existing: Option<i64> =
        sqlx::query_scalar("SELECT id FROM person_import_templates WHERE owner = $1 AND name = $2")
            .bind(&owner)
            .bind(&name)
            .fetch_optional(w.conn())
            .await?;
    let id = match existing {
        Some(id) => {
            sqlx::query(
                "UPDATE person_import_templates SET header_key = $1, mapping = $2, \
                 updated_at = $3 WHERE id = $4",
            )
            .bind(header_key)
            .bind(&text)
            .bind(now)
            .bind(id)
            .execute(w.conn())
            .await?;
            id
        }
        None => {
            sqlx::query_scalar(
                "INSERT INTO person_import_templates (owner, name, header_key, mapping, \
                 created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
                 RETURNING id",
            )
            .bind(&owner)
            .bind(&name)
            .bind(header_key)
            .bind(&text)
            .bind(&actor.username)
            .bind(now)
            .fetch_one(w.conn())
            .await?
        }
    };
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &Who::from(actor),
        Entry {
            action: "person_import_template.save",
            object_type: "person_import_template",
            object_id: id.to_string(),
            region_code: actor.scope.as_str().to_string(),
            outcome: "success",
            detail: json!({"name": name, "mapping": mapping}),
        },
    )
    .await?;
    w.commit().await?;
    Ok(id)
}

// ---------------------------------------------------------------------------------------
// Service functions shared by pages and API.

fn parse_bool(s: Option<&String>) -> bool {
    s.is_some_and(|v| matches!(v.trim(), "1" | "true" | "on" | "yes" | "good"))
}

fn parse_mapping(s: Option<&String>) -> AppResult<Option<Mapping>> {
    let Some(s) = s.map(|s| s.trim()).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let m: Mapping = serde_json::from_str(s).map_err(|_| {
        AppError::field(
            ErrorCode::Validation,
            "mapping",
            "应为 JSON 对象：{\"文件中的列名\": \"id_number\" 等字段名或 \"ignore\"}",
        )
    })?;
    for v in m.values() {
        let v = v.trim();
        if !(v.is_empty() || v == "ignore" || Field::from_key(v).is_some()) {
            return Err(AppError::field(
                ErrorCode::Validation,
                "mapping",
                format!(
                    "未知的字段“{}”（可用：id_number, name, sex, birth_date, phone, region_code, address, hukou_address, ignore）",
                    v.chars().take(30).collect::<String>()
                ),
            ));
        }
    }
    Ok(Some(m))
}

/// Check a default region the way the import will (so a bad one is refused at once).
async fn check_region(state: &AppState, actor: &Actor, region: &str) -> AppResult<String> {
    let region = region.trim();
    if region.is_empty() {
        return Ok(String::new());
    }
    let code = crate::regions::parse_code("region_code", region)?;
    actor.check_region(&code)?;
    if crate::regions::find(state, code.as_str()).await?.is_none() {
        return Err(super::ferr(
            ErrorCode::UnknownRegion,
            "region_code",
            "区划代码不存在",
        ));
    }
    Ok(code.as_str().to_string())
}

fn options(state: &AppState, job: &ImportJob, mapping: Option<Mapping>) -> ImportOptions {
    ImportOptions {
        region: Some(job.region_code.clone()).filter(|r| !r.is_empty()),
        good_rows: job.good_rows,
        max_bytes: state.config.max_upload_bytes,
        mapping,
        job_id: Some(job.id),
        ..ImportOptions::default()
    }
}

/// The preview of a stored upload (read on the blocking pool).
async fn preview_job(
    state: &AppState,
    actor: &Actor,
    job: &ImportJob,
    mapping: Option<Mapping>,
) -> Result<Preview, FileError> {
    let path = file_path(state, &job.token);
    let keys = state.keys.clone();
    let opts = options(state, job, mapping);
    let reveal = actor.can(Permission::PersonsRevealId);
    tokio::task::spawn_blocking(move || {
        let r = SealedReader::open(&path, keys).map_err(|_| {
            FileError::new(
                FileErrorKind::Unreadable,
                "上传的文件已不存在（可能已过期被清理），请重新上传",
            )
        })?;
        import::preview(r, &opts, 10, reveal)
    })
    .await
    .unwrap_or_else(|_| {
        Err(FileError::new(
            FileErrorKind::Unreadable,
            "无法读取上传的文件",
        ))
    })
}

/// Start an uploaded job with its settings.
async fn start(
    state: &AppState,
    actor: &Actor,
    mut job: ImportJob,
    region: String,
    good_rows: bool,
    mapping: Option<Mapping>,
) -> AppResult<()> {
    let now = state.now_ms();
    let text = mapping
        .as_ref()
        .and_then(|m| serde_json::to_string(m).ok())
        .unwrap_or_else(|| "{}".to_string());
    let mut w = state.db.begin_write().await?;
    let n = sqlx::query(
        "UPDATE person_import_jobs SET status = 'running', region_code = $1, good_rows = $2, \
         mapping = $3, started_at = $4 WHERE id = $5 AND status = 'uploaded'",
    )
    .bind(&region)
    .bind(i64::from(good_rows))
    .bind(&text)
    .bind(now)
    .bind(job.id)
    .execute(w.conn())
    .await?
    .rows_affected();
    w.commit().await?;
    if n == 0 {
        return Err(AppError::msg(ErrorCode::Conflict, "该导入已开始或已结束"));
    }
    job.region_code = region;
    job.good_rows = good_rows;
    job.status = "running".to_string();
    let opts = options(state, &job, mapping);
    spawn_job(state.clone(), actor.clone(), job, opts);
    Ok(())
}

/// Give up an uploaded job: the file is deleted.
async fn discard(state: &AppState, actor: &Actor, id: i64) -> AppResult<()> {
    let job = get_job(state, actor, id).await?;
    if job.status != "uploaded" {
        return Ok(());
    }
    let mut w = state.db.begin_write().await?;
    sqlx::query(
        "UPDATE person_import_jobs SET status = 'abandoned', finished_at = $1 \
         WHERE id = $2 AND status = 'uploaded'",
    )
    .bind(state.now_ms())
    .bind(id)
    .execute(w.conn())
    .await?;
    w.commit().await?;
    remove_file(state, &job.token).await;
    Ok(())
}

/// The rejected rows (and merge warnings) of a finished job as an Excel workbook; audited.
pub async fn rejects_xlsx(
    state: &AppState,
    actor: &Actor,
    id: i64,
) -> AppResult<(String, Vec<u8>)> {
    use rust_xlsxwriter::{Format, FormatBorder, Workbook};
    let job = get_job(state, actor, id).await?;
    if matches!(job.status.as_str(), "uploaded" | "running") {
        return Err(AppError::msg(ErrorCode::Conflict, "导入尚未结束"));
    }
    let xerr = |e: rust_xlsxwriter::XlsxError| AppError::internal("xlsx", e);
    let when = backstop_core::clock::format_beijing(state.clock.now());
    let mut wb = Workbook::new();
    let title = Format::new().set_bold().set_font_size(14);
    let head = Format::new().set_bold().set_border(FormatBorder::Thin);
    let cell = Format::new().set_border(FormatBorder::Thin);
    for (sheet, kind, heading, total) in [
        (
            "被拒绝的行",
            "reject",
            "花名册导入：被拒绝的行",
            job.rejected,
        ),
        (
            "合并提示",
            "warning",
            "花名册导入：合并提示（已保留登记值）",
            job.warnings,
        ),
    ] {
        let ws = wb.add_worksheet();
        ws.set_name(sheet).map_err(xerr)?;
        ws.write_string_with_format(0, 0, heading, &title)
            .map_err(xerr)?;
        let list: Vec<&JobIssue> = job.issues.iter().filter(|i| i.kind == kind).collect();
        let sub = format!(
            "文件：{}    导出人：{}    导出时间：{}    共 {} 行{}",
            job.file_name,
            actor.username,
            when,
            total,
            if total > list.len() as i64 {
                format!("（此处列出前 {} 行）", list.len())
            } else {
                String::new()
            }
        );
        ws.write_string(1, 0, &sub).map_err(xerr)?;
        for (c, h) in ["行号", "原因", "身份证号（脱敏）"].iter().enumerate() {
            ws.write_string_with_format(2, c as u16, *h, &head)
                .map_err(xerr)?;
        }
        ws.set_column_width(0, 8).map_err(xerr)?;
        ws.set_column_width(1, 70).map_err(xerr)?;
        ws.set_column_width(2, 22).map_err(xerr)?;
        for (i, issue) in list.iter().enumerate() {
            let r = 3 + i as u32;
            ws.write_number_with_format(r, 0, issue.line as f64, &cell)
                .map_err(xerr)?;
            ws.write_string_with_format(r, 1, &issue.reason, &cell)
                .map_err(xerr)?;
            ws.write_string_with_format(r, 2, &issue.id_masked, &cell)
                .map_err(xerr)?;
        }
    }
    let bytes = wb.save_to_buffer().map_err(xerr)?;
    audit::append_alone(
        state,
        &Who::from(actor),
        Entry {
            action: "person.import_rejects_export",
            object_type: "person_import_job",
            object_id: id.to_string(),
            region_code: if job.region_code.is_empty() {
                actor.scope.as_str().to_string()
            } else {
                job.region_code.clone()
            },
            outcome: "success",
            detail: json!({"rows": job.issues.iter().filter(|i| i.kind == "reject").count(), "format": "xlsx"}),
        },
    )
    .await?;
    Ok((format!("import-{id}-rejects.xlsx"), bytes))
}

// ---------------------------------------------------------------------------------------
// Pages.

pub fn routes() -> Routes {
    vec![
        (
            "/persons/import",
            get(upload_page)
                .post(upload)
                .layer(DefaultBodyLimit::disable()),
        ),
        ("/persons/import/{id}", get(job_page)),
        ("/persons/import/{id}/start", post(start_page)),
        ("/persons/import/{id}/discard", post(discard_page)),
        ("/persons/import/{id}/progress", get(progress_fragment)),
        ("/persons/import/{id}/rejects.xlsx", get(rejects_download)),
    ]
}

struct JobLine {
    id: i64,
    file_name: String,
    status_label: &'static str,
    created: String,
    counts: String,
}

fn status_label(s: &str) -> &'static str {
    match s {
        "uploaded" => "待确认",
        "running" => "导入中",
        "done" => "已完成",
        "rolled_back" => "有错误，未导入",
        "failed" => "失败",
        "abandoned" => "已放弃",
        _ => "未知",
    }
}

#[derive(Template)]
#[template(path = "people_import.html")]
struct UploadPage {
    nav: Option<Nav>,
    error: Option<String>,
    max_mb: u64,
    jobs: Vec<JobLine>,
}

async fn render_upload(
    s: &AppState,
    actor: &Actor,
    error: Option<String>,
    status: StatusCode,
) -> PageResult {
    actor.require(Permission::PersonsWrite)?;
    let jobs = my_jobs(s, actor)
        .await?
        .into_iter()
        .map(|j| JobLine {
            id: j.id,
            file_name: j.file_name.clone(),
            status_label: status_label(&j.status),
            created: backstop_core::clock::format_beijing(backstop_core::clock::from_millis(
                j.created_at,
            )),
            counts: if j.status == "uploaded" || j.status == "abandoned" {
                String::new()
            } else {
                format!(
                    "{} 行：新增 {}，合并 {}，拒绝 {}",
                    j.rows, j.imported, j.merged, j.rejected
                )
            },
        })
        .collect();
    let mut resp = render(&UploadPage {
        nav: Some(Nav::for_actor(actor, "/persons")),
        error,
        max_mb: s.config.max_upload_bytes / (1024 * 1024),
        jobs,
    });
    *resp.status_mut() = status;
    Ok(resp)
}

async fn upload_page(State(s): State<AppState>, Page(a): Page) -> PageResult {
    render_upload(&s, &a.actor, None, StatusCode::OK).await
}

async fn upload(
    State(s): State<AppState>,
    Page(a): Page,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> PageResult {
    let actor = &a.actor;
    actor.require(Permission::PersonsWrite)?;
    let _ = sweep(&s, false).await;
    let up = match receive(&s, &headers, multipart).await {
        Ok(u) => u,
        Err(e) if e.code != ErrorCode::Internal => {
            return render_upload(&s, actor, Some(e.message.clone()), e.status()).await;
        }
        Err(e) => return Err(e.into()),
    };
    match insert_job(&s, actor, &up, "uploaded", "", false, "{}").await {
        Ok(id) => Ok(Redirect::to(&format!("/persons/import/{id}")).into_response()),
        Err(e) => {
            remove_file(&s, &up.token).await;
            Err(e.into())
        }
    }
}

struct ColumnView {
    index: usize,
    header: String,
    field: String,
}

#[derive(Template)]
#[template(path = "people_import_preview.html")]
struct PreviewPage {
    nav: Option<Nav>,
    job: ImportJob,
    error: Option<String>,
    columns: Vec<ColumnView>,
    rows: Vec<(u64, Vec<String>)>,
    header_line: u64,
    format: String,
    fields: Vec<(&'static str, &'static str)>,
    templates: Vec<(i64, String)>,
    template_id: i64,
    template_name: String,
    region: String,
    good_rows: bool,
}

#[derive(Template)]
#[template(path = "people_import_job.html")]
struct JobPage {
    nav: Option<Nav>,
    p: ProgressView,
}

#[derive(Template)]
#[template(path = "people_import_progress.html")]
struct ProgressFragment {
    p: ProgressView,
}

struct ProgressView {
    id: i64,
    file_name: String,
    running: bool,
    status: String,
    status_label: &'static str,
    total: i64,
    done: i64,
    percent: i64,
    rows: i64,
    imported: i64,
    merged: i64,
    rejected: i64,
    warnings: i64,
    error: String,
    error_code: String,
    issues: Vec<JobIssue>,
    more_issues: bool,
}

fn progress_view(job: &ImportJob) -> ProgressView {
    let total = job.bytes_total.max(1);
    let done = job.bytes_done.clamp(0, total);
    let finished = !matches!(job.status.as_str(), "uploaded" | "running");
    let issues: Vec<JobIssue> = job.issues.iter().take(20).cloned().collect();
    ProgressView {
        id: job.id,
        file_name: job.file_name.clone(),
        running: job.status == "running",
        status: job.status.clone(),
        status_label: status_label(&job.status),
        total,
        done: if finished { total } else { done },
        percent: if finished { 100 } else { done * 100 / total },
        rows: job.rows,
        imported: job.imported,
        merged: job.merged,
        rejected: job.rejected,
        warnings: job.warnings,
        error: job.error.clone(),
        error_code: job.error_code.clone(),
        more_issues: job.issues.len() > issues.len(),
        issues,
    }
}

fn page_id(id: &str) -> AppResult<i64> {
    id.parse().map_err(|_| AppError::not_found())
}

#[derive(Deserialize, Default)]
struct PreviewQuery {
    #[serde(default)]
    template: Option<String>,
}

async fn preview_page(
    s: &AppState,
    actor: &Actor,
    job: ImportJob,
    chosen: Option<i64>,
    form: Option<(Mapping, String, bool, String)>,
    error: Option<String>,
) -> PageResult {
    let saved = templates(s, actor).await?;
    // The mapping: what was just posted, else a chosen template, else the template saved for
    // this header row, else recognition.
    let first = preview_job(s, actor, &job, None).await;
    let first = match first {
        Ok(p) => p,
        Err(e) => {
            let _ = record_failure(s, actor, job.id, "", e.kind.code(), &e.message).await;
            remove_file(s, &job.token).await;
            return Err(e.into_app().into());
        }
    };
    let (mapping, template) = match (&form, chosen) {
        (Some((m, _, _, _)), _) => (Some(m.clone()), None),
        (None, Some(t)) => match saved.iter().find(|x| x.id == t) {
            Some(x) => (Some(x.mapping.clone()), Some(x)),
            None => (None, None),
        },
        (None, None) => match saved.iter().find(|x| x.header_key == first.header_key) {
            Some(x) => (Some(x.mapping.clone()), Some(x)),
            None => (None, None),
        },
    };
    let preview = if mapping.is_some() {
        preview_job(s, actor, &job, mapping.clone())
            .await
            .map_err(FileError::into_app)?
    } else {
        first
    };
    let region = match &form {
        Some((_, r, _, _)) => r.clone(),
        None => match &actor.scope {
            Scope::Region(c) => c.as_str().to_string(),
            Scope::National => String::new(),
        },
    };
    let good_rows = form.as_ref().is_some_and(|f| f.2);
    let template_name = match (&form, template) {
        (Some((_, _, _, n)), _) => n.clone(),
        (None, Some(t)) => t.name.clone(),
        _ => String::new(),
    };
    let error = error.or_else(|| {
        preview
            .column_error
            .clone()
            .map(|e| format!("{e}（请在下表中为各列选择字段）"))
    });
    let columns = preview
        .headers
        .iter()
        .enumerate()
        .map(|(i, h)| ColumnView {
            index: i,
            header: h.clone(),
            field: preview
                .fields
                .get(i)
                .copied()
                .flatten()
                .unwrap_or("ignore")
                .to_string(),
        })
        .collect();
    let status = if error.is_some() && form.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let mut resp = render(&PreviewPage {
        nav: Some(Nav::for_actor(actor, "/persons")),
        error,
        columns,
        rows: preview
            .rows
            .iter()
            .map(|r| (r.line, r.cells.clone()))
            .collect(),
        header_line: preview.header_line,
        format: preview.format.clone(),
        fields: Field::ALL.iter().map(|f| (f.key(), f.label())).collect(),
        template_id: template.map(|t| t.id).unwrap_or(0),
        templates: saved.iter().map(|t| (t.id, t.name.clone())).collect(),
        template_name,
        region,
        good_rows,
        job,
    });
    *resp.status_mut() = status;
    Ok(resp)
}

async fn job_page(
    State(s): State<AppState>,
    Page(a): Page,
    Path(id): Path<String>,
    Query(q): Query<PreviewQuery>,
) -> PageResult {
    let actor = &a.actor;
    let job = get_job(&s, actor, page_id(&id)?).await?;
    if job.status == "uploaded" {
        let chosen = q.template.as_deref().and_then(|t| t.parse::<i64>().ok());
        return preview_page(&s, actor, job, chosen, None, None).await;
    }
    Ok(render(&JobPage {
        nav: Some(Nav::for_actor(actor, "/persons")),
        p: progress_view(&job),
    }))
}

async fn progress_fragment(
    State(s): State<AppState>,
    Page(a): Page,
    Path(id): Path<String>,
) -> PageResult {
    let job = get_job(&s, &a.actor, page_id(&id)?).await?;
    Ok(render(&ProgressFragment {
        p: progress_view(&job),
    }))
}

async fn start_page(
    State(s): State<AppState>,
    Page(a): Page,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> PageResult {
    let actor = &a.actor;
    let job = get_job(&s, actor, page_id(&id)?).await?;
    if job.status != "uploaded" {
        return Ok(Redirect::to(&format!("/persons/import/{}", job.id)).into_response());
    }
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let region = get("region").unwrap_or_default().trim().to_string();
    let good_rows = get("mode").as_deref() == Some("good");
    let template_name: String = get("template_name")
        .unwrap_or_default()
        .trim()
        .chars()
        .take(50)
        .collect();
    // Columns by index → the header texts of the file as previewed.
    let preview = preview_job(&s, actor, &job, None)
        .await
        .map_err(FileError::into_app)?;
    let mut mapping = Mapping::new();
    for (i, h) in preview.headers.iter().enumerate() {
        if h.trim().is_empty() {
            continue;
        }
        let v = get(&format!("col_{i}")).unwrap_or_default();
        let v = if Field::from_key(&v).is_some() {
            v
        } else {
            "ignore".to_string()
        };
        mapping.insert(h.trim().to_string(), v);
    }
    let refs: Vec<&str> = preview.headers.iter().map(String::as_str).collect();
    let posted = (
        mapping.clone(),
        region.clone(),
        good_rows,
        template_name.clone(),
    );
    let columns_ok = import::resolve_columns(&refs, Some(&mapping));
    let region_ok = check_region(&s, actor, &region).await;
    let problem = match (&columns_ok, &region_ok) {
        (Err(e), _) => Some(e.message.clone()),
        (_, Err(e)) if e.status() == StatusCode::NOT_FOUND => {
            Some(format!("区划“{region}”不存在或不在您的管辖范围内"))
        }
        (_, Err(e)) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => Some(e.message.clone()),
        (_, Err(e)) => return Err(e.clone().into()),
        (Ok(cols), Ok(r)) if r.is_empty() && cols.of(Field::Region).is_none() => {
            Some("文件没有“区划代码”列：请填写导入区划".to_string())
        }
        _ => None,
    };
    if problem.is_some() {
        return preview_page(&s, actor, job, None, Some(posted), problem).await;
    }
    let region = region_ok.unwrap_or_default();
    if !template_name.is_empty() {
        save_template(&s, actor, &template_name, &preview.header_key, &mapping).await?;
    }
    let id = job.id;
    start(&s, actor, job, region, good_rows, Some(mapping)).await?;
    Ok(Redirect::to(&format!("/persons/import/{id}")).into_response())
}

async fn discard_page(
    State(s): State<AppState>,
    Page(a): Page,
    Path(id): Path<String>,
) -> PageResult {
    discard(&s, &a.actor, page_id(&id)?).await?;
    Ok(Redirect::to("/persons/import").into_response())
}

fn xlsx_response(name: &str, bytes: Vec<u8>) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

async fn rejects_download(
    State(s): State<AppState>,
    Page(a): Page,
    Path(id): Path<String>,
) -> PageResult {
    let (name, bytes) = rejects_xlsx(&s, &a.actor, page_id(&id)?).await?;
    Ok(xlsx_response(&name, bytes))
}

// ---------------------------------------------------------------------------------------
// API.

pub fn api_routes() -> Routes {
    vec![
        (
            "/api/v1/persons/imports",
            post(api_create).layer(DefaultBodyLimit::disable()),
        ),
        ("/api/v1/persons/imports/{id}", get(api_get)),
        (
            "/api/v1/persons/imports/{id}/rejects.xlsx",
            get(api_rejects),
        ),
    ]
}

/// Multipart body of `POST /api/v1/persons/imports`.
#[derive(Debug, utoipa::ToSchema)]
pub struct ImportUpload {
    /// The roster: CSV (UTF-8 or GBK) or Excel .xlsx (first worksheet), at most 200 MB
    /// (configurable).
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    /// Default region of the rows (required when the file has no region column).
    pub region: Option<String>,
    /// `true` to import the good rows even when some are rejected (default all or nothing).
    pub good_rows: Option<bool>,
    /// JSON object: header text in the file → `id_number`, `name`, `sex`, `birth_date`,
    /// `phone`, `region_code`, `address`, `hukou_address` or `ignore`.
    pub mapping: Option<String>,
}

/// Answer of an accepted import.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportAccepted {
    pub id: i64,
    pub status: String,
}

/// Upload a roster and start importing it in the background. Poll the job for the result.
#[utoipa::path(post, path = "/api/v1/persons/imports", tag = "people",
    request_body(content = ImportUpload, content_type = "multipart/form-data"),
    responses((status = 202, body = ImportAccepted), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn api_create(
    State(s): State<AppState>,
    Api(a): Api,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> AppResult<Response> {
    let actor = &a.actor;
    actor.require(Permission::PersonsWrite)?;
    let _ = sweep(&s, false).await;
    let up = receive(&s, &headers, multipart).await?;
    let settings = async {
        let region = check_region(&s, actor, up.fields.get("region").map_or("", |v| v)).await?;
        let mapping = parse_mapping(up.fields.get("mapping"))?;
        Ok::<_, AppError>((region, mapping))
    }
    .await;
    let (region, mapping) = match settings {
        Ok(x) => x,
        Err(e) => {
            remove_file(&s, &up.token).await;
            return Err(e);
        }
    };
    let good_rows = parse_bool(up.fields.get("good_rows"));
    let text = mapping
        .as_ref()
        .and_then(|m| serde_json::to_string(m).ok())
        .unwrap_or_else(|| "{}".to_string());
    let id = match insert_job(&s, actor, &up, "running", &region, good_rows, &text).await {
        Ok(id) => id,
        Err(e) => {
            remove_file(&s, &up.token).await;
            return Err(e);
        }
    };
    let job = get_job(&s, actor, id).await?;
    let opts = options(&s, &job, mapping);
    spawn_job(s.clone(), actor.clone(), job, opts);
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(ImportAccepted {
            id,
            status: "running".to_string(),
        }),
    )
        .into_response())
}

/// An import job of the caller: status, counts, the first 1,000 issues (others' jobs: 404).
#[utoipa::path(get, path = "/api/v1/persons/imports/{id}", tag = "people", params(("id" = i64, Path)),
    responses((status = 200, body = ImportJob), (status = 404, body = ErrorBody)))]
pub async fn api_get(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<ImportJob>> {
    Ok(axum::Json(get_job(&s, &a.actor, id).await?))
}

/// The rejected rows of a finished job as an Excel file (line, reason, masked ID).
#[utoipa::path(get, path = "/api/v1/persons/imports/{id}/rejects.xlsx", tag = "people",
    params(("id" = i64, Path)),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn api_rejects(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let (name, bytes) = rejects_xlsx(&s, &a.actor, id).await?;
    Ok(xlsx_response(&name, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(status: &str) -> ImportJob {
        ImportJob {
            id: 7,
            status: status.to_string(),
            committed: false,
            format: "csv".into(),
            file_name: "a.csv".into(),
            region_code: String::new(),
            good_rows: false,
            bytes_total: 1000,
            bytes_done: 250,
            rows: 10,
            imported: 3,
            merged: 1,
            rejected: 2,
            warnings: 0,
            issues: Vec::new(),
            error_code: String::new(),
            error: String::new(),
            created_at: 0,
            finished_at: None,
            user_id: 1,
            token: String::new(),
            mapping: Mapping::new(),
        }
    }

    #[test]
    fn progress_fragment_polls_only_while_running() {
        let running = ProgressFragment {
            p: progress_view(&job("running")),
        }
        .render()
        .unwrap_or_default();
        assert!(
            running.contains("hx-get=\"/persons/import/7/progress\""),
            "{running}"
        );
        assert!(
            running.contains("value=\"250\"") && running.contains("25%"),
            "{running}"
        );
        assert!(
            !running.contains("rejects.xlsx"),
            "no download while running"
        );
        let done = ProgressFragment {
            p: progress_view(&job("rolled_back")),
        }
        .render()
        .unwrap_or_default();
        assert!(!done.contains("hx-get") && done.contains("100%"), "{done}");
        assert!(
            done.contains("全部或全无") && done.contains("rejects.xlsx"),
            "{done}"
        );
    }

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
