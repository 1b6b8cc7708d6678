//! Bank accounts: a person let through the handle, accounts entered (sealed), confirmed by a
//! second user (the earlier confirmed one retired in the same write), and listed masked.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::super::Account;
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::error::{AppError, AppResult};

/// A person let through a handle.
pub(in crate::payments) struct Person {
    pub id: i64,
    pub region_code: String,
}

/// The person `id`, if it exists and lies under the handle.
pub(in crate::payments) async fn person(
    conn: &mut AnyConnection,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<Person> {
    let row = sqlx::query("SELECT id, region_code FROM persons WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(AppError::not_found)?;
    let p = Person {
        id: row.try_get("id")?,
        region_code: row.try_get("region_code")?,
    };
    let code = p.region_code.clone();
    scope.admit(&code, p)
}

const COLS: &str = "id, person_id, region_code, bank_name, holder, account_masked, status, \
     replaces_id, entered_by, confirmed_by";

fn from_row(r: &AnyRow) -> Result<Account, sqlx::Error> {
    let status: String = r.try_get("status")?;
    Ok(Account {
        id: r.try_get("id")?,
        person_id: r.try_get("person_id")?,
        region_code: r.try_get("region_code")?,
        bank_name: r.try_get("bank_name")?,
        holder: r.try_get("holder")?,
        account_masked: r.try_get("account_masked")?,
        status_label: match status.as_str() {
            "pending" => "待确认",
            "confirmed" => "已确认",
            _ => "已更换",
        }
        .to_string(),
        status,
        replaces_id: r.try_get("replaces_id")?,
        entered_by: r.try_get("entered_by")?,
        confirmed_by: r.try_get("confirmed_by")?,
    })
}

/// A new account, pending.
pub(in crate::payments) async fn insert(
    tx: &mut Tx,
    a: &Account,
    enc: &[u8],
    province: &str,
) -> AppResult<i64> {
    let now = tx.now();
    Ok(sqlx::query_scalar(
        "INSERT INTO payment_accounts (province, person_id, region_code, bank_name, holder, \
         account_enc, account_masked, status, entered_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9) RETURNING id",
    )
    .bind(province)
    .bind(a.person_id)
    .bind(&a.region_code)
    .bind(&a.bank_name)
    .bind(&a.holder)
    .bind(enc)
    .bind(&a.account_masked)
    .bind(&a.entered_by)
    .bind(now)
    .fetch_one(tx.conn())
    .await?)
}

/// The account `id`, on the open write, if its region lies under the handle.
pub(in crate::payments) async fn one(
    tx: &mut Tx,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<Account> {
    let sql = format!("SELECT {COLS} FROM payment_accounts WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(AppError::not_found)?;
    let a = from_row(&row)?;
    let code = a.region_code.clone();
    scope.admit(&code, a)
}

/// Confirm the pending account `a`: the person's confirmed account (if any) is retired and
/// named as the one replaced. False when `a` was no longer pending.
pub(in crate::payments) async fn confirm(tx: &mut Tx, a: &Account, who: &str) -> AppResult<bool> {
    let now = tx.now();
    let earlier: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM payment_accounts WHERE person_id = $1 AND status = 'confirmed'",
    )
    .bind(a.person_id)
    .fetch_optional(tx.conn())
    .await?;
    if let Some(e) = earlier {
        sqlx::query("UPDATE payment_accounts SET status = 'replaced' WHERE id = $1")
            .bind(e)
            .execute(tx.conn())
            .await?;
    }
    let done = sqlx::query(
        "UPDATE payment_accounts SET status = 'confirmed', confirmed_by = $1, confirmed_at = $2, \
         replaces_id = $3 WHERE id = $4 AND status = 'pending'",
    )
    .bind(who)
    .bind(now)
    .bind(earlier)
    .bind(a.id)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The accounts of a person (already let through the handle), newest first.
pub(in crate::payments) async fn of_person(
    conn: &mut AnyConnection,
    person: &Person,
) -> AppResult<Vec<Account>> {
    let sql = format!("SELECT {COLS} FROM payment_accounts WHERE person_id = $1 ORDER BY id DESC");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(person.id)
        .fetch_all(conn)
        .await?;
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}
