//! The bulk-entry pages (issue 18 item 2): a charity's staff download the sheet template
//! (`/donations/import-template.xlsx`), upload their sheet for a campaign
//! (`/donations/campaigns/{id}/import`, .xlsx or CSV), and follow the import on its job page
//! (`/donations/imports/{job}`), whose progress fragment (`…/progress`) htmx polls every second
//! while it runs, as on the roster import's page. The result lists every refused row with its
//! sheet row number, column and a Chinese reason (nothing is written then), or how many
//! receipts were written and which receipt numbers were already entered.
//!
//! The import runs as a background task over [`super::import::import_with_progress`], so the
//! rules are the API's (`POST /api/v1/donations/campaigns/{id}/import`): `DonationsManage`, the
//! caller's own charity, the campaign in scope (another region's campaign is *not found*; this
//! is checked before the file is taken). Jobs live in memory only (a few hundred at most, the
//! oldest finished dropped first): a job is seen only by the user who started it (anyone
//! else: 404) and is gone after a restart; the import itself is all or nothing, so a restart
//! mid-import writes nothing.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use askama::Template;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use backstop_core::error::ErrorCode;
use backstop_core::role::Permission;
use rand::RngCore;

use super::Campaign;
use super::import::{self, ImportReport, RowError, Step};
use crate::kernel::actor::Actor;
use crate::kernel::auth::Authed;
use crate::kernel::error::AppError;
use crate::kernel::handler::PageCaller;
use crate::kernel::web::{Nav, PageResult, Routes, render_status};
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![
        (
            "/donations/campaigns/{id}/import",
            get(upload_page)
                .post(upload)
                .layer(DefaultBodyLimit::max(MAX_FILE + 64 * 1024)),
        ),
        ("/donations/imports/{job}", get(job_page)),
        ("/donations/imports/{job}/progress", get(progress)),
        ("/donations/import-template.xlsx", get(template)),
    ]
}

/// The largest sheet taken (bytes): 5,000 rows fit in far less.
const MAX_FILE: usize = 20 * 1024 * 1024;
/// Jobs kept in memory; beyond it the oldest finished ones are dropped.
const MAX_JOBS: usize = 300;
/// Refused rows shown on the page (the API answers all of them).
const SHOWN_ERRORS: usize = 200;

#[derive(Debug, Clone)]
enum State {
    Reading,
    Checking {
        done: usize,
        receipts: usize,
        rows: usize,
    },
    Writing {
        receipts: usize,
        rows: usize,
    },
    Done(ImportReport),
    Failed(String),
}

#[derive(Debug, Clone)]
struct Job {
    user_id: Option<i64>,
    campaign_id: i64,
    campaign_name: String,
    file_name: String,
    started: i64,
    state: State,
}

static JOBS: LazyLock<Mutex<HashMap<String, Job>>> = LazyLock::new(Default::default);

fn set_state(key: &str, state: State) {
    if let Ok(mut m) = JOBS.lock()
        && let Some(j) = m.get_mut(key)
    {
        j.state = state;
    }
}

fn insert_job(key: &str, job: Job) {
    if let Ok(mut m) = JOBS.lock() {
        if m.len() >= MAX_JOBS {
            let mut done: Vec<(i64, String)> = m
                .iter()
                .filter(|(_, j)| matches!(j.state, State::Done(_) | State::Failed(_)))
                .map(|(k, j)| (j.started, k.clone()))
                .collect();
            done.sort();
            for (_, k) in done.into_iter().take(m.len() + 1 - MAX_JOBS) {
                m.remove(&k);
            }
        }
        m.insert(key.to_string(), job);
    }
}

/// A job of the actor (anyone else's, or one gone: not found).
fn job_of(actor: &Actor, key: &str) -> Result<Job, AppError> {
    actor.require(Permission::DonationsManage)?;
    JOBS.lock()
        .ok()
        .and_then(|m| m.get(key).cloned())
        .filter(|j| j.user_id.is_some() && j.user_id == actor.user_id)
        .ok_or_else(AppError::not_found)
}

/// How many imports are running (tests wait for them to end).
pub fn running() -> usize {
    JOBS.lock()
        .map(|m| {
            m.values()
                .filter(|j| !matches!(j.state, State::Done(_) | State::Failed(_)))
                .count()
        })
        .unwrap_or(0)
}

