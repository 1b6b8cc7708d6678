//! Who reports for what: the reporting unit of a form (a village, an organisation, or either)
//! resolved from what the client sent, and limited to the units the actor may report for —
//! a region inside its scope, an organisation it may read (an institution reporter: its own)
//! — and to the form's scope. The submission and the fill-in page use the same rule, so a page
//! cannot show a unit's report that its actor could not file.

use backstop_core::error::ErrorCode;
use backstop_core::region::{RegionCode, RegionLevel, Scope};
use backstop_core::role::Role;
use serde_json::{Map, Value};

use super::form::{Form, Period, UnitType};
use super::queries;
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// The reporting unit of a submission.
#[derive(Debug, Clone)]
pub(super) struct Unit {
    /// Stored form: region code or "org:ID".
    pub key: String,
    pub name: String,
    pub region: RegionCode,
    /// A 12-digit code taken literally although it reads like a padded code of a level above
    /// (see `resolve_unit`): if no such village exists, the answer is the village-code error.
    pub literal: bool,
}

/// The unit `unit` (a region code, `org:ID` or an organisation id) of `form`, if the actor
/// may report for it; out of scope: *not found*; not a unit of the form: a `unit` field error.
pub(super) async fn resolve_unit(
    state: &AppState,
    actor: &Actor,
    form: &Form,
    unit: &Value,
) -> AppResult<Unit> {
    let bad = |m: &str| AppError::field(ErrorCode::Validation, "unit", m.to_string());
    let as_org = match unit {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().strip_prefix("org:").and_then(|x| x.parse().ok()),
        _ => None,
    };
    let as_region = unit
        .as_str()
        .map(str::trim)
        .filter(|s| !s.starts_with("org:"));
    let u = match (form.unit_type, as_org, as_region) {
        (UnitType::Org | UnitType::Any, Some(id), _) => {
            let org = crate::orgs::get(state, actor, id).await?;
            if form.unit_type == UnitType::Org && !form.org_kinds.contains(&org.kind) {
                return Err(bad("该机构不需要填报此表"));
            }
            if org.disabled {
                return Err(bad("该机构已停用，不再填报"));
            }
            let region = RegionCode::parse(&org.region_code).map_err(|_| AppError::not_found())?;
            if !may_report_for_org(actor, id) {
                return Err(AppError::not_found());
            }
            Unit {
                key: format!("org:{id}"),
                name: org.name,
                region,
                literal: false,
            }
        }
        (UnitType::Village | UnitType::Any, None, Some(code)) => {
            let mut region = RegionCode::parse(code).map_err(|_| bad("应为区划代码"))?;
            let mut literal = false;
            if form.unit_type == UnitType::Village
                && region.level() != RegionLevel::Village
                && code.len() == RegionLevel::Village.code_len()
            {
                // The NBS table has placeholder villages whose code reads like a padded code
                // of a level above (350527000000 金门县): the region import keeps them as
                // villages, they are counted as expected, so they must be able to report.
                // Taken literally here; the write's look-up refuses it if no such village.
                region = RegionCode::parse_exact(code).map_err(|_| bad("应为区划代码"))?;
                literal = true;
            }
            actor.within(&region)?;
            if form.unit_type == UnitType::Village && region.level() != RegionLevel::Village {
                return Err(bad("此表由村（社区）填报，请填写 12 位村（社区）代码"));
            }
            // Whether the region exists, and its name, are read by the submission's first
            // statement inside the write (`submit`), not by a statement of their own.
            Unit {
                key: region.as_str().to_string(),
                name: String::new(),
                region,
                literal,
            }
        }
        (UnitType::Org, _, _) => return Err(bad("此表由机构填报，请填写机构编号")),
        _ => return Err(bad("此表由村（社区）填报，请填写 12 位村（社区）代码")),
    };
    actor.within(&u.region)?;
    let form_scope = Scope::parse(&form.scope).unwrap_or(Scope::National);
    if !form_scope.contains(&u.region) {
        return Err(bad("该单位不在此表的填报范围内"));
    }
    Ok(u)
}

/// An actor whose only role is institution reporter and who is tied to an organisation
/// reports for that organisation only — and reads only its reports among the
/// organisations' (`get_submission`).
pub(super) fn may_report_for_org(actor: &Actor, org: i64) -> bool {
    !(actor.roles.roles() == [Role::InstitutionReporter]
        && actor.org_id.is_some()
        && actor.org_id != Some(org))
}

/// The unit an actor asks to see or fill in on a page (`?unit=` of `/reports/fill/{key}`):
/// one it may report for under [`resolve_unit`]'s rule, else *not found* — whatever the
/// reason, so the page tells nothing about units outside that rule.
pub(super) async fn reporting_unit(
    state: &AppState,
    actor: &Actor,
    form: &Form,
    unit: &str,
) -> AppResult<Unit> {
    resolve_unit(state, actor, form, &Value::from(unit))
        .await
        .map_err(|_| AppError::not_found())
}

/// The name of a unit the actor may report for, else empty (a refused submission sent back
/// names no unit outside the rule).
pub(super) async fn reportable_name(
    state: &AppState,
    actor: &Actor,
    form: &Form,
    unit: &str,
) -> String {
    match reporting_unit(state, actor, form, unit).await {
        Ok(u) => unit_name(state, &u.key).await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// The unit's current report of a period, to prefill a correction: `(unit key, unit name,
/// values)` — values empty when there is none, or for an immediate form (each report is new).
/// Only for a unit the actor may report for, else *not found*.
pub(super) async fn current_values(
    state: &AppState,
    actor: &Actor,
    form: &Form,
    unit: &str,
    period: &str,
) -> AppResult<(String, String, Map<String, Value>)> {
    let unit = reporting_unit(state, actor, form, unit).await?;
    let mut values = Map::new();
    if form.period != Period::Immediate {
        let here = actor.within(&unit.region)?;
        if let Some((_, body)) =
            queries::current_report(state, &here, &form.key, &unit.key, period).await?
        {
            values = serde_json::from_str(&body).unwrap_or_default();
        }
    }
    let name = unit_name(state, &unit.key).await.unwrap_or_default();
    Ok((unit.key, name, values))
}

/// The id of the current report of one of the actor's own units (its village, its
/// organisation) for a form's period, if it has reported.
pub(super) async fn current_id(
    state: &AppState,
    actor: &Actor,
    template: &str,
    unit: &str,
    period: &str,
) -> AppResult<Option<i64>> {
    let mine = actor.everywhere();
    Ok(
        queries::current_report(state, &mine, template, unit, period)
            .await?
            .map(|(id, _)| id),
    )
}

/// A region unit (not an organisation): its name comes from the submission's look-up.
pub(super) fn unit_is_region(unit: &Unit) -> bool {
    !unit.key.starts_with("org:")
}

/// The name of a stored unit (`org:ID` or a region code); empty when unknown.
pub(super) async fn unit_name(state: &AppState, unit: &str) -> AppResult<String> {
    if let Some(id) = unit
        .strip_prefix("org:")
        .and_then(|s| s.parse::<i64>().ok())
    {
        return queries::org_name(state, id).await;
    }
    Ok(crate::regions::find(state, unit)
        .await?
        .map(|r| r.name)
        .unwrap_or_default())
}
