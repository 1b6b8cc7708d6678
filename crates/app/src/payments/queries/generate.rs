//! The statements that make a roll: its row, its lines (each kind one `INSERT … SELECT`), the
//! counts of who was left out, and the totals recomputed from the lines in the same write.

use sqlx::Row;

use crate::kernel::access::Tx;
use crate::kernel::error::AppResult;

/// What a new roll row says before its lines exist.
pub(in crate::payments) struct NewRoll<'a> {
    pub province: &'a str,
    pub county: &'a str,
    pub programme: &'a str,
    pub month: &'a str,
    pub batch: &'a str,
    pub kind: &'a str,
    pub parent_roll_id: Option<i64>,
    pub grant_id: Option<i64>,
    pub pay_date: &'a str,
    pub note: &'a str,
    pub generated_by: &'a str,
}

/// Is there a roll with this key already (county, programme, month, batch)?
pub(in crate::payments) async fn roll_exists(tx: &mut Tx, r: &NewRoll<'_>) -> AppResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM payment_rolls WHERE province = $1 \
         AND county_code = $2 AND programme = $3 AND month = $4 AND batch = $5",
    )
    .bind(r.province)
    .bind(r.county)
    .bind(r.programme)
    .bind(r.month)
    .bind(r.batch)
    .fetch_one(tx.conn())
    .await?;
    Ok(n > 0)
}

pub(in crate::payments) async fn insert_roll(tx: &mut Tx, r: &NewRoll<'_>) -> AppResult<i64> {
    let now = tx.now();
    Ok(sqlx::query_scalar(
        "INSERT INTO payment_rolls (province, county_code, programme, month, batch, kind, \
         parent_roll_id, grant_id, pay_date, status, note, generated_by, generated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'draft', $10, $11, $12) RETURNING id",
    )
    .bind(r.province)
    .bind(r.county)
    .bind(r.programme)
    .bind(r.month)
    .bind(r.batch)
    .bind(r.kind)
    .bind(r.parent_roll_id)
    .bind(r.grant_id)
    .bind(r.pay_date)
    .bind(r.note)
    .bind(r.generated_by)
    .bind(now)
    .fetch_one(tx.conn())
    .await?)
}

/// The columns every line insert writes, in this order.
const LINE_INTO: &str = "INSERT INTO payment_roll_lines (province, roll_id, programme, month, \
     batch, person_id, household_id, beneficiary_id, region_code, members, amount_fen, \
     account_id, account_changed, exit_held) ";

/// The confirmed account of the beneficiary `b`, looked up per line through the
/// `payment_accounts_confirmed` index (province, person) — not joined: joined, PostgreSQL
/// hashes every confirmed account of the province for each county's roll (a sequential scan
/// of the province's accounts per county; docs/BENCHMARKS.md, "Payment rolls").
const ACCOUNT_ID: &str = "(SELECT a.id FROM payment_accounts a WHERE a.province = b.province \
     AND a.person_id = b.person_id AND a.status = 'confirmed')";
/// Whether that account replaced an earlier one that no roll has paid into yet (highlighted).
const CHANGED: &str = "COALESCE((SELECT CASE WHEN a.replaces_id IS NOT NULL \
     AND a.first_roll_id IS NULL THEN 1 ELSE 0 END FROM payment_accounts a \
     WHERE a.province = b.province AND a.person_id = b.person_id AND a.status = 'confirmed'), 0)";

/// Who is paid in the month bound as `m`: active since that month or before, or an exit held
/// by an emergency period (marked), and alive.
fn paid_who(m: &str) -> String {
    format!(
        "b.since_month <= {m} AND p.deceased = 0 \
         AND (b.status = 'active' OR (b.status = 'exited' AND b.exit_held = 1))"
    )
}

/// Who was active in the as-of month `m` of a grant: as [`paid_who`], or exited after it.
fn active_in(m: &str) -> String {
    format!(
        "b.since_month <= {m} AND p.deceased = 0 AND (b.status = 'active' \
         OR (b.status = 'exited' AND (b.exit_held = 1 OR b.until_month >= {m})))"
    )
}

