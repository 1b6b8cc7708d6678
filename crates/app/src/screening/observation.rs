//! Home medical observation (居家医学观察, 四包一): starting one for a person in scope with four
//! named responsible people (phones encrypted, shown masked), reading one with its four and its
//! check-ins, the scoped list, and the three changes of an active observation — a check-in in
//! the current Beijing half-day, an end date moved later (never earlier), and closing it by
//! release or transfer. The person's name is shown as in other areas' lists (`people::shown`).
//! A check-in at or above the one fever rule (`backstop_core::temperature::is_fever`, the
//! gates' and institutions' rule) raises the gates' alert (`entrance::raise_for_observation`):
//! the village's community workers (else the township) and the four are notified, audited.
//! The four's phones are in full only for the worker responsible (`responsible_for`).

use backstop_core::error::ErrorCode;
use backstop_core::region::RegionCode;
use backstop_core::role::{Permission, Role};
use backstop_core::temperature;
use chrono::Duration;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{DEFAULT_DAYS, OUTCOMES, check_temperature, queries, slot_label, slot_of};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::crypto::KeyRing;
use crate::kernel::error::{AppError, AppResult, date_field, text_field};
use crate::people;
use crate::state::AppState;

/// One of the four responsible people, as given.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct KeeperInput {
    /// e.g. 社区干部, 医生, 民警, 志愿者.
    pub role: String,
    pub name: String,
    pub phone: String,
}

/// Body of `POST /api/v1/observations`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewObservation {
    pub person_id: i64,
    /// Exactly four responsible people (四包一).
    pub keepers: Vec<KeeperInput>,
    /// Last day, `YYYY-MM-DD`; default 14 days from today.
    #[serde(default)]
    pub ends_on: Option<String>,
    #[serde(default)]
    pub reason: String,
}

/// A responsible person, phone masked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Keeper {
    pub role: String,
    pub name: String,
    pub phone_masked: String,
    /// The full number, only for the worker responsible for the observation (see
    /// [`responsible_for`]); absent for everyone else.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// A check-in.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Checkin {
    /// `2026-03-02 上午`.
    pub slot: String,
    /// Tenths of a degree.
    pub temperature: i64,
    pub symptoms: bool,
    pub note: String,
    pub recorded_by: String,
    pub recorded_at: String,
}

/// A home observation (name masked).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Observation {
    pub id: i64,
    pub person_id: i64,
    pub name_masked: String,
    pub region_code: String,
    pub region_name: String,
    pub reason: String,
    pub started_at: String,
    pub ends_on: String,
    /// `active`, `released`, `central_isolation`, `hospital`.
    pub status: String,
    pub status_label: String,
    pub closed_at: Option<String>,
    pub close_note: String,
    /// Username of the worker who started it (responsible for it).
    pub started_by: String,
    /// The four (only on a single observation; empty in lists).
    pub keepers: Vec<Keeper>,
    /// Newest first (only on a single observation).
    pub checkins: Vec<Checkin>,
}

/// Body of `POST /api/v1/observations/{id}/checkins`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewCheckin {
    /// Tenths of a degree (365 = 36.5 ℃), 340–430.
    pub temperature: i64,
    #[serde(default)]
    pub symptoms: bool,
    #[serde(default)]
    pub note: String,
}

/// Body of `POST /api/v1/observations/{id}/close`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct CloseObservation {
    /// `released`, `central_isolation` or `hospital`.
    pub outcome: String,
    #[serde(default)]
    pub note: String,
}

/// Filters of `GET /api/v1/observations`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct ObservationQuery {
    /// Region code; default the caller's scope.
    pub region: Option<String>,
    /// `active` (default), `closed` or `all`.
    pub status: Option<String>,
}

/// Which observations a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listed {
    Active,
    Closed,
    All,
}

impl Listed {
    /// `active` (default), `closed` or `all`.
    pub fn parse(s: Option<&str>) -> AppResult<Listed> {
        match s.map(str::trim) {
            None | Some("") | Some("active") => Ok(Listed::Active),
            Some("closed") => Ok(Listed::Closed),
            Some("all") => Ok(Listed::All),
            Some(_) => Err(AppError::field(
                ErrorCode::Validation,
                "status",
                "应为 active、closed 或 all",
            )),
        }
    }
}

