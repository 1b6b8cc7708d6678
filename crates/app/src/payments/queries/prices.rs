//! Price indices, the provinces' subsidy rules, the dibao standards a subsidy is computed
//! from (inherited up the region tree), and one-off grants.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::super::{Grant, PriceIndex, PriceRule};
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::queries::all;
use crate::state::AppState;

fn index_from_row(r: &AnyRow) -> Result<PriceIndex, sqlx::Error> {
    let cpi: i64 = r.try_get("cpi_tenths")?;
    let food: i64 = r.try_get("food_cpi_tenths")?;
    Ok(PriceIndex {
        id: r.try_get("id")?,
        region_code: r.try_get("region_code")?,
        month: r.try_get("month")?,
        cpi_tenths: cpi,
        food_cpi_tenths: food,
        cpi: backstop_core::price_subsidy::percent(cpi),
        food_cpi: backstop_core::price_subsidy::percent(food),
    })
}

/// Is there an index for the region and month already?
pub(in crate::payments) async fn index_exists(
    tx: &mut Tx,
    region: &str,
    month: &str,
) -> AppResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM price_indices WHERE region_code = $1 AND month = $2",
    )
    .bind(region)
    .bind(month)
    .fetch_one(tx.conn())
    .await?;
    Ok(n > 0)
}

