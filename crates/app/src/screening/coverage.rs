//! Roll-ups by child region: a campaign's live coverage (households reached of households on
//! the roll, children furthest behind first — the "four full coverages") and the number of
//! people under home observation (children with most first). The region asked for must be in
//! the caller's scope (and, for coverage, in the campaign), else *not found*.

use backstop_core::region::RegionCode;
use backstop_core::role::Permission;
use serde::Serialize;

use super::visits::campaign_scope;
use super::{get_campaign, queries};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// Households reached of households on the roll in one child region.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CoverageChild {
    pub code: String,
    pub name: String,
    pub households: i64,
    pub reached: i64,
}

/// Coverage of a region in a campaign; children furthest behind first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Coverage {
    pub region: String,
    pub households: i64,
    pub reached: i64,
    pub children: Vec<CoverageChild>,
}

/// People under observation in one child region.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SummaryChild {
    pub code: String,
    pub name: String,
    pub count: i64,
}

/// People under observation in a region, rolled up by child region (most first).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ObservationSummary {
    /// The region (`0` for the whole country).
    pub region: String,
    pub under_observation: i64,
    pub children: Vec<SummaryChild>,
}

/// Live coverage of a campaign in `region` (default: the campaign's region, or the caller's
/// scope when narrower). The region must lie in the campaign and the caller's scope.
pub async fn coverage(
    state: &AppState,
    actor: &Actor,
    campaign_id: i64,
    region: Option<&RegionCode>,
) -> AppResult<Coverage> {
    actor.require(Permission::PersonsRead)?;
    let campaign = get_campaign(state, actor, campaign_id).await?;
    let scope = match region {
        Some(r) => {
            let scope = actor.within(r)?;
            let camp =
                RegionCode::parse(&campaign.region_code).map_err(|_| AppError::not_found())?;
            if !camp.contains(r) {
                return Err(AppError::not_found());
            }
            scope
        }
        None => campaign_scope(actor, &campaign)?,
    };
    let (households, reached) = queries::campaign_totals(state, &scope, campaign_id).await?;
    let mut children: Vec<CoverageChild> = queries::campaign_by_child(state, &scope, campaign_id)
        .await?
        .into_iter()
        .map(|(code, name, households, reached)| CoverageChild {
            code,
            name,
            households,
            reached,
        })
        .collect();
    // Furthest behind first: lowest share reached (regions with nobody on the roll last),
    // then most households still to reach.
    children.sort_by(|a, b| {
        let empty = (a.households == 0).cmp(&(b.households == 0));
        let share = (i128::from(a.reached) * i128::from(b.households))
            .cmp(&(i128::from(b.reached) * i128::from(a.households)));
        let left = (b.households - b.reached).cmp(&(a.households - a.reached));
        empty
            .then(share)
            .then(left)
            .then_with(|| a.code.cmp(&b.code))
    });
    Ok(Coverage {
        region: scope.node().as_str().to_string(),
        households,
        reached,
        children,
    })
}

/// Counts of people under observation by child region.
pub async fn summary(
    state: &AppState,
    actor: &Actor,
    region: Option<&RegionCode>,
) -> AppResult<ObservationSummary> {
    actor.require(Permission::PersonsRead)?;
    let scope = actor.within_opt(region)?;
    let total = queries::observations_active(state, &scope).await?;
    let mut children: Vec<SummaryChild> = queries::observations_by_child(state, &scope)
        .await?
        .into_iter()
        .map(|(code, name, count)| SummaryChild { code, name, count })
        .collect();
    children.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.code.cmp(&b.code)));
    Ok(ObservationSummary {
        region: scope.node().as_str().to_string(),
        under_observation: total,
        children,
    })
}
