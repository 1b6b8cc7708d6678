//! Dashboard, export and bulk-entry API (`/api/v1/donations/campaigns/{id}/dashboard`,
//! `…/export`, `…/import`, `/api/v1/donations/import-template`): thin handlers over
//! [`super::dashboard`] and [`super::import`].

use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::dashboard::{self, Dashboard};
use super::import::{self, ImportReport};
use super::web::TotalsQuery;
use crate::kernel::error::{AppResult, ErrorBody};
use crate::kernel::extract::region_param;
use crate::kernel::handler::{ApiCaller, api_handler};
use crate::kernel::web::Routes;

pub fn api_routes() -> Routes {
    vec![
        ("/api/v1/donations/campaigns/{id}/dashboard", get(show)),
        ("/api/v1/donations/campaigns/{id}/export", get(export)),
        ("/api/v1/donations/campaigns/{id}/import", post(import)),
        ("/api/v1/donations/import-template", get(template)),
    ]
}

api_handler! {
    /// A campaign's dashboard for a region: received, allocated, delivered, in stock by
    /// category with its days in stock, unmet needs by region.
    get "/api/v1/donations/campaigns/{id}/dashboard", tag "donations", ok(Dashboard),
        params(("id" = i64, Path), TotalsQuery), errors(403, 404, 422);
    fn show(s, a, Path(id): Path<i64>, Query(q): Query<TotalsQuery>) {
        let region = region_param(q.region.as_deref())?;
        dashboard::dashboard(&s, &a.actor, id, region.as_ref()).await?
    }
}

/// The campaign's workbook in the layout charities publish (汇总, 接收明细, 拨付明细, 未满足需求;
/// cells neutralised against formula injection).
#[utoipa::path(get, path = "/api/v1/donations/campaigns/{id}/export", tag = "donations",
    params(("id" = i64, Path), TotalsQuery),
    responses((status = 200, description = "the workbook (.xlsx)"), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn export(
    ApiCaller(s, a): ApiCaller,
    Path(id): Path<i64>,
    Query(q): Query<TotalsQuery>,
) -> AppResult<Response> {
    let region = region_param(q.region.as_deref())?;
    let (name, bytes) = dashboard::export_xlsx(&s, &a.actor, id, region.as_ref()).await?;
    Ok(xlsx(&name, bytes))
}

/// An .xlsx attachment.
pub(crate) fn xlsx(name: &str, bytes: Vec<u8>) -> Response {
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

/// Enter receipts in bulk from the charity's sheet (the body is the .xlsx file, or the sheet
/// saved as CSV in UTF-8 or GBK; columns as in the template): row-level errors and nothing
/// written when any row is refused; receipt numbers already entered are skipped. Own charity
/// only; another region's campaign is 404.
#[utoipa::path(post, path = "/api/v1/donations/campaigns/{id}/import", tag = "donations",
    params(("id" = i64, Path)), request_body(content = Vec<u8>, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    responses((status = 200, body = ImportReport), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn import(
    ApiCaller(s, a): ApiCaller,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<axum::Json<ImportReport>> {
    Ok(axum::Json(
        import::import_xlsx(&s, &a.actor, id, &body).await?,
    ))
}

/// The sheet template for bulk entry (.xlsx).
#[utoipa::path(get, path = "/api/v1/donations/import-template", tag = "donations",
    responses((status = 200, description = "the template (.xlsx)"), (status = 403, body = ErrorBody)))]
pub async fn template(ApiCaller(_s, a): ApiCaller) -> AppResult<Response> {
    a.actor
        .require(backstop_core::role::Permission::DonationsManage)?;
    Ok(xlsx("donation-receipts-template.xlsx", import::template()?))
}
