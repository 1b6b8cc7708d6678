//! Assistance statistics and due-time settings API (`/api/v1/assistance/statistics…`,
//! `/api/v1/assistance/settings`). Thin: the rules are in [`super::stats`] and
//! [`super::due_times`].

use axum::extract::Query;
use axum::response::Response;
use axum::routing::get;

use super::due_times::{DueTimes, DueTimesInput};
use super::stats::{Statistics, StatsQuery};
use super::steps::Beneficiary;
use crate::kernel::error::{AppResult, ErrorBody};
use crate::kernel::extract::region_param;
use crate::kernel::handler::{ApiCaller, RegionQuery, api_handler};
use crate::kernel::web::Routes;

pub fn api_routes() -> Routes {
    vec![
        ("/api/v1/assistance/statistics", get(statistics)),
        ("/api/v1/assistance/statistics/export", get(export)),
        ("/api/v1/assistance/statistics/records", get(records)),
        (
            "/api/v1/assistance/settings",
            get(due_times).put(set_due_times),
        ),
    ]
}

api_handler! {
    /// Statistics of a region for a month: one line per region below it (drill down with
    /// `region`), the total as the sum of the lines; covered households and persons and fen
    /// paid per programme, applications by state, overdue steps, aid-first grants awaiting
    /// approval, held exits. `paid_basis` says what "paid" counts.
    get "/api/v1/assistance/statistics", tag "assistance", ok(Statistics), params(StatsQuery),
        errors(403, 404, 422);
    fn statistics(s, a, Query(q): Query<StatsQuery>) {
        let region = region_param(q.region.as_deref())?;
        super::stats::statistics(&s, &a.actor, region.as_ref(), q.month.as_deref()).await?
    }
}

api_handler! {
    /// The records behind the coverage figures: beneficiaries covered in the month in the
    /// region (and of `programme` if given), masked, at most 2000.
    get "/api/v1/assistance/statistics/records", tag "assistance", ok(Vec<Beneficiary>),
        params(StatsQuery), errors(403, 404, 422);
    fn records(s, a, Query(q): Query<StatsQuery>) {
        let region = region_param(q.region.as_deref())?;
        super::stats::records(&s, &a.actor, region.as_ref(), q.month.as_deref(), q.programme.as_deref())
            .await?
    }
}

/// The statistics as Excel, in the layout of the monthly civil-affairs statistics (民政统计月报):
/// one row per region, 户数 / 人数 / 支出金额(元) per programme, a 合计 row.
#[utoipa::path(get, path = "/api/v1/assistance/statistics/export", tag = "assistance",
    params(StatsQuery),
    responses((status = 200, description = "the workbook (.xlsx)"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn export(
    ApiCaller(s, a): ApiCaller,
    Query(q): Query<StatsQuery>,
) -> AppResult<Response> {
    let region = region_param(q.region.as_deref())?;
    let (name, bytes) =
        super::stats::export_xlsx(&s, &a.actor, region.as_ref(), q.month.as_deref()).await?;
    Ok(crate::kernel::cells::xlsx_download(&name, bytes))
}

api_handler! {
    /// The due times in force for a region (default the caller's own): its own, or inherited
    /// from the city or province (`set_at`), or the defaults (`set_at` null).
    get "/api/v1/assistance/settings", tag "assistance", ok(DueTimes), params(RegionQuery),
        errors(403, 404, 422);
    fn due_times(s, a, Query(q): Query<RegionQuery>) {
        let region = q.region()?;
        super::due_times::get(&s, &a.actor, region.as_ref()).await?
    }
}

api_handler! {
    /// Set a province's, city's or county's own due times (1 to 90 days each); audited.
    put "/api/v1/assistance/settings", tag "assistance", ok(DueTimes), json(body: DueTimesInput),
        errors(403, 404, 422);
    fn set_due_times(s, a) { super::due_times::set(&s, &a.actor, &body).await? }
}
