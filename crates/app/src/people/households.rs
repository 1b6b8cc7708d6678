//! Households (家庭户): persons of the caller's scope grouped under a region and an address,
//! each with a relationship to the head. A person belongs to at most one household (moving one
//! from another household is explicit and audited on both); a household has at most one head.
//! A member may live elsewhere (人户分离: a son working in the city stays in the family's
//! household); each reader sees only the members inside its own scope. A household and its
//! members are read through the caller's scope like persons. Pages: `household_pages`; API:
//! `web`.

use backstop_core::error::ErrorCode;
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::queries::households as hq;
use super::{Person, ferr, parse_relationship, queries, region_in_scope, text};
use crate::kernel::access::{Change, Tx, text_len};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::extract::region_param;
use crate::state::AppState;

/// One member of a new household.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewMember {
    pub person_id: i64,
    /// `head`, `spouse`, `child`, `parent`, `grandparent`, `grandchild`, `sibling`, `other`
    /// (or the Chinese label).
    pub relationship: String,
}

/// Body of `POST /api/v1/households`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewHousehold {
    pub region_code: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub members: Vec<NewMember>,
}

/// A household with its members (masked for the caller).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Household {
    pub id: i64,
    pub region_code: String,
    pub region_name: String,
    pub address: String,
    /// Disabled (停用): left out of the default list; kept with its members.
    pub disabled: bool,
    pub members: Vec<Person>,
}

/// A household in a list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HouseholdSummary {
    pub id: i64,
    pub region_code: String,
    pub region_name: String,
    pub address: String,
    /// The head's name; empty when the household has none yet.
    pub head_name: String,
    pub members: i64,
    pub disabled: bool,
}

/// A page of households with the total in scope.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HouseholdList {
    pub total: i64,
    pub items: Vec<HouseholdSummary>,
}

/// Filters of `GET /api/v1/households`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct HouseholdQuery {
    /// Region code; default the caller's whole scope.
    pub region: Option<String>,
    /// `true`: only disabled (停用) households; default: only those in use.
    pub disabled: Option<bool>,
    /// Page size (default 50, at most 500).
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Body of `PATCH /api/v1/households/{id}`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct HouseholdPatch {
    pub address: Option<String>,
}

/// Body of `POST /api/v1/households/{id}/members`: add a person (or change a member's
/// relationship).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct MemberInput {
    pub person_id: i64,
    /// As in [`NewMember`].
    pub relationship: String,
    /// Move the person out of the household they belong to now (refused otherwise).
    #[serde(default)]
    pub move_from_other: bool,
}

fn relationship(s: &str) -> AppResult<&'static str> {
    parse_relationship(s).ok_or_else(|| {
        ferr(
            ErrorCode::Validation,
            "relationship",
            format!("未知的关系“{}”", s.chars().take(20).collect::<String>()),
        )
    })
}

/// Group persons of the caller's scope into a household. A person belongs to at most one
/// household; adding one who already has a household is refused.
pub async fn create_household(
    state: &AppState,
    actor: &Actor,
    input: &NewHousehold,
) -> AppResult<Household> {
    actor.require(Permission::PersonsWrite)?;
    let code = region_in_scope(state, actor, "region_code", &input.region_code).await?;
    let address = text("address", &input.address, 200, false)?;
    if input.members.len() > 50 {
        return Err(ferr(ErrorCode::Validation, "members", "一户最多 50 人"));
    }
    let mut members = Vec::with_capacity(input.members.len());
    for m in &input.members {
        let rel = relationship(&m.relationship)?;
        if members.iter().any(|(id, _)| *id == m.person_id) {
            return Err(ferr(
                ErrorCode::Validation,
                "members",
                format!("人员 {} 重复", m.person_id),
            ));
        }
        members.push((m.person_id, rel));
    }
    if members.iter().filter(|(_, r)| *r == "head").count() > 1 {
        return Err(ferr(ErrorCode::Validation, "members", "一户只能有一个户主"));
    }
    let scope = actor.everywhere();
    let mut tx = Tx::begin(state, actor).await?;
    for (pid, _) in &members {
        let p = queries::person(tx.conn(), &scope, *pid).await?;
        if let Some(h) = p.household_id {
            return Err(ferr(
                ErrorCode::Validation,
                "members",
                format!("{}（人员 {}）已属于户 {h}", p.name, p.id),
            ));
        }
    }
    let hid = hq::insert_household(&mut tx, code.as_str(), &address, &members).await?;
    let detail: Value = json!({
        "address": {"before": null, "after": text_len(&address)},
        "members": members.iter().map(|(p, r)| json!({"person_id": p, "relationship": r})).collect::<Vec<_>>(),
    });
    tx.commit(Change::new("household.create", "household", hid, code.to_string()).detail(detail))
        .await?;
    get_household(state, actor, hid).await
}

/// A household in scope, with its members in scope.
pub async fn get_household(state: &AppState, actor: &Actor, id: i64) -> AppResult<Household> {
    actor.require(Permission::PersonsRead)?;
    let (h, members) = hq::household(state, &actor.everywhere(), id).await?;
    Ok(Household {
        id,
        region_code: h.region_code,
        region_name: h.region_name,
        address: h.address,
        disabled: h.disabled,
        members: members.iter().map(|s| s.view(actor)).collect(),
    })
}

