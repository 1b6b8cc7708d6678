//! Every SQL statement of organisations, and the only file of the area that runs one.
//!
//! An organisation belongs to its region: lists are limited to the [`Scoped`] handle's range
//! in SQL and one fetched by id is let through [`Scoped::admit`] (outside: *not found*).
//! Writing functions take the open [`Tx`]; the service commits it with its entry.

use super::{Org, OrgKind};
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::error::AppResult;
use crate::kernel::queries::{AnyQuery, admitted, all, number, ranged};
use crate::state::AppState;

const COLS: &str = "o.id, o.name, o.kind, o.region_code, COALESCE(r.name, '') AS region_name, \
    o.contact_person, o.contact_phone, o.address, o.disabled";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Org, sqlx::Error> {
    let mut org: Org = sqlx::FromRow::from_row(r)?;
    org.kind_label = OrgKind::parse(&org.kind)
        .map(|k| k.label_zh())
        .unwrap_or("")
        .to_string();
    org.disabled = sqlx::Row::try_get::<i64, _>(r, "disabled")? != 0;
    Ok(org)
}

/// A new organisation row; returns its id.
pub(super) struct NewRow<'a> {
    pub name: &'a str,
    pub kind: OrgKind,
    pub region_code: &'a str,
    pub contact_person: &'a str,
    pub contact_phone: &'a str,
    pub address: &'a str,
}

pub(super) async fn insert(tx: &mut Tx, n: &NewRow<'_>) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO orgs (name, kind, region_code, contact_person, contact_phone, address, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
    );
    tx.insert(with_fields(q, n).bind(now)).await
}

/// `q` with a row's six fields bound as `$1` to `$6` (name, kind, region, contact person and
/// phone, address): the insert and the update write them alike.
fn with_fields<'q>(q: AnyQuery<'q>, n: &NewRow<'q>) -> AnyQuery<'q> {
    q.bind(n.name)
        .bind(n.kind.as_str())
        .bind(n.region_code)
        .bind(n.contact_person)
        .bind(n.contact_phone)
        .bind(n.address)
}

/// One organisation under the handle.
pub(super) async fn org(state: &AppState, scope: &Scoped<'_>, id: i64) -> AppResult<Org> {
    let sql = format!(
        "SELECT {COLS} FROM orgs o LEFT JOIN regions r ON r.code = o.region_code WHERE o.id = $1"
    );
    admitted(state, scope, sql, id, from_row, |o| &o.region_code).await
}

/// Organisations under the handle, optionally of one kind, by region and id.
pub(super) async fn orgs(
    state: &AppState,
    scope: &Scoped<'_>,
    kind: Option<OrgKind>,
) -> AppResult<Vec<Org>> {
    let mut sql = format!(
        "SELECT {COLS} FROM orgs o LEFT JOIN regions r ON r.code = o.region_code \
         WHERE o.region_code >= $1 AND o.region_code < $2"
    );
    if kind.is_some() {
        sql.push_str(" AND o.kind = $3");
    }
    sql.push_str(" ORDER BY o.region_code, o.id LIMIT 2000");
    let mut q = ranged(scope, sql);
    if let Some(k) = kind {
        q = q.bind(k.as_str());
    }
    all(state, q, from_row).await
}

/// Number of organisations under the handle.
pub(super) async fn count(state: &AppState, scope: &Scoped<'_>) -> AppResult<i64> {
    let sql =
        "SELECT CAST(COUNT(*) AS BIGINT) FROM orgs WHERE region_code >= $1 AND region_code < $2";
    number(state, ranged(scope, sql)).await
}

/// Overwrite an organisation's fields.
pub(super) async fn update(tx: &mut Tx, id: i64, n: &NewRow<'_>) -> AppResult<()> {
    let now = tx.now();
    let q = sqlx::query(
        "UPDATE orgs SET name = $1, kind = $2, region_code = $3, contact_person = $4, \
         contact_phone = $5, address = $6, updated_at = $7 WHERE id = $8",
    );
    tx.exec(with_fields(q, n).bind(now).bind(id)).await
}

/// Disable or enable an organisation.
pub(super) async fn set_disabled(tx: &mut Tx, id: i64, disabled: bool) -> AppResult<()> {
    crate::kernel::queries::set_disabled(tx, "orgs", id, disabled).await
}

/// The organisations under the handle in `region` exactly with this name and kind (how a child
/// deployment's organisation is matched to one the parent already keeps).
pub(super) async fn same(
    state: &AppState,
    scope: &Scoped<'_>,
    region: &str,
    name: &str,
    kind: &str,
) -> AppResult<Vec<i64>> {
    let sql = "SELECT id FROM orgs WHERE region_code >= $1 AND region_code < $2 \
               AND region_code = $3 AND name = $4 AND kind = $5 ORDER BY id LIMIT 2";
    let q = ranged(scope, sql)
        .bind(region.to_string())
        .bind(name.to_string())
        .bind(kind.to_string());
    all(state, q, |r| sqlx::Row::try_get::<i64, _>(r, "id")).await
}
