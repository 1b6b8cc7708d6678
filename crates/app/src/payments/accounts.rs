//! Bank accounts of beneficiary persons (收款账户): entered by one user (pending), confirmed by
//! another user holding the permission (a change of a beneficiary's account needs a second
//! person), the account number sealed at rest and shown masked everywhere but the bank file.

use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::queries::accounts as q;
use super::{conflict, province_of, verr};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// An account as shown (masked).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Account {
    pub id: i64,
    pub person_id: i64,
    pub region_code: String,
    pub bank_name: String,
    pub holder: String,
    /// e.g. `6222 **** **** 1234`.
    pub account_masked: String,
    /// `pending` | `confirmed` | `replaced`.
    pub status: String,
    pub status_label: String,
    /// The confirmed account this one replaced when it was confirmed.
    pub replaces_id: Option<i64>,
    pub entered_by: String,
    pub confirmed_by: Option<String>,
}

/// Body of `POST /api/v1/payments/persons/{id}/accounts`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewAccount {
    pub bank_name: String,
    /// Digits (spaces and dashes ignored), 8 to 30 of them.
    pub account_number: String,
    pub holder: String,
}

/// Digits only, 8–30 of them.
fn account_digits(s: &str) -> AppResult<String> {
    let d: String = s.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if d.len() < 8 || d.len() > 30 || !d.chars().all(|c| c.is_ascii_digit()) {
        return Err(verr("account_number", "应为 8 至 30 位数字"));
    }
    Ok(d)
}

/// The first four and last four digits: `6222 **** 1234`.
pub(crate) fn mask_account(d: &str) -> String {
    let n = d.chars().count();
    if n <= 8 {
        return format!("**** {}", &d[n.saturating_sub(4)..]);
    }
    format!("{} **** {}", &d[..4], &d[n - 4..])
}

fn text(field: &str, v: &str, max: usize) -> AppResult<String> {
    let t = v.trim();
    if t.is_empty() {
        return Err(verr(field, "不能为空"));
    }
    if t.chars().count() > max || t.chars().any(char::is_control) {
        return Err(verr(field, format!("最多 {max} 个字，且不能含控制字符")));
    }
    Ok(t.to_string())
}

/// Enter a new (or changed) account for a person in scope: pending until another user confirms.
pub async fn enter_account(
    state: &AppState,
    actor: &Actor,
    person_id: i64,
    input: &NewAccount,
) -> AppResult<Account> {
    actor.require(Permission::PaymentsAccounts)?;
    let bank_name = text("bank_name", &input.bank_name, 60)?;
    let holder = text("holder", &input.holder, 60)?;
    let digits = account_digits(&input.account_number)?;
    let mut tx = Tx::begin(state, actor).await?;
    let person = q::person(tx.conn(), &actor.everywhere(), person_id).await?;
    let mut a = Account {
        id: 0,
        person_id,
        region_code: person.region_code.clone(),
        bank_name,
        holder,
        account_masked: mask_account(&digits),
        status: "pending".into(),
        status_label: "待确认".into(),
        replaces_id: None,
        entered_by: actor.username.clone(),
        confirmed_by: None,
    };
    let enc = state.keys.encrypt(digits.as_bytes());
    a.id = q::insert(&mut tx, &a, &enc, &province_of(&person.region_code)).await?;
    tx.commit(
        Change::new(
            "payments.account.enter",
            "payment_account",
            a.id,
            &a.region_code,
        )
        .detail(
            json!({"person_id": person_id, "bank_name": a.bank_name, "account": a.account_masked}),
        ),
    )
    .await?;
    Ok(a)
}

/// Confirm a pending account: by another user than the one who entered it. The person's
/// earlier confirmed account is retired; the next roll highlights the change.
pub async fn confirm_account(state: &AppState, actor: &Actor, id: i64) -> AppResult<Account> {
    actor.require(Permission::PaymentsAccounts)?;
    let mut tx = Tx::begin(state, actor).await?;
    let mut a = q::one(&mut tx, &actor.everywhere(), id).await?;
    if a.status != "pending" {
        return Err(conflict("该账户不是待确认状态，无需再次确认"));
    }
    if a.entered_by == actor.username {
        return Err(AppError::msg(
            backstop_core::error::ErrorCode::Forbidden,
            "收款账户须由录入人以外的另一名工作人员确认",
        ));
    }
    if !q::confirm(&mut tx, &a, &actor.username).await? {
        return Err(conflict("该账户已被他人处理，请刷新后再试"));
    }
    let after = q::one(&mut tx, &actor.everywhere(), id).await?;
    a = after;
    tx.commit(
        Change::new("payments.account.confirm", "payment_account", a.id, &a.region_code).detail(
            json!({"person_id": a.person_id, "account": a.account_masked, "replaces": a.replaces_id}),
        ),
    )
    .await?;
    Ok(a)
}

/// The accounts of a person in scope (masked), newest first.
pub async fn person_accounts(
    state: &AppState,
    actor: &Actor,
    person_id: i64,
) -> AppResult<Vec<Account>> {
    actor.require(Permission::PaymentsRead)?;
    let mut conn = state.db.pool().acquire().await?;
    let scope = actor.everywhere();
    let person = q::person(&mut conn, &scope, person_id).await?;
    q::of_person(&mut conn, &person).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_numbers_are_checked_and_masked() {
        assert_eq!(
            account_digits("6222 0212-3456 7890 123").ok().as_deref(),
            Some("62220212345678901 23".replace(' ', "").as_str())
        );
        assert!(account_digits("1234567").is_err());
        assert!(account_digits("6222x0212345678").is_err());
        assert_eq!(mask_account("6222021234567890123"), "6222 **** 0123");
        assert_eq!(mask_account("12345678"), "**** 5678");
    }
}
