//! Institution monitoring (机构监测): for each service institution (elderly care homes, child
//! welfare and minor protection institutions, relief stations, mental-health homes) this area
//! owns closed-management status with its history ([`closure`]), the entrance log ([`entries`],
//! persons shown masked, phones encrypted), the residents list and their three daily
//! temperature rounds ([`residents`], fever ≥ 37.3 ℃ flagged and listed), the supplies stock
//! ([`supplies`]), and shortage requests that rise to the county level, which answers them
//! ([`shortages`]). Every SQL statement of the area is in `queries`.
//!
//! Rules: reading needs `ReportsRead` and the institution inside the actor's scope (outside is
//! *not found*); the records about people an institution keeps (its residents, their rounds,
//! its entrance log) are read, by anyone tied to an organisation, only for that organisation
//! (`Scoped::admit_org`). Writing needs `ReportsSubmit` and, for anyone tied to an
//! organisation (an institution reporter), that organisation. Answering a shortage request
//! needs `ReportsManage` at county level or above. Every change is one write transaction with
//! its audit entry (persons masked in the audit detail). Temperatures are stored in tenths of
//! a degree (`backstop_core::temperature`). Person-level health events recorded by an
//! institution's or a hospital's staff, each opening leads for the person's children, are in
//! [`health`].

mod closure;
mod entries;
pub mod health;
pub mod pages;
mod queries;
mod resident_edit;
mod residents;
mod shortages;
mod supplies;
pub mod web;

use backstop_core::error::ErrorCode;
use backstop_core::region::{RegionCode, RegionLevel, Scope};
use backstop_core::role::{Permission, Role};
use backstop_core::temperature;
use chrono::NaiveDate;
use serde::Serialize;

pub use closure::{Closure, ClosureInput, set_closure};
pub use entries::{EntryInput, EntryView, add_entry, list_entries};
pub use health::{HealthEvent, NewHealthEvent};
pub use resident_edit::{
    ResidentPatch, ResidentState, get_resident, set_resident_active, update_resident,
};
pub use residents::{
    DayRow, FeverRow, Reading, Resident, ResidentInput, Round, RoundsInput, RoundsView, TempInput,
    add_resident, record_round, residents, rounds,
};
pub use shortages::{
    AnswerInput, Shortage, ShortageInput, answer_shortage, close_shortage, create_shortage,
    get_shortage, list_shortages, may_answer,
};
pub use supplies::{Item, LOW_DAYS, SuppliesInput, Supply, SupplyInput, set_supplies};

use crate::kernel::access::Scoped;
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, date_field};
use crate::orgs::OrgKind;
use crate::state::AppState;

/// The organisation kinds monitored here.
pub const INSTITUTION_KINDS: [OrgKind; 5] = [
    OrgKind::ElderlyCare,
    OrgKind::ChildWelfare,
    OrgKind::MinorProtection,
    OrgKind::ReliefStation,
    OrgKind::MentalHealth,
];

/// Fever threshold in tenths of a degree (37.3 ℃).
pub const FEVER_TENTHS: i64 = temperature::FEVER_TENTHS;

pub fn is_institution_kind(kind: &str) -> bool {
    INSTITUTION_KINDS.iter().any(|k| k.as_str() == kind)
}

/// Tenths of a degree from a reading in ℃; 34–43 ℃ only.
pub fn parse_temp(field: &str, celsius: f64) -> AppResult<i64> {
    temperature::tenths(celsius)
        .ok_or_else(|| AppError::field(ErrorCode::Validation, field, "体温应在 34.0–43.0 ℃ 之间"))
}

/// ℃ from tenths.
pub fn celsius(tenths: i64) -> f64 {
    temperature::celsius(tenths)
}

/// A day from the query string (`YYYY-MM-DD`, else a validation error naming `field`); empty
/// or absent is `None` (today).
pub fn day_param(field: &str, s: Option<&str>) -> AppResult<Option<NaiveDate>> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => date_field(field, s).map(Some),
    }
}

/// The day asked for, or today; a day after today (Beijing) is refused.
pub fn day_or_today(state: &AppState, field: &str, d: Option<NaiveDate>) -> AppResult<NaiveDate> {
    let t = state.today();
    let d = d.unwrap_or(t);
    if d > t {
        return Err(AppError::field(
            ErrorCode::Validation,
            field,
            "日期不能晚于今天",
        ));
    }
    Ok(d)
}

