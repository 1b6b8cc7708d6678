//! Screening campaigns (摸排活动): opening one and reading those the caller may see. A campaign
//! is visible to a caller whose scope overlaps its region — inside it (a village worker in a
//! county campaign) or containing it; anything else is *not found*.

use backstop_core::error::ErrorCode;
use backstop_core::region::{RegionLevel, Scope};
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::queries;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, date_range, text_field};
use crate::regions;
use crate::state::AppState;

/// A screening campaign.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Campaign {
    pub id: i64,
    pub region_code: String,
    pub region_name: String,
    pub name: String,
    pub purpose: String,
    /// `YYYY-MM-DD`.
    pub starts_on: String,
    pub ends_on: String,
    /// Ask for travel and contact history.
    pub ask_history: bool,
    pub ask_symptoms: bool,
    pub ask_temperature: bool,
    pub created_by: String,
    /// Beijing time.
    pub created_at: String,
    /// Opened at the parent deployment and sent down (issue 20): shown as such.
    pub from_parent: bool,
}

fn default_true() -> bool {
    true
}

/// Body of `POST /api/v1/screening/campaigns`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewCampaign {
    pub name: String,
    #[serde(default)]
    pub purpose: String,
    /// `YYYY-MM-DD`.
    pub starts_on: String,
    pub ends_on: String,
    /// The region screened (in the caller's scope).
    pub region_code: String,
    #[serde(default = "default_true")]
    pub ask_history: bool,
    #[serde(default = "default_true")]
    pub ask_symptoms: bool,
    #[serde(default = "default_true")]
    pub ask_temperature: bool,
}

/// Open a campaign: an official above village level, for a region in scope.
pub async fn create_campaign(
    state: &AppState,
    actor: &Actor,
    input: &NewCampaign,
) -> AppResult<Campaign> {
    actor.require(Permission::PersonsWrite)?;
    if let Scope::Region(s) = &actor.scope
        && s.level() >= RegionLevel::Village
    {
        return Err(AppError::msg(
            ErrorCode::Forbidden,
            "摸排活动须由乡镇（街道）及以上开展",
        ));
    }
    let name = text_field("name", &input.name, 100, true)?;
    let purpose = text_field("purpose", &input.purpose, 500, false)?;
    let (starts, ends) = date_range(&input.starts_on, &input.ends_on)?;
    let code = regions::existing_in_scope(state, actor, "region_code", &input.region_code).await?;
    let row = queries::NewCampaignRow {
        region_code: code.as_str(),
        name: &name,
        purpose: &purpose,
        starts_on: &starts.format("%Y-%m-%d").to_string(),
        ends_on: &ends.format("%Y-%m-%d").to_string(),
        ask: [input.ask_history, input.ask_symptoms, input.ask_temperature],
        created_by: &actor.username,
    };
    let mut tx = Tx::begin(state, actor).await?;
    let id = queries::insert_campaign(&mut tx, &row).await?;
    tx.commit(
        Change::new(
            "screening.campaign_create",
            "screening_campaign",
            id,
            code.as_str(),
        )
        .detail(json!({
            "name": {"before": null, "after": name},
            "starts_on": {"before": null, "after": input.starts_on.trim()},
            "ends_on": {"before": null, "after": input.ends_on.trim()},
            "ask": {"history": input.ask_history, "symptoms": input.ask_symptoms,
                    "temperature": input.ask_temperature},
        })),
    )
    .await?;
    get_campaign(state, actor, id).await
}

/// One campaign visible to the caller.
pub async fn get_campaign(state: &AppState, actor: &Actor, id: i64) -> AppResult<Campaign> {
    actor.require(Permission::PersonsRead)?;
    queries::campaign(state, &actor.everywhere(), id).await
}

/// Campaigns visible to the caller, newest first (at most 200).
pub async fn list_campaigns(state: &AppState, actor: &Actor) -> AppResult<Vec<Campaign>> {
    actor.require(Permission::PersonsRead)?;
    queries::campaigns(state, &actor.everywhere()).await
}
