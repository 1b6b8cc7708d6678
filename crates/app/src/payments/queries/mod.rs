//! Every SQL statement of payments, and the only place in the area that runs one.
//!
//! Rolls belong to a county: a roll read by id is let through `Scoped::admit` on its county
//! code (outside the handle: *not found*), lists use the handle's range on `county_code`, and
//! a roll's lines are read only after the roll was admitted ([`Admitted`] is the proof).
//! Writing functions take the open [`Tx`]; the service commits it with the audit entry. The
//! statements that make lines (`generate`) are each one `INSERT … SELECT`, so a roll of a
//! million lines is one statement, not a million.

pub(super) mod accounts;
pub(super) mod generate;
pub(super) mod prices;

use backstop_core::Fen;
use backstop_core::mask::mask_name;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Line, Roll, left_summary, programme_label, status_label};
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::queries::{all, ranged, text_or_empty};
use crate::state::AppState;

/// A roll let through a handle: only [`roll`] and [`roll_in`] make one.
pub(super) struct Admitted(pub Roll);

const ROLL_COLS: &str = "id, province, county_code, programme, month, batch, kind, \
     parent_roll_id, grant_id, pay_date, status, line_count, total_fen, held_count, \
     left_suspended, left_exited, left_deceased, note, checksum, paid_count, paid_fen, \
     failed_count, failed_fen, generated_by, approved_by, exported_by, reconciled_by, \
     generated_at, approved_at, exported_at, reconciled_at";

/// A stored millisecond time as Beijing time text.
fn when(ms: i64) -> String {
    use backstop_core::clock::{format_beijing, from_millis};
    format_beijing(from_millis(ms))
}

fn roll_from_row(r: &AnyRow) -> Result<Roll, sqlx::Error> {
    let programme: String = r.try_get("programme")?;
    let status: String = r.try_get("status")?;
    let month: String = r.try_get("month")?;
    let pay_date: String = r.try_get("pay_date")?;
    let total_fen: i64 = r.try_get("total_fen")?;
    let (s, e, d) = (
        r.try_get("left_suspended")?,
        r.try_get("left_exited")?,
        r.try_get("left_deceased")?,
    );
    Ok(Roll {
        id: r.try_get("id")?,
        province: r.try_get("province")?,
        county_code: r.try_get("county_code")?,
        programme_label: programme_label(&programme),
        programme,
        early: pay_date.as_str() < format!("{month}-01").as_str(),
        month,
        batch: r.try_get("batch")?,
        kind: r.try_get("kind")?,
        parent_roll_id: r.try_get("parent_roll_id")?,
        grant_id: r.try_get("grant_id")?,
        pay_date,
        status_label: status_label(&status).to_string(),
        status,
        line_count: r.try_get("line_count")?,
        total_fen,
        total_yuan: Fen(total_fen).to_yuan_string(),
        held_count: r.try_get("held_count")?,
        left_suspended: s,
        left_exited: e,
        left_deceased: d,
        left_summary: left_summary(s, e, d),
        note: r.try_get("note")?,
        checksum: r.try_get("checksum")?,
        paid_count: r.try_get("paid_count")?,
        paid_fen: r.try_get("paid_fen")?,
        failed_count: r.try_get("failed_count")?,
        failed_fen: r.try_get("failed_fen")?,
        generated_by: r.try_get("generated_by")?,
        approved_by: r.try_get("approved_by")?,
        exported_by: r.try_get("exported_by")?,
        reconciled_by: r.try_get("reconciled_by")?,
        generated_at: when(r.try_get("generated_at")?),
        approved_at: r.try_get::<Option<i64>, _>("approved_at")?.map(when),
        exported_at: r.try_get::<Option<i64>, _>("exported_at")?.map(when),
        reconciled_at: r.try_get::<Option<i64>, _>("reconciled_at")?.map(when),
    })
}

