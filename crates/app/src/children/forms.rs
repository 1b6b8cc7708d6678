//! What the case page's forms offer (`/children/cases/{id}`): the users who may be named
//! worker, supervisor or task owner (active, holding the permission, their scope covering the
//! child's village and inside the viewer's), the institutions of each kind a placement may
//! name, and the levels a case may be handed to. The same rules the actions check, so a
//! picker never offers what the write would refuse.

use backstop_core::region::{RegionCode, RegionLevel, Scope};
use backstop_core::role::{Permission, RoleSet};
use serde::Serialize;

use super::{CaseLine, may_read, queries};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::orgs::OrgKind;
use crate::state::AppState;

/// One choice of a picker: a value and what the page shows.
#[derive(Debug, Clone, Serialize)]
pub struct Pick {
    pub id: String,
    pub label: String,
}

/// The choices of a case page's forms.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Pickers {
    /// Users holding `children.manage` (workers, task owners).
    pub workers: Vec<Pick>,
    /// Users holding `children.supervise`.
    pub supervisors: Vec<Pick>,
    /// `minor_protection` organisations the viewer may read.
    pub minor_protection: Vec<Pick>,
    /// `child_welfare` organisations the viewer may read.
    pub child_welfare: Vec<Pick>,
    /// The village, township, county and city on the child's path, but the holder.
    pub levels: Vec<Pick>,
}

/// The pickers for case `c` as `actor` sees them.
pub async fn pickers(state: &AppState, actor: &Actor, c: &CaseLine) -> AppResult<Pickers> {
    may_read(actor)?;
    let village = RegionCode::parse(&c.region_code).map_err(|_| AppError::not_found())?;
    let mut scopes = village.lineage_strings();
    scopes.push("0".to_string());
    let mut out = Pickers::default();
    for u in queries::users_in(state, &scopes).await? {
        if !actor.sees_scope_str(&u.scope) || Scope::parse(&u.scope).is_err() {
            continue;
        }
        let Ok(roles) = RoleSet::parse_list(&u.roles) else {
            continue;
        };
        let label = if u.display_name.trim().is_empty() {
            u.username.clone()
        } else {
            format!("{}（{}）", u.display_name, u.username)
        };
        let pick = Pick {
            id: u.id.to_string(),
            label,
        };
        if roles.has(Permission::ChildrenManage) {
            out.workers.push(pick.clone());
        }
        if roles.has(Permission::ChildrenSupervise) {
            out.supervisors.push(pick);
        }
    }
    if actor.can(Permission::OrgsRead) {
        for (kind, list) in [
            (OrgKind::MinorProtection, &mut out.minor_protection),
            (OrgKind::ChildWelfare, &mut out.child_welfare),
        ] {
            for o in crate::orgs::list(state, actor, None, Some(kind)).await? {
                if !o.disabled {
                    list.push(Pick {
                        id: o.id.to_string(),
                        label: o.name,
                    });
                }
            }
        }
    }
    for code in village.lineage() {
        let on_path = matches!(
            code.level(),
            RegionLevel::City | RegionLevel::County | RegionLevel::Township | RegionLevel::Village
        );
        if !on_path || code.as_str() == c.holder_code {
            continue;
        }
        let name = crate::regions::find(state, code.as_str())
            .await?
            .map(|r| r.name)
            .unwrap_or_default();
        out.levels.push(Pick {
            id: code.as_str().to_string(),
            label: format!("{name}（{}）", code.as_str()),
        });
    }
    Ok(out)
}
