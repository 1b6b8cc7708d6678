//! Organisations across a federation link (issue 20 item 2, ADR 0015). Organisation ids are
//! each deployment's own, so a child sends each of its organisations up as it is created,
//! corrected or disabled (and all of them when it registers its parent): [`push`] appends an
//! `org.upsert` event in the change's own transaction. The parent keeps which of its
//! organisations each child organisation became (`fed_org_map`, in the federation area) and
//! [`take_from_node`] applies the event as the node — inside the node's region only, audited as
//! any change: the first time it matches an organisation the parent already keeps in the same
//! region with the same name and kind (exactly one), else creates it; afterwards it corrects
//! or disables that one. The child's institutions then report to the parent as if registered
//! there, and count in its expected figures and missing lists.

use serde::{Deserialize, Serialize};

use super::edit::{set_disabled_in_scope, update_in_scope};
use super::{NewOrg, Org, OrgPatch, create_in_scope, queries};
use crate::kernel::access::Tx;
use crate::kernel::actor::Actor;
use crate::kernel::crypto::KeyRing;
use crate::kernel::error::AppResult;
use crate::state::AppState;

/// An organisation as it goes up (the child's id and fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeOrg {
    pub id: i64,
    /// The fields as they are entered (flattened: the event's JSON has them at the top).
    #[serde(flatten)]
    pub org: NewOrg,
    #[serde(default)]
    pub disabled: bool,
}

impl NodeOrg {
    /// The organisation `id` as just written (`row`).
    pub(super) fn written(id: i64, row: &queries::NewRow<'_>, disabled: bool) -> NodeOrg {
        let org = NewOrg {
            name: row.name.to_string(),
            kind: row.kind.as_str().to_string(),
            region_code: row.region_code.to_string(),
            contact_person: row.contact_person.to_string(),
            contact_phone: row.contact_phone.to_string(),
            address: row.address.to_string(),
        };
        NodeOrg { id, org, disabled }
    }

    pub fn of(o: &Org) -> NodeOrg {
        let org = NewOrg {
            name: o.name.clone(),
            kind: o.kind.clone(),
            region_code: o.region_code.clone(),
            contact_person: o.contact_person.clone(),
            contact_phone: o.contact_phone.clone(),
            address: o.address.clone(),
        };
        NodeOrg {
            id: o.id,
            org,
            disabled: o.disabled,
        }
    }
}

/// Append `o` to the outbox in the change's transaction (nothing without a parent).
pub(crate) async fn push(tx: &mut Tx, keys: &KeyRing, o: &NodeOrg) -> AppResult<()> {
    let body = serde_json::to_string(o).unwrap_or_default();
    crate::federation::child::push_org(tx, keys, o.id, &o.org.region_code, &body).await
}

/// Every organisation in `region` under the actor's scope, as it goes up (at registration).
pub async fn all_in(state: &AppState, actor: &Actor, region: &str) -> AppResult<Vec<NodeOrg>> {
    let code = crate::regions::parse_code("region_code", region)?;
    let scope = actor.within(&code)?;
    Ok(queries::orgs(state, &scope, None)
        .await?
        .iter()
        .map(NodeOrg::of)
        .collect())
}

/// Apply a child's organisation at the parent as the node `actor`: `mapped` is the parent's
/// organisation it became before, if any. Returns the parent's organisation and whether
/// anything changed.
pub async fn take_from_node(
    state: &AppState,
    actor: &Actor,
    o: &NodeOrg,
    mapped: Option<i64>,
) -> AppResult<(i64, bool)> {
    let id = match mapped {
        Some(id) => id,
        None => {
            let n = &o.org;
            let code = crate::regions::parse_code("region_code", &n.region_code)?;
            let same = queries::same(
                state,
                &actor.within(&code)?,
                &n.region_code,
                &n.name,
                &n.kind,
            )
            .await?;
            if let [id] = same.as_slice() {
                *id
            } else {
                let made = create_in_scope(state, actor, &o.org).await?;
                if o.disabled {
                    set_disabled_in_scope(state, actor, made.id, true).await?;
                }
                return Ok((made.id, true));
            }
        }
    };
    let before = super::get(state, actor, id).await?;
    let n = o.org.clone();
    let patch = OrgPatch {
        name: Some(n.name),
        kind: Some(n.kind),
        region_code: Some(n.region_code),
        contact_person: Some(n.contact_person),
        contact_phone: Some(n.contact_phone),
        address: Some(n.address),
    };
    update_in_scope(state, actor, id, &patch).await?;
    let after = set_disabled_in_scope(state, actor, id, o.disabled).await?;
    Ok((
        id,
        NodeOrg::of(&before) != NodeOrg::of(&after) || mapped.is_none(),
    ))
}
