//! A user's registered mobile phone and the reset whose one-time password goes to it (issue 13
//! item 3): the phone is a mainland mobile (`public::mobile`), sealed at rest with its masked
//! form beside it (like persons' phones); when an official resets an account that has one, the
//! generated password is queued as a secret SMS through the notification system
//! (`notify::queue_secret_sms`, sealed in the outbox, its text the code only) in the reset's
//! own transaction, so the resetter never sees it. Owned here, apart from `notify/`, which
//! only gets called.

use backstop_core::error::ErrorCode;
use backstop_core::mask::mask_phone;

use super::queries;
use crate::kernel::access::Tx;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// The kind of the queued SMS (the delivery list shows it; the text stays sealed).
pub const SMS_KIND: &str = "account_reset";

/// A phone as entered on a form, the API or the CLI: `None` when blank, else a mainland
/// mobile sealed with its masked form (else 422 on `phone`).
pub(super) fn parse(state: &AppState, raw: &str) -> AppResult<Option<(Vec<u8>, String)>> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let phone = crate::public::mobile(raw)?;
    Ok(Some((
        state.keys.encrypt(phone.as_bytes()),
        mask_phone(&phone),
    )))
}

/// The text of the SMS: the code only, no name, account or other personal data.
fn text(password: &str) -> String {
    format!("【兜底】一次性密码：{password}。登录后须立即设置新密码，请勿告诉他人。")
}

/// Queue the one-time password of a reset to the account's registered phone, in the reset's
/// transaction. Refused (nothing written) when the phone does not open under the key.
pub(super) async fn send(state: &AppState, tx: &mut Tx, id: i64, password: &str) -> AppResult<()> {
    let phone = queries::phone_enc(tx, id)
        .await?
        .and_then(|e| state.keys.decrypt(&e))
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            AppError::msg(
                ErrorCode::Conflict,
                "该账户登记的手机号码无法读取，请先重新登记手机号码",
            )
        })?;
    // Unique per message: two resets in the same millisecond are two messages.
    let key = format!("reset-{id}-{}-{}", tx.now(), rand::random::<u32>());
    crate::notify::queue_secret_sms(state, tx.conn(), &phone, SMS_KIND, &text(password), &key).await
}
