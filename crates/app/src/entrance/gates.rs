//! Gates (卡口): a named checkpoint of a village or community, or of a service institution,
//! listed with today's counts (entries, fevers, open alerts) and whether the caller may record
//! there.

use backstop_core::error::ErrorCode;
use backstop_core::region::{RegionCode, RegionLevel};
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ferr, may_write, queries, relabel, text, today_str};
use crate::institutions;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::orgs;
use crate::regions;
use crate::state::AppState;

/// A gate as listed, with today's counts.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Gate {
    pub id: i64,
    pub name: String,
    /// `community` (a village's or community's gate) or `institution`.
    pub kind: String,
    pub kind_label: String,
    /// The village or community; for an institution's gate, the institution's region.
    pub region_code: String,
    pub region_name: String,
    pub org_id: Option<i64>,
    pub org_name: String,
    /// Entries recorded today (Beijing).
    pub today_entries: i64,
    /// Fevers among today's entries.
    pub today_fevers: i64,
    /// Fever alerts not yet acknowledged.
    pub open_alerts: i64,
    /// Whether the caller may record entries here.
    pub can_write: bool,
    /// Disabled (停用): takes no entries; its records stay.
    pub disabled: bool,
}

/// Body of `POST /api/v1/gates`: a village or community (`region_code`, 12 digits) or an
/// institution (`org_id`), not both.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewGate {
    /// e.g. 东门卡口.
    pub name: String,
    #[serde(default)]
    pub region_code: Option<String>,
    #[serde(default)]
    pub org_id: Option<i64>,
}

/// The gate `id` if inside the actor's scope (else not found).
pub async fn get_gate(state: &AppState, actor: &Actor, id: i64) -> AppResult<Gate> {
    actor.require(Permission::ReportsRead)?;
    queries::gate(state, &actor.everywhere(), id, &today_str(state)).await
}

/// [`get_gate`], and the actor may record there (else forbidden).
pub(super) async fn gate_for_write(state: &AppState, actor: &Actor, id: i64) -> AppResult<Gate> {
    let gate = get_gate(state, actor, id).await?;
    if !gate.can_write {
        return Err(AppError::forbidden());
    }
    Ok(gate)
}

/// [`gate_for_write`] for recording an entry: a disabled gate takes none.
pub(super) async fn open_gate(state: &AppState, actor: &Actor, id: i64) -> AppResult<Gate> {
    let gate = gate_for_write(state, actor, id).await?;
    if gate.disabled {
        return Err(ferr(
            ErrorCode::Validation,
            "gate",
            "该卡口已停用，不能登记；请先启用",
        ));
    }
    Ok(gate)
}

/// Gates in the actor's scope (optionally one region of it), by region then name.
pub async fn list_gates(
    state: &AppState,
    actor: &Actor,
    region: Option<&RegionCode>,
) -> AppResult<Vec<Gate>> {
    actor.require(Permission::ReportsRead)?;
    queries::gates(state, &actor.within_opt(region)?, &today_str(state)).await
}

/// Where a new gate goes: (region code, institution), the caller allowed to set it up there.
async fn place(
    state: &AppState,
    actor: &Actor,
    input: &NewGate,
) -> AppResult<(String, Option<i64>)> {
    let region = input
        .region_code
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    match (region, input.org_id) {
        (Some(r), None) => {
            let code = regions::parse_code("region_code", r).map_err(relabel)?;
            actor.within(&code)?;
            if code.level() != RegionLevel::Village {
                return Err(ferr(
                    ErrorCode::Validation,
                    "region_code",
                    "卡口应设在村（社区）一级（12 位区划代码）",
                ));
            }
            if regions::find(state, code.as_str()).await?.is_none() {
                return Err(ferr(
                    ErrorCode::UnknownRegion,
                    "region_code",
                    "区划代码不存在",
                ));
            }
            if !may_write(actor, None) {
                return Err(AppError::forbidden());
            }
            Ok((code.to_string(), None))
        }
        (None, Some(o)) => {
            let org = orgs::get(state, actor, o).await?;
            if !institutions::is_institution_kind(&org.kind) {
                return Err(ferr(
                    ErrorCode::Validation,
                    "org_id",
                    "只能为民政服务机构设卡口",
                ));
            }
            if !may_write(actor, Some(org.id)) {
                return Err(AppError::forbidden());
            }
            Ok((org.region_code, Some(org.id)))
        }
        _ => Err(ferr(
            ErrorCode::Validation,
            "region_code",
            "请选择村（社区）或机构，二者只能选一",
        )),
    }
}

/// Create a gate under a village or community (its community worker, township staff,
/// officials) or for an institution (its own staff, or staff above it).
pub async fn create_gate(state: &AppState, actor: &Actor, input: &NewGate) -> AppResult<Gate> {
    actor.require(Permission::ReportsSubmit)?;
    let name = text("gate_name", &input.name, 50, true)?;
    let (region_code, org_id) = place(state, actor, input).await?;
    let mut tx = Tx::begin(state, actor).await?;
    if queries::gate_named(&mut tx, &region_code, org_id, &name).await? {
        return Err(ferr(ErrorCode::Conflict, "gate_name", "该处已有同名卡口"));
    }
    let id = queries::insert_gate(&mut tx, &region_code, org_id, &name, &actor.username).await?;
    tx.commit(
        Change::new("gate.create", "gate", id, &region_code)
            .detail(json!({"name": {"before": null, "after": name}, "org_id": org_id})),
    )
    .await?;
    get_gate(state, actor, id).await
}