/// The actor's jobs for a campaign, newest first.
fn jobs_of(actor: &Actor, campaign_id: i64) -> Vec<(String, Job)> {
    let mut out: Vec<(String, Job)> = JOBS
        .lock()
        .map(|m| {
            m.iter()
                .filter(|(_, j)| {
                    j.campaign_id == campaign_id
                        && j.user_id.is_some()
                        && j.user_id == actor.user_id
                })
                .map(|(k, j)| (k.clone(), j.clone()))
                .collect()
        })
        .unwrap_or_default();
    out.sort_by_key(|x| std::cmp::Reverse(x.1.started));
    out
}

/// What the page shows of a job.
struct View {
    key: String,
    file_name: String,
    campaign_id: i64,
    campaign_name: String,
    running: bool,
    status: &'static str,
    label: &'static str,
    percent: usize,
    detail: String,
    rows: usize,
    written: usize,
    skipped: Vec<String>,
    errors: Vec<RowError>,
    more_errors: usize,
    failure: String,
}

fn view(key: &str, j: &Job) -> View {
    let mut v = View {
        key: key.to_string(),
        file_name: j.file_name.clone(),
        campaign_id: j.campaign_id,
        campaign_name: j.campaign_name.clone(),
        running: true,
        status: "running",
        label: "导入中",
        percent: 0,
        detail: String::new(),
        rows: 0,
        written: 0,
        skipped: Vec::new(),
        errors: Vec::new(),
        more_errors: 0,
        failure: String::new(),
    };
    match &j.state {
        State::Reading => v.detail = "正在读取文件…".into(),
        State::Checking {
            done,
            receipts,
            rows,
        } => {
            v.percent = 5 + done * 85 / (*receipts).max(1);
            v.rows = *rows;
            v.detail = format!("已读取 {rows} 行、{receipts} 张收据，已校验 {done} 张");
        }
        State::Writing { receipts, rows } => {
            v.percent = 95;
            v.rows = *rows;
            v.detail = format!("校验通过，正在写入 {receipts} 张收据…");
        }
        State::Done(r) => {
            v.running = false;
            v.percent = 100;
            v.rows = r.rows;
            v.written = r.written;
            v.skipped = r.skipped.clone();
            v.more_errors = r.errors.len().saturating_sub(SHOWN_ERRORS);
            v.errors = r.errors.iter().take(SHOWN_ERRORS).cloned().collect();
            if r.errors.is_empty() {
                v.status = "done";
                v.label = "已完成";
            } else {
                v.status = "rejected";
                v.label = "有错误，未导入";
            }
        }
        State::Failed(m) => {
            v.running = false;
            v.percent = 100;
            v.status = "failed";
            v.label = "失败";
            v.failure = m.clone();
        }
    }
    v
}

#[derive(Template)]
#[template(path = "donations_import.html")]
struct UploadPage {
    nav: Option<Nav>,
    campaign: Campaign,
    error: Option<String>,
    max_mb: usize,
    jobs: Vec<View>,
}

async fn render_upload(
    s: &AppState,
    a: &Authed,
    id: i64,
    error: Option<String>,
    status: StatusCode,
) -> PageResult {
    import::may_import(s, &a.actor, id).await?;
    let campaign = super::campaign(s, &a.actor, id).await?;
    Ok(render_status(
        &UploadPage {
            nav: Some(Nav::for_actor(&a.actor, "/donations")),
            campaign,
            error,
            max_mb: MAX_FILE / (1024 * 1024),
            jobs: jobs_of(&a.actor, id)
                .iter()
                .map(|(k, j)| view(k, j))
                .collect(),
        },
        status,
    ))
}

async fn upload_page(PageCaller(s, a): PageCaller, Path(id): Path<String>) -> PageResult {
    let id = crate::kernel::handler::page_id(&id)?;
    render_upload(&s, &a, id, None, StatusCode::OK).await
}

/// The `file` field of the form: (name, bytes).
async fn file_field(
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(String, Vec<u8>), String> {
    let broken = "上传中断或格式错误，请重新上传".to_string();
    let mut mp = multipart.map_err(|_| "请以表单上传文件（字段名 file）".to_string())?;
    while let Some(field) = mp.next_field().await.map_err(|_| broken.clone())? {
        if field.name() != Some("file") {
            continue;
        }
        let name: String = field
            .file_name()
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_control() && !matches!(c, '/' | '\\'))
            .take(100)
            .collect();
        let bytes = field.bytes().await.map_err(|_| {
            format!(
                "文件过大或上传中断：文件不能超过 {} MB，请拆分后分批导入",
                MAX_FILE / (1024 * 1024)
            )
        })?;
        if bytes.is_empty() {
            break;
        }
        return Ok((name, bytes.to_vec()));
    }
    Err("请选择要导入的文件（Excel .xlsx 或 CSV）".into())
}

