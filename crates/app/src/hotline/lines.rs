//! Hotline lines and their shifts (issue 17 item 2): a line (name, number, kind, operating
//! organisation in scope, region, hours) and who answers it when. Managed with
//! `hotline.supervise`; read by hotline staff in scope of the line.

use backstop_core::error::ErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{LINE_KINDS, pick, queries, staff_only, supervisor_only, time_field};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, text_field};
use crate::state::AppState;

/// A hotline.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Line {
    pub id: i64,
    pub region_code: String,
    pub name: String,
    pub number: String,
    /// `psychological`, `child_protection` or `civil_affairs`.
    pub kind: String,
    pub kind_label: String,
    /// The operating organisation.
    pub org_id: i64,
    pub org_name: String,
    /// Hours of service, as text (e.g. `24 小时`).
    pub hours: String,
}

/// Body of `POST /api/v1/hotline/lines`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewLine {
    pub region_code: String,
    pub name: String,
    pub number: String,
    pub kind: String,
    pub org_id: i64,
    #[serde(default)]
    pub hours: String,
}

/// A shift on a line.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Shift {
    pub id: i64,
    pub line_id: i64,
    /// The line's name.
    pub line_name: String,
    pub username: String,
    pub starts_at: String,
    pub ends_at: String,
}

/// Body of `POST /api/v1/hotline/lines/{id}/shifts`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewShift {
    /// The user who answers (a hotline worker or official whose scope covers the line).
    pub username: String,
    /// `YYYY-MM-DD HH:MM` (Beijing) or RFC 3339.
    pub starts_at: String,
    pub ends_at: String,
}

/// Create a line (hotline.supervise; region and operating organisation in scope).
pub async fn create_line(state: &AppState, actor: &Actor, input: &NewLine) -> AppResult<Line> {
    supervisor_only(actor)?;
    let region =
        crate::regions::existing_in_scope(state, actor, "region_code", &input.region_code).await?;
    let name = text_field("name", &input.name, 100, true)?;
    let number = text_field("number", &input.number, 30, true)?;
    let kind = pick("kind", &input.kind, LINE_KINDS)?;
    let hours = text_field("hours", &input.hours, 100, false)?;
    let org = crate::orgs::get(state, actor, input.org_id).await?;
    let mut tx = Tx::begin(state, actor).await?;
    let id = queries::insert_line(
        &mut tx,
        &queries::LineRow {
            region: region.as_str(),
            name: &name,
            number: &number,
            kind,
            org_id: org.id,
            hours: &hours,
            by: &actor.username,
        },
    )
    .await?;
    tx.commit(
        Change::new("hotline.line_create", "hotline_line", id, region.as_str()).detail(json!({
            "name": {"before": null, "after": name}, "number": {"before": null, "after": number},
            "kind": {"before": null, "after": kind}, "org_id": {"before": null, "after": org.id},
        })),
    )
    .await?;
    line(state, actor, id).await
}

/// One line in scope (hotline staff).
pub async fn line(state: &AppState, actor: &Actor, id: i64) -> AppResult<Line> {
    staff_only(actor)?;
    queries::line(state, &actor.everywhere(), id).await
}

/// Lines in scope (hotline staff).
pub async fn lines(state: &AppState, actor: &Actor) -> AppResult<Vec<Line>> {
    staff_only(actor)?;
    queries::lines(state, &actor.everywhere()).await
}

/// Add a shift to a line (hotline.supervise; the user must answer hotlines and cover the
/// line's region).
pub async fn add_shift(
    state: &AppState,
    actor: &Actor,
    line_id: i64,
    input: &NewShift,
) -> AppResult<Shift> {
    supervisor_only(actor)?;
    let l = line(state, actor, line_id).await?;
    let starts = time_field("starts_at", &input.starts_at)?;
    let ends = time_field("ends_at", &input.ends_at)?;
    if ends <= starts || ends - starts > 24 * 3_600_000 {
        return Err(AppError::field(
            ErrorCode::Validation,
            "ends_at",
            "结束时间应晚于开始时间，且一个班次不超过 24 小时",
        ));
    }
    let region = crate::regions::parse_code("region_code", &l.region_code)?;
    let user = queries::answerer(state, input.username.trim(), &region)
        .await?
        .ok_or_else(|| {
            AppError::field(
                ErrorCode::Validation,
                "username",
                "该用户不存在，或不能接听本线路（须有热线接听权限且管辖范围覆盖线路）",
            )
        })?;
    let mut tx = Tx::begin(state, actor).await?;
    let id =
        queries::insert_shift(&mut tx, &l, user.0, &user.1, starts, ends, &actor.username).await?;
    tx.commit(
        Change::new("hotline.shift_create", "hotline_shift", id, &l.region_code).detail(json!({
            "line_id": l.id, "username": user.1,
            "starts_at": backstop_core::clock::rfc3339(starts), "ends_at": backstop_core::clock::rfc3339(ends),
        })),
    )
    .await?;
    Ok(Shift {
        id,
        line_id: l.id,
        line_name: l.name,
        username: user.1,
        starts_at: backstop_core::clock::rfc3339(starts),
        ends_at: backstop_core::clock::rfc3339(ends),
    })
}

/// Shifts of a line (hotline staff), latest first.
pub async fn shifts(state: &AppState, actor: &Actor, line_id: i64) -> AppResult<Vec<Shift>> {
    let l = line(state, actor, line_id).await?;
    queries::shifts(state, &actor.everywhere(), &l).await
}

/// The actor's own shifts now or later (the hub's "my shift").
pub async fn my_shifts(state: &AppState, actor: &Actor) -> AppResult<Vec<Shift>> {
    staff_only(actor)?;
    match actor.user_id {
        Some(uid) => queries::my_shifts(state, &actor.everywhere(), uid).await,
        None => Ok(Vec::new()),
    }
}
