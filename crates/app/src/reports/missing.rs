//! Completeness: the units under a region that have not reported a form for a period (the
//! list officials chase, and the reminders' addressees).

use backstop_core::error::ErrorCode;
use backstop_core::role::Permission;
use serde::Serialize;

use super::periods::parse_period;
use super::{load_form, queries};
use crate::kernel::access::Scoped;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// A unit that has not reported.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MissingUnit {
    /// Region code or `org:ID`.
    pub unit: String,
    pub name: String,
    pub region_code: String,
}

/// Units under the handle's region that have not reported a form for a period.
pub async fn missing(
    state: &AppState,
    scope: &Scoped<'_>,
    template: &str,
    period: &str,
) -> AppResult<Vec<MissingUnit>> {
    scope.require(Permission::ReportsRead)?;
    let form = load_form(state, template.trim(), None)
        .await?
        .ok_or_else(AppError::not_found)?;
    let (period, _) = parse_period(form.period, period, state.today())
        .map_err(|m| AppError::field(ErrorCode::Validation, "period", m))?;
    queries::missing_units(state, &form, &period, scope, 10_000).await
}
