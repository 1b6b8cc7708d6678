//! Import jobs (`person_import_jobs`): one per upload, visible only to the user who started it
//! (anyone else: 404). A job runs as a background task on the blocking pool; live progress is
//! kept in memory and polled by the page; the result (counts, first 1,000 issues, or the error
//! with a stable code) is written to the job row — in the import's own transaction when it
//! commits. Files of ended or abandoned jobs are deleted; stale ones are swept. Also the
//! rejected rows as an Excel file (audited).

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use backstop_core::error::ErrorCode;
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::queries;
use super::storage::*;
use super::upload::*;
use super::*;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

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
    pub(super) user_id: i64,
    #[serde(skip)]
    pub(super) token: String,
    /// `address`: without a household column, one household per village and address.
    pub households: String,
    /// The explicit column mapping used (header → field), empty when recognised.
    #[schema(value_type = Object)]
    pub mapping: Mapping,
    /// While `running`: `checking` (the first pass reads every row, nothing is written yet)
    /// or `writing` (committed in chunks; `imported`/`merged` count what is saved so far).
    /// Empty otherwise.
    pub phase: String,
}

/// Live progress of running jobs, by token (the job row is written once per committed
/// chunk; this moves with every batch, without a write).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Live {
    /// The first pass (checking, nothing written yet).
    pub(super) checking: bool,
    pub(super) bytes: u64,
    pub(super) rows: u64,
    pub(super) imported: u64,
    pub(super) merged: u64,
    pub(super) rejected: u64,
}

pub(super) static LIVE: LazyLock<Mutex<HashMap<String, Live>>> = LazyLock::new(Default::default);

pub(super) fn live_set(token: &str, l: Live) {
    if let Ok(mut m) = LIVE.lock() {
        m.insert(token.to_string(), l);
    }
}

pub(super) fn live_get(token: &str) -> Option<Live> {
    LIVE.lock().ok().and_then(|m| m.get(token).copied())
}

pub(super) fn live_remove(token: &str) {
    if let Ok(mut m) = LIVE.lock() {
        m.remove(token);
    }
}

