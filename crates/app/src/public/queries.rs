//! Every SQL statement of the public face: region texts, one-time codes, public sessions.

use sqlx::Row;

use super::PublicInfo;
use crate::kernel::access::Tx;
use crate::kernel::error::AppResult;
use crate::state::AppState;

const MINUTE_MS: i64 = 60_000;

pub(super) async fn info(state: &AppState, code: &str) -> AppResult<Option<PublicInfo>> {
    Ok(info_with_origin(state, code).await?.map(|r| r.info))
}

/// Set a region's texts in an audited transaction: by an official here (`origin` `local`) or
/// as sent down by the parent deployment (`parent`).
pub(super) async fn put_info(tx: &mut Tx, i: &PublicInfo, by: &str, origin: &str) -> AppResult<()> {
    let q = sqlx::query(
        "INSERT INTO public_info (province, region_code, hotlines, visiting, assistance, updated_by, updated_at, origin) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (province, region_code) DO UPDATE SET hotlines = excluded.hotlines, \
         visiting = excluded.visiting, assistance = excluded.assistance, \
         updated_by = excluded.updated_by, updated_at = excluded.updated_at, origin = excluded.origin",
    )
    .bind(i.region_code.chars().take(2).collect::<String>())
    .bind(i.region_code.clone())
    .bind(i.hotlines.clone())
    .bind(i.visiting.clone())
    .bind(i.assistance.clone())
    .bind(by.to_string())
    .bind(tx.now())
    .bind(origin.to_string());
    tx.exec(q).await
}

/// A region's texts as they go down a federation link, with who wrote them and when.
pub(super) struct InfoRow {
    pub info: PublicInfo,
    pub origin: String,
    pub updated_by: String,
    pub updated_at: i64,
}

fn info_row(r: &sqlx::any::AnyRow) -> Result<InfoRow, sqlx::Error> {
    Ok(InfoRow {
        info: PublicInfo {
            region_code: r.try_get("region_code")?,
            hotlines: r.try_get("hotlines")?,
            visiting: r.try_get("visiting")?,
            assistance: r.try_get("assistance")?,
        },
        origin: r.try_get("origin")?,
        updated_by: r.try_get("updated_by")?,
        updated_at: r.try_get("updated_at")?,
    })
}

const INFO_COLS: &str =
    "region_code, hotlines, visiting, assistance, origin, updated_by, updated_at";

/// A region's row with its origin, if any.
pub(super) async fn info_with_origin(state: &AppState, code: &str) -> AppResult<Option<InfoRow>> {
    let sql =
        format!("SELECT {INFO_COLS} FROM public_info WHERE province = $1 AND region_code = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(code.chars().take(2).collect::<String>())
        .bind(code.to_string())
        .fetch_optional(state.db.pool())
        .await?;
    Ok(row.as_ref().map(info_row).transpose()?)
}

/// Rows under the handle or at a region `above` it, written at or after `since`, oldest first.
pub(super) async fn infos_since(
    state: &AppState,
    scope: &crate::kernel::access::Scoped<'_>,
    above: &[String],
    since: i64,
) -> AppResult<Vec<InfoRow>> {
    let mut sql = format!(
        "SELECT {INFO_COLS} FROM public_info WHERE updated_at >= $3 AND ((region_code >= $1 AND region_code < $2)"
    );
    for i in 0..above.len() {
        sql.push_str(&format!(" OR region_code = ${}", 4 + i));
    }
    sql.push_str(") ORDER BY updated_at, region_code LIMIT 5000");
    let mut q = crate::kernel::queries::ranged(scope, sql).bind(since);
    for a in above {
        q = q.bind(a.clone());
    }
    crate::kernel::queries::all(state, q, info_row).await
}

/// Codes sent to a phone in the last minute and the last hour.
pub(super) async fn recent_codes(state: &AppState, index: &str, now: i64) -> AppResult<(i64, i64)> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(CASE WHEN created_at > $2 THEN 1 ELSE 0 END), 0) AS BIGINT) AS m, \
         CAST(COUNT(*) AS BIGINT) AS h FROM public_codes WHERE phone_index = $1 AND created_at > $3",
    )
    .bind(index)
    .bind(now - MINUTE_MS)
    .bind(now - 60 * MINUTE_MS)
    .fetch_one(state.db.pool())
    .await?;
    Ok((row.try_get("m")?, row.try_get("h")?))
}

pub(super) async fn insert_code(
    conn: &mut sqlx::AnyConnection,
    index: &str,
    hash: &str,
    now: i64,
    expires_at: i64,
    source: &str,
) -> AppResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO public_codes (phone_index, code_hash, created_at, expires_at, source) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(index)
    .bind(hash)
    .bind(now)
    .bind(expires_at)
    .bind(source)
    .fetch_one(conn)
    .await?)
}

/// The latest unspent, unexpired code of a phone: id, hash, tries so far.
pub(super) async fn live_code(
    state: &AppState,
    index: &str,
    now: i64,
) -> AppResult<Option<(i64, String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT id, code_hash, tries FROM public_codes WHERE phone_index = $1 \
         AND used_at IS NULL AND expires_at > $2 ORDER BY id DESC LIMIT 1",
    )
    .bind(index)
    .bind(now)
    .fetch_optional(state.db.pool())
    .await?)
}

pub(super) async fn count_try(conn: &mut sqlx::AnyConnection, id: i64) -> AppResult<()> {
    sqlx::query("UPDATE public_codes SET tries = tries + 1 WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn spend_code(conn: &mut sqlx::AnyConnection, id: i64, now: i64) -> AppResult<()> {
    sqlx::query("UPDATE public_codes SET used_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn insert_session(
    conn: &mut sqlx::AnyConnection,
    hash: &str,
    index: &str,
    phone_enc: Vec<u8>,
    now: i64,
    expires_at: i64,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO public_sessions (token_hash, phone_index, phone_enc, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(hash)
    .bind(index)
    .bind(phone_enc)
    .bind(now)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A live public session: id, phone index, sealed phone.
pub(super) async fn live_session(
    state: &AppState,
    hash: &str,
    now: i64,
) -> AppResult<Option<(i64, String, Vec<u8>)>> {
    Ok(sqlx::query_as(
        "SELECT id, phone_index, phone_enc FROM public_sessions WHERE token_hash = $1 \
         AND revoked_at IS NULL AND expires_at > $2",
    )
    .bind(hash)
    .bind(now)
    .fetch_optional(state.db.pool())
    .await?)
}

pub(super) async fn end_session(
    conn: &mut sqlx::AnyConnection,
    id: i64,
    now: i64,
) -> AppResult<()> {
    sqlx::query("UPDATE public_sessions SET revoked_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}