pub(in crate::payments) async fn insert_index(
    tx: &mut Tx,
    i: &PriceIndex,
    who: &str,
) -> AppResult<i64> {
    let now = tx.now();
    Ok(sqlx::query_scalar(
        "INSERT INTO price_indices (region_code, month, cpi_tenths, food_cpi_tenths, created_by, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(&i.region_code)
    .bind(&i.month)
    .bind(i.cpi_tenths)
    .bind(i.food_cpi_tenths)
    .bind(who)
    .bind(now)
    .fetch_one(tx.conn())
    .await?)
}

/// The index that applies to a county in a month: the city's where set, else the province's.
pub(in crate::payments) async fn index_for(
    tx: &mut Tx,
    lineage: &[String],
    month: &str,
) -> AppResult<Option<PriceIndex>> {
    for code in lineage {
        let row = sqlx::query(
            "SELECT id, region_code, month, cpi_tenths, food_cpi_tenths FROM price_indices \
             WHERE region_code = $1 AND month = $2",
        )
        .bind(code)
        .bind(month)
        .fetch_optional(tx.conn())
        .await?;
        if let Some(r) = row {
            return Ok(Some(index_from_row(&r)?));
        }
    }
    Ok(None)
}

/// A province's rule: (cpi, food, rounding, minimum fen), if it set one.
pub(in crate::payments) async fn rule(
    tx: &mut Tx,
    province: &str,
) -> AppResult<Option<(i64, i64, String, i64)>> {
    let row = sqlx::query(
        "SELECT cpi_tenths, food_cpi_tenths, rounding, minimum_fen FROM price_subsidy_rules \
         WHERE region_code = $1",
    )
    .bind(province)
    .fetch_optional(tx.conn())
    .await?;
    Ok(match row {
        Some(r) => Some((
            r.try_get("cpi_tenths")?,
            r.try_get("food_cpi_tenths")?,
            r.try_get("rounding")?,
            r.try_get("minimum_fen")?,
        )),
        None => None,
    })
}

pub(in crate::payments) async fn put_rule(
    tx: &mut Tx,
    province: &str,
    (cpi, food, rounding, minimum): (i64, i64, &str, i64),
    who: &str,
) -> AppResult<()> {
    let now = tx.now();
    sqlx::query("DELETE FROM price_subsidy_rules WHERE region_code = $1")
        .bind(province)
        .execute(tx.conn())
        .await?;
    sqlx::query(
        "INSERT INTO price_subsidy_rules (region_code, cpi_tenths, food_cpi_tenths, rounding, \
         minimum_fen, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(province)
    .bind(cpi)
    .bind(food)
    .bind(rounding)
    .bind(minimum)
    .bind(who)
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The dibao base standard (fen per person per month) for `area` (`urban` / `rural`) in force
/// on `on` (`YYYY-MM-DD`) for the county whose lineage (county first, then city, province) is
/// given: the nearest region that set one, its latest effective-from on or before `on`.
pub(in crate::payments) async fn dibao_standard(
    tx: &mut Tx,
    lineage: &[String],
    area: &str,
    on: &str,
) -> AppResult<Option<i64>> {
    for code in lineage {
        let v: Option<i64> = sqlx::query_scalar(
            "SELECT amount_fen FROM assistance_standards WHERE region_code = $1 \
             AND programme = 'dibao' AND component = 'base' AND area_kind = $2 \
             AND effective_from <= $3 ORDER BY effective_from DESC LIMIT 1",
        )
        .bind(code)
        .bind(area)
        .bind(on)
        .fetch_optional(tx.conn())
        .await?;
        if v.is_some() {
            return Ok(v);
        }
    }
    Ok(None)
}

const GRANT_COLS: &str = "id, region_code, name, programmes, per, amount_fen, as_of, created_by";

fn grant_from_row(r: &AnyRow) -> Result<Grant, sqlx::Error> {
    let programmes: String = r.try_get("programmes")?;
    let amount: i64 = r.try_get("amount_fen")?;
    Ok(Grant {
        id: r.try_get("id")?,
        region_code: r.try_get("region_code")?,
        name: r.try_get("name")?,
        programmes: programmes.split(',').map(str::to_string).collect(),
        per: r.try_get("per")?,
        amount_fen: amount,
        amount_yuan: backstop_core::Fen(amount).to_yuan_string(),
        as_of: r.try_get("as_of")?,
        created_by: r.try_get("created_by")?,
    })
}

pub(in crate::payments) async fn insert_grant(tx: &mut Tx, g: &Grant) -> AppResult<i64> {
    let now = tx.now();
    Ok(sqlx::query_scalar(
        "INSERT INTO payment_grants (region_code, name, programmes, per, amount_fen, as_of, \
         created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(&g.region_code)
    .bind(&g.name)
    .bind(g.programmes.join(","))
    .bind(&g.per)
    .bind(g.amount_fen)
    .bind(&g.as_of)
    .bind(&g.created_by)
    .bind(now)
    .fetch_one(tx.conn())
    .await?)
}

/// The grant `id`, on the open write, if its region lies under the handle (a county's
/// handle) or above it (a province-wide grant paid by each of its counties); else not found.
pub(in crate::payments) async fn grant(
    tx: &mut Tx,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<Grant> {
    let sql = format!("SELECT {GRANT_COLS} FROM payment_grants WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(AppError::not_found)?;
    let g = grant_from_row(&row)?;
    if scope.node().as_str().starts_with(g.region_code.as_str()) {
        return Ok(g);
    }
    let code = g.region_code.clone();
    scope.admit(&code, g)
}

/// `sql` with the handle's range as `$1`, `$2` and the province and city of its node as `$3`,
/// `$4`: rows under the handle, or on the path above it (the province's index or rule a
/// county applies; a province-wide grant a county pays).
fn under_or_above<'q>(scope: &Scoped<'_>, sql: String) -> crate::kernel::queries::AnyQuery<'q> {
    let node = scope.node().as_str();
    let province: String = node.chars().take(2).collect();
    let city: String = node.chars().take(4).collect();
    crate::kernel::queries::ranged(scope, sql)
        .bind(province)
        .bind(city)
}

const UNDER_OR_ABOVE: &str =
    "((region_code >= $1 AND region_code < $2) OR region_code = $3 OR region_code = $4)";

/// Grants under the handle or above it, newest first.
pub(in crate::payments) async fn grants(
    state: &AppState,
    scope: &Scoped<'_>,
) -> AppResult<Vec<Grant>> {
    let sql = format!(
        "SELECT {GRANT_COLS} FROM payment_grants WHERE {UNDER_OR_ABOVE} ORDER BY as_of DESC, id DESC \
         LIMIT 500"
    );
    all(state, under_or_above(scope, sql), grant_from_row).await
}

/// Indices under the handle or above it, newest month first.
pub(in crate::payments) async fn indices(
    state: &AppState,
    scope: &Scoped<'_>,
) -> AppResult<Vec<PriceIndex>> {
    let sql = format!(
        "SELECT id, region_code, month, cpi_tenths, food_cpi_tenths FROM price_indices \
         WHERE {UNDER_OR_ABOVE} ORDER BY month DESC, region_code LIMIT 500"
    );
    all(state, under_or_above(scope, sql), index_from_row).await
}

/// The provinces' rules under the handle or above it.
pub(in crate::payments) async fn rules(
    state: &AppState,
    scope: &Scoped<'_>,
) -> AppResult<Vec<PriceRule>> {
    let sql = format!(
        "SELECT region_code, cpi_tenths, food_cpi_tenths, rounding, minimum_fen \
         FROM price_subsidy_rules WHERE {UNDER_OR_ABOVE} ORDER BY region_code"
    );
    all(state, under_or_above(scope, sql), |r| {
        Ok(PriceRule {
            province: r.try_get("region_code")?,
            cpi_tenths: r.try_get("cpi_tenths")?,
            food_cpi_tenths: r.try_get("food_cpi_tenths")?,
            rounding: r.try_get("rounding")?,
            minimum_fen: r.try_get("minimum_fen")?,
        })
    })
    .await
}