/// The month's lines of a county and programme: one statement.
pub(in crate::payments) async fn monthly_lines(
    tx: &mut Tx,
    roll_id: i64,
    (province, county): (&str, &str),
    programme: &str,
    month: &str,
) -> AppResult<u64> {
    let sql = format!(
        "{LINE_INTO}SELECT b.province, $1, b.programme, $5, '', b.person_id, b.household_id, \
         b.id, b.region_code, b.members, b.monthly_amount_fen, {ACCOUNT_ID}, {CHANGED}, \
         CASE WHEN b.status = 'exited' THEN 1 ELSE 0 END \
         FROM assistance_beneficiaries b JOIN persons p ON p.id = b.person_id \
         WHERE b.province = $2 AND b.county_code = $3 AND b.programme = $4 AND {}",
        paid_who("$5")
    );
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(roll_id)
        .bind(province)
        .bind(county)
        .bind(programme)
        .bind(month)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected())
}

/// Those of the county and programme left out of the month's roll: suspended, exited (not
/// held; those whose last paid month is the previous month or later, or unknown) and
/// deceased. Counted on the roll, never silently dropped.
pub(in crate::payments) async fn left_out(
    tx: &mut Tx,
    province: &str,
    county: &str,
    programme: &str,
    prev_month: &str,
) -> AppResult<(i64, i64, i64)> {
    let row = sqlx::query(
        "SELECT \
         CAST(COALESCE(SUM(CASE WHEN b.status = 'suspended' THEN 1 ELSE 0 END), 0) AS BIGINT) AS s, \
         CAST(COALESCE(SUM(CASE WHEN b.status = 'exited' AND b.exit_held = 0 \
            AND (b.until_month IS NULL OR b.until_month >= $4) THEN 1 ELSE 0 END), 0) AS BIGINT) AS e, \
         CAST(COALESCE(SUM(CASE WHEN p.deceased <> 0 AND (b.status = 'active' \
            OR (b.status = 'exited' AND b.exit_held = 1)) THEN 1 ELSE 0 END), 0) AS BIGINT) AS d \
         FROM assistance_beneficiaries b JOIN persons p ON p.id = b.person_id \
         WHERE b.province = $1 AND b.county_code = $2 AND b.programme = $3",
    )
    .bind(province)
    .bind(county)
    .bind(programme)
    .bind(prev_month)
    .fetch_one(tx.conn())
    .await?;
    Ok((row.try_get("s")?, row.try_get("e")?, row.try_get("d")?))
}

/// A supplementary roll's lines: the failed lines of `parent`, each with the person's account
/// confirmed now (a new one may have been confirmed since the failure).
pub(in crate::payments) async fn supplementary_lines(
    tx: &mut Tx,
    roll_id: i64,
    parent: i64,
    batch: &str,
) -> AppResult<u64> {
    let sql = format!(
        "{LINE_INTO}SELECT b.province, $1, b.programme, b.month, $3, b.person_id, \
         b.household_id, b.beneficiary_id, b.region_code, b.members, b.amount_fen, {ACCOUNT_ID}, \
         {CHANGED}, b.exit_held FROM payment_roll_lines b \
         WHERE b.roll_id = $2 AND b.outcome = 'failed'"
    );
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(roll_id)
        .bind(parent)
        .bind(batch)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected())
}

