//! The household visit of a campaign (入户摸排): one write records whether the household was
//! reached and every person in it (at home, history, symptoms, temperature, risk class,
//! disposition), replacing an earlier record of the same household; and the worker's finder
//! over the campaign's roll, not-yet-reached first. A household must be in the caller's scope
//! and in the campaign's region; the visit can only be recorded between the campaign's dates.

use backstop_core::error::ErrorCode;
use backstop_core::region::RegionCode;
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    Campaign, DISPOSITIONS, RISKS, check_temperature, get_campaign, parse_choice, queries,
};
use crate::kernel::access::{Change, Scoped, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, text_field};
use crate::state::AppState;

/// One person of a visited household, as recorded.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct MemberInput {
    pub person_id: i64,
    /// At home when visited.
    pub at_home: bool,
    /// Travel and contact history (free text).
    #[serde(default)]
    pub history: String,
    #[serde(default)]
    pub symptoms: bool,
    /// Tenths of a degree (365 = 36.5 ℃), 340–430; omit when not measured.
    #[serde(default)]
    pub temperature: Option<i64>,
    /// `confirmed`, `suspected`, `close_contact`, `fever` or `none` (default).
    #[serde(default)]
    pub risk: String,
    /// `home_observation`, `central_isolation`, `fever_clinic` or `none` (default).
    #[serde(default)]
    pub disposition: String,
}

/// Body of `POST /api/v1/screening/campaigns/{id}/households/{household_id}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct VisitInput {
    /// Whether the household was reached (入户).
    pub reached: bool,
    #[serde(default)]
    pub note: String,
    /// Persons of the household (none when not reached).
    #[serde(default)]
    pub members: Vec<MemberInput>,
}

/// A screened person.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VisitMember {
    pub person_id: i64,
    pub name: String,
    pub at_home: bool,
    pub history: String,
    pub symptoms: bool,
    pub temperature: Option<i64>,
    pub risk: String,
    pub risk_label: String,
    pub disposition: String,
    pub disposition_label: String,
}

/// The visit of one household in a campaign.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Visit {
    pub campaign_id: i64,
    pub household_id: i64,
    pub region_code: String,
    pub reached: bool,
    pub note: String,
    pub visited_by: String,
    pub visited_at: String,
    pub members: Vec<VisitMember>,
}

/// A household of a campaign's roll, for the worker's list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RollHousehold {
    pub id: i64,
    pub region_code: String,
    pub address: String,
    /// Names of the members (as the caller may see them in `people`).
    pub members: String,
    /// `None` not visited yet, `Some(true)` reached, `Some(false)` visited but not reached.
    pub reached: Option<bool>,
}

/// The narrower of the campaign's region and the caller's scope, as a handle. A campaign the
/// caller can see either contains the caller's scope or lies inside it.
pub(super) fn campaign_scope<'a>(actor: &'a Actor, campaign: &Campaign) -> AppResult<Scoped<'a>> {
    let camp = RegionCode::parse(&campaign.region_code).map_err(|_| AppError::not_found())?;
    match actor.scope.region() {
        Some(s) if camp.contains(s) => Ok(actor.everywhere()),
        _ => actor.within(&camp),
    }
}

