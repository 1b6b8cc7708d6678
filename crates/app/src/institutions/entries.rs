//! An institution's entrance log: who came in, why, with what temperature (a fever flagged).
//! Names are only ever shown masked, phones are stored encrypted and shown masked; the log is
//! read, by anyone tied to an organisation, only for that organisation.

use backstop_core::error::ErrorCode;
use backstop_core::mask::mask_phone;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{celsius, load, load_for_write, parse_temp, queries, ymd};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, text_field};
use crate::people::shown;
use crate::privacy;
use crate::state::AppState;

/// Body of `POST /api/v1/institutions/{id}/entries`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct EntryInput {
    /// Full name (stored; only ever shown masked).
    pub name: String,
    /// Phone (stored encrypted; only ever shown masked).
    #[serde(default)]
    pub phone: String,
    /// Why the person entered.
    pub reason: String,
    /// ℃, 34–43.
    pub temperature: f64,
}

/// One entrance, persons masked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EntryView {
    pub id: i64,
    pub name_masked: String,
    pub phone_masked: String,
    pub reason: String,
    pub temperature: f64,
    /// ≥ 37.3 ℃.
    pub fever: bool,
    /// UTC, RFC 3339.
    pub entered_at: String,
    pub day: String,
    pub recorded_by: String,
}

fn check_phone(p: &str) -> AppResult<String> {
    let p = text_field("phone", p, 20, false)?;
    if !p
        .chars()
        .all(|c| c.is_ascii_digit() || c == '-' || c == ' ' || c == '+')
    {
        return Err(AppError::field(
            ErrorCode::Validation,
            "phone",
            "只能包含数字、空格、+ 和 -",
        ));
    }
    Ok(p)
}

/// Record an entrance (temperature checked, fever flagged).
pub async fn add_entry(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &EntryInput,
) -> AppResult<EntryView> {
    let scope = actor.everywhere();
    let org = load_for_write(state, &scope, id).await?;
    let name = text_field("name", &input.name, 50, true)?;
    let phone = check_phone(&input.phone)?;
    let reason = text_field("reason", &input.reason, 200, true)?;
    let temp = parse_temp("temperature", input.temperature)?;
    let fever = backstop_core::temperature::is_fever(temp);
    let day = ymd(state.today());
    let enc = state.keys.encrypt(phone.as_bytes());
    let mut tx = Tx::begin(state, actor).await?;
    let now = tx.now();
    let row = queries::NewEntry {
        name: &name,
        phone_enc: enc,
        reason_enc: privacy::seal(&state.keys, &reason),
        temp_enc: privacy::seal_int(&state.keys, temp),
        fever,
        day: &day,
        by: &actor.username,
    };
    let eid = queries::insert_entry(&mut tx, &org, &row).await?;
    let name_masked = shown::name_in_list(&name);
    tx.commit(
        Change::new(
            "institution.entry",
            "institution_entry",
            eid,
            &org.region_code,
        )
        .detail(
            json!({"org_id": org.id, "name": {"before": null, "after": name_masked},
                "phone": {"before": null, "after": mask_phone(&phone)},
                "fever": fever}),
        ),
    )
    .await?;
    Ok(EntryView {
        id: eid,
        name_masked,
        phone_masked: mask_phone(&phone),
        reason,
        temperature: celsius(temp),
        fever,
        entered_at: backstop_core::clock::rfc3339(now),
        day,
        recorded_by: actor.username.clone(),
    })
}

/// Entrances of one day (default today), newest first.
pub async fn list_entries(
    state: &AppState,
    actor: &Actor,
    id: i64,
    day: Option<NaiveDate>,
) -> AppResult<Vec<EntryView>> {
    let scope = actor.everywhere();
    let org = load(state, &scope, id).await?;
    let day = ymd(super::day_or_today(state, "day", day)?);
    queries::entries(state, &scope, &org, &day).await
}