/// The roll `id` on `conn` (the pool's or the open write's), if its county is under the handle.
pub(super) async fn roll_in(
    conn: &mut AnyConnection,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<Admitted> {
    let sql = format!("SELECT {ROLL_COLS} FROM payment_rolls WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(AppError::not_found)?;
    let r = roll_from_row(&row)?;
    let county = r.county_code.clone();
    scope.admit(&county, Admitted(r))
}

/// The roll `id` from the pool, if under the handle.
pub(super) async fn roll(state: &AppState, scope: &Scoped<'_>, id: i64) -> AppResult<Admitted> {
    let mut conn = state.db.pool().acquire().await?;
    roll_in(&mut conn, scope, id).await
}

/// Rolls under the handle, newest month first, optionally of one month.
pub(super) async fn list(
    state: &AppState,
    scope: &Scoped<'_>,
    month: Option<&str>,
) -> AppResult<Vec<Roll>> {
    let mut sql = format!(
        "SELECT {ROLL_COLS} FROM payment_rolls WHERE county_code >= $1 AND county_code < $2"
    );
    if month.is_some() {
        sql.push_str(" AND month = $3");
    }
    sql.push_str(" ORDER BY month DESC, county_code, programme, id LIMIT 500");
    let mut q = ranged(scope, sql);
    if let Some(m) = month {
        q = q.bind(m.to_string());
    }
    all(state, q, roll_from_row).await
}

fn line_from_row(r: &AnyRow) -> Result<Line, sqlx::Error> {
    let amount: i64 = r.try_get("amount_fen")?;
    let name: String = r.try_get("name")?;
    Ok(Line {
        id: r.try_get("id")?,
        person_id: r.try_get("person_id")?,
        name: mask_name(&name),
        household_id: r.try_get("household_id")?,
        region_code: r.try_get("region_code")?,
        members: r.try_get("members")?,
        amount_fen: amount,
        amount_yuan: Fen(amount).to_yuan_string(),
        bank_name: text_or_empty(r, "bank_name")?,
        account_masked: text_or_empty(r, "account_masked")?,
        account_changed: r.try_get::<i64, _>("account_changed")? != 0,
        exit_held: r.try_get::<i64, _>("exit_held")? != 0,
        outcome: r.try_get("outcome")?,
        fail_reason: r.try_get("fail_reason")?,
    })
}

const LINE_SQL: &str = "SELECT l.id, l.person_id, p.name, l.household_id, l.region_code, \
     l.members, l.amount_fen, a.bank_name, a.account_masked, l.account_changed, l.exit_held, \
     l.outcome, l.fail_reason FROM payment_roll_lines l JOIN persons p ON p.id = l.person_id \
     LEFT JOIN payment_accounts a ON a.id = l.account_id AND a.province = l.province \
     WHERE l.roll_id = $1";

/// A page of the lines of an admitted roll (masked), in line order: those after line `after`,
/// at most `limit`.
pub(super) async fn lines_page(
    state: &AppState,
    roll: &Admitted,
    after: i64,
    limit: i64,
) -> AppResult<Vec<Line>> {
    let sql = format!("{LINE_SQL} AND l.id > $2 ORDER BY l.id LIMIT $3");
    let q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(roll.0.id)
        .bind(after)
        .bind(limit);
    all(state, q, line_from_row).await
}

/// Recomputed from an admitted roll's lines: (the sum of their amounts, how many pay into a
/// changed account) — what the roll page sets beside the roll's own totals.
pub(super) async fn line_sums(state: &AppState, roll: &Admitted) -> AppResult<(i64, i64)> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) AS total, \
         CAST(COALESCE(SUM(account_changed), 0) AS BIGINT) AS changed \
         FROM payment_roll_lines WHERE roll_id = $1",
    )
    .bind(roll.0.id)
    .fetch_one(state.db.pool())
    .await?;
    Ok((row.try_get("total")?, row.try_get("changed")?))
}

