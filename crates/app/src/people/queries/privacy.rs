//! The statements of `people::privacy`: find rows still in the old clear format, write them
//! sealed.

use sqlx::Row;

use crate::kernel::access::Tx;
use crate::kernel::error::AppResult;
use crate::people::SealedBirth;
use crate::state::AppState;

pub(crate) struct ClearRow {
    pub id: i64,
    pub birth_date: String,
    pub id_masked: String,
}

pub(crate) struct Resealed {
    pub id: i64,
    pub birth: SealedBirth,
    /// No clear birth date to move: leave the sealed columns as they are.
    pub keep_birth: bool,
    pub id_masked: String,
}

/// Up to `limit` persons with a clear birth date or an old-form ID mask.
pub(crate) async fn clear_rows(state: &AppState, limit: i64) -> AppResult<Vec<ClearRow>> {
    let rows = sqlx::query(
        "SELECT id, birth_date, id_masked FROM persons \
         WHERE birth_date <> '' OR (id_masked <> '' AND substr(id_masked, 15, 1) <> '*') \
         ORDER BY id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(state.db.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            Ok(ClearRow {
                id: r.try_get("id")?,
                birth_date: r.try_get("birth_date")?,
                id_masked: r.try_get("id_masked")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?)
}

/// Write a batch sealed, in the caller's transaction.
pub(crate) async fn write_sealed(tx: &mut Tx, rows: &[Resealed]) -> AppResult<()> {
    for r in rows {
        if r.keep_birth {
            sqlx::query("UPDATE persons SET id_masked = $1 WHERE id = $2")
                .bind(&r.id_masked)
                .bind(r.id)
                .execute(tx.conn())
                .await?;
        } else {
            sqlx::query(
                "UPDATE persons SET birth_date = '', birth_enc = $1, birth_year = $2, \
                 birth_index = $3, id_masked = $4 WHERE id = $5",
            )
            .bind(r.birth.enc.clone())
            .bind(r.birth.year)
            .bind(r.birth.index.clone())
            .bind(&r.id_masked)
            .bind(r.id)
            .execute(tx.conn())
            .await?;
        }
    }
    Ok(())
}
