//! Due times of the workflow steps per county (办理时限, issue 16 item 2): how many days a
//! community has to verify (核查), a township to review (审核), a county to approve (审批),
//! how long the publicity (公示) lasts and how long the county has to confirm an aid-first
//! grant. A county sets its own; a county that set none inherits the nearest set by its city,
//! then its province; where nobody set any, the defaults of [`Settings::default`] apply.
//! Setting them needs `assistance.standards` for the region (province, city or county) and is
//! audited (`assistance.settings_set`, before and after). The due time of an application is
//! fixed when its step starts: a change applies to steps started afterwards.

use backstop_core::error::ErrorCode;
use backstop_core::region::{RegionCode, RegionLevel};
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Settings, queries};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// The most days a step may be given.
pub const MAX_DAYS: i64 = 90;

/// The steps, their Chinese names, and where each lives in [`Settings`].
pub const STEPS: [(&str, &str); 5] = [
    ("verify_days", "入户核查（村/社区）"),
    ("review_days", "审核（乡镇）"),
    ("publicity_days", "公示"),
    ("approve_days", "审批（县级）"),
    ("aid_first_days", "先行救助补审批（县级）"),
];

/// The due times in force for a region and where they come from.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DueTimes {
    pub region_code: String,
    /// The region that set them (this one, or a city/province above it); `null` for the
    /// defaults.
    pub set_at: Option<String>,
    /// Whether the region set its own.
    pub own: bool,
    pub settings: Settings,
}

/// Body of `PUT /api/v1/assistance/settings`: a province, city or county and whole days
/// (1 to 90) for each step.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct DueTimesInput {
    pub region_code: String,
    pub verify_days: i64,
    pub review_days: i64,
    pub publicity_days: i64,
    pub approve_days: i64,
    pub aid_first_days: i64,
}

impl Settings {
    /// The days set for a step key of [`STEPS`].
    pub fn days(&self, key: &str) -> i64 {
        match key {
            "verify_days" => self.verify_days,
            "review_days" => self.review_days,
            "publicity_days" => self.publicity_days,
            "approve_days" => self.approve_days,
            _ => self.aid_first_days,
        }
    }
}

fn lineage(code: &RegionCode) -> Vec<String> {
    code.lineage()
        .iter()
        .map(|c| c.as_str().to_string())
        .collect()
}

/// The due times in force for `region` (any level: a township or village reads its county's).
pub async fn in_force(state: &AppState, region: &RegionCode) -> AppResult<DueTimes> {
    let found = queries::settings_in_force(state, &lineage(region)).await?;
    Ok(match found {
        Some((at, settings)) => DueTimes {
            region_code: region.as_str().to_string(),
            own: at == region.as_str(),
            set_at: Some(at),
            settings,
        },
        None => DueTimes {
            region_code: region.as_str().to_string(),
            set_at: None,
            own: false,
            settings: Settings::default(),
        },
    })
}

/// The due times for a region in the caller's scope (default: the caller's own region).
pub async fn get(
    state: &AppState,
    actor: &Actor,
    region: Option<&RegionCode>,
) -> AppResult<DueTimes> {
    actor.require(Permission::AssistanceRead)?;
    let scope = actor.within_opt(region)?;
    let code = scope.node().region().cloned().ok_or_else(|| {
        AppError::field(ErrorCode::Validation, "region", "请选择省、市或县级区划")
    })?;
    in_force(state, &code).await
}

fn days_field(field: &str, v: i64) -> AppResult<i64> {
    if (1..=MAX_DAYS).contains(&v) {
        Ok(v)
    } else {
        Err(AppError::field(
            ErrorCode::Validation,
            field,
            format!("应为 1 到 {MAX_DAYS} 之间的整天数"),
        ))
    }
}

/// Set a province's, city's or county's own due times (audited with before and after).
pub async fn set(state: &AppState, actor: &Actor, input: &DueTimesInput) -> AppResult<DueTimes> {
    actor.require(Permission::AssistanceStandards)?;
    let code =
        crate::regions::existing_in_scope(state, actor, "region_code", &input.region_code).await?;
    if code.level() > RegionLevel::County {
        return Err(AppError::field(
            ErrorCode::Validation,
            "region_code",
            "办理时限由县级（或市、省统一）设定，乡镇和村不能单独设定",
        ));
    }
    let s = Settings {
        verify_days: days_field("verify_days", input.verify_days)?,
        review_days: days_field("review_days", input.review_days)?,
        publicity_days: days_field("publicity_days", input.publicity_days)?,
        approve_days: days_field("approve_days", input.approve_days)?,
        aid_first_days: days_field("aid_first_days", input.aid_first_days)?,
    };
    let before = in_force(state, &code).await?;
    let mut tx = Tx::begin(state, actor).await?;
    queries::put_settings(&mut tx, code.as_str(), &s, &actor.username).await?;
    tx.commit(
        Change::new(
            "assistance.settings_set",
            "assistance_settings",
            code.as_str(),
            code.as_str(),
        )
        .detail(json!({
            "settings": {"before": before.own.then_some(&before.settings), "after": &s},
            "inherited_from": if before.own { None } else { before.set_at.clone() },
        })),
    )
    .await?;
    in_force(state, &code).await
}
