//! The statements of households (家庭户): the household row, its members (persons pointing at
//! it with a relationship to the head), the list under a handle, and the persons of a region
//! not yet in any household (the candidates a worker adds).

use sqlx::{AnyConnection, Row};

use super::{COLS, Stored, stored_from_row};
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::queries::{all, ranged, region_name, set_disabled, text_or_empty};
use crate::state::AppState;

/// A household row as stored.
#[derive(Debug, Clone)]
pub(crate) struct HouseholdRow {
    pub id: i64,
    pub region_code: String,
    pub region_name: String,
    pub address: String,
    pub disabled: bool,
}

/// A household in a list: its row, its head's name (empty when none) and how many members.
#[derive(Debug, Clone)]
pub(crate) struct HouseholdLine {
    pub row: HouseholdRow,
    pub head: String,
    pub members: i64,
}

fn household_from(r: &sqlx::any::AnyRow) -> Result<HouseholdRow, sqlx::Error> {
    Ok(HouseholdRow {
        id: r.try_get("id")?,
        region_code: r.try_get("region_code")?,
        region_name: region_name(r)?,
        address: r.try_get("address")?,
        disabled: r.try_get::<i64, _>("disabled")? != 0,
    })
}

/// A new household with its members (already admitted); returns its id.
pub(crate) async fn insert_household(
    tx: &mut Tx,
    region: &str,
    address: &str,
    members: &[(i64, &str)],
) -> AppResult<i64> {
    let now = tx.now();
    let hid: i64 = sqlx::query_scalar(
        "INSERT INTO households (region_code, address, created_at, updated_at) \
         VALUES ($1, $2, $3, $3) RETURNING id",
    )
    .bind(region)
    .bind(address)
    .bind(now)
    .fetch_one(tx.conn())
    .await?;
    for (pid, rel) in members {
        set_member(tx, *pid, Some((hid, rel))).await?;
    }
    Ok(hid)
}

/// Put a person in a household with a relationship, or (`None`) take them out of any.
pub(crate) async fn set_member(
    tx: &mut Tx,
    person: i64,
    membership: Option<(i64, &str)>,
) -> AppResult<()> {
    let now = tx.now();
    sqlx::query(
        "UPDATE persons SET household_id = $1, relationship = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(membership.map(|(h, _)| h))
    .bind(membership.map(|(_, r)| r).unwrap_or(""))
    .bind(now)
    .bind(person)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A household's new address.
pub(crate) async fn set_address(tx: &mut Tx, id: i64, address: &str) -> AppResult<()> {
    let now = tx.now();
    tx.exec(
        sqlx::query("UPDATE households SET address = $1, updated_at = $2 WHERE id = $3")
            .bind(address)
            .bind(now)
            .bind(id),
    )
    .await
}

/// A household under the handle (outside it: *not found*).
pub(crate) async fn household_row(
    conn: &mut AnyConnection,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<HouseholdRow> {
    let row = sqlx::query(
        "SELECT h.id, h.region_code, r.name AS region_name, h.address, h.disabled FROM households h \
         LEFT JOIN regions r ON r.code = h.region_code WHERE h.id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(AppError::not_found)?;
    let h = household_from(&row)?;
    let code = h.region_code.clone();
    scope.admit(&code, h)
}

/// A household under the handle and its members under the handle.
pub(crate) async fn household(
    state: &AppState,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<(HouseholdRow, Vec<Stored>)> {
    let mut conn = state.db.pool().acquire().await?;
    let h = household_row(&mut conn, scope, id).await?;
    let members = members(&mut conn, scope, id).await?;
    Ok((h, members))
}

/// The members of a household that are under the handle, head first.
pub(crate) async fn members(
    conn: &mut AnyConnection,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<Vec<Stored>> {
    let (lo, hi) = scope.range();
    let sql = format!(
        "SELECT {COLS} FROM persons p LEFT JOIN regions r ON r.code = p.region_code \
         WHERE p.household_id = $1 AND p.region_code >= $2 AND p.region_code < $3 \
         ORDER BY CASE WHEN p.relationship = 'head' THEN 0 ELSE 1 END, p.id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(lo)
        .bind(hi)
        .fetch_all(conn)
        .await?;
    Ok(rows.iter().map(stored_from_row).collect::<Result<_, _>>()?)
}

/// Households under the handle, newest first: (total, a page of lines).
pub(crate) async fn list(
    state: &AppState,
    scope: &Scoped<'_>,
    disabled: bool,
    limit: i64,
    offset: i64,
) -> AppResult<(i64, Vec<HouseholdLine>)> {
    let (lo, hi) = scope.range();
    let total: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM households WHERE region_code >= $1 AND region_code < $2 \
         AND disabled = $3",
    )
    .bind(lo)
    .bind(hi)
    .bind(i64::from(disabled))
    .fetch_one(state.db.pool())
    .await?;
    let rows = sqlx::query(
        "SELECT h.id, h.region_code, r.name AS region_name, h.address, h.disabled, \
         (SELECT MIN(p.name) FROM persons p WHERE p.household_id = h.id AND p.relationship = 'head') AS head, \
         (SELECT CAST(COUNT(*) AS BIGINT) FROM persons p WHERE p.household_id = h.id) AS members \
         FROM households h LEFT JOIN regions r ON r.code = h.region_code \
         WHERE h.region_code >= $1 AND h.region_code < $2 AND h.disabled = $3 \
         ORDER BY h.id DESC LIMIT $4 OFFSET $5",
    )
    .bind(lo)
    .bind(hi)
    .bind(i64::from(disabled))
    .bind(limit)
    .bind(offset)
    .fetch_all(state.db.pool())
    .await?;
    let lines = rows
        .iter()
        .map(|r| {
            Ok(HouseholdLine {
                row: household_from(r)?,
                head: text_or_empty(r, "head")?,
                members: r.try_get("members")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok((total, lines))
}

/// Persons of `region` and below (under the handle) in no household, by name: the people a
/// worker can add to a household there (at most `limit`).
pub(crate) async fn without_household(
    state: &AppState,
    scope: &Scoped<'_>,
    region: &str,
    limit: i64,
) -> AppResult<Vec<Stored>> {
    let sql = format!(
        "SELECT {COLS} FROM persons p LEFT JOIN regions r ON r.code = p.region_code \
         WHERE p.household_id IS NULL AND p.deceased = 0 AND p.disabled = 0 \
         AND p.region_code >= $1 AND p.region_code < $2 AND p.region_code LIKE $3 \
         ORDER BY p.name, p.id LIMIT $4"
    );
    all(
        state,
        ranged(scope, sql).bind(format!("{region}%")).bind(limit),
        stored_from_row,
    )
    .await
}

/// Disable or enable a household.
pub(crate) async fn set_household_disabled(tx: &mut Tx, id: i64, disabled: bool) -> AppResult<()> {
    set_disabled(tx, "households", id, disabled).await
}

/// Disable or enable a person.
pub(crate) async fn set_person_disabled(tx: &mut Tx, id: i64, disabled: bool) -> AppResult<()> {
    set_disabled(tx, "persons", id, disabled).await
}
