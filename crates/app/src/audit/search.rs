//! The auditor's search: filters typed once here, entries read through a [`Scoped`] handle so
//! a regional auditor sees the entries of its region (and the logins of accounts scoped inside
//! it) and nothing else.

use backstop_core::role::Permission;
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use super::queries::{self, ArgVal};
use crate::kernel::actor::Actor;
use crate::kernel::error::AppResult;
use crate::state::AppState;

/// One entry as shown to the auditor.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditRow {
    pub id: i64,
    /// UTC, RFC 3339.
    pub at: String,
    pub username: String,
    pub source: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub region_code: String,
    pub outcome: String,
    pub detail: Value,
}

/// Filters of an audit search.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Exact username.
    pub username: Option<String>,
    /// Action prefix, e.g. `auth.` or `user.create`, or Chinese words of the action's label
    /// (`登录`).
    pub action: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    /// `success` or `failure`.
    pub outcome: Option<String>,
    /// From this date (YYYY-MM-DD, Beijing time), inclusive.
    pub from: Option<String>,
    /// To this date (YYYY-MM-DD, Beijing time), inclusive.
    pub to: Option<String>,
    /// Only entries with an id below this (paging backwards).
    pub before_id: Option<i64>,
    pub limit: Option<i64>,
}

/// The start (or, with `end`, the end) of a Beijing calendar day in Unix ms; a malformed date
/// is no condition (the filters never reject a search).
fn date_ms(s: &str, end: bool) -> Option<i64> {
    let d = backstop_core::clock::parse_ymd(s)?;
    let end_ms = backstop_core::clock::end_of_beijing_day_ms(d);
    Some(if end { end_ms } else { end_ms - 86_400_000 })
}

fn text(v: Option<&str>) -> Option<String> {
    v.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Search the log: auditors only; a regional auditor sees entries of its region (and the
/// logins of accounts scoped inside it).
pub async fn search(state: &AppState, actor: &Actor, q: &AuditQuery) -> AppResult<Vec<AuditRow>> {
    actor.require(Permission::AuditRead)?;
    let scope = actor.everywhere();
    let mut c: Vec<(&'static str, ArgVal)> = Vec::new();
    if let Some(u) = text(q.username.as_deref()) {
        c.push((" AND username = ?", ArgVal::S(u)));
    }
    if let Some(a) = text(q.action.as_deref()) {
        if a.is_ascii() {
            let hi = format!("{a}~");
            c.push((" AND action >= ?", ArgVal::S(a)));
            c.push((" AND action < ?", ArgVal::S(hi)));
        } else {
            // Chinese words: the actions whose label contains them (登录 → auth.login).
            let codes = super::labels::actions_matching(&a);
            match codes.as_slice() {
                [] => c.push((" AND action = ?", ArgVal::S(String::new()))),
                [one] => c.push((" AND action = ?", ArgVal::S(one.to_string()))),
                [first, middle @ .., last] => {
                    c.push((" AND (action = ?", ArgVal::S(first.to_string())));
                    for m in middle {
                        c.push((" OR action = ?", ArgVal::S(m.to_string())));
                    }
                    c.push((" OR action = ?)", ArgVal::S(last.to_string())));
                }
            }
        }
    }
    if let Some(t) = text(q.object_type.as_deref()) {
        c.push((" AND object_type = ?", ArgVal::S(t)));
    }
    if let Some(t) = text(q.object_id.as_deref()) {
        c.push((" AND object_id = ?", ArgVal::S(t)));
    }
    if let Some(o) = text(q.outcome.as_deref()) {
        c.push((" AND outcome = ?", ArgVal::S(o)));
    }
    if let Some(ms) = q.from.as_deref().and_then(|s| date_ms(s, false)) {
        c.push((" AND at >= ?", ArgVal::I(ms)));
    }
    if let Some(ms) = q.to.as_deref().and_then(|s| date_ms(s, true)) {
        c.push((" AND at < ?", ArgVal::I(ms)));
    }
    if let Some(b) = q.before_id {
        c.push((" AND id < ?", ArgVal::I(b)));
    }
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let rows = queries::search(state, &scope, c, limit).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let at: i64 = r.try_get("at")?;
        let detail: String = r.try_get("detail")?;
        out.push(AuditRow {
            id: r.try_get("id")?,
            at: backstop_core::clock::from_millis(at).to_rfc3339(),
            username: r.try_get("username")?,
            source: r.try_get("source")?,
            action: r.try_get("action")?,
            object_type: r.try_get("object_type")?,
            object_id: r.try_get("object_id")?,
            region_code: r.try_get("region_code")?,
            outcome: r.try_get("outcome")?,
            detail: serde_json::from_str(&detail).unwrap_or(Value::Null),
        });
    }
    Ok(out)
}