/// A job of the actor (anyone else's, or a missing one: 404).
pub async fn get_job(state: &AppState, actor: &Actor, id: i64) -> AppResult<ImportJob> {
    actor.require(Permission::PersonsWrite)?;
    let mut job = queries::job(state, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    if actor.user_id != Some(job.user_id) {
        return Err(AppError::not_found());
    }
    if job.status == "running"
        && let Some(l) = live_get(&job.token)
    {
        job.phase = if l.checking { "checking" } else { "writing" }.to_string();
        job.bytes_done = l.bytes as i64;
        job.rows = l.rows as i64;
        job.imported = l.imported as i64;
        job.merged = l.merged as i64;
        job.rejected = l.rejected as i64;
    }
    Ok(job)
}

/// The actor's latest jobs.
pub(crate) async fn my_jobs(state: &AppState, actor: &Actor) -> AppResult<Vec<ImportJob>> {
    let Some(uid) = actor.user_id else {
        return Ok(Vec::new());
    };
    queries::jobs_of(state, uid).await
}

pub(super) fn issues_json(report: &ImportReport) -> String {
    let mut list: Vec<JobIssue> = Vec::new();
    let mut add = |i: &RowIssue, kind: &str| {
        if list.len() < super::MAX_ISSUES {
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

/// The rejected rows with their original cells, sealed (`None` when none was rejected):
/// JSON `{headers, rows: [[line, reason, cells…]]}` encrypted with the master key.
pub(super) fn sealed_rejects(
    keys: &crate::kernel::crypto::KeyRing,
    report: &ImportReport,
) -> Option<Vec<u8>> {
    if report.rejects.is_empty() {
        return None;
    }
    let rows: Vec<serde_json::Value> = report
        .rejects
        .iter()
        .map(|i| {
            let cells: Vec<&str> = i.raw.split(super::rows::RAW_SEP).collect();
            json!([i.line, i.reason, cells])
        })
        .collect();
    let text = json!({"headers": report.headers, "rows": rows}).to_string();
    Some(keys.encrypt(text.as_bytes()))
}

/// Write a finished import's result into its job row (called in the import's transaction
/// when it commits, else on its own).
pub(crate) async fn record_report(
    conn: &mut sqlx::AnyConnection,
    keys: &crate::kernel::crypto::KeyRing,
    job: i64,
    report: &ImportReport,
    now: i64,
) -> AppResult<()> {
    let sealed = sealed_rejects(keys, report);
    queries::record_report(conn, job, report, &issues_json(report), sealed, now).await
}

/// Mark a job failed (the file was refused): job row and one failure summary entry.
pub(super) async fn record_failure(
    state: &AppState,
    actor: &Actor,
    job: i64,
    region: &str,
    code: &str,
    message: &str,
) -> AppResult<()> {
    let mut tx = Tx::begin(state, actor).await?;
    queries::mark_failed(&mut tx, job, code, message).await?;
    let region = if region.is_empty() {
        actor.scope.as_str().to_string()
    } else {
        region.to_string()
    };
    tx.commit(
        Change::new("person.import", "person", format!("job:{job}"), region)
            .failed()
            .detail(json!({"job": job, "error_code": code})),
    )
    .await?;
    Ok(())
}

/// Record a stored upload as a job (`uploaded`, or `running` when started at once).
pub(super) async fn insert_job(
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
    queries::insert_job(state, uid, up, status, region, good_rows, mapping, now).await
}

/// Run a job in the background: on the blocking pool (file reads and decryption), driving the
/// database through the runtime. The file is deleted at the end, whatever happens.
pub(super) fn spawn_job(state: AppState, actor: Actor, job: ImportJob, opts: ImportOptions) {
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
            // What its committed chunks saved is in the job row.
            let (rows, imported, merged) =
                queries::committed_counts(&s2, id).await.unwrap_or_default();
            let msg = super::interrupted_message("导入意外中止", rows, imported, merged);
            let _ = record_failure(&s2, &a2, id, &region, "internal", &msg).await;
        }
        remove_file(&s2, &token).await;
        live_remove(&token);
    });
}

pub(super) async fn run_job(
    state: &AppState,
    actor: &Actor,
    job: &ImportJob,
    opts: &ImportOptions,
) {
    let path = file_path(state, &job.token);
    let token = job.token.clone();
    let result = match SealedReader::open(&path, state.keys.clone()) {
        Ok(reader) => {
            let mut progress = |p: Progress<'_>| match p {
                Progress::Rows {
                    rows,
                    bytes,
                    imported,
                    merged,
                    rejected,
                } => live_set(
                    &token,
                    Live {
                        checking: false,
                        bytes,
                        rows,
                        imported,
                        merged,
                        rejected,
                    },
                ),
                Progress::Checking {
                    rows,
                    bytes,
                    rejected,
                } => live_set(
                    &token,
                    Live {
                        checking: true,
                        bytes,
                        rows,
                        rejected,
                        ..Live::default()
                    },
                ),
                _ => {}
            };
            super::import_file(state, actor, reader, opts, &mut progress).await
        }
        Err(_) => Err(ImportError::File(FileError::new(
            FileErrorKind::Unreadable,
            "上传的文件已不存在或已损坏，请重新上传",
        ))),
    };
    let outcome = match result {
        Ok(report) if report.committed => Ok(()),
        Ok(report) => {
            let sealed = sealed_rejects(&state.keys, &report);
            queries::record_report_alone(state, job.id, &report, &issues_json(&report), sealed)
                .await
        }
        Err(e) => {
            record_failure(
                state,
                actor,
                job.id,
                &job.region_code,
                e.code(),
                &e.message(),
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
    let mut swept = 0;
    for (id, token, status, created, saved) in queries::open_jobs(state).await? {
        let here = tokio::fs::try_exists(file_path(state, &token))
            .await
            .unwrap_or(false);
        let (new_status, code, msg) =
            if status == "uploaded" && (created < now - hour || (at_start && here)) {
                ("abandoned", "", String::new())
            } else if at_start && status == "running" && (here || created < now - 24 * hour) {
                // The chunks it committed are saved (their counts are in the job row).
                let (rows, imported, merged) = saved;
                (
                    "failed",
                    ErrorCode::Interrupted.as_str(),
                    super::interrupted_message("服务重启，导入被中断", rows, imported, merged),
                )
            } else {
                continue;
            };
        queries::end_job(state, id, &status, new_status, code, &msg, now).await?;
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

pub(super) fn parse_bool(s: Option<&String>) -> bool {
    s.is_some_and(|v| matches!(v.trim(), "1" | "true" | "on" | "yes" | "good"))
}

/// Check a default region the way the import will (so a bad one is refused at once).
pub(super) async fn check_region(
    state: &AppState,
    actor: &Actor,
    region: &str,
) -> AppResult<String> {
    let region = region.trim();
    if region.is_empty() {
        return Ok(String::new());
    }
    let code = crate::people::region_in_scope(state, actor, "region_code", region).await?;
    Ok(code.as_str().to_string())
}

pub(super) fn options(
    state: &AppState,
    job: &ImportJob,
    mapping: Option<Mapping>,
) -> ImportOptions {
    ImportOptions {
        region: Some(job.region_code.clone()).filter(|r| !r.is_empty()),
        good_rows: job.good_rows,
        households_by_address: job.households == "address",
        max_bytes: state.config.max_upload_bytes,
        mapping,
        job_id: Some(job.id),
        chunk: state.config.import_chunk(),
        ..ImportOptions::default()
    }
}

/// The preview of a stored upload (read on the blocking pool).
pub(super) async fn preview_job(
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
        super::preview(r, &opts, 10, reveal)
    })
    .await
    .unwrap_or_else(|_| {
        Err(FileError::new(
            FileErrorKind::Unreadable,
            "无法读取上传的文件",
        ))
    })
}

/// Record a job's household grouping (`address` or empty) before it runs.
pub(super) async fn set_households(
    state: &AppState,
    job: &mut ImportJob,
    by_address: bool,
) -> AppResult<()> {
    let mode = if by_address { "address" } else { "" };
    queries::set_job_households(state, job.id, mode).await?;
    job.households = mode.to_string();
    Ok(())
}

/// Start an uploaded job with its settings.
pub(super) async fn start(
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
    let started = queries::start_job(state, job.id, &region, good_rows, &text, now).await?;
    if !started {
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
pub(super) async fn discard(state: &AppState, actor: &Actor, id: i64) -> AppResult<()> {
    let job = get_job(state, actor, id).await?;
    if job.status != "uploaded" {
        return Ok(());
    }
    queries::abandon_job(state, id, state.now_ms()).await?;
    remove_file(state, &job.token).await;
    Ok(())
}

/// The sealed rejected rows, opened.
#[derive(Deserialize)]
struct OriginalRows {
    headers: Vec<String>,
    rows: Vec<(u64, String, Vec<String>)>,
}

/// The rejected rows (and merge warnings) of a finished job as an Excel workbook; audited.
/// The rejected rows carry every original cell (as uploaded, so the importer — the only one
/// who can read the job — can fix them and upload the file again) with the reason.
pub async fn rejects_xlsx(
    state: &AppState,
    actor: &Actor,
    id: i64,
) -> AppResult<(String, Vec<u8>)> {
    use crate::kernel::cells::SafeCells;
    use rust_xlsxwriter::{Format, FormatBorder, Workbook};
    let job = get_job(state, actor, id).await?;
    if matches!(job.status.as_str(), "uploaded" | "running") {
        return Err(AppError::msg(ErrorCode::Conflict, "导入尚未结束"));
    }
    let original = queries::rejected_rows(state, id)
        .await?
        .and_then(|enc| state.keys.decrypt(&enc))
        .and_then(|b| serde_json::from_slice::<OriginalRows>(&b).ok());
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
        ws.text(0, 0, heading, &title).map_err(xerr)?;
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
        ws.text_plain(1, 0, &sub).map_err(xerr)?;
        if kind == "reject"
            && let Some(orig) = &original
        {
            // The original rows (every column as uploaded), with the reason first: fix the
            // cells and upload this file again (the two first columns are not imported).
            let mut heads = vec!["原因".to_string(), "原行号".to_string()];
            heads.extend(orig.headers.iter().cloned());
            for (c, h) in heads.iter().enumerate() {
                ws.text(2, c as u16, h, &head).map_err(xerr)?;
            }
            ws.set_column_width(0, 50).map_err(xerr)?;
            for (i, (line, reason, cells)) in orig.rows.iter().enumerate() {
                let r = 3 + i as u32;
                ws.text(r, 0, reason, &cell).map_err(xerr)?;
                ws.write_number_with_format(r, 1, *line as f64, &cell)
                    .map_err(xerr)?;
                for (c, v) in cells.iter().enumerate() {
                    ws.text(r, 2 + c as u16, v, &cell).map_err(xerr)?;
                }
            }
            continue;
        }
        for (c, h) in ["行号", "原因", "身份证号（脱敏）"].iter().enumerate() {
            ws.text(2, c as u16, h, &head).map_err(xerr)?;
        }
        ws.set_column_width(0, 8).map_err(xerr)?;
        ws.set_column_width(1, 70).map_err(xerr)?;
        ws.set_column_width(2, 22).map_err(xerr)?;
        for (i, issue) in list.iter().enumerate() {
            let r = 3 + i as u32;
            ws.write_number_with_format(r, 0, issue.line as f64, &cell)
                .map_err(xerr)?;
            ws.text(r, 1, &issue.reason, &cell).map_err(xerr)?;
            ws.text(r, 2, &issue.id_masked, &cell).map_err(xerr)?;
        }
    }
    let bytes = wb.save_to_buffer().map_err(xerr)?;
    let region = if job.region_code.is_empty() {
        actor.scope.as_str().to_string()
    } else {
        job.region_code.clone()
    };
    Tx::begin(state, actor)
        .await?
        .commit(
            Change::new("person.import_rejects_export", "person_import_job", id, region).detail(
                json!({"rows": job.issues.iter().filter(|i| i.kind == "reject").count(), "format": "xlsx",
                       "original_rows": original.as_ref().map_or(0, |o| o.rows.len())}),
            ),
        )
        .await?;
    Ok((format!("import-{id}-rejects.xlsx"), bytes))
}
