//! Person-level health events (人员健康事件, issue 17 item 1, "institution reports"): the staff
//! of a service institution or a hospital record that a person of the registry they serve is
//! confirmed (确诊), suspected (疑似), isolated (隔离), hospitalised (住院) or has died (死亡), on
//! a day. Each of these means the person's children may be left without care: in the same
//! write transaction every child of the person's household and every child they are the
//! recorded carer of gets a lead (`children::leads::for_parent`), addressed to the child's
//! village.
//!
//! Rules: recording needs `ReportsSubmit` for the organisation (an institution reporter only
//! for the organisation they are tied to; anyone else's organisation is *not found*); the
//! person is picked by id or by ID number and must lie inside the organisation's region and
//! the actor's scope (else *not found*, the same whether the person exists elsewhere or not).
//! Reading the list needs `ReportsRead`: the organisation's own staff and officials in scope,
//! the person's name masked. The status is a health fact: sealed at rest (`status_enc`) and
//! left out of the audit detail, which names the event, the person and the leads only.

use backstop_core::citizen_id::CitizenId;
use backstop_core::error::ErrorCode;
use backstop_core::region::RegionCode;
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{day_or_today, day_param, is_institution_kind, may_write, queries, ymd};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::orgs::{Org, OrgKind};
use crate::state::AppState;

/// The statuses a health event records, `(key, Chinese label)`.
pub const STATUSES: [(&str, &str); 5] = [
    ("confirmed", "确诊"),
    ("suspected", "疑似"),
    ("isolated", "隔离"),
    ("hospitalised", "住院"),
    ("deceased", "死亡"),
];

/// The Chinese label of a status (the key itself when unknown).
pub fn status_label(key: &str) -> &str {
    STATUSES
        .iter()
        .find(|(k, _)| *k == key)
        .map_or(key, |(_, l)| *l)
}

/// The reason a child's lead gives for a parent's status (one of `children::REASONS`).
/// Hospitalised says nothing of the illness: `other`.
fn lead_reason(status: &str) -> &'static str {
    match status {
        "confirmed" => "parent_infected",
        "suspected" => "parent_suspected",
        "isolated" => "parent_isolated",
        "deceased" => "parent_deceased",
        _ => "other",
    }
}

/// A recorded health event (the person's name masked).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HealthEvent {
    pub id: i64,
    pub org_id: i64,
    pub person_id: i64,
    pub person_name: String,
    /// The person's region.
    pub region_code: String,
    /// `YYYY-MM-DD`.
    pub day: String,
    /// One of `confirmed`, `suspected`, `isolated`, `hospitalised`, `deceased`.
    pub status: String,
    pub status_label: String,
    /// How many child leads the event opened.
    pub leads: i64,
    pub recorded_by: String,
    pub created_at: String,
}

/// Body of `POST /api/v1/institutions/{org}/health-events`: the person by `person_id` (a
/// pick) or by `id_number` (身份证号), the status and the day.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewHealthEvent {
    #[serde(default)]
    pub person_id: Option<i64>,
    #[serde(default)]
    pub id_number: Option<String>,
    /// `confirmed`, `suspected`, `isolated`, `hospitalised` or `deceased`.
    pub status: String,
    /// `YYYY-MM-DD`; default today, never after today.
    #[serde(default)]
    pub day: Option<String>,
}

/// An institution or a hospital in the actor's scope (else *not found*).
async fn health_org(state: &AppState, actor: &Actor, id: i64) -> AppResult<Org> {
    actor.require(Permission::ReportsRead)?;
    let org = crate::orgs::get(state, actor, id).await?;
    if is_institution_kind(&org.kind) || org.kind == OrgKind::Hospital.as_str() {
        Ok(org)
    } else {
        Err(AppError::not_found())
    }
}

/// The organisation a health event may be recorded for by the actor (else *not found*: the
/// organisation of someone else is not shown to exist).
pub async fn writable_org(state: &AppState, actor: &Actor, id: i64) -> AppResult<Org> {
    let org = health_org(state, actor, id).await?;
    if !may_write(actor, org.id) || org.disabled {
        return Err(AppError::not_found());
    }
    Ok(org)
}

/// The organisation of the health-events page (an institution or hospital in scope) and
/// whether the actor may record for it.
pub async fn page_org(state: &AppState, actor: &Actor, id: i64) -> AppResult<(Org, bool)> {
    let org = health_org(state, actor, id).await?;
    let writes = may_write(actor, org.id) && !org.disabled;
    Ok((org, writes))
}