/// A grant's lines for one county: who was active in one of `programmes` in the as-of month
/// (active or held, alive), one line per household (per household grants: the household's
/// first beneficiary person is paid; `amount`) or per person (`amount` × members).
pub(in crate::payments) async fn grant_lines(
    tx: &mut Tx,
    roll_id: i64,
    (province, county): (&str, &str),
    programmes: &[String],
    (as_of_month, batch): (&str, &str),
    (per_household, amount): (bool, i64),
) -> AppResult<u64> {
    let list = (0..programmes.len())
        .map(|i| format!("${}", i + 9))
        .collect::<Vec<_>>()
        .join(", ");
    // One line per paid person: the lowest beneficiary id of each person (per person) or of
    // each household (per household; a person without a household is their own).
    let key = if per_household {
        "COALESCE(b.household_id, -b.person_id)"
    } else {
        "b.person_id"
    };
    let sql = format!(
        "{LINE_INTO}SELECT b.province, $1, 'grant', $2, $3, b.person_id, b.household_id, b.id, \
         b.region_code, b.members, CASE WHEN $4 = 1 THEN $5 ELSE $5 * b.members END, \
         {ACCOUNT_ID}, {CHANGED}, CASE WHEN b.status = 'exited' THEN 1 ELSE 0 END \
         FROM assistance_beneficiaries b JOIN persons p ON p.id = b.person_id \
         WHERE b.id IN (SELECT MIN(b.id) FROM assistance_beneficiaries b \
            JOIN persons p ON p.id = b.person_id \
            WHERE b.province = $7 AND b.county_code = $8 AND b.programme IN ({list}) \
            AND {} GROUP BY {key})",
        active_in("$6")
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(roll_id)
        .bind(as_of_month)
        .bind(batch)
        .bind(i64::from(per_household))
        .bind(amount)
        .bind(as_of_month)
        .bind(province)
        .bind(county);
    for p in programmes {
        q = q.bind(p.clone());
    }
    Ok(q.execute(tx.conn()).await?.rows_affected())
}

/// A price subsidy's lines for one county: every eligible beneficiary paid in the month,
/// `urban` or `rural` fen per person (by the beneficiary's area) × members.
pub(in crate::payments) async fn subsidy_lines(
    tx: &mut Tx,
    roll_id: i64,
    (province, county): (&str, &str),
    month: &str,
    (urban, rural): (i64, i64),
    programmes: &[&str],
) -> AppResult<u64> {
    let list = (0..programmes.len())
        .map(|i| format!("${}", i + 7))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "{LINE_INTO}SELECT b.province, $1, 'price_subsidy', $6, '', b.person_id, \
         b.household_id, b.id, b.region_code, b.members, \
         (CASE WHEN b.area_kind = 'urban' THEN $4 ELSE $5 END) * b.members, {ACCOUNT_ID}, \
         {CHANGED}, CASE WHEN b.status = 'exited' THEN 1 ELSE 0 END \
         FROM assistance_beneficiaries b JOIN persons p ON p.id = b.person_id \
         WHERE b.id IN (SELECT MIN(b.id) FROM assistance_beneficiaries b \
            JOIN persons p ON p.id = b.person_id \
            WHERE b.province = $2 AND b.county_code = $3 AND b.programme IN ({list}) \
            AND {} GROUP BY b.person_id)",
        paid_who("$6")
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(roll_id)
        .bind(province)
        .bind(county)
        .bind(urban)
        .bind(rural)
        .bind(month);
    for p in programmes {
        q = q.bind(p.to_string());
    }
    Ok(q.execute(tx.conn()).await?.rows_affected())
}

/// Totals from the lines, the left-out counts, and the replacing accounts first paid into by
/// this roll (what ends their 账户变更 highlight, see `CHANGED`).
///
/// Only replacing accounts (`replaces_id` set) are stamped: `first_roll_id` is read nowhere
/// else, and stamping every account a county's first roll pays into rewrote as many random
/// rows of `payment_accounts` as the roll has lines — measured in the payment-roll benchmark
/// (docs/BENCHMARKS.md) as more than the lines' own insert. The lines marked `account_changed`
/// are exactly those (see `CHANGED`, computed in the same write), so the statement is driven
/// from them and reaches the accounts through their `(province, id)` key: with no changed
/// account it touches no account row at all.
pub(in crate::payments) async fn finish_roll(
    tx: &mut Tx,
    roll_id: i64,
    (s, e, d): (i64, i64, i64),
) -> AppResult<()> {
    sqlx::query(
        "UPDATE payment_rolls SET \
         line_count = (SELECT CAST(COUNT(*) AS BIGINT) FROM payment_roll_lines WHERE roll_id = $1), \
         total_fen = (SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) FROM payment_roll_lines \
            WHERE roll_id = $1), \
         held_count = (SELECT CAST(COUNT(*) AS BIGINT) FROM payment_roll_lines \
            WHERE roll_id = $1 AND exit_held = 1), \
         left_suspended = $2, left_exited = $3, left_deceased = $4 WHERE id = $1",
    )
    .bind(roll_id)
    .bind(s)
    .bind(e)
    .bind(d)
    .execute(tx.conn())
    .await?;
    sqlx::query(
        "UPDATE payment_accounts SET first_roll_id = $1 WHERE first_roll_id IS NULL \
         AND replaces_id IS NOT NULL \
         AND (province, id) IN (SELECT province, account_id FROM payment_roll_lines \
            WHERE roll_id = $1 AND account_changed = 1)",
    )
    .bind(roll_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}