/// Start a home observation for a person in scope, with four responsible people.
pub async fn start_observation(
    state: &AppState,
    actor: &Actor,
    input: &NewObservation,
) -> AppResult<Observation> {
    actor.require(Permission::PersonsWrite)?;
    let person = people::get(state, actor, input.person_id).await?;
    let today = state.today();
    if input.keepers.len() != 4 {
        return Err(AppError::field(
            ErrorCode::Validation,
            "keepers",
            "须指定四名责任人（四包一）",
        ));
    }
    let mut keepers = Vec::with_capacity(4);
    for (i, k) in input.keepers.iter().enumerate() {
        let f = |what: &str| format!("keepers[{i}].{what}");
        let role = text_field(&f("role"), &k.role, 20, true)?;
        let name = text_field(&f("keeper_name"), &k.name, 50, true)?;
        let phone = people::normalise_phone(&k.phone)
            .map_err(|m| AppError::field(ErrorCode::Validation, &f("phone"), m))?
            .ok_or_else(|| AppError::field(ErrorCode::Validation, &f("phone"), "不能为空"))?;
        let sealed = people::seal(state, None, Some(&phone));
        keepers.push(queries::KeeperRow {
            role,
            name,
            phone_enc: sealed.phone_enc,
            phone_masked: sealed.phone_masked,
        });
    }
    let ends_on = match input.ends_on.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => {
            let d = date_field("ends_on", s)?;
            if d < today {
                return Err(AppError::field(
                    ErrorCode::Validation,
                    "ends_on",
                    "结束日期不能早于今天",
                ));
            }
            d
        }
        _ => today + Duration::days(DEFAULT_DAYS),
    };
    let ends_on = ends_on.format("%Y-%m-%d").to_string();
    let reason = text_field("reason", &input.reason, 200, false)?;
    let mut tx = Tx::begin(state, actor).await?;
    if let Some(a) = queries::active_observation_of(&mut tx, person.id).await? {
        return Err(AppError::msg(
            ErrorCode::Conflict,
            format!("该人员已在居家医学观察中（观察编号 {a}）"),
        ));
    }
    let new = queries::NewObservationRow {
        person_id: person.id,
        region_code: &person.region_code,
        reason: &reason,
        ends_on: &ends_on,
        created_by: &actor.username,
    };
    let id = queries::insert_observation(&mut tx, &state.keys, &new, &keepers).await?;
    // Each child of the household: a lead at once (issue 17).
    let source_ref = format!("observation:{id}");
    crate::children::leads::for_parent(
        &mut tx,
        state,
        person.id,
        "parent_observation",
        "observation",
        &source_ref,
    )
    .await?;
    tx.commit(
        Change::new("observation.start", "observation", id, &person.region_code).detail(json!({
            "person_id": person.id,
            "ends_on": {"before": null, "after": ends_on},
            "keepers": keepers.iter().map(|k| json!({
                "role": k.role, "name": crate::people::shown::name_in_list(&k.name), "phone": k.phone_masked,
            })).collect::<Vec<_>>(),
        })),
    )
    .await?;
    get_observation(state, actor, id).await
}

/// Is `actor` the worker responsible for the observation — the one who started it, or a
/// community worker of the observed person's own village? The four keepers' phones are for
/// them (to call the four): in full for them, masked for everyone else.
pub fn responsible_for(actor: &Actor, o: &Observation) -> bool {
    actor.username == o.started_by
        || (actor.roles.has_role(Role::CommunityWorker)
            && actor.scope.as_str() == o.region_code.as_str())
}

/// One observation in scope, with its four (phones in full only for the responsible worker)
/// and its check-ins.
pub async fn get_observation(state: &AppState, actor: &Actor, id: i64) -> AppResult<Observation> {
    actor.require(Permission::PersonsRead)?;
    let mut o = queries::observation_full(state, &actor.everywhere(), id).await?;
    if !responsible_for(actor, &o) {
        for k in &mut o.keepers {
            k.phone = None;
        }
    }
    Ok(o)
}

/// An active observation in scope, read inside the write that changes it.
async fn active(tx: &mut Tx, keys: &KeyRing, actor: &Actor, id: i64) -> AppResult<Observation> {
    let o = queries::observation(tx.conn(), keys, &actor.everywhere(), id).await?;
    if o.status == "active" {
        Ok(o)
    } else {
        Err(AppError::msg(ErrorCode::Validation, "该观察已结束"))
    }
}

