//! SQL of the open-time sealing step: whether it has completed, its record, and the sealing
//! of one column's clear rows (read in batches, each row's ciphertext written and its clear
//! value blanked in the field's transaction), and the keying of the cross-check fingerprints
//! stored unkeyed. Table and column names come only from `privacy::SEALED` (constants), never
//! from input.

use backstop_store::Backend;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Field, Kind, STATUS_ACTIVE, STATUS_CLOSED, seal, seal_int, seal_opt, seal_opt_int};
use crate::kernel::access::Tx;
use crate::kernel::crypto::KeyRing;
use crate::kernel::error::AppResult;
use crate::state::AppState;

const BATCH: i64 = 500;

pub(super) async fn step_done(state: &AppState, step: i64) -> AppResult<bool> {
    let n: Option<i64> = sqlx::query_scalar("SELECT step FROM privacy_sealing WHERE step = $1")
        .bind(step)
        .fetch_optional(state.db.pool())
        .await?;
    Ok(n.is_some())
}

/// Record that every row has been sealed (a marker, not a change about anyone: unaudited).
pub(super) async fn record_step(state: &AppState, step: i64) -> AppResult<()> {
    let mut w = state.db.begin_write().await?;
    sqlx::query(
        "INSERT INTO privacy_sealing (step, done_at) VALUES ($1, $2) ON CONFLICT (step) DO NOTHING",
    )
    .bind(step)
    .bind(state.now_ms())
    .execute(w.conn())
    .await?;
    w.commit().await?;
    Ok(())
}

/// Rewrite the storage so that values overwritten by the sealing leave no copy behind.
pub(super) async fn scrub(state: &AppState, tables: &[&str]) -> AppResult<()> {
    match state.db.backend() {
        Backend::Sqlite => {
            sqlx::raw_sql("VACUUM").execute(state.db.pool()).await?;
            sqlx::raw_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(state.db.pool())
                .await?;
        }
        Backend::Postgres => {
            let mut done: Vec<&str> = Vec::new();
            for t in tables {
                if done.contains(t) {
                    continue;
                }
                done.push(t);
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("VACUUM FULL {t}")))
                    .execute(state.db.pool())
                    .await?;
            }
        }
    }
    Ok(())
}

/// A key value of a row.
enum KeyValue {
    Int(i64),
    Text(String),
}

/// The ciphertext of a row's clear value, read as its kind.
fn sealed_value(keys: &KeyRing, f: &Field, r: &AnyRow) -> Result<Vec<u8>, sqlx::Error> {
    let c = f.column;
    Ok(match f.kind {
        Kind::Text | Kind::Outcome => seal(keys, &r.try_get::<String, _>(c)?),
        Kind::OptText => seal_opt(keys, r.try_get::<Option<String>, _>(c)?.as_deref()),
        Kind::Int => seal_int(keys, r.try_get(c)?),
        Kind::OptInt => seal_opt_int(keys, r.try_get(c)?),
    })
}

fn blank(kind: Kind) -> String {
    match kind {
        Kind::Text => "''".into(),
        Kind::OptText | Kind::OptInt => "NULL".into(),
        Kind::Int => "0".into(),
        Kind::Outcome => format!("'{STATUS_CLOSED}'"),
    }
}

/// Seal the clear rows of one column; returns how many were sealed.
pub(super) async fn seal_field(tx: &mut Tx, keys: &KeyRing, f: &Field) -> AppResult<u64> {
    let (t, c) = (f.table, f.column);
    let pending = match f.kind {
        Kind::Outcome => {
            format!("{c}_enc IS NULL AND {c} <> '{STATUS_ACTIVE}' AND {c} <> '{STATUS_CLOSED}'")
        }
        _ => format!("{c}_enc IS NULL"),
    };
    let pending = if f.only.is_empty() {
        pending
    } else {
        format!("{pending} AND ({})", f.only)
    };
    let key_list = f.keys.join(", ");
    let select = format!("SELECT {key_list}, {c} FROM {t} WHERE {pending} LIMIT {BATCH}");
    let key_match = f
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| format!("{k} = ${}", i + 2))
        .collect::<Vec<_>>()
        .join(" AND ");
    let update = format!(
        "UPDATE {t} SET {c}_enc = $1, {c} = {} WHERE {key_match} AND {c}_enc IS NULL",
        blank(f.kind)
    );
    let mut total = 0u64;
    loop {
        let rows = sqlx::query(sqlx::AssertSqlSafe(select.clone()))
            .fetch_all(tx.conn())
            .await?;
        if rows.is_empty() {
            return Ok(total);
        }
        let before = total;
        for r in &rows {
            let enc = sealed_value(keys, f, r)?;
            let mut key_values = Vec::with_capacity(f.keys.len());
            for k in f.keys {
                key_values.push(if f.text_keys.contains(k) {
                    KeyValue::Text(r.try_get(*k)?)
                } else {
                    KeyValue::Int(r.try_get(*k)?)
                });
            }
            let mut q = sqlx::query(sqlx::AssertSqlSafe(update.clone())).bind(enc);
            for v in key_values {
                q = match v {
                    KeyValue::Int(i) => q.bind(i),
                    KeyValue::Text(s) => q.bind(s),
                };
            }
            total += q.execute(tx.conn()).await?.rows_affected();
        }
        if total == before {
            return Ok(total);
        }
    }
}

/// Replace every unkeyed (64 hex characters, SHA-256) cross-check fingerprint by its keyed
/// blind index (32); returns how many rows changed. A keyed one is never touched again.
pub(super) async fn rekey_fingerprints(tx: &mut Tx, keys: &KeyRing) -> AppResult<u64> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, fingerprint FROM crosschecks WHERE LENGTH(fingerprint) = 64 ORDER BY id",
    )
    .fetch_all(tx.conn())
    .await?;
    let mut total = 0u64;
    for (id, old) in rows {
        let keyed = crate::crosscheck::rules::fingerprint_of(keys, &old);
        total += sqlx::query(
            "UPDATE crosschecks SET fingerprint = $1 WHERE id = $2 AND fingerprint = $3",
        )
        .bind(keyed)
        .bind(id)
        .bind(old)
        .execute(tx.conn())
        .await?
        .rows_affected();
    }
    Ok(total)
}
