//! Campaign rows: insert, one by id, the list a caller may see; and those a parent deployment
//! sends down (issue 20): the ones it owns for a node, and taking one here.

use backstop_core::region::{RegionCode, Scope};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::super::federated::OwnedCampaign;
use super::super::{Campaign, fmt_ms};
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::queries::{all, ranged, region_name};
use crate::state::AppState;

const CAMPAIGN_COLS: &str = "c.id, c.region_code, r.name AS region_name, c.name, c.purpose, \
    c.starts_on, c.ends_on, c.ask_history, c.ask_symptoms, c.ask_temperature, c.created_by, \
    c.created_at, c.origin";

fn campaign_from_row(r: &AnyRow) -> Result<Campaign, sqlx::Error> {
    Ok(Campaign {
        id: r.try_get("id")?,
        region_code: r.try_get("region_code")?,
        region_name: region_name(r)?,
        name: r.try_get("name")?,
        purpose: r.try_get("purpose")?,
        starts_on: r.try_get("starts_on")?,
        ends_on: r.try_get("ends_on")?,
        ask_history: r.try_get::<i64, _>("ask_history")? != 0,
        ask_symptoms: r.try_get::<i64, _>("ask_symptoms")? != 0,
        ask_temperature: r.try_get::<i64, _>("ask_temperature")? != 0,
        created_by: r.try_get("created_by")?,
        created_at: fmt_ms(r.try_get("created_at")?),
        from_parent: r.try_get::<String, _>("origin")? == "parent",
    })
}

/// Does a campaign of `region` overlap the handle: inside it, or one of its ancestors?
pub(in crate::screening) fn overlaps(scope: &Scoped<'_>, region: &str) -> bool {
    if scope.contains(region) {
        return true;
    }
    match (scope.node(), RegionCode::parse(region)) {
        (Scope::National, _) => true,
        (Scope::Region(s), Ok(c)) => c.contains(s),
        _ => false,
    }
}

/// A new campaign row.
pub(in crate::screening) struct NewCampaignRow<'a> {
    pub region_code: &'a str,
    pub name: &'a str,
    pub purpose: &'a str,
    pub starts_on: &'a str,
    pub ends_on: &'a str,
    /// Ask for history, symptoms, temperature.
    pub ask: [bool; 3],
    pub created_by: &'a str,
}

