//! What the assistance area asks of the signed-in role now (the `/assistance` hub and one line
//! of the home page's to-do list): applications to verify, review, publicise or approve in
//! scope, overdue steps, aid-first grants awaiting the county, held exits and commitments to
//! verify after a period. Read through this area's service functions only.

use backstop_core::role::Permission;

use crate::kernel::actor::Actor;
use crate::kernel::error::AppResult;
use crate::state::AppState;

/// One thing to do: a stable id, what, how many and where.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: &'static str,
    pub label: &'static str,
    pub count: usize,
    pub href: &'static str,
}

/// Everything the actor must do now in the area (lines with nothing to do included, so the
/// hub can show a zero); empty without `assistance.read`.
pub async fn due(state: &AppState, actor: &Actor) -> AppResult<Vec<Due>> {
    if !actor.can(Permission::AssistanceRead) {
        return Ok(Vec::new());
    }
    let apps = super::applications::list(state, actor, None, None).await?;
    let count = |s: &str| apps.iter().filter(|a| a.status == s).count();
    let mut out = Vec::new();
    if actor.can(Permission::AssistanceApply) {
        out.push(Due {
            id: "due-verify",
            label: "待核查的申请",
            count: count("submitted"),
            href: "/assistance/applications?status=submitted",
        });
    }
    if actor.can(Permission::AssistanceReview) {
        out.push(Due {
            id: "due-review",
            label: "待审核的申请",
            count: count("verified"),
            href: "/assistance/applications?status=verified",
        });
        out.push(Due {
            id: "due-publicise",
            label: "待公示的申请",
            count: count("reviewed"),
            href: "/assistance/applications?status=reviewed",
        });
    }
    if actor.can(Permission::AssistanceApprove) {
        out.push(Due {
            id: "due-approve",
            label: "公示中及待审批的申请",
            count: count("publicised"),
            href: "/assistance/applications?status=publicised",
        });
        out.push(Due {
            id: "due-grants",
            label: "先行救助待县级审批",
            count: super::emergency::grants(state, actor, true).await?.len(),
            href: "/assistance/aid-grants?pending=1",
        });
        out.push(Due {
            id: "due-held",
            label: "暂缓退出及待复核的对象",
            count: super::steps::beneficiaries(state, actor, true).await?.len(),
            href: "/assistance/beneficiaries?held=1",
        });
    }
    out.push(Due {
        id: "due-overdue",
        label: "逾期未办的环节",
        count: super::steps::overdue(state, actor, None).await?.len(),
        href: "/assistance/overdue",
    });
    if actor.can(Permission::AssistanceApply) {
        out.push(Due {
            id: "due-commitments",
            label: "应急期后待核实的个人承诺",
            count: super::steps::commitments(state, actor).await?.len(),
            href: "/assistance/commitments",
        });
    }
    Ok(out)
}

/// How many things the actor must do now (the home page's line).
pub async fn due_total(state: &AppState, actor: &Actor) -> AppResult<usize> {
    Ok(due(state, actor).await?.iter().map(|d| d.count).sum())
}
