//! The national register of ID numbers (`person_numbers`, migration 0067): which blind-indexed
//! number is held, and in which province. It, not an index on `persons`, keeps one person per
//! number across the nation, so that `persons` can be distributed by province on a Citus
//! cluster (where a unique index must contain the province) while the register is distributed
//! by the number (ADR 0003, issue 22 item 3).
//!
//! Every write that gives a record a number claims it here first, in the same transaction: a
//! single registration ([`claim`], through `queries::insert` and `queries::update`) and the
//! roster import's batches ([`claim_many`]). A claim is `INSERT … ON CONFLICT (id_index)
//! DO NOTHING`: of two transactions claiming one number at once, the second waits for the
//! first and, once it commits, claims nothing. A move to another province moves the claim's
//! province with it ([`moved`]).
//!
//! SQLite has no register (migration 0067): one file with one writer is never distributed, and
//! `persons`' own `UNIQUE (id_index)` holds there. A claim is then nothing (the insert meets the
//! unique index, answered *conflict* as before), and a batch's claim is the look-up of the
//! numbers already on record — the writer lock keeps anyone from adding one in between.

use std::collections::HashSet;

use backstop_core::region::province_of;
use backstop_store::{Backend, repeat_list};
use sqlx::AnyConnection;

use backstop_core::error::ErrorCode;

use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// Claim `index` for a record in `region`; *conflict* when the number is already held (by a
/// record committed before, or by a transaction that committed while this one waited).
pub(crate) async fn claim(
    conn: &mut AnyConnection,
    index: &str,
    region: &str,
    now: i64,
) -> AppResult<()> {
    if sqlite(conn) {
        return Ok(());
    }
    let claimed = sqlx::query(
        "INSERT INTO person_numbers (id_index, province, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (id_index) DO NOTHING",
    )
    .bind(index)
    .bind(province_of(region))
    .bind(now)
    .execute(conn)
    .await?
    .rows_affected();
    if claimed == 1 {
        Ok(())
    } else {
        Err(AppError::msg(ErrorCode::Conflict, "该身份证号已登记"))
    }
}

/// The multi-row claim of a roster batch: `(blind index, region)` of each row with a number,
/// returning the numbers claimed (a number already held, or earlier in the same statement, is
/// not returned).
pub(crate) async fn claim_many(
    state: &AppState,
    conn: &mut AnyConnection,
    numbers: &[(&str, &str)],
    now: i64,
) -> Result<HashSet<String>, sqlx::Error> {
    if numbers.is_empty() {
        return Ok(HashSet::new());
    }
    if state.db.backend() == Backend::Sqlite {
        let sql = format!(
            "SELECT id_index FROM persons WHERE id_index IN ({})",
            repeat_list("?", numbers.len())
        );
        let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
        for (index, _) in numbers {
            q = q.bind(index.to_string());
        }
        let held: HashSet<String> = q.fetch_all(conn).await?.into_iter().collect();
        return Ok(numbers
            .iter()
            .filter(|(index, _)| !held.contains(*index))
            .map(|(index, _)| index.to_string())
            .collect());
    }
    let mut sql = String::from(state.db.backend().bulk_insert());
    sql.push_str(" INTO person_numbers (id_index, province, created_at) VALUES ");
    sql.push_str(&repeat_list("(?,?,?)", numbers.len()));
    sql.push_str(" ON CONFLICT (id_index) DO NOTHING RETURNING id_index");
    let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(state.db.sql(&sql)));
    for (index, region) in numbers {
        q = q
            .bind(index.to_string())
            .bind(province_of(region))
            .bind(now);
    }
    Ok(q.fetch_all(conn).await?.into_iter().collect())
}

/// A record moved from `from` to `to`: when that crosses a province and the record holds a
/// number, the claim follows it.
pub(crate) async fn moved(
    conn: &mut AnyConnection,
    person: i64,
    from: &str,
    to: &str,
) -> AppResult<()> {
    if province_of(from) == province_of(to) || sqlite(conn) {
        return Ok(());
    }
    let index: Option<String> = sqlx::query_scalar("SELECT id_index FROM persons WHERE id = $1")
        .bind(person)
        .fetch_optional(&mut *conn)
        .await?
        .flatten();
    if let Some(index) = index {
        sqlx::query("UPDATE person_numbers SET province = $1 WHERE id_index = $2")
            .bind(province_of(to))
            .bind(index)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Whether `conn` is SQLite's, which has no register.
fn sqlite(conn: &AnyConnection) -> bool {
    conn.backend_name().eq_ignore_ascii_case("sqlite")
}