pub(in crate::screening) async fn insert_campaign(
    tx: &mut Tx,
    n: &NewCampaignRow<'_>,
) -> AppResult<i64> {
    let now = tx.now();
    tx.insert(
        sqlx::query(
            "INSERT INTO screening_campaigns (region_code, name, purpose, starts_on, ends_on, \
         ask_history, ask_symptoms, ask_temperature, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(n.region_code)
        .bind(n.name)
        .bind(n.purpose)
        .bind(n.starts_on)
        .bind(n.ends_on)
        .bind(i64::from(n.ask[0]))
        .bind(i64::from(n.ask[1]))
        .bind(i64::from(n.ask[2]))
        .bind(n.created_by)
        .bind(now),
    )
    .await
}

/// One campaign overlapping the handle.
pub(in crate::screening) async fn campaign(
    state: &AppState,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<Campaign> {
    let sql = format!(
        "SELECT {CAMPAIGN_COLS} FROM screening_campaigns c \
         LEFT JOIN regions r ON r.code = c.region_code WHERE c.id = $1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(AppError::not_found)?;
    let c = campaign_from_row(&row)?;
    if overlaps(scope, &c.region_code) {
        Ok(c)
    } else {
        Err(AppError::not_found())
    }
}

/// The condition "inside the handle's range or one of the regions above its node" on
/// `c.region_code` (`$1`, `$2`, then the ancestors from `$3`), and the ancestors to bind.
fn overlapping(scope: &Scoped<'_>) -> (String, Vec<String>) {
    let above: Vec<String> = match scope.node() {
        Scope::National => Vec::new(),
        Scope::Region(c) => c.ancestors().iter().map(|a| a.to_string()).collect(),
    };
    let mut cond = String::from("((c.region_code >= $1 AND c.region_code < $2)");
    for i in 0..above.len() {
        cond.push_str(&format!(" OR c.region_code = ${}", i + 3));
    }
    cond.push(')');
    (cond, above)
}

/// Campaigns overlapping the handle, newest first, at most 200: those inside its range and
/// those of the regions above its node.
pub(in crate::screening) async fn campaigns(
    state: &AppState,
    scope: &Scoped<'_>,
) -> AppResult<Vec<Campaign>> {
    let (cond, above) = overlapping(scope);
    let sql = format!(
        "SELECT {CAMPAIGN_COLS} FROM screening_campaigns c \
         LEFT JOIN regions r ON r.code = c.region_code WHERE {cond} ORDER BY c.id DESC LIMIT 200"
    );
    let mut q = ranged(scope, sql);
    for a in &above {
        q = q.bind(a.as_str());
    }
    all(state, q, campaign_from_row).await
}

/// Campaigns overlapping the handle (a node's region) opened at or after `since` (ms), oldest
/// first, at most 500: what a parent sends down.
pub(in crate::screening) async fn campaigns_since(
    state: &AppState,
    scope: &Scoped<'_>,
    since: i64,
) -> AppResult<Vec<OwnedCampaign>> {
    let (cond, above) = overlapping(scope);
    let at = above.len() + 3;
    let sql = format!(
        "SELECT c.id, c.region_code, c.name, c.purpose, c.starts_on, c.ends_on, c.ask_history, \
         c.ask_symptoms, c.ask_temperature, c.created_by, c.created_at FROM screening_campaigns c \
         WHERE {cond} AND c.created_at >= ${at} ORDER BY c.created_at, c.id LIMIT 500"
    );
    let mut q = ranged(scope, sql);
    for a in &above {
        q = q.bind(a.as_str());
    }
    all(state, q.bind(since), |r| {
        Ok(OwnedCampaign {
            id: r.try_get("id")?,
            region_code: r.try_get("region_code")?,
            name: r.try_get("name")?,
            purpose: r.try_get("purpose")?,
            starts_on: r.try_get("starts_on")?,
            ends_on: r.try_get("ends_on")?,
            ask: [
                r.try_get::<i64, _>("ask_history")? != 0,
                r.try_get::<i64, _>("ask_symptoms")? != 0,
                r.try_get::<i64, _>("ask_temperature")? != 0,
            ],
            created_by: r.try_get("created_by")?,
            created_at: r.try_get("created_at")?,
        })
    })
    .await
}

/// The id here of the parent's campaign `origin_id`, if taken.
pub(in crate::screening) async fn campaign_from_parent(
    state: &AppState,
    origin_id: i64,
) -> AppResult<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM screening_campaigns WHERE origin_id = $1")
            .bind(origin_id)
            .fetch_optional(state.db.pool())
            .await?,
    )
}

/// Take the parent's campaign here (`origin = 'parent'`, its id kept).
pub(in crate::screening) async fn insert_parent_campaign(
    tx: &mut Tx,
    c: &OwnedCampaign,
) -> AppResult<i64> {
    let now = tx.now();
    tx.insert(
        sqlx::query(
            "INSERT INTO screening_campaigns (region_code, name, purpose, starts_on, ends_on, \
         ask_history, ask_symptoms, ask_temperature, created_by, created_at, origin, origin_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'parent', $11) RETURNING id",
        )
        .bind(c.region_code.as_str())
        .bind(c.name.as_str())
        .bind(c.purpose.as_str())
        .bind(c.starts_on.as_str())
        .bind(c.ends_on.as_str())
        .bind(i64::from(c.ask[0]))
        .bind(i64::from(c.ask[1]))
        .bind(i64::from(c.ask[2]))
        .bind(c.created_by.as_str())
        .bind(now)
        .bind(c.id),
    )
    .await
}

/// The parent's campaigns taken here that end on or after `day` (`YYYY-MM-DD`): (id here,
/// the parent's id, region). Their coverage goes up.
pub(in crate::screening) async fn parent_campaigns_open(
    state: &AppState,
    day: &str,
) -> AppResult<Vec<(i64, i64, String)>> {
    let rows = sqlx::query(
        "SELECT id, origin_id, region_code FROM screening_campaigns \
         WHERE origin = 'parent' AND origin_id IS NOT NULL AND ends_on >= $1 ORDER BY id",
    )
    .bind(day)
    .fetch_all(state.db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                r.try_get("origin_id")?,
                r.try_get("region_code")?,
            ))
        })
        .collect()
}