/// Move the end date later (never earlier: 422).
pub async fn extend(
    state: &AppState,
    actor: &Actor,
    id: i64,
    ends_on: &str,
) -> AppResult<Observation> {
    actor.require(Permission::PersonsWrite)?;
    let new = date_field("ends_on", ends_on)?;
    let mut tx = Tx::begin(state, actor).await?;
    let o = active(&mut tx, &state.keys, actor, id).await?;
    let cur = date_field("ends_on", &o.ends_on)?;
    if new <= cur {
        return Err(AppError::field(
            ErrorCode::Validation,
            "ends_on",
            format!("观察期只能延长，不能缩短（当前结束日期 {}）", o.ends_on),
        ));
    }
    let new = new.format("%Y-%m-%d").to_string();
    queries::set_ends_on(&mut tx, id, &new).await?;
    tx.commit(
        Change::new("observation.extend", "observation", id, &o.region_code)
            .detail(json!({"ends_on": {"before": o.ends_on, "after": new}})),
    )
    .await?;
    get_observation(state, actor, id).await
}

/// Record a check-in in the current half-day slot.
pub async fn checkin(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &NewCheckin,
) -> AppResult<Observation> {
    actor.require(Permission::PersonsWrite)?;
    let temperature = check_temperature(input.temperature)?;
    let note = text_field("note", &input.note, 200, false)?;
    let mut tx = Tx::begin(state, actor).await?;
    let slot = slot_of(tx.now());
    let o = active(&mut tx, &state.keys, actor, id).await?;
    let row = queries::CheckinRow {
        slot,
        temperature,
        symptoms: input.symptoms,
        note: &note,
        recorded_by: &actor.username,
    };
    queries::insert_checkin(&mut tx, &state.keys, id, &row).await?;
    if temperature::is_fever(temperature) {
        // The one fever rule of gates and institutions: the same alert a gate raises.
        let keepers = queries::keepers_of(&mut tx, id)
            .await?
            .into_iter()
            .map(|(seq, _, _)| {
                (
                    o.region_code.clone(),
                    format!("observation:{id}:keeper:{seq}"),
                )
            })
            .collect();
        let when = slot_label(slot);
        let notified = crate::entrance::raise_for_observation(
            &mut tx,
            &o.region_code,
            keepers,
            // No temperature in the message (docs/PRIVACY.md): a reference and where.
            &[
                ("name", o.name_masked.clone()),
                ("id", id.to_string()),
                ("place", o.region_name.clone()),
                ("when", when.clone()),
            ],
        )
        .await?;
        tx.also(
            Change::new("observation.fever_alert", "observation", id, &o.region_code)
                .detail(json!({"slot": when, "notified": notified})),
        );
    }
    tx.commit(
        Change::new("observation.checkin", "observation", id, &o.region_code)
            // The temperature and symptoms are sealed in the row, not copied to the log.
            .detail(json!({"slot": slot_label(slot)})),
    )
    .await?;
    get_observation(state, actor, id).await
}

/// Close an observation: release, or transfer to central isolation or hospital.
pub async fn close(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &CloseObservation,
) -> AppResult<Observation> {
    actor.require(Permission::PersonsWrite)?;
    let outcome = OUTCOMES
        .iter()
        .find(|(k, l)| *k == input.outcome.trim() || *l == input.outcome.trim())
        .map(|(k, _)| *k)
        .ok_or_else(|| AppError::field(ErrorCode::Validation, "outcome", "未知的结束方式"))?;
    let note = text_field("note", &input.note, 500, false)?;
    let mut tx = Tx::begin(state, actor).await?;
    let o = active(&mut tx, &state.keys, actor, id).await?;
    queries::close_observation(&mut tx, &state.keys, id, outcome, &note).await?;
    tx.commit(
        Change::new("observation.close", "observation", id, &o.region_code)
            // The outcome and note are sealed in the row, not copied to the log.
            .detail(json!({"status": {"before": "active", "after": "closed"}})),
    )
    .await?;
    get_observation(state, actor, id).await
}

/// Observations in a region of the caller's scope (names masked), newest first.
pub async fn list_observations(
    state: &AppState,
    actor: &Actor,
    region: Option<&RegionCode>,
    listed: Listed,
) -> AppResult<Vec<Observation>> {
    actor.require(Permission::PersonsRead)?;
    queries::observations(state, &actor.within_opt(region)?, listed).await
}
