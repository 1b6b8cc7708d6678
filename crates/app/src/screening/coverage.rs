//! Roll-ups by child region: a campaign's live coverage (households reached of households on
//! the roll, children furthest behind first — the "four full coverages") and the number of
//! people under home observation (children with most first). The region asked for must be in
//! the caller's scope (and, for coverage, in the campaign), else *not found*.

use backstop_core::region::{RegionCode, RegionLevel};
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};

use super::federated::{COVERAGE_KIND, CoverageLine};
use super::visits::campaign_scope;
use super::{get_campaign, queries};
use crate::kernel::access::Scoped;
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
    coverage_of(state, &scope, campaign_id).await
}

/// Coverage of campaign `campaign_id` under the handle: the households here and, for a campaign
/// that child deployments report on (issue 20), the counts they sent, onto the child region
/// each lies in.
pub(super) async fn coverage_of(
    state: &AppState,
    scope: &Scoped<'_>,
    campaign_id: i64,
) -> AppResult<Coverage> {
    let (mut households, mut reached) = queries::campaign_totals(state, scope, campaign_id).await?;
    let mut children: Vec<CoverageChild> = queries::campaign_by_child(state, scope, campaign_id)
        .await?
        .into_iter()
        .map(|(code, name, households, reached)| CoverageChild {
            code,
            name,
            households,
            reached,
        })
        .collect();
    let len = children.first().map(|c| c.code.len());
    let period = campaign_id.to_string();
    for f in crate::federation::figures_under(state, COVERAGE_KIND, &period, scope.range()).await? {
        let Ok(l) = serde_json::from_str::<CoverageLine>(&f.body) else {
            continue;
        };
        households += l.households;
        reached += l.reached;
        let key = len.and_then(|n| l.region_code.get(..n));
        if let Some(c) = children.iter_mut().find(|c| Some(c.code.as_str()) == key) {
            c.households += l.households;
            c.reached += l.reached;
        }
    }
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
    summary_of(state, &scope).await
}

/// The kind of the observation counts a child deployment sends up (issue 20).
pub const FIGURES_KIND: &str = "observation";

/// One line a child deployment sends up: people under observation in a region (a village, or
/// those kept at a township or the node's region itself, `own_level`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservationLine {
    pub region_code: String,
    pub own_level: bool,
    pub count: i64,
}

/// What a child deployment sends up for its node's `region`: the counts per village, and those
/// kept above the villages, lines of nothing left out (the system reads, no personal data).
pub async fn node_lines(state: &AppState, region: &RegionCode) -> AppResult<Vec<ObservationLine>> {
    let system = Actor::operator();
    let mut out = Vec::new();
    let mut todo = vec![region.clone()];
    while let Some(code) = todo.pop() {
        let s = summary_of(state, &system.within(&code)?).await?;
        let below: i64 = s.children.iter().map(|c| c.count).sum();
        if s.under_observation > below {
            out.push(ObservationLine {
                region_code: code.to_string(),
                own_level: true,
                count: s.under_observation - below,
            });
        }
        for c in s.children.into_iter().filter(|c| c.count > 0) {
            match RegionCode::parse(&c.code) {
                Ok(r) if r.level() < RegionLevel::Village => todo.push(r),
                _ => out.push(ObservationLine {
                    region_code: c.code,
                    own_level: false,
                    count: c.count,
                }),
            }
        }
    }
    out.sort_by(|a, b| a.region_code.cmp(&b.region_code));
    Ok(out)
}

async fn summary_of(state: &AppState, scope: &Scoped<'_>) -> AppResult<ObservationSummary> {
    let mut total = queries::observations_active(state, scope).await?;
    let mut children: Vec<SummaryChild> = queries::observations_by_child(state, scope)
        .await?
        .into_iter()
        .map(|(code, name, count)| SummaryChild { code, name, count })
        .collect();
    // Child deployments' counts (issue 20), onto the child region each lies in.
    let len = children.first().map(|c| c.code.len());
    for f in crate::federation::figures_under(state, FIGURES_KIND, "current", scope.range()).await?
    {
        let Ok(l) = serde_json::from_str::<ObservationLine>(&f.body) else {
            continue;
        };
        total += l.count;
        let key = len.and_then(|n| l.region_code.get(..n));
        if let Some(c) = children.iter_mut().find(|c| Some(c.code.as_str()) == key) {
            c.count += l.count;
        }
    }
    children.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.code.cmp(&b.code)));
    Ok(ObservationSummary {
        region: scope.node().as_str().to_string(),
        under_observation: total,
        children,
    })
}
