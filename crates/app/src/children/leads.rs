//! Leads (线索): cases in state `lead`, opened by the system so that finding a child does not
//! depend on someone remembering, and by the hotline.
//!
//! - When a person enters home observation, is recorded confirmed or suspected (or sent to
//!   isolation or observation) in screening, or raises a fever alert at a gate, [`for_parent`]
//!   opens — in that write's own transaction — a lead for each child (under 18 by the sealed
//!   birth date, else the birth year) of the person's household, and for each child whose
//!   recorded carer (照料责任人 of a dispersed 特困 child, matched by the carer's phone) the
//!   person is, due in two hours, addressed
//!   to the child's village: its children's directors and community workers are notified
//!   (the township when the village has neither). Never two open leads for the same child and
//!   reason (checked, and a partial unique index).
//! - [`open_from_hotline`]: the hotline's lead about a child (due in one hour when urgent).
//! - [`overdue`]: what the escalation engine chases under the rule `child_lead`: a lead not
//!   taken by its due time (reminded at the village, escalated to the township's supervisors,
//!   then from the township to the county) and a case not classified by its deadline (reminded
//!   at the township, escalated to the county). Due times are stored, so the engine's tick
//!   catches up after a restart.

use backstop_core::error::ErrorCode;
use backstop_core::region::{RegionCode, RegionLevel};
use backstop_core::role::Permission;
use chrono::Datelike;
use serde::Deserialize;
use serde_json::json;

use super::{HOUR_MS, LEAD_DUE_MS, REASONS, choice, queries};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, text_field};
use crate::notify::escalate::Overdue;
use crate::privacy::seal;
use crate::reports::{NewNotification, queue_notification};
use crate::state::AppState;

/// The hotline's lead about a child (issue 17 item 3), for [`open_from_hotline`].
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct HotlineChildLead {
    /// The child's village.
    pub region_code: String,
    pub child_name: String,
    pub where_now: String,
    /// One of the case reasons (`parent_infected`, …, `other`).
    pub reason: String,
    /// Due in one hour instead of two.
    pub urgent: bool,
    /// The call's reference, kept on the case.
    pub call_ref: String,
    /// What the caller said (sealed into the case's contact history).
    #[serde(default)]
    pub note: String,
}

/// Is a person born on `birth` (sealed `YYYY-MM-DD`) or in `year` under 18 on `today`?
pub(crate) fn is_child(birth: Option<&str>, year: Option<i64>, today: chrono::NaiveDate) -> bool {
    if let Some(d) = birth.and_then(|b| chrono::NaiveDate::parse_from_str(b, "%Y-%m-%d").ok()) {
        let mut age = today.year() - d.year();
        if (today.month(), today.day()) < (d.month(), d.day()) {
            age -= 1;
        }
        return (0..18).contains(&age);
    }
    match year {
        Some(y) => (0..18).contains(&(i64::from(today.year()) - y)),
        None => false,
    }
}

/// Notify the village of a new lead: its children's directors and community workers, else
/// the township. In the caller's transaction.
async fn notify_village(tx: &mut Tx, region: &str, id: i64, due_at: i64) -> AppResult<()> {
    let mut targets = queries::lead_recipients(tx, region).await?;
    if targets.is_empty() {
        let township = RegionCode::parse(region)
            .ok()
            .and_then(|c| c.prefix_at(RegionLevel::Township))
            .map(|c| c.as_str().to_string())
            .unwrap_or_else(|| region.to_string());
        targets.push((township.clone(), township));
    }
    let due = backstop_core::clock::format_beijing(backstop_core::clock::from_millis(due_at));
    // A reference and a time only: no name, no reason, no health detail in the outbox.
    let fields = [
        ("label", "困境儿童线索".to_string()),
        ("n", "1".to_string()),
        ("unit_name", "新线索".to_string()),
        (
            "what",
            format!("编号 {id} 的儿童监护缺失线索须在 {due} 前接收核实"),
        ),
    ];
    for (r, unit) in &targets {
        let now = tx.now();
        let note = NewNotification {
            region: r,
            unit,
            kind: "child_lead",
            template: "escalation_repeat",
            fields: &fields,
        };
        queue_notification(tx, &note, now).await?;
    }
    Ok(())
}

