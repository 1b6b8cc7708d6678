//! Households (家庭户): persons of the caller's scope grouped under a region and an address,
//! each with a relationship to the head. A person belongs to at most one household; a
//! household and its members are read through the caller's scope like persons.

use backstop_core::error::ErrorCode;
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Person, ferr, parse_relationship, queries, region_in_scope, text};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::AppResult;
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
    pub address: String,
    pub members: Vec<Person>,
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
        let rel = parse_relationship(&m.relationship).ok_or_else(|| {
            ferr(
                ErrorCode::Validation,
                "relationship",
                format!(
                    "未知的关系“{}”",
                    m.relationship.chars().take(20).collect::<String>()
                ),
            )
        })?;
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
    let hid = queries::insert_household(&mut tx, code.as_str(), &address, &members).await?;
    let detail: Value = json!({
        "address": {"before": null, "after": address},
        "members": members.iter().map(|(p, r)| json!({"person_id": p, "relationship": r})).collect::<Vec<_>>(),
    });
    tx.commit(Change::new("household.create", "household", hid, code.to_string()).detail(detail))
        .await?;
    get_household(state, actor, hid).await
}

/// A household in scope, with its members in scope.
pub async fn get_household(state: &AppState, actor: &Actor, id: i64) -> AppResult<Household> {
    actor.require(Permission::PersonsRead)?;
    let (region_code, address, members) =
        queries::household(state, &actor.everywhere(), id).await?;
    Ok(Household {
        id,
        region_code,
        address,
        members: members.iter().map(|s| s.view(actor)).collect(),
    })
}
