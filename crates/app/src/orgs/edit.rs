//! Correcting and disabling an organisation (issue 14, item 5). An organisation is never
//! deleted — reports, users, gates and residents point to it — so it is corrected in place or
//! disabled: a disabled organisation is no longer a unit that must report (the reports'
//! expected counts and missing list leave it out, and it cannot file new reports) and is
//! left out of the pickers, but stays readable and can be enabled again. Each change is one
//! audited transaction whose entry carries before → after of the changed fields, the contact
//! person and phone masked.

use backstop_core::error::ErrorCode;
use backstop_core::mask::{mask_name, mask_phone};
use backstop_core::role::Permission;
use serde::Deserialize;
use serde_json::json;

use super::{Org, OrgKind, check_phone, queries};
use crate::audit::diff;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, text_field};
use crate::regions;
use crate::state::AppState;

/// Body of `PATCH /api/v1/orgs/{id}`: the fields to change (absent: unchanged).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct OrgPatch {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub region_code: Option<String>,
    pub contact_person: Option<String>,
    pub contact_phone: Option<String>,
    pub address: Option<String>,
}

/// Correct an organisation of the actor's scope; moving it needs the new region in scope too.
pub async fn update(state: &AppState, actor: &Actor, id: i64, patch: &OrgPatch) -> AppResult<Org> {
    actor.require(Permission::OrgsManage)?;
    update_in_scope(state, actor, id, patch).await
}

/// [`update`] once the permission is settled (also a child deployment's node, `federated`).
pub(super) async fn update_in_scope(
    state: &AppState,
    actor: &Actor,
    id: i64,
    patch: &OrgPatch,
) -> AppResult<Org> {
    let cur = super::get(state, actor, id).await?;
    let name = match &patch.name {
        Some(n) => text_field("name", n, 100, true)?,
        None => cur.name.clone(),
    };
    let kind = match &patch.kind {
        Some(k) => OrgKind::parse(k)
            .ok_or_else(|| AppError::field(ErrorCode::Validation, "kind", "未知的机构类型"))?
            .as_str()
            .to_string(),
        None => cur.kind.clone(),
    };
    let region = match patch.region_code.as_deref().map(str::trim) {
        Some(r) if r != cur.region_code => {
            regions::existing_in_scope(state, actor, "region_code", r)
                .await?
                .as_str()
                .to_string()
        }
        _ => cur.region_code.clone(),
    };
    let person = match &patch.contact_person {
        Some(p) => text_field("contact_person", p, 50, false)?,
        None => cur.contact_person.clone(),
    };
    let phone = match &patch.contact_phone {
        Some(p) => check_phone(p)?,
        None => cur.contact_phone.clone(),
    };
    let address = match &patch.address {
        Some(a) => text_field("address", a, 200, false)?,
        None => cur.address.clone(),
    };
    let detail = diff(&[
        ("name", json!(cur.name), json!(name)),
        ("kind", json!(cur.kind), json!(kind)),
        ("region_code", json!(cur.region_code), json!(region)),
        (
            "contact_person",
            json!(mask_name(&cur.contact_person)),
            json!(mask_name(&person)),
        ),
        (
            "contact_phone",
            json!(mask_phone(&cur.contact_phone)),
            json!(mask_phone(&phone)),
        ),
        ("address", json!(cur.address), json!(address)),
    ]);
    let same = cur.name == name
        && cur.kind == kind
        && cur.region_code == region
        && cur.contact_person == person
        && cur.contact_phone == phone
        && cur.address == address;
    if same {
        return Ok(cur);
    }
    let mut tx = Tx::begin(state, actor).await?;
    let row = queries::NewRow {
        name: &name,
        kind: OrgKind::parse(&kind).unwrap_or(OrgKind::CivilAffairs),
        region_code: &region,
        contact_person: &person,
        contact_phone: &phone,
        address: &address,
    };
    queries::update(&mut tx, id, &row).await?;
    let snapshot = super::federated::NodeOrg::written(id, &row, cur.disabled);
    super::federated::push(&mut tx, &state.keys, &snapshot).await?;
    tx.commit(Change::new("org.update", "org", id, region).detail(detail))
        .await?;
    state.caches.invalidate();
    super::get(state, actor, id).await
}

/// Disable (`true`) or enable again (`false`) an organisation of the actor's scope.
/// Doing what is already done changes nothing and writes no entry.
pub async fn set_disabled(
    state: &AppState,
    actor: &Actor,
    id: i64,
    disabled: bool,
) -> AppResult<Org> {
    actor.require(Permission::OrgsManage)?;
    set_disabled_in_scope(state, actor, id, disabled).await
}

/// [`set_disabled`] once the permission is settled (also a child deployment's node).
pub(super) async fn set_disabled_in_scope(
    state: &AppState,
    actor: &Actor,
    id: i64,
    disabled: bool,
) -> AppResult<Org> {
    let cur = super::get(state, actor, id).await?;
    if cur.disabled == disabled {
        return Ok(cur);
    }
    let mut tx = Tx::begin(state, actor).await?;
    queries::set_disabled(&mut tx, id, disabled).await?;
    let snapshot = super::federated::NodeOrg {
        disabled,
        ..super::federated::NodeOrg::of(&cur)
    };
    super::federated::push(&mut tx, &state.keys, &snapshot).await?;
    let action = if disabled {
        "org.disable"
    } else {
        "org.enable"
    };
    tx.commit(
        Change::new(action, "org", id, cur.region_code.clone()).detail(diff(&[(
            "disabled",
            json!(cur.disabled),
            json!(disabled),
        )])),
    )
    .await?;
    state.caches.invalidate();
    super::get(state, actor, id).await
}
