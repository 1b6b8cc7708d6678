//! Money today for a child's case (issue 17 item 1, linked to issue 16): an aid-first grant
//! (先行救助) when an emergency period with `aid_first` covers the child's village, else an
//! application for the child's household. Split from `actions` along the seam to assistance.

use backstop_core::error::ErrorCode;
use backstop_core::region::RegionCode;
use backstop_core::role::Permission;
use serde::Deserialize;
use serde_json::json;

use super::actions::{change, conflict, taken, write};
use super::{CaseLine, ChildCase, after_write, line, may, queries};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, text_field};
use crate::state::AppState;

/// Body of `POST /api/v1/child-cases/{id}/assistance`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct AssistInput {
    /// Leave out for money today: an aid-first grant (先行救助) when an emergency period with
    /// `aid_first` covers the child's village, else `de_facto_orphan_allowance`
    /// (事实无人抚养儿童基本生活补贴). Or name a programme the assistance service takes as an
    /// application (`orphan_allowance`, …).
    #[serde(default)]
    pub programme: Option<String>,
    /// `urban` or `rural` (the application).
    #[serde(default)]
    pub area_kind: String,
    /// Yuan: the aid-first grant paid at once (when an emergency period with `aid_first`
    /// covers the child's village today), at most the county's temporary cap.
    #[serde(default)]
    pub amount: Option<String>,
    /// The adult members of the household agreed to the e-authorisation.
    #[serde(default)]
    pub authorised: bool,
    #[serde(default)]
    pub note: Option<String>,
}

/// Money today (先行救助 first). When an emergency period with `aid_first` covers the child's
/// village today, temporary assistance is granted at once through
/// [`crate::assistance::emergency::grant`] (township staff, within the county's cap, the
/// county confirming later) and the case links the grant; otherwise — or when a programme is
/// named — an application for the child's household is started (default the child allowance
/// 事实无人抚养儿童基本生活补贴, since the assistance service takes no `temporary` application)
/// and the case links it. Either way the child must be a registry person.
pub async fn start_assistance(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &AssistInput,
    idem: Option<&str>,
) -> AppResult<ChildCase> {
    may(actor, Permission::ChildrenManage)?;
    let c = line(state, actor, id).await?;
    taken(&c)?;
    if let Some(done) = c.application_id.or(c.aid_grant_id) {
        if idem.is_some() {
            // A retry of the send that linked it.
            return after_write(state, actor, id).await;
        }
        return Err(conflict(&format!("已从本个案发起救助（编号 {done}）")));
    }
    let Some(pid) = c.person_id else {
        return Err(AppError::field(
            ErrorCode::Validation,
            "person_id",
            "请先将儿童关联到人员库中的人员",
        ));
    };
    let named = input
        .programme
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty() && *p != "temporary");
    if named.is_none() && aid_first_today(state, &c).await? {
        return grant_aid(state, actor, &c, pid, input).await;
    }
    start_application(state, actor, &c, pid, input, idem).await
}

/// Is an emergency period with `aid_first` in force for the child's village today? (what the
/// case page tells before the money is started)
pub async fn aid_first_today(state: &AppState, c: &CaseLine) -> AppResult<bool> {
    let Ok(region) = RegionCode::parse(&c.region_code) else {
        return Ok(false);
    };
    Ok(crate::assistance::emergency::measure_in_force(
        state,
        &region,
        state.today(),
        crate::assistance::emergency::Measure::AidFirst,
    )
    .await?
    .is_some())
}

/// The aid-first grant for the child, linked to the case.
async fn grant_aid(
    state: &AppState,
    actor: &Actor,
    c: &CaseLine,
    pid: i64,
    input: &AssistInput,
) -> AppResult<ChildCase> {
    let amount = input.amount.as_deref().map(str::trim).unwrap_or("");
    if amount.is_empty() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "amount",
            "本地区在先行救助应急期内：请填写当场发放的临时救助金额（元，不超过本县单次上限）",
        ));
    }
    let note = text_field("note", input.note.as_deref().unwrap_or(""), 500, false)?;
    let grant = crate::assistance::emergency::grant(
        state,
        actor,
        &crate::assistance::emergency::NewAidGrant {
            person_id: pid,
            amount: amount.to_string(),
            reason: format!("困境儿童个案 {} 先行救助。{note}", c.id),
        },
    )
    .await?;
    let detail = json!({"aid_grant_id": {"before": null, "after": grant.id},
        "amount_fen": grant.amount_fen, "emergency_id": grant.emergency_id});
    linked(state, actor, c, detail, "aid_grant", grant.id).await
}

/// Link what the case got (`kind`: an `aid_grant` or an `assistance` application, `linked`
/// its id) to the case, with its event and the audit `detail`.
async fn linked(
    state: &AppState,
    actor: &Actor,
    c: &CaseLine,
    detail: serde_json::Value,
    kind: &'static str,
    linked: i64,
) -> AppResult<ChildCase> {
    let who = actor.username.clone();
    let id = c.id;
    write(
        state,
        actor,
        c,
        change("child_case.assistance", c).detail(detail),
        async |tx| {
            let now = tx.now();
            if kind == "aid_grant" {
                queries::link_grant(tx, id, linked, now).await?;
            } else {
                queries::link_application(tx, id, linked, now).await?;
            }
            queries::insert_event(tx, &c.region_code, id, kind, "", &linked.to_string(), &who).await
        },
    )
    .await
}

/// An application for the child's household, linked to the case.
async fn start_application(
    state: &AppState,
    actor: &Actor,
    c: &CaseLine,
    pid: i64,
    input: &AssistInput,
    idem: Option<&str>,
) -> AppResult<ChildCase> {
    let child = super::registry_person(state, actor, pid).await?;
    let Some(hid) = child.household_id else {
        return Err(AppError::field(
            ErrorCode::Validation,
            "household_id",
            "该儿童尚未登记家庭户，请先在人员信息中登记家庭",
        ));
    };
    let household = crate::people::get_household(state, actor, hid).await?;
    let member = |person_id: i64| crate::assistance::applications::NewMember {
        person_id,
        authorised: input.authorised,
        ..Default::default()
    };
    let mut members = vec![member(pid)];
    members.extend(
        household
            .members
            .iter()
            .filter(|m| m.id != pid && !m.deceased)
            .map(|m| member(m.id)),
    );
    let app_input = crate::assistance::applications::NewApplication {
        programme: input
            .programme
            .clone()
            .filter(|p| !p.trim().is_empty())
            .unwrap_or_else(|| {
                backstop_core::programme::Programme::DeFactoOrphanAllowance
                    .key()
                    .to_string()
            }),
        household_id: hid,
        area_kind: input.area_kind.clone(),
        members,
        covered: Some(1),
        note: input.note.clone(),
        ..Default::default()
    };
    let app = crate::assistance::applications::create(state, actor, &app_input, idem).await?;
    let detail =
        json!({"application_id": {"before": null, "after": app.id}, "programme": app.programme});
    linked(state, actor, c, detail, "assistance", app.id).await
}