/// Open a lead for each child of `person_id`'s household and each child whose recorded carer
/// the person is (see `queries::dependants`), in the caller's transaction (the
/// audit entries queued with [`Tx::also`]). `reason` is one of [`REASONS`]; `source` says
/// what opened it (`observation`, `screening`, `entrance_alert`). Returns the leads' ids.
pub(crate) async fn for_parent(
    tx: &mut Tx,
    state: &AppState,
    person_id: i64,
    reason: &'static str,
    source: &'static str,
    source_ref: &str,
) -> AppResult<Vec<i64>> {
    let today = state.today();
    let children = queries::dependants(tx, person_id).await?;
    let mut out = Vec::new();
    for kid in children {
        let birth = kid
            .birth_enc
            .as_deref()
            .and_then(|b| state.keys.decrypt(b))
            .and_then(|b| String::from_utf8(b).ok());
        if !is_child(birth.as_deref(), kid.birth_year, today) {
            continue;
        }
        if queries::has_active_case(tx, kid.id, super::reason_group(reason)).await? {
            continue;
        }
        let now = tx.now();
        let due = now + LEAD_DUE_MS;
        let row = queries::NewCaseRow {
            region_code: &kid.region_code,
            status: "lead",
            person_id: Some(kid.id),
            name_enc: seal(&state.keys, &kid.name),
            name_masked: crate::people::shown::name_in_list(&kid.name),
            sex: kid.sex.clone(),
            birth_year: kid.birth_year,
            where_enc: None,
            reason,
            reason_enc: seal(&state.keys, reason),
            health_enc: None,
            history_enc: None,
            classify_due_at: due + super::CLASSIFY_DUE_MS,
            worker_id: None,
            source,
            source_ref: source_ref.to_string(),
            lead_due_at: Some(due),
            opened_by: "system",
        };
        let Some(id) = queries::insert_lead(tx, &row).await? else {
            continue;
        };
        queries::insert_event(tx, &kid.region_code, id, "open", "", source, "system").await?;
        notify_village(tx, &kid.region_code, id, due).await?;
        tx.also(
            Change::new("child_case.lead", "child_case", id, &kid.region_code).detail(json!({
                "person_id": kid.id, "parent_person_id": person_id, "reason_group": super::reason_group(reason),
                "source": source, "source_ref": source_ref, "lead_due_at": due,
            })),
        );
        out.push(id);
    }
    Ok(out)
}

/// Open a lead from the hotline in the child's village (due in one hour when urgent, else
/// two) and notify the village. The caller answers the hotline (`hotline.answer`) or manages
/// children's cases; the village must be inside its scope (else *not found*).
pub async fn open_from_hotline(
    state: &AppState,
    actor: &Actor,
    lead: HotlineChildLead,
) -> AppResult<i64> {
    if !(actor.can(Permission::HotlineAnswer) || actor.can(Permission::ChildrenManage)) {
        return Err(AppError::not_found());
    }
    let region = crate::regions::parse_code("region_code", &lead.region_code)?;
    actor.within(&region)?;
    let mut tx = Tx::begin(state, actor).await?;
    let (id, change) = write_lead(&mut tx, state, &lead, &actor.username).await?;
    tx.commit(change).await?;
    Ok(id)
}

/// Open a lead about a child in the caller's transaction (its Change queued with
/// [`Tx::also`]): checked, written, the village notified. No scope check: a red flag must
/// reach the child's village whatever the reporting line's scope (the hotline's own call
/// write checks its line). Returns the case id.
pub async fn open_lead_in(
    tx: &mut Tx,
    state: &AppState,
    lead: &HotlineChildLead,
    by: &str,
) -> AppResult<i64> {
    let (id, change) = write_lead(tx, state, lead, by).await?;
    tx.also(change);
    Ok(id)
}

/// A hotline call that refers to an existing case (关联个案编号), in the call's transaction:
/// accepted only when the case exists and the child's village lies inside the line's region
/// and the actor's scope — the rule the hotline's own leads follow — else 422 on
/// `related_case_id` with one answer, "个案不存在", whether the case exists elsewhere or not.
/// Writes the case's timeline entry (`hotline_call`: the call's id and time, no call text)
/// and queues the case's audit Change. Returns the case's village.
pub(crate) async fn note_hotline_call(
    tx: &mut Tx,
    actor: &Actor,
    case_id: i64,
    line_region: &str,
    call_id: i64,
    called_at: i64,
) -> AppResult<String> {
    let unknown = || AppError::field(ErrorCode::Validation, "related_case_id", "个案不存在");
    let region = queries::case_region(tx, case_id)
        .await?
        .ok_or_else(unknown)?;
    let reach = RegionCode::parse(&region).is_ok_and(|c| {
        actor.sees(&c) && RegionCode::parse(line_region).is_ok_and(|l| l.contains(&c))
    });
    if !reach {
        return Err(unknown());
    }
    let at = backstop_core::clock::format_beijing(backstop_core::clock::from_millis(called_at));
    let to = format!("{call_id}|{at}");
    queries::insert_event(
        tx,
        &region,
        case_id,
        "hotline_call",
        "",
        &to,
        &actor.username,
    )
    .await?;
    tx.also(
        Change::new("child_case.hotline_call", "child_case", case_id, &region).detail(
            json!({"call_id": call_id, "called_at": backstop_core::clock::rfc3339(called_at)}),
        ),
    );
    Ok(region)
}

