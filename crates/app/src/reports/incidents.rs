//! Immediate reports (即报) after they arrive: every level above the unit sees them at once
//! (the notification outbox and the open-incident list), they stay open and highlighted until
//! someone at county level or above acknowledges them, and the acknowledgement records who
//! handled them and how.

use backstop_core::error::ErrorCode;
use backstop_core::region::{RegionCode, RegionLevel, Scope};
use backstop_core::role::Permission;
use serde::Serialize;
use serde_json::{Map, Value, json};
use sqlx::Row;

use crate::audit::{self, Entry, Who};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, text_field};
use crate::state::AppState;

/// How an incident was handled.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Ack {
    pub by: String,
    /// UTC, RFC 3339.
    pub at: String,
    pub handling: String,
}

/// An immediate report with its handling.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Incident {
    pub id: i64,
    pub unit: String,
    pub unit_name: String,
    pub region_code: String,
    pub period: String,
    #[schema(value_type = Object)]
    pub values: Map<String, Value>,
    pub submitted_at: String,
    pub submitted_by: String,
    pub ack: Option<Ack>,
}

const COLS: &str = "s.id, s.unit, s.region_code, s.period, s.body, s.submitted_at, s.submitted_by, \
    a.acked_by, a.acked_at, a.handling, COALESCE(o.name, r.name) AS unit_name";
const FROM: &str = "FROM report_submissions s LEFT JOIN incident_acks a ON a.submission_id = s.id \
    LEFT JOIN regions r ON r.code = s.unit \
    LEFT JOIN orgs o ON s.unit = 'org:' || CAST(o.id AS TEXT)";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Incident, sqlx::Error> {
    let body: String = r.try_get("body")?;
    let at: i64 = r.try_get("submitted_at")?;
    let acked_by: Option<String> = r.try_get("acked_by")?;
    let ack = match acked_by {
        Some(by) => Some(Ack {
            by,
            at: backstop_core::clock::from_millis(
                r.try_get::<Option<i64>, _>("acked_at")?.unwrap_or(0),
            )
            .to_rfc3339(),
            handling: r
                .try_get::<Option<String>, _>("handling")?
                .unwrap_or_default(),
        }),
        None => None,
    };
    Ok(Incident {
        id: r.try_get("id")?,
        unit: r.try_get("unit")?,
        unit_name: r
            .try_get::<Option<String>, _>("unit_name")?
            .unwrap_or_default(),
        region_code: r.try_get("region_code")?,
        period: r.try_get("period")?,
        values: serde_json::from_str(&body).unwrap_or_default(),
        submitted_at: backstop_core::clock::from_millis(at).to_rfc3339(),
        submitted_by: r.try_get("submitted_by")?,
        ack,
    })
}

/// Incidents in the actor's scope, newest first; `open_only` hides acknowledged ones.
pub async fn list(
    state: &AppState,
    actor: &Actor,
    open_only: bool,
    limit: i64,
) -> AppResult<Vec<Incident>> {
    actor.require(Permission::ReportsRead)?;
    let (lo, hi) = actor.scope_bounds();
    let open = if open_only {
        " AND a.submission_id IS NULL"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {COLS} {FROM} WHERE s.template_key = 'incident' AND s.region_code >= $1 AND s.region_code < $2{open} \
         ORDER BY s.id DESC LIMIT $3"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(lo)
        .bind(hi)
        .bind(limit.clamp(1, 1000))
        .fetch_all(state.db.pool())
        .await?;
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}

/// One incident in scope.
pub async fn get(state: &AppState, actor: &Actor, id: i64) -> AppResult<Incident> {
    actor.require(Permission::ReportsRead)?;
    let sql = format!("SELECT {COLS} {FROM} WHERE s.template_key = 'incident' AND s.id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(AppError::not_found)?;
    let inc = from_row(&row)?;
    let code = RegionCode::parse(&inc.region_code).map_err(|_| AppError::not_found())?;
    actor.check_region(&code)?;
    Ok(inc)
}

/// Acknowledge an incident and record how it was handled (county level or above).
pub async fn acknowledge(
    state: &AppState,
    actor: &Actor,
    id: i64,
    handling: &str,
) -> AppResult<Incident> {
    let inc = get(state, actor, id).await?;
    let county_or_above = match &actor.scope {
        Scope::National => true,
        Scope::Region(c) => c.level() <= RegionLevel::County,
    };
    if !county_or_above {
        return Err(AppError::msg(
            ErrorCode::Forbidden,
            "即报须由县级及以上确认处置",
        ));
    }
    if inc.ack.is_some() {
        return Err(AppError::msg(ErrorCode::Conflict, "该即报已被确认"));
    }
    let handling = text_field("handling", handling, 1000, true)?;
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    sqlx::query(
        "INSERT INTO incident_acks (submission_id, region_code, acked_by, acked_at, handling) VALUES ($1,$2,$3,$4,$5)",
    )
    .bind(id)
    .bind(&inc.region_code)
    .bind(&actor.username)
    .bind(now)
    .bind(&handling)
    .execute(w.conn())
    .await?;
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &Who::from(actor),
        Entry {
            action: "incident.acknowledge",
            object_type: "report",
            object_id: id.to_string(),
            region_code: inc.region_code.clone(),
            outcome: "success",
            detail: json!({"handling": {"before": null, "after": handling}}),
        },
    )
    .await?;
    w.commit().await?;
    get(state, actor, id).await
}
