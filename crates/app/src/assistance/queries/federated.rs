//! The SQL of assistance policy going down a federation link (migration 0058): what the parent
//! lists for a node, and how the child stores what it takes (`origin = 'parent'`).

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::assistance::federated::{OwnedPeriod, OwnedStandard};
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::error::AppResult;
use crate::kernel::queries::all;
use crate::state::AppState;

fn owned_standard(r: &AnyRow) -> Result<OwnedStandard, sqlx::Error> {
    Ok(OwnedStandard {
        region_code: r.try_get("region_code")?,
        programme: r.try_get("programme")?,
        area_kind: r.try_get("area_kind")?,
        component: r.try_get("component")?,
        amount_fen: r.try_get("amount_fen")?,
        effective_from: r.try_get("effective_from")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
    })
}

fn owned_period(r: &AnyRow) -> Result<OwnedPeriod, sqlx::Error> {
    Ok(OwnedPeriod {
        id: r.try_get("id")?,
        region_code: r.try_get("region_code")?,
        name: r.try_get("name")?,
        starts_on: r.try_get("starts_on")?,
        ends_on: r.try_get("ends_on")?,
        measures: r.try_get("measures")?,
        status: r.try_get("status")?,
        declared_by: r.try_get("declared_by")?,
        ended_by: r.try_get("ended_by")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Standards under the handle or at a region `above` it, made at or after `since`.
pub(in crate::assistance) async fn standards_since(
    state: &AppState,
    scope: &Scoped<'_>,
    above: &[String],
    since: i64,
) -> AppResult<Vec<OwnedStandard>> {
    let rest = format!(
        " AND created_at >= ${} ORDER BY created_at, id LIMIT 5000",
        3 + above.len()
    );
    let q = super::under_or_above(
        scope,
        "region_code, programme, area_kind, component, amount_fen, effective_from, created_by, created_at",
        "assistance_standards",
        above,
        &rest,
    )
    .bind(since);
    all(state, q, owned_standard).await
}

/// Emergency periods under the handle or at a region `above` it, changed at or after `since`.
pub(in crate::assistance) async fn periods_since(
    state: &AppState,
    scope: &Scoped<'_>,
    above: &[String],
    since: i64,
) -> AppResult<Vec<OwnedPeriod>> {
    let rest = format!(
        " AND updated_at >= ${} ORDER BY updated_at, id LIMIT 5000",
        3 + above.len()
    );
    let q = super::under_or_above(
        scope,
        "id, region_code, name, starts_on, ends_on, measures, status, declared_by, ended_by, updated_at",
        "assistance_emergencies",
        above,
        &rest,
    )
    .bind(since);
    all(state, q, owned_period).await
}

/// The standard here with the same region, programme, area, component and date: its id,
/// amount and origin.
pub(in crate::assistance) async fn standard_at(
    state: &AppState,
    s: &OwnedStandard,
) -> AppResult<Option<(i64, i64, String)>> {
    let row = sqlx::query(
        "SELECT id, amount_fen, origin FROM assistance_standards WHERE region_code = $1 AND programme = $2 \
         AND area_kind = $3 AND component = $4 AND effective_from = $5",
    )
    .bind(s.region_code.clone())
    .bind(s.programme.clone())
    .bind(s.area_kind.clone())
    .bind(s.component.clone())
    .bind(s.effective_from.clone())
    .fetch_optional(state.db.pool())
    .await?;
    Ok(match row {
        None => None,
        Some(r) => Some((
            r.try_get("id")?,
            r.try_get("amount_fen")?,
            r.try_get("origin")?,
        )),
    })
}

/// The parent's amount replaces the one set here; the row becomes the parent's.
pub(in crate::assistance) async fn standard_to_parent(
    tx: &mut Tx,
    id: i64,
    amount: i64,
) -> AppResult<()> {
    let q = sqlx::query(
        "UPDATE assistance_standards SET amount_fen = $1, origin = 'parent' WHERE id = $2",
    )
    .bind(amount)
    .bind(id);
    tx.exec(q).await
}

pub(in crate::assistance) async fn insert_parent_standard(
    tx: &mut Tx,
    s: &OwnedStandard,
) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO assistance_standards (region_code, programme, area_kind, component, amount_fen, effective_from, \
         created_by, created_at, origin) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'parent') RETURNING id",
    )
    .bind(s.region_code.clone())
    .bind(s.programme.clone())
    .bind(s.area_kind.clone())
    .bind(s.component.clone())
    .bind(s.amount_fen)
    .bind(s.effective_from.clone())
    .bind(s.created_by.clone())
    .bind(now);
    tx.insert(q).await
}

/// A period taken from the parent, as stored here.
pub(in crate::assistance) struct TakenPeriod {
    pub id: i64,
    pub name: String,
    pub starts_on: String,
    pub ends_on: String,
    pub measures: String,
    pub status: String,
}

/// The period here that the parent's period `parent_id` became.
pub(in crate::assistance) async fn period_from_parent(
    state: &AppState,
    parent_id: i64,
) -> AppResult<Option<TakenPeriod>> {
    let row = sqlx::query(
        "SELECT id, name, starts_on, ends_on, measures, status FROM assistance_emergencies \
         WHERE origin = 'parent' AND origin_id = $1",
    )
    .bind(parent_id)
    .fetch_optional(state.db.pool())
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(TakenPeriod {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        starts_on: r.try_get("starts_on")?,
        ends_on: r.try_get("ends_on")?,
        measures: r.try_get("measures")?,
        status: r.try_get("status")?,
    }))
}

pub(in crate::assistance) async fn insert_parent_period(
    tx: &mut Tx,
    p: &OwnedPeriod,
) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO assistance_emergencies (region_code, name, starts_on, ends_on, measures, status, declared_by, \
         ended_by, ended_at, created_at, updated_at, origin, origin_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, 'parent', $11) RETURNING id",
    )
    .bind(p.region_code.clone())
    .bind(p.name.clone())
    .bind(p.starts_on.clone())
    .bind(p.ends_on.clone())
    .bind(p.measures.clone())
    .bind(p.status.clone())
    .bind(p.declared_by.clone())
    .bind(p.ended_by.clone())
    .bind((p.status == "ended").then_some(now))
    .bind(now)
    .bind(p.id);
    tx.insert(q).await
}

pub(in crate::assistance) async fn update_parent_period(
    tx: &mut Tx,
    id: i64,
    p: &OwnedPeriod,
) -> AppResult<()> {
    let now = tx.now();
    let q = sqlx::query(
        "UPDATE assistance_emergencies SET name = $1, starts_on = $2, ends_on = $3, measures = $4, status = $5, \
         ended_by = $6, ended_at = CASE WHEN $5 = 'ended' THEN COALESCE(ended_at, $7) ELSE NULL END, \
         updated_at = $7 WHERE id = $8",
    )
    .bind(p.name.clone())
    .bind(p.starts_on.clone())
    .bind(p.ends_on.clone())
    .bind(p.measures.clone())
    .bind(p.status.clone())
    .bind(p.ended_by.clone())
    .bind(now)
    .bind(id);
    tx.exec(q).await
}