/// The lead's rows and notifications, and its audit Change (for the caller to record).
async fn write_lead(
    tx: &mut Tx,
    state: &AppState,
    lead: &HotlineChildLead,
    by: &str,
) -> AppResult<(i64, Change)> {
    let region = crate::regions::parse_code("region_code", &lead.region_code)?;
    crate::regions::on_record(state, &region, "region_code", "区划不存在").await?;
    let name = text_field("child_name", &lead.child_name, 50, true)?;
    let where_now = text_field("where_now", &lead.where_now, 200, true)?;
    let reason = choice(&REASONS, "reason", &lead.reason)?;
    let call_ref = text_field("call_ref", &lead.call_ref, 60, false)?;
    let note = text_field("note", &lead.note, 2000, false)?;
    let now = tx.now();
    let due = now + if lead.urgent { HOUR_MS } else { LEAD_DUE_MS };
    let row = queries::NewCaseRow {
        region_code: region.as_str(),
        status: "lead",
        person_id: None,
        name_enc: seal(&state.keys, &name),
        name_masked: crate::people::shown::name_in_list(&name),
        sex: String::new(),
        birth_year: None,
        where_enc: Some(seal(&state.keys, &where_now)),
        reason,
        reason_enc: seal(&state.keys, reason),
        health_enc: None,
        history_enc: Some(note)
            .filter(|n| !n.is_empty())
            .map(|n| seal(&state.keys, &n)),
        classify_due_at: due + super::CLASSIFY_DUE_MS,
        worker_id: None,
        source: "hotline",
        source_ref: call_ref.clone(),
        lead_due_at: Some(due),
        opened_by: by,
    };
    let id = queries::insert_case(tx, &row).await?;
    queries::insert_event(tx, region.as_str(), id, "open", "", "hotline", by).await?;
    notify_village(tx, region.as_str(), id, due).await?;
    let change = Change::new("child_case.lead", "child_case", id, region.as_str()).detail(json!({
        "source": "hotline", "source_ref": call_ref, "reason_group": super::reason_group(reason),
        "urgent": lead.urgent, "lead_due_at": due,
        "name": {"before": null, "after": row.name_masked},
    }));
    Ok((id, change))
}

/// What the escalation engine chases under `child_lead` (see the module documentation).
/// References only: no name, reason or health detail.
pub async fn overdue(
    state: &AppState,
    now: i64,
    escalate_after_ms: i64,
) -> AppResult<Vec<Overdue>> {
    let mut out = Vec::new();
    for (id, region, due) in queries::leads_due(state, now).await? {
        let township = township_of(&region);
        out.push(Overdue {
            subject: format!("child_lead:{id}"),
            region_code: region.clone(),
            unit: region.clone(),
            unit_name: "困境儿童线索".to_string(),
            due_at: due,
            what: format!("编号 {id} 的儿童监护缺失线索未按时接收"),
        });
        // Still not taken once the township was told: the township is reminded and the
        // county is told.
        if let Some(t) = township.filter(|_| due + escalate_after_ms <= now) {
            out.push(Overdue {
                subject: format!("child_lead:{id}/township"),
                region_code: t.clone(),
                unit: t,
                unit_name: "困境儿童线索".to_string(),
                due_at: due + escalate_after_ms,
                what: format!("编号 {id} 的儿童监护缺失线索升级后仍未接收"),
            });
        }
    }
    for (id, region, due) in queries::classifications_due(state, now).await? {
        let unit = township_of(&region).unwrap_or(region);
        out.push(Overdue {
            subject: format!("child_classify:{id}"),
            region_code: unit.clone(),
            unit,
            unit_name: "困境儿童个案".to_string(),
            due_at: due,
            what: format!("编号 {id} 的儿童个案未在期限内分类安置"),
        });
    }
    Ok(out)
}

fn township_of(region: &str) -> Option<String> {
    RegionCode::parse(region)
        .ok()
        .and_then(|c| c.prefix_at(RegionLevel::Township))
        .filter(|t| t.as_str() != region)
        .map(|t| t.as_str().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_by_birth_date_or_year() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 5).expect("d");
        assert!(is_child(Some("2008-12-06"), None, today));
        assert!(!is_child(Some("2008-12-05"), None, today));
        assert!(!is_child(Some("1980-01-01"), Some(2020), today));
        assert!(is_child(None, Some(2015), today));
        assert!(!is_child(None, Some(2008), today));
        assert!(!is_child(None, None, today));
        assert_eq!(township_of("130110100001").as_deref(), Some("130110100"));
        assert_eq!(township_of("130110100"), None);
    }
}
