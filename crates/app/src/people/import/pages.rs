//! The roster upload pages (`/persons/import…`): upload, the masked preview with a select per
//! column and the saved template offered again, start, progress (htmx) and the job page.

use askama::Template;
use axum::extract::{DefaultBodyLimit, Form, Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use backstop_core::error::ErrorCode;
use backstop_core::region::Scope;
use backstop_core::role::Permission;
use serde::Deserialize;

use super::columns::*;
use super::jobs::*;
use super::storage::*;
use super::upload::*;
use super::*;
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::extract::Page;
use crate::kernel::web::Routes;
use crate::kernel::web::{Nav, PageResult, render};
use crate::state::AppState;

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

pub(super) struct JobLine {
    pub(super) id: i64,
    pub(super) file_name: String,
    pub(super) status_label: &'static str,
    pub(super) created: String,
    pub(super) counts: String,
}

pub(super) fn status_label(s: &str) -> &'static str {
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
pub(super) struct UploadPage {
    pub(super) nav: Option<Nav>,
    pub(super) error: Option<String>,
    pub(super) max_mb: u64,
    pub(super) jobs: Vec<JobLine>,
}

pub(super) async fn render_upload(
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

pub(super) async fn upload_page(State(s): State<AppState>, Page(a): Page) -> PageResult {
    render_upload(&s, &a.actor, None, StatusCode::OK).await
}

pub(super) async fn upload(
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

pub(super) struct ColumnView {
    pub(super) index: usize,
    pub(super) header: String,
    pub(super) field: String,
}

#[derive(Template)]
#[template(path = "people_import_preview.html")]
pub(super) struct PreviewPage {
    pub(super) nav: Option<Nav>,
    pub(super) job: ImportJob,
    pub(super) error: Option<String>,
    pub(super) columns: Vec<ColumnView>,
    pub(super) rows: Vec<(u64, Vec<String>)>,
    pub(super) header_line: u64,
    pub(super) format: String,
    pub(super) fields: Vec<(&'static str, &'static str)>,
    pub(super) templates: Vec<(i64, String)>,
    pub(super) template_id: i64,
    pub(super) template_name: String,
    pub(super) region: String,
    pub(super) good_rows: bool,
    /// No column is read as the region code or the village: every row would land on the
    /// import's region, so the page says so and asks.
    pub(super) no_place_column: bool,
}

/// Why a start is refused when no column says where each person lives and the importer has
/// not confirmed that all of them belong to the import's region.
pub(super) const NO_PLACE: &str = "没有识别出“村（社区）”或“区划代码”列：所有人员将登记到导入区划本身，而不是各自的村（社区）。如果文件中有村（社区）列，请在下表中为它选择“村（社区）”；如果确实都属于导入区划，请勾选“全部登记到导入区划”";

#[derive(Template)]
#[template(path = "people_import_job.html")]
pub(super) struct JobPage {
    pub(super) nav: Option<Nav>,
    pub(super) p: ProgressView,
}

#[derive(Template)]
#[template(path = "people_import_progress.html")]
pub(super) struct ProgressFragment {
    pub(super) p: ProgressView,
}

pub(super) struct ProgressView {
    pub(super) id: i64,
    pub(super) file_name: String,
    pub(super) running: bool,
    /// The first pass (nothing written yet).
    pub(super) checking: bool,
    pub(super) status: String,
    pub(super) status_label: &'static str,
    pub(super) total: i64,
    pub(super) done: i64,
    pub(super) percent: i64,
    pub(super) rows: i64,
    pub(super) imported: i64,
    pub(super) merged: i64,
    pub(super) rejected: i64,
    pub(super) warnings: i64,
    pub(super) error: String,
    pub(super) error_code: String,
    pub(super) issues: Vec<JobIssue>,
    pub(super) more_issues: bool,
}

pub(super) fn progress_view(job: &ImportJob) -> ProgressView {
    let total = job.bytes_total.max(1);
    let done = job.bytes_done.clamp(0, total);
    let finished = !matches!(job.status.as_str(), "uploaded" | "running");
    let issues: Vec<JobIssue> = job.issues.iter().take(20).cloned().collect();
    ProgressView {
        id: job.id,
        file_name: job.file_name.clone(),
        running: job.status == "running",
        checking: job.status == "running" && job.phase == "checking",
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

pub(super) fn page_id(id: &str) -> AppResult<i64> {
    id.parse().map_err(|_| AppError::not_found())
}

#[derive(Deserialize, Default)]
pub(super) struct PreviewQuery {
    #[serde(default)]
    pub(super) template: Option<String>,
}

pub(super) async fn preview_page(
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
        no_place_column: !preview
            .fields
            .iter()
            .flatten()
            .any(|f| *f == Field::Region.key() || *f == Field::Village.key()),
        job,
    });
    *resp.status_mut() = status;
    Ok(resp)
}

pub(super) async fn job_page(
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

pub(super) async fn progress_fragment(
    State(s): State<AppState>,
    Page(a): Page,
    Path(id): Path<String>,
) -> PageResult {
    let job = get_job(&s, &a.actor, page_id(&id)?).await?;
    Ok(render(&ProgressFragment {
        p: progress_view(&job),
    }))
}

pub(super) async fn start_page(
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
    let columns_ok = super::resolve_columns(&refs, Some(&mapping));
    let region_ok = check_region(&s, actor, &region).await;
    let problem = match (&columns_ok, &region_ok) {
        (Err(e), _) => Some(e.message.clone()),
        (_, Err(e)) if e.status() == StatusCode::NOT_FOUND => {
            Some(format!("区划“{region}”不存在或不在您的管辖范围内"))
        }
        (_, Err(e)) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => Some(e.message.clone()),
        (_, Err(e)) => return Err(e.clone().into()),
        (Ok(cols), Ok(r))
            if r.is_empty()
                && cols.of(Field::Region).is_none()
                && cols.of(Field::Village).is_none() =>
        {
            Some("文件没有“区划代码”或“村（社区）”列：请填写导入区划".to_string())
        }
        (Ok(cols), Ok(_))
            if cols.of(Field::Region).is_none()
                && cols.of(Field::Village).is_none()
                && get("confirm_region").is_none() =>
        {
            Some(NO_PLACE.to_string())
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
    let mut job = job;
    set_households(
        &s,
        &mut job,
        get("households").as_deref() == Some("address"),
    )
    .await?;
    start(&s, actor, job, region, good_rows, Some(mapping)).await?;
    Ok(Redirect::to(&format!("/persons/import/{id}")).into_response())
}

pub(super) async fn discard_page(
    State(s): State<AppState>,
    Page(a): Page,
    Path(id): Path<String>,
) -> PageResult {
    discard(&s, &a.actor, page_id(&id)?).await?;
    Ok(Redirect::to("/persons/import").into_response())
}

pub(super) async fn rejects_download(
    State(s): State<AppState>,
    Page(a): Page,
    Path(id): Path<String>,
) -> PageResult {
    let (name, bytes) = rejects_xlsx(&s, &a.actor, page_id(&id)?).await?;
    Ok(crate::kernel::cells::xlsx_download(&name, bytes))
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
            households: String::new(),
            phase: String::new(),
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
}
