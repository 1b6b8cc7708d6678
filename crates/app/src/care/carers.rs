//! The carer (照料责任人) of a dispersed 特困 person and the carer's daily check. Only a person
//! who is dispersed 特困 today may be given a carer; the phone is sealed like a person's phone
//! and shown masked. A daily check needs a carer; one per person per Beijing date, a second
//! one the same day updates the first (and says so).

use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{opt_date, queries, text, today, verr, ymd};
use crate::audit;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::AppResult;
use crate::people;
use crate::people::shown::name_in_list;
use crate::state::AppState;

/// The carer of a dispersed 特困 person (phone masked).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Carer {
    pub person_id: i64,
    pub name: String,
    /// `138****5678`.
    pub phone_masked: String,
    pub relationship: String,
}

/// Body of `PUT /api/v1/care/persons/{id}/carer`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct CarerInput {
    pub name: String,
    pub phone: String,
    /// Relationship to the person (e.g. 邻居, 侄子).
    pub relationship: String,
}

/// A daily check by the carer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DailyCheck {
    pub id: i64,
    pub person_id: i64,
    pub date: String,
    /// `ok` or `needs_help`.
    pub status: String,
    pub status_label: String,
    pub note: String,
    pub carer_name: String,
    pub recorded_by: String,
    /// True when this call changed an earlier check of the same day.
    pub updated: bool,
}

/// Body of `POST /api/v1/care/persons/{id}/checks`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct CheckInput {
    /// `YYYY-MM-DD`; default today (Beijing); not in the future.
    #[serde(default)]
    pub date: Option<String>,
    /// `ok` (正常) or `needs_help` (需要帮助).
    pub status: String,
    #[serde(default)]
    pub note: String,
}

pub(super) fn check_status_label(s: &str) -> &'static str {
    match s {
        "ok" => "正常",
        "needs_help" => "需要帮助",
        _ => "",
    }
}

/// Name (or replace) the carer of a person who is currently dispersed 特困.
pub async fn set_carer(
    state: &AppState,
    actor: &Actor,
    person_id: i64,
    input: &CarerInput,
) -> AppResult<Carer> {
    actor.require(Permission::PersonsWrite)?;
    let name = text("name", &input.name, 50, true)?;
    let relationship = text("relationship", &input.relationship, 30, true)?;
    let phone = people::normalise_phone(&input.phone)
        .map_err(|m| verr("phone", m))?
        .ok_or_else(|| verr("phone", "不能为空"))?;
    let sealed = people::seal(state, None, Some(&phone));
    let today = ymd(today(state));
    let mut tx = Tx::begin(state, actor).await?;
    let person = queries::person(tx.conn(), &actor.everywhere(), person_id).await?;
    if !queries::dispersed_tekun(tx.conn(), &state.keys, &person, &today).await? {
        return Err(verr("name", "只有特困（分散供养）人员才需要指定照料责任人"));
    }
    let carer = Carer {
        person_id,
        name,
        phone_masked: sealed.phone_masked.clone(),
        relationship,
    };
    let row = queries::CarerRow {
        carer: &carer,
        phone_enc: sealed.phone_enc,
        phone_index: sealed.phone_index,
    };
    let (action, detail) = match queries::carer(tx.conn(), &person).await? {
        Some(b) => {
            queries::update_carer(&mut tx, &row).await?;
            (
                "care.carer.update",
                audit::diff(&[
                    (
                        "name",
                        json!(name_in_list(&b.name)),
                        json!(name_in_list(&carer.name)),
                    ),
                    ("phone", json!(b.phone_masked), json!(carer.phone_masked)),
                    (
                        "relationship",
                        json!(b.relationship),
                        json!(carer.relationship),
                    ),
                ]),
            )
        }
        None => {
            queries::insert_carer(&mut tx, &row).await?;
            (
                "care.carer.create",
                json!({"name": {"before": null, "after": name_in_list(&carer.name)},
                       "phone": {"before": null, "after": carer.phone_masked},
                       "relationship": {"before": null, "after": carer.relationship}}),
            )
        }
    };
    tx.commit(Change::new(action, "person", person_id, &person.region_code).detail(detail))
        .await?;
    Ok(carer)
}

/// Record the carer's daily check; a second check of the same day updates the first.
pub async fn record_check(
    state: &AppState,
    actor: &Actor,
    person_id: i64,
    input: &CheckInput,
) -> AppResult<DailyCheck> {
    actor.require(Permission::PersonsWrite)?;
    let today = today(state);
    let day = opt_date("date", input.date.as_deref())?.unwrap_or(today);
    if day > today {
        return Err(verr("date", "不能晚于今天"));
    }
    let status = match input.status.trim() {
        "ok" | "正常" => "ok",
        "needs_help" | "需要帮助" => "needs_help",
        _ => return Err(verr("status", "应为 ok（正常）或 needs_help（需要帮助）")),
    };
    let note = text("note", &input.note, 500, false)?;
    let mut tx = Tx::begin(state, actor).await?;
    let person = queries::person(tx.conn(), &actor.everywhere(), person_id).await?;
    let carer = queries::carer(tx.conn(), &person)
        .await?
        .ok_or_else(|| verr("status", "尚未指定照料责任人"))?;
    let mut check = DailyCheck {
        id: 0,
        person_id,
        date: ymd(day),
        status: status.to_string(),
        status_label: check_status_label(status).to_string(),
        note,
        carer_name: carer.name,
        recorded_by: actor.username.clone(),
        updated: false,
    };
    let change = match queries::check_of_day(tx.conn(), &state.keys, &person, &check.date).await? {
        Some(old) => {
            check.id = old.id;
            check.updated = true;
            queries::update_check(&mut tx, &state.keys, &check).await?;
            Change::new(
                "care.check.update",
                "care_check",
                old.id,
                &person.region_code,
            )
            .detail(json!({"person_id": person_id, "date": check.date,
            // What changed, not the values: status and note are sealed in the row.
            "changed": audit::diff(&[
                ("status", json!(old.status), json!(check.status)),
                ("note", json!(old.note), json!(check.note)),
            ]).as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()).unwrap_or_default()}))
        }
        None => {
            check.id = queries::insert_check(&mut tx, &state.keys, &check).await?;
            Change::new(
                "care.check.create",
                "care_check",
                check.id,
                &person.region_code,
            )
            .detail(json!({"person_id": person_id, "date": check.date}))
        }
    };
    tx.commit(change).await?;
    Ok(check)
}
