//! Disabling (停用) and enabling persons and households (issue 14, item 5). A person or a
//! household is never deleted — visits, memberships, observations and reports point to them —
//! so it is disabled instead: left out of the default lists, the household candidates and the
//! pickers, still readable by id and enabled again the same way. Each change is one audited
//! transaction whose entry carries `disabled` before → after (no personal data).

use backstop_core::role::Permission;
use serde_json::json;

use super::households::{Household, get_household};
use super::queries::households as hq;
use super::{Person, get, queries};
use crate::audit::diff;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::AppResult;
use crate::state::AppState;

/// Disable (`true`) or enable (`false`) a person of the actor's scope. Doing what is already
/// done changes nothing and writes no entry.
pub async fn set_person_disabled(
    state: &AppState,
    actor: &Actor,
    id: i64,
    disabled: bool,
) -> AppResult<Person> {
    actor.require(Permission::PersonsWrite)?;
    let scope = actor.everywhere();
    let mut tx = Tx::begin(state, actor).await?;
    let cur = queries::person(tx.conn(), &scope, id).await?;
    if cur.disabled == disabled {
        tx.rollback().await?;
        return get(state, actor, id).await;
    }
    hq::set_person_disabled(&mut tx, id, disabled).await?;
    let action = if disabled {
        "person.disable"
    } else {
        "person.enable"
    };
    tx.commit(
        Change::new(action, "person", id, cur.region_code.clone()).detail(diff(&[(
            "disabled",
            json!(cur.disabled),
            json!(disabled),
        )])),
    )
    .await?;
    get(state, actor, id).await
}

/// Disable (`true`) or enable (`false`) a household of the actor's scope; its members keep
/// their membership. Doing what is already done changes nothing.
pub async fn set_household_disabled(
    state: &AppState,
    actor: &Actor,
    id: i64,
    disabled: bool,
) -> AppResult<Household> {
    actor.require(Permission::PersonsWrite)?;
    let scope = actor.everywhere();
    let mut tx = Tx::begin(state, actor).await?;
    let cur = hq::household_row(tx.conn(), &scope, id).await?;
    if cur.disabled == disabled {
        tx.rollback().await?;
        return get_household(state, actor, id).await;
    }
    hq::set_household_disabled(&mut tx, id, disabled).await?;
    let action = if disabled {
        "household.disable"
    } else {
        "household.enable"
    };
    tx.commit(
        Change::new(action, "household", id, cur.region_code.clone()).detail(diff(&[(
            "disabled",
            json!(cur.disabled),
            json!(disabled),
        )])),
    )
    .await?;
    get_household(state, actor, id).await
}