async fn upload(
    PageCaller(s, a): PageCaller,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> PageResult {
    let id = crate::kernel::handler::page_id(&id)?;
    // Scope and role first: a campaign out of scope is not found before any file is taken.
    import::may_import(&s, &a.actor, id).await?;
    let campaign = super::campaign(&s, &a.actor, id).await?;
    let (file_name, bytes) = match file_field(multipart).await {
        Ok(f) => f,
        Err(m) => {
            return render_upload(&s, &a, id, Some(m), StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    // A random positive number (63 bits): not guessable, and only its owner opens it anyway.
    let key = (rand::rng().next_u64() >> 1).max(1).to_string();
    insert_job(
        &key,
        Job {
            user_id: a.actor.user_id,
            campaign_id: id,
            campaign_name: campaign.name,
            file_name,
            started: s.now_ms(),
            state: State::Reading,
        },
    );
    let actor = a.actor.clone();
    let task_key = key.clone();
    tokio::spawn(async move {
        let k = task_key.clone();
        let counts = Mutex::new((0usize, 0usize));
        let on = move |step: Step| {
            let state = match step {
                Step::Read { receipts, rows } => {
                    if let Ok(mut c) = counts.lock() {
                        *c = (receipts, rows);
                    }
                    State::Checking {
                        done: 0,
                        receipts,
                        rows,
                    }
                }
                Step::Checked(done) => {
                    let (receipts, rows) = counts.lock().map(|c| *c).unwrap_or_default();
                    State::Checking {
                        done,
                        receipts,
                        rows,
                    }
                }
                Step::Writing => {
                    let (receipts, rows) = counts.lock().map(|c| *c).unwrap_or_default();
                    State::Writing { receipts, rows }
                }
            };
            set_state(&k, state);
        };
        let r = import::import_with_progress(&s, &actor, id, &bytes, &on).await;
        set_state(
            &task_key,
            match r {
                Ok(report) => State::Done(report),
                Err(e) => State::Failed(match e.fields.first() {
                    Some(f) if e.code == ErrorCode::Validation => f.message.clone(),
                    _ => e.message.clone(),
                }),
            },
        );
    });
    Ok(Redirect::to(&format!("/donations/imports/{key}")).into_response())
}

#[derive(Template)]
#[template(path = "donations_import_job.html")]
struct JobPage {
    nav: Option<Nav>,
    p: View,
}

#[derive(Template)]
#[template(path = "donations_import_progress.html")]
struct ProgressFragment {
    p: View,
}

async fn job_page(PageCaller(_s, a): PageCaller, Path(key): Path<String>) -> PageResult {
    let j = job_of(&a.actor, &key)?;
    Ok(render_status(
        &JobPage {
            nav: Some(Nav::for_actor(&a.actor, "/donations")),
            p: view(&key, &j),
        },
        StatusCode::OK,
    ))
}

async fn progress(PageCaller(_s, a): PageCaller, Path(key): Path<String>) -> PageResult {
    let j = job_of(&a.actor, &key)?;
    Ok(render_status(
        &ProgressFragment { p: view(&key, &j) },
        StatusCode::OK,
    ))
}

async fn template(PageCaller(_s, a): PageCaller) -> PageResult {
    a.actor.require(Permission::DonationsManage)?;
    Ok(super::dashboard_web::xlsx(
        "donation-receipts-template.xlsx",
        import::template()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(state: State) -> Job {
        Job {
            user_id: Some(1),
            campaign_id: 3,
            campaign_name: "抗疫".into(),
            file_name: "a.xlsx".into(),
            started: 0,
            state,
        }
    }

    #[test]
    fn progress_polls_only_while_running_and_lists_refused_rows() {
        let running = ProgressFragment {
            p: view(
                "k1",
                &job(State::Checking {
                    done: 5,
                    receipts: 10,
                    rows: 12,
                }),
            ),
        }
        .render()
        .unwrap_or_default();
        assert!(
            running.contains("hx-get=\"/donations/imports/k1/progress\""),
            "{running}"
        );
        assert!(running.contains("47%"), "{running}");
        let report = ImportReport {
            rows: 2,
            written: 0,
            skipped: Vec::new(),
            errors: vec![RowError {
                row: 3,
                field: "数量".into(),
                message: "数量应为正整数".into(),
            }],
        };
        let done = ProgressFragment {
            p: view("k1", &job(State::Done(report))),
        }
        .render()
        .unwrap_or_default();
        assert!(!done.contains("hx-get") && done.contains("100%"), "{done}");
        assert!(
            done.contains("数量应为正整数") && done.contains(">3<"),
            "{done}"
        );
        assert!(done.contains("未写入任何记录"), "{done}");
    }
}