/// The person of the event: by id or by ID number, inside the organisation's region (and the
/// actor's scope); else *not found*.
async fn person_of(
    state: &AppState,
    actor: &Actor,
    org: &Org,
    input: &NewHealthEvent,
) -> AppResult<crate::people::queries::Stored> {
    let region = RegionCode::parse(&org.region_code).map_err(|_| AppError::not_found())?;
    let scope = actor.within(&region)?;
    let number = input
        .id_number
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let person = match (input.person_id, number) {
        (Some(id), _) => crate::people::queries::person_now(state, &scope, id).await?,
        (None, Some(n)) => {
            let id = CitizenId::parse(n).map_err(|e| {
                AppError::field(ErrorCode::InvalidIdNumber, "id_number", e.to_string())
            })?;
            let index = crate::people::id_index(state, &id);
            let mut conn = state.db.pool().acquire().await?;
            match crate::people::queries::holder(&mut conn, &scope, &index).await? {
                crate::people::queries::Holder::Here(p) => *p,
                _ => return Err(AppError::not_found()),
            }
        }
        (None, None) => {
            return Err(AppError::field(
                ErrorCode::Validation,
                "person_id",
                "请选择人员或填写身份证号",
            ));
        }
    };
    if person.disabled {
        return Err(AppError::not_found());
    }
    Ok(person)
}

/// Record a health event for a person and, in the same transaction, open a lead for each of
/// the person's children and dependants. With an `Idempotency-Key` already used, the first
/// answer.
pub async fn record(
    state: &AppState,
    actor: &Actor,
    org_id: i64,
    input: &NewHealthEvent,
    idem: Option<&str>,
) -> AppResult<HealthEvent> {
    let org = writable_org(state, actor, org_id).await?;
    if let Some(id) = crate::assistance::replayed(state, actor, idem, "health_event").await? {
        return one(state, actor, &org, id).await;
    }
    let status = STATUSES
        .iter()
        .map(|(k, _)| *k)
        .find(|k| *k == input.status.trim())
        .ok_or_else(|| {
            AppError::field(
                ErrorCode::Validation,
                "status",
                "应为以下之一：确诊、疑似、隔离、住院、死亡",
            )
        })?;
    let day = day_or_today(state, "day", day_param("day", input.day.as_deref())?)?;
    let person = person_of(state, actor, &org, input).await?;
    let mut tx = Tx::begin(state, actor).await?;
    let row = queries::HealthEventRow {
        org_id: org.id,
        org_region: &org.region_code,
        person_id: person.id,
        region_code: &person.region_code,
        day: &ymd(day),
        status_enc: crate::privacy::seal(&state.keys, status),
        by: &actor.username,
    };
    let id = queries::insert_health_event(&mut tx, &row).await?;
    let leads = crate::children::leads::for_parent(
        &mut tx,
        state,
        person.id,
        lead_reason(status),
        "health_event",
        &format!("health_event:{id}"),
    )
    .await?;
    queries::set_health_event_leads(&mut tx, id, leads.len() as i64).await?;
    crate::assistance::remember(&mut tx, actor, idem, "health_event", id).await?;
    // The status is a health fact: not in the audit detail.
    tx.commit(
        Change::new(
            "institution.health_event",
            "health_event",
            id,
            &org.region_code,
        )
        .detail(json!({"org_id": org.id, "person_id": person.id, "leads": leads})),
    )
    .await?;
    one(state, actor, &org, id).await
}

async fn one(state: &AppState, actor: &Actor, org: &Org, id: i64) -> AppResult<HealthEvent> {
    list_of(state, actor, org)
        .await?
        .into_iter()
        .find(|e| e.id == id)
        .ok_or_else(AppError::not_found)
}

async fn list_of(state: &AppState, actor: &Actor, org: &Org) -> AppResult<Vec<HealthEvent>> {
    let scope = actor.everywhere();
    scope.admit(&org.region_code, ())?;
    scope.admit_org(org.id, ())?;
    queries::health_events(state, &scope, org.id).await
}

/// The health events an organisation recorded, newest first (at most 500): its own staff and
/// officials in scope; anyone tied to another organisation finds nothing (*not found*).
pub async fn list(state: &AppState, actor: &Actor, org_id: i64) -> AppResult<Vec<HealthEvent>> {
    let org = health_org(state, actor, org_id).await?;
    list_of(state, actor, &org).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_lead_reasons() {
        assert_eq!(status_label("confirmed"), "确诊");
        assert_eq!(status_label("deceased"), "死亡");
        assert_eq!(lead_reason("confirmed"), "parent_infected");
        assert_eq!(lead_reason("hospitalised"), "other");
        for (k, _) in STATUSES {
            let r = lead_reason(k);
            assert!(crate::children::REASONS.iter().any(|(x, _)| *x == r));
        }
    }
}
