//! The coverage view (走访覆盖): per category, the members active at some time in a period,
//! how many of them were visited in it and the share; and the members not visited (names
//! shown as in other areas' lists, `people::shown`). The period and region come typed from the
//! edge ([`CoverageQuery::period`]); the region must be in the caller's scope (else 404).

use backstop_core::region::RegionCode;
use backstop_core::role::Permission;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::{CATEGORIES, opt_date, parse_category, queries, verr, ymd};
use crate::kernel::actor::Actor;
use crate::kernel::error::AppResult;
use crate::kernel::extract::region_param;
use crate::state::AppState;

/// Region and period of a coverage view.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct CoverageQuery {
    /// Region code; default the caller's scope.
    pub region: Option<String>,
    /// `YYYY-MM-DD`; default the first day of the current month.
    pub from: Option<String>,
    /// `YYYY-MM-DD`; default today.
    pub to: Option<String>,
    /// Only for the not-contacted list: one category.
    pub category: Option<String>,
}

/// A region (none: the caller's scope) and a period, both typed.
#[derive(Debug, Clone)]
pub struct Period {
    pub region: Option<RegionCode>,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl CoverageQuery {
    /// The region (malformed: *not found*) and the period (default: this month up to
    /// `today`; `to` before `from`: 422).
    pub fn period(&self, today: NaiveDate) -> AppResult<Period> {
        let region = region_param(self.region.as_deref())?;
        let from = opt_date("from", self.from.as_deref())?
            .unwrap_or_else(|| today.with_day0(0).unwrap_or(today));
        let to = opt_date("to", self.to.as_deref())?.unwrap_or(today);
        if to < from {
            return Err(verr("to", "不能早于开始日期"));
        }
        Ok(Period { region, from, to })
    }

    /// The one category of the not-contacted list, if asked for (unknown: 422).
    pub fn category(&self) -> AppResult<Option<&'static str>> {
        match self
            .category
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(c) => Ok(Some(
                parse_category(c).ok_or_else(|| verr("category", "未知的类别"))?,
            )),
            None => Ok(None),
        }
    }
}

/// One row of the coverage view.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CoverageRow {
    pub category: String,
    pub category_label: String,
    /// Persons in the category at some time in the period.
    pub members: i64,
    /// Of those, persons visited at least once in the period.
    pub contacted: i64,
    /// contacted / members (0 when there are no members).
    pub share: f64,
}

/// The coverage view.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Coverage {
    pub region: String,
    pub from: String,
    pub to: String,
    /// Every category, in the fixed order.
    pub rows: Vec<CoverageRow>,
}

/// One member not contacted in the period.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NotContacted {
    pub person_id: i64,
    pub name_masked: String,
    pub region_code: String,
    pub region_name: String,
    pub categories: Vec<String>,
}

/// Per category: members active in the period, how many were contacted, the share.
pub async fn coverage(state: &AppState, actor: &Actor, p: &Period) -> AppResult<Coverage> {
    actor.require(Permission::PersonsRead)?;
    let scope = actor.within_opt(p.region.as_ref())?;
    let (from, to) = (ymd(p.from), ymd(p.to));
    let counts = queries::coverage_counts(state, &scope, &from, &to).await?;
    let rows = CATEGORIES
        .iter()
        .map(|(id, label)| {
            let (members, contacted) = counts.get(*id).copied().unwrap_or((0, 0));
            CoverageRow {
                category: (*id).to_string(),
                category_label: (*label).to_string(),
                members,
                contacted,
                share: if members > 0 {
                    contacted as f64 / members as f64
                } else {
                    0.0
                },
            }
        })
        .collect();
    Ok(Coverage {
        region: scope
            .node()
            .region()
            .map(|c| c.to_string())
            .unwrap_or_default(),
        from,
        to,
        rows,
    })
}

/// Members active in the period and not visited in it (names masked), optionally of one
/// category; at most 5000, by region and id.
pub async fn not_contacted(
    state: &AppState,
    actor: &Actor,
    p: &Period,
    category: Option<&'static str>,
) -> AppResult<Vec<NotContacted>> {
    actor.require(Permission::PersonsRead)?;
    let scope = actor.within_opt(p.region.as_ref())?;
    queries::not_contacted(state, &scope, &ymd(p.from), &ymd(p.to), category).await
}