pub(crate) fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// An optional status filter from the query string: absent or empty is none, else one of
/// `allowed` (a validation error with `message` otherwise). Shared with the gates' alerts.
pub(crate) fn status_filter<'a>(
    status: Option<&'a str>,
    allowed: &[&str],
    message: &str,
) -> AppResult<Option<&'a str>> {
    match status.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) if !allowed.contains(&s) => {
            Err(AppError::field(ErrorCode::Validation, "status", message))
        }
        s => Ok(s),
    }
}

fn county_or_above(actor: &Actor) -> bool {
    actor.is_operator()
        || match &actor.scope {
            Scope::National => true,
            Scope::Region(c) => c.level() <= RegionLevel::County,
        }
}

/// May the actor record data for this institution? (`ReportsSubmit`; tied to it if tied to any
/// organisation; an institution reporter must be tied to it.)
pub fn may_write(actor: &Actor, org_id: i64) -> bool {
    if actor.is_operator() {
        return true;
    }
    if !actor.can(Permission::ReportsSubmit) {
        return false;
    }
    match actor.org_id {
        Some(o) => o == org_id,
        None => !actor.roles.has_role(Role::InstitutionReporter),
    }
}

// ---------------------------------------------------------------------------------------------
// Institutions

/// An institution with its current status, as listed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Institution {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub kind_label: String,
    pub region_code: String,
    pub region_name: String,
    /// Under closed management now.
    pub closed: bool,
    /// Start date of the closed management in force.
    pub closed_since: Option<String>,
    pub open_shortages: i64,
    /// Fever readings among residents today.
    pub fevers_today: i64,
}

/// An institution with its closed-management history and supplies.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InstitutionDetail {
    pub institution: Institution,
    /// Newest first.
    pub closures: Vec<Closure>,
    pub supplies: Vec<Supply>,
    /// Whether the caller may record data for it.
    pub can_write: bool,
}

/// The institution `id` if it is one and inside the actor's scope (else not found).
async fn load(state: &AppState, scope: &Scoped<'_>, id: i64) -> AppResult<Institution> {
    scope.require(Permission::ReportsRead)?;
    queries::institution(state, scope, id, &ymd(state.today())).await
}

/// [`load`], and the actor may record data for it (else forbidden).
async fn load_for_write(state: &AppState, scope: &Scoped<'_>, id: i64) -> AppResult<Institution> {
    let inst = load(state, scope, id).await?;
    if !may_write(scope.actor(), inst.id) {
        return Err(AppError::forbidden());
    }
    Ok(inst)
}

/// Institutions in the actor's scope (optionally one region of it).
pub async fn list(
    state: &AppState,
    actor: &Actor,
    region: Option<&RegionCode>,
) -> AppResult<Vec<Institution>> {
    actor.require(Permission::ReportsRead)?;
    queries::institutions(state, &actor.within_opt(region)?, &ymd(state.today())).await
}

/// One institution in scope with its history and supplies.
pub async fn get(state: &AppState, actor: &Actor, id: i64) -> AppResult<InstitutionDetail> {
    let scope = actor.everywhere();
    let inst = load(state, &scope, id).await?;
    Ok(InstitutionDetail {
        closures: queries::closures(state, &scope, &inst).await?,
        supplies: supplies::of(state, &scope, &inst).await?,
        can_write: may_write(actor, inst.id),
        institution: inst,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temperatures_in_tenths_and_range() {
        assert_eq!(parse_temp("t", 36.5).ok(), Some(365));
        assert_eq!(parse_temp("t", 37.3).ok(), Some(373));
        assert_eq!(parse_temp("t", 34.0).ok(), Some(340));
        assert_eq!(parse_temp("t", 43.0).ok(), Some(430));
        assert!(parse_temp("t", 33.9).is_err());
        assert!(parse_temp("t", 43.1).is_err());
        assert!(parse_temp("t", f64::NAN).is_err());
        assert_eq!(parse_temp("t", 37.3).ok(), Some(FEVER_TENTHS));
    }

    #[test]
    fn kinds_and_rounds() {
        assert!(is_institution_kind("elderly_care"));
        assert!(!is_institution_kind("charity"));
        assert_eq!(Round::parse("noon"), Some(Round::Noon));
        assert_eq!(Item::parse("suits"), Some(Item::Suits));
    }
}