/// Households in the caller's scope (or a region of it), newest first.
pub async fn list_households(
    state: &AppState,
    actor: &Actor,
    q: &HouseholdQuery,
) -> AppResult<HouseholdList> {
    actor.require(Permission::PersonsRead)?;
    let scope = actor.within_opt(region_param(q.region.as_deref())?.as_ref())?;
    let (total, lines) = hq::list(
        state,
        &scope,
        q.disabled.unwrap_or(false),
        q.limit.unwrap_or(50).clamp(1, 500),
        q.offset.unwrap_or(0).max(0),
    )
    .await?;
    Ok(HouseholdList {
        total,
        items: lines
            .into_iter()
            .map(|l| HouseholdSummary {
                id: l.row.id,
                region_code: l.row.region_code,
                region_name: l.row.region_name,
                address: l.row.address,
                head_name: l.head,
                members: l.members,
                disabled: l.row.disabled,
            })
            .collect(),
    })
}

/// Change a household's address. Audited before → after.
pub async fn update_household(
    state: &AppState,
    actor: &Actor,
    id: i64,
    patch: &HouseholdPatch,
) -> AppResult<Household> {
    actor.require(Permission::PersonsWrite)?;
    let scope = actor.everywhere();
    let mut tx = Tx::begin(state, actor).await?;
    let h = hq::household_row(tx.conn(), &scope, id).await?;
    if let Some(a) = &patch.address {
        let address = text("address", a, 200, false)?;
        hq::set_address(&mut tx, id, &address).await?;
        tx.commit(
            Change::new("household.update", "household", id, h.region_code.clone()).detail(
                json!({"address": {"before": text_len(&h.address), "after": text_len(&address)}}),
            ),
        )
        .await?;
    } else {
        tx.rollback().await?;
    }
    get_household(state, actor, id).await
}

/// Add a person to a household, or change a member's relationship. A person in another
/// household is moved only when asked (`move_from_other`), audited on both households.
pub async fn add_member(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &MemberInput,
) -> AppResult<Household> {
    actor.require(Permission::PersonsWrite)?;
    let rel = relationship(&input.relationship)?;
    let scope = actor.everywhere();
    let mut tx = Tx::begin(state, actor).await?;
    let h = hq::household_row(tx.conn(), &scope, id).await?;
    let p = queries::person(tx.conn(), &scope, input.person_id).await?;
    let from = p.household_id.filter(|other| *other != id);
    if let Some(other) = from
        && !input.move_from_other
    {
        return Err(AppError::msg(
            ErrorCode::Conflict,
            format!(
                "{}已属于户 {other}；如需移入本户，请勾选“从原户移出”",
                p.name
            ),
        ));
    }
    if rel == "head" {
        let members = hq::members(tx.conn(), &scope, id).await?;
        if let Some(head) = members
            .iter()
            .find(|m| m.relationship == "head" && m.id != p.id)
        {
            return Err(ferr(
                ErrorCode::Validation,
                "relationship",
                format!("本户已有户主{}，一户只能有一个户主", head.name),
            ));
        }
    }
    hq::set_member(&mut tx, p.id, Some((id, rel))).await?;
    if let Some(other) = from {
        tx.also(
            Change::new(
                "household.remove_member",
                "household",
                other,
                p.region_code.clone(),
            )
            .detail(json!({"person_id": p.id, "moved_to": id})),
        );
    }
    tx.commit(
        Change::new("household.add_member", "household", id, h.region_code.clone()).detail(json!({
            "person_id": p.id,
            "relationship": {"before": if p.household_id == Some(id) { json!(p.relationship) } else { json!(null) }, "after": rel},
            "moved_from": from,
        })),
    )
    .await?;
    get_household(state, actor, id).await
}

/// Take a member out of a household (the person stays on record).
pub async fn remove_member(
    state: &AppState,
    actor: &Actor,
    id: i64,
    person_id: i64,
) -> AppResult<Household> {
    actor.require(Permission::PersonsWrite)?;
    let scope = actor.everywhere();
    let mut tx = Tx::begin(state, actor).await?;
    let h = hq::household_row(tx.conn(), &scope, id).await?;
    let p = queries::person(tx.conn(), &scope, person_id).await?;
    if p.household_id != Some(id) {
        return Err(AppError::not_found());
    }
    hq::set_member(&mut tx, p.id, None).await?;
    tx.commit(
        Change::new("household.remove_member", "household", id, h.region_code).detail(json!({
            "person_id": p.id,
            "relationship": {"before": p.relationship, "after": null},
        })),
    )
    .await?;
    get_household(state, actor, id).await
}

/// Persons of the household's region in no household yet: whom the page offers to add.
pub async fn candidates(state: &AppState, actor: &Actor, id: i64) -> AppResult<Vec<Person>> {
    actor.require(Permission::PersonsRead)?;
    let scope = actor.everywhere();
    let mut conn = state.db.pool().acquire().await?;
    let h = hq::household_row(&mut conn, &scope, id).await?;
    drop(conn);
    Ok(hq::without_household(state, &scope, &h.region_code, 200)
        .await?
        .iter()
        .map(|s| s.view(actor))
        .collect())
}