/// Record (or record again) the visit of one household and every person in it, in one write.
pub async fn record_visit(
    state: &AppState,
    actor: &Actor,
    campaign_id: i64,
    household_id: i64,
    input: &VisitInput,
) -> AppResult<Visit> {
    actor.require(Permission::PersonsWrite)?;
    let campaign = get_campaign(state, actor, campaign_id).await?;
    let household =
        queries::household(state, &campaign_scope(actor, &campaign)?, household_id).await?;
    let today = state.today().format("%Y-%m-%d").to_string();
    if today < campaign.starts_on || today > campaign.ends_on {
        return Err(AppError::msg(
            ErrorCode::Validation,
            format!(
                "摸排时间为 {} 至 {}，今天不在其中",
                campaign.starts_on, campaign.ends_on
            ),
        ));
    }
    let note = text_field("note", &input.note, 500, false)?;
    if !input.reached && !input.members.is_empty() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "members",
            "未入户时不能登记人员情况",
        ));
    }
    let members_in = queries::household_member_ids(state, &household).await?;
    let mut checked: Vec<queries::ScreenedRow> = Vec::with_capacity(input.members.len());
    for m in &input.members {
        if !members_in.contains(&m.person_id) {
            return Err(AppError::field(
                ErrorCode::Validation,
                "members",
                format!("人员 {} 不是该户成员", m.person_id),
            ));
        }
        if checked.iter().any(|c| c.person_id == m.person_id) {
            return Err(AppError::field(
                ErrorCode::Validation,
                "members",
                format!("人员 {} 重复", m.person_id),
            ));
        }
        checked.push(queries::ScreenedRow {
            person_id: m.person_id,
            at_home: m.at_home,
            history: text_field("history", &m.history, 500, false)?,
            symptoms: m.symptoms,
            temperature: m.temperature.map(check_temperature).transpose()?,
            risk: parse_choice(&RISKS, "risk", &m.risk)?,
            disposition: parse_choice(&DISPOSITIONS, "disposition", &m.disposition)?,
        });
    }
    let mut tx = Tx::begin(state, actor).await?;
    let before = queries::save_visit(
        &mut tx,
        &state.keys,
        campaign_id,
        &household,
        &queries::VisitRow {
            reached: input.reached,
            note: &note,
            visited_by: &actor.username,
        },
        &checked,
    )
    .await?;
    // A parent confirmed, suspected or sent to isolation or observation: a lead for each child
    // of the household (issue 17).
    for c in &checked {
        let reason = match (c.risk, c.disposition) {
            ("confirmed", _) => "parent_infected",
            ("suspected", _) => "parent_suspected",
            (_, "central_isolation") => "parent_isolated",
            (_, "home_observation") => "parent_observation",
            _ => continue,
        };
        let source_ref = format!("screening:{campaign_id}/{}", household.id);
        crate::children::leads::for_parent(
            &mut tx,
            state,
            c.person_id,
            reason,
            "screening",
            &source_ref,
        )
        .await?;
    }
    tx.commit(
        Change::new(
            "screening.visit",
            "household",
            household.id,
            household.region.as_str(),
        )
        .detail(json!({
            "campaign_id": campaign_id,
            "reached": {"before": before, "after": input.reached},
            // Who was screened; what was found is sealed in the rows, not copied to the log.
            "persons": checked.iter().map(|c| c.person_id).collect::<Vec<_>>(),
        })),
    )
    .await?;
    get_visit(state, actor, campaign_id, household_id)
        .await?
        .ok_or_else(AppError::not_found)
}

/// The recorded visit of a household in a campaign, if any.
pub async fn get_visit(
    state: &AppState,
    actor: &Actor,
    campaign_id: i64,
    household_id: i64,
) -> AppResult<Option<Visit>> {
    actor.require(Permission::PersonsRead)?;
    let campaign = get_campaign(state, actor, campaign_id).await?;
    let household =
        queries::household(state, &campaign_scope(actor, &campaign)?, household_id).await?;
    queries::visit(state, campaign_id, &household).await
}

/// Households of the campaign in the caller's scope, matching an address or member name
/// fragment (or a household number), not-yet-reached first.
pub async fn find_households(
    state: &AppState,
    actor: &Actor,
    campaign_id: i64,
    q: &str,
) -> AppResult<Vec<RollHousehold>> {
    actor.require(Permission::PersonsRead)?;
    let campaign = get_campaign(state, actor, campaign_id).await?;
    let q: String = q.trim().chars().take(50).collect();
    queries::roll(state, &campaign_scope(actor, &campaign)?, campaign_id, &q).await
}