/// One line of the bank file: full account number (decrypted by the caller), never shown.
pub(super) struct BankLine {
    pub id: i64,
    pub name: String,
    pub bank_name: String,
    pub holder: String,
    pub account_enc: Option<Vec<u8>>,
    pub amount_fen: i64,
    pub account_changed: bool,
    pub exit_held: bool,
}

/// The lines of an admitted roll for the bank file, on the open write.
pub(super) async fn bank_lines(tx: &mut Tx, roll: &Admitted) -> AppResult<Vec<BankLine>> {
    let rows = sqlx::query(
        "SELECT l.id, p.name, a.bank_name, a.holder, a.account_enc, l.amount_fen, \
         l.account_changed, l.exit_held FROM payment_roll_lines l \
         JOIN persons p ON p.id = l.person_id \
         LEFT JOIN payment_accounts a ON a.id = l.account_id AND a.province = l.province \
         WHERE l.roll_id = $1 ORDER BY l.id",
    )
    .bind(roll.0.id)
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(BankLine {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                bank_name: text_or_empty(r, "bank_name")?,
                holder: text_or_empty(r, "holder")?,
                account_enc: r.try_get("account_enc")?,
                amount_fen: r.try_get("amount_fen")?,
                account_changed: r.try_get::<i64, _>("account_changed")? != 0,
                exit_held: r.try_get::<i64, _>("exit_held")? != 0,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}

/// Move the roll from `from` to `to`, stamping who and when in the `stamp` columns
/// (`approved`, `exported`, `reconciled`); false when the roll was no longer in `from`.
pub(super) async fn transition(
    tx: &mut Tx,
    id: i64,
    from: &str,
    to: &str,
    stamp: &str,
    who: &str,
) -> AppResult<bool> {
    let now = tx.now();
    let col = match stamp {
        "approved" => "approved",
        "exported" => "exported",
        _ => "reconciled",
    };
    let sql = format!(
        "UPDATE payment_rolls SET status = $1, {col}_by = $2, {col}_at = $3 \
         WHERE id = $4 AND status = $5"
    );
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(to)
        .bind(who)
        .bind(now)
        .bind(id)
        .bind(from)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn set_checksum(tx: &mut Tx, id: i64, checksum: &str) -> AppResult<()> {
    sqlx::query("UPDATE payment_rolls SET checksum = $1 WHERE id = $2")
        .bind(checksum)
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Record each line's outcome (`failed` lines with their reason; every other line of the
/// roll paid), then the roll's paid and failed counts and sums, in the open write.
pub(super) async fn record_outcomes(
    tx: &mut Tx,
    roll_id: i64,
    failed: &[(i64, String)],
) -> AppResult<()> {
    sqlx::query(
        "UPDATE payment_roll_lines SET outcome = 'paid', fail_reason = '' WHERE roll_id = $1",
    )
    .bind(roll_id)
    .execute(tx.conn())
    .await?;
    for (id, reason) in failed {
        sqlx::query(
            "UPDATE payment_roll_lines SET outcome = 'failed', fail_reason = $1 \
             WHERE roll_id = $2 AND id = $3",
        )
        .bind(reason)
        .bind(roll_id)
        .bind(id)
        .execute(tx.conn())
        .await?;
    }
    sqlx::query(
        "UPDATE payment_rolls SET \
         paid_count = (SELECT CAST(COUNT(*) AS BIGINT) FROM payment_roll_lines \
            WHERE roll_id = $1 AND outcome = 'paid'), \
         paid_fen = (SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) FROM payment_roll_lines \
            WHERE roll_id = $1 AND outcome = 'paid'), \
         failed_count = (SELECT CAST(COUNT(*) AS BIGINT) FROM payment_roll_lines \
            WHERE roll_id = $1 AND outcome = 'failed'), \
         failed_fen = (SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) FROM payment_roll_lines \
            WHERE roll_id = $1 AND outcome = 'failed') \
         WHERE id = $1",
    )
    .bind(roll_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}
