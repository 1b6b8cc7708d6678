//! The roster import API (`/api/v1/persons/imports…`): upload and start in one request, a
//! job's state, its rejected rows as Excel.

use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use backstop_core::role::Permission;
use serde::Serialize;

use super::columns::*;
use super::jobs::*;
use super::storage::*;
use super::upload::*;

use crate::kernel::error::{AppError, AppResult, ErrorBody};
use crate::kernel::extract::Api;
use crate::kernel::web::Routes;
use crate::state::AppState;

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
    /// `address`: without a household column (户号), one household per village and address.
    pub households: Option<String>,
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
    let mut job = get_job(&s, actor, id).await?;
    let by_address = up
        .fields
        .get("households")
        .is_some_and(|v| v.trim() == "address");
    set_households(&s, &mut job, by_address).await?;
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
    Ok(crate::kernel::cells::xlsx_download(&name, bytes))
}
