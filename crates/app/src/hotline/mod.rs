//! Hotlines (热线, issue 17 items 2–5): lines and shifts, the call record made on one screen by
//! the person answering, the red-flag path (suicide risk or a child in danger: the mandatory
//! report 强制报告 recorded in the same write, an urgent referral opened at once, the line's
//! supervisors notified, and for a child a pending lead for the children's cases), referrals
//! to organisations and follow-ups (`referrals.rs`), confidential counselling notes
//! (`notes.rs`) and the reporting (`stats.rs`).
//!
//! Rules: every hotline route is *not found* for an actor without `hotline.answer` or
//! `hotline.supervise` (as if nothing existed), except the referrals addressed to the
//! organisation a user belongs to. Lines and shifts are managed with `hotline.supervise`; a
//! call is recorded with `hotline.answer` on a line whose region is in the actor's scope (an
//! unknown line or one out of scope is 422 on `line_id`, nothing written). Calls are read by
//! hotline staff in scope of the line; the caller's phone is sealed and shown masked; the
//! child lead's name, place and reason are sealed and the name shown masked. Every change is
//! one write transaction with its audit entry.

pub mod lines;
pub mod notes;
pub mod pages;
mod queries;
pub mod referrals;
pub mod stats;
pub mod web;

use backstop_core::error::ErrorCode;
use backstop_core::mask::{mask_name, mask_phone};
use backstop_core::region::RegionCode;
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::children::HotlineChildLead;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, text_field};
use crate::state::AppState;

pub use lines::{
    Line, NewLine, NewShift, Shift, add_shift, create_line, line, lines, my_shifts, shifts,
};
pub use referrals::{Followup, Referral};

/// `(key, Chinese label)` tables of the closed lists.
pub type Labels = &'static [(&'static str, &'static str)];

/// Kinds of line.
pub const LINE_KINDS: Labels = &[
    ("psychological", "心理援助热线"),
    ("child_protection", "儿童保护热线"),
    ("civil_affairs", "民政服务热线"),
];

/// Who called.
pub const CALLER_CATEGORIES: Labels = &[
    ("resident", "居民"),
    ("quarantined", "隔离人员"),
    ("patient_family", "患者家属"),
    ("frontline_worker", "一线工作人员"),
    ("child", "儿童"),
    ("other", "其他"),
];

/// What the call was about (several may apply).
pub const ISSUES: Labels = &[
    ("anxiety", "焦虑恐慌"),
    ("depression", "抑郁低落"),
    ("grief", "丧亲哀伤"),
    ("family", "家庭关系"),
    ("child_care", "儿童照护"),
    ("livelihood", "生活困难"),
    ("medical", "就医求助"),
    ("policy", "政策咨询"),
    ("other", "其他"),
];

/// Risk levels; `red_flag` is suicide risk or a child in danger.
pub const RISKS: Labels = &[
    ("low", "低"),
    ("medium", "中"),
    ("high", "高"),
    ("red_flag", "红色预警"),
];

/// What was done (several may apply).
pub const ACTIONS: Labels = &[
    ("advice", "咨询建议"),
    ("emotional_support", "情绪支持"),
    ("grief_support", "哀伤辅导"),
    ("referral", "转介"),
    ("follow_up_scheduled", "安排回访"),
];

/// The kind of red flag.
pub const FLAG_KINDS: Labels = &[("suicide", "自杀风险"), ("child_danger", "儿童处于危险")];

/// Whom the mandatory report (强制报告) went to.
pub const REPORT_TO: Labels = &[("police", "公安机关"), ("civil_affairs", "民政部门")];

/// The Chinese label of `key` in `table` (the key itself when unknown).
pub fn label(table: Labels, key: &str) -> String {
    table
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, l)| (*l).to_string())
        .unwrap_or_else(|| key.to_string())
}

/// One value of a closed list, or 422 naming the field.
pub(crate) fn pick(field: &str, value: &str, table: Labels) -> AppResult<&'static str> {
    let v = value.trim();
    table
        .iter()
        .find(|(k, _)| *k == v)
        .map(|(k, _)| *k)
        .ok_or_else(|| {
            // Labels only: the message is shown on pages too (the keys are in docs/API.md).
            let allowed: Vec<&str> = table.iter().map(|(_, l)| *l).collect();
            AppError::field(
                ErrorCode::Validation,
                field,
                format!("应为以下之一：{}", allowed.join("、")),
            )
        })
}

/// Several values of a closed list (deduplicated, in the list's order).
fn picks(field: &str, values: &[String], table: Labels, required: bool) -> AppResult<Vec<String>> {
    let mut chosen = Vec::new();
    for v in values {
        chosen.push(pick(field, v, table)?);
    }
    if required && chosen.is_empty() {
        return Err(AppError::field(
            ErrorCode::Validation,
            field,
            "至少选择一项",
        ));
    }
    Ok(table
        .iter()
        .filter(|(k, _)| chosen.contains(k))
        .map(|(k, _)| (*k).to_string())
        .collect())
}

/// A time given as `YYYY-MM-DD HH:MM` / `YYYY-MM-DDTHH:MM` (Beijing) or RFC 3339, in Unix ms.
pub(crate) fn time_field(field: &str, value: &str) -> AppResult<i64> {
    let v = value.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(t.timestamp_millis());
    }
    for f in [
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
    ] {
        if let Ok(n) = chrono::NaiveDateTime::parse_from_str(v, f) {
            return Ok(n.and_utc().timestamp_millis() - 8 * 3_600_000);
        }
    }
    Err(AppError::field(
        ErrorCode::Validation,
        field,
        "时间格式应为 YYYY-MM-DD HH:MM（北京时间）",
    ))
}

pub(crate) use backstop_core::region::province_of;

/// Does the actor work on hotlines at all? Anyone else gets *not found* from every hotline
/// route (nothing is seen to exist).
pub(crate) fn hotline_staff(actor: &Actor) -> bool {
    actor.can(Permission::HotlineAnswer) || actor.can(Permission::HotlineSupervise)
}

fn staff_only(actor: &Actor) -> AppResult<()> {
    if hotline_staff(actor) {
        Ok(())
    } else {
        Err(AppError::not_found())
    }
}

/// Supervising needs `hotline.supervise`; other hotline staff are refused (403), everyone else
/// finds nothing (404).
fn supervisor_only(actor: &Actor) -> AppResult<()> {
    staff_only(actor)?;
    actor.require(Permission::HotlineSupervise)
}

/// Does the actor supervise the line of region `region` (hotline.supervise, region in scope)?
pub(crate) fn supervises(actor: &Actor, region: &str) -> bool {
    actor.can(Permission::HotlineSupervise)
        && RegionCode::parse(region).is_ok_and(|c| actor.sees(&c))
}

// ------------------------------------------------------------------------------- calls

/// The mandatory report and kind of a red flag.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RedFlag {
    /// `suicide` or `child_danger`.
    pub kind: String,
    pub kind_label: String,
    /// `police` or `civil_affairs`.
    pub report_to: String,
    pub report_to_label: String,
    pub report_at: String,
    pub report_ref: String,
}

/// The pending lead about a child in danger (the name masked).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChildLead {
    pub region_code: String,
    pub child_name: String,
    /// `handed`: a lead opened in the child's village (`pending_children` on calls recorded
    /// before the hand-over was wired).
    pub status: String,
    /// The child case opened (its reference; readable only with `children.read`).
    pub case_id: Option<i64>,
}

/// A call record.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Call {
    pub id: i64,
    pub line_id: i64,
    pub line_name: String,
    /// The line's region.
    pub region_code: String,
    pub called_at: String,
    pub caller_category: String,
    pub caller_category_label: String,
    pub issues: Vec<String>,
    pub risk: String,
    pub risk_label: String,
    pub actions: Vec<String>,
    pub duration_s: i64,
    pub caller_region: Option<String>,
    pub anonymous: bool,
    /// Masked; the number is sealed at rest.
    pub phone: Option<String>,
    pub red_flag: Option<RedFlag>,
    pub child_lead: Option<ChildLead>,
    /// The existing child case the call refers to (关联个案编号; readable only with
    /// `children.read`).
    pub related_case_id: Option<i64>,
    pub answered_by: String,
    /// How many counselling notes the call has (the notes themselves: `notes.rs`).
    pub notes: i64,
    pub referrals: Vec<Referral>,
    pub followups: Vec<Followup>,
}

/// The child of a red flag for a child in danger.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewChildLead {
    /// The village (community) where the child is.
    pub region_code: String,
    pub child_name: String,
    /// Where the child is now.
    pub where_now: String,
    /// Why care is missing / what danger.
    pub reason: String,
}

/// Body of `POST /api/v1/hotline/calls`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewCall {
    pub line_id: i64,
    /// Default now.
    #[serde(default)]
    pub called_at: Option<String>,
    pub caller_category: String,
    #[serde(default)]
    pub issues: Vec<String>,
    pub risk: String,
    #[serde(default)]
    pub actions: Vec<String>,
    pub duration_s: i64,
    #[serde(default)]
    pub caller_region: Option<String>,
    /// Only when the caller gives it; sealed at rest, shown masked.
    #[serde(default)]
    pub phone: Option<String>,
    /// Red flag only: `suicide` or `child_danger`.
    #[serde(default)]
    pub flag_kind: Option<String>,
    /// Red flag only, required: `police` or `civil_affairs` (强制报告).
    #[serde(default)]
    pub report_to: Option<String>,
    /// Red flag: when reported (default the call's time).
    #[serde(default)]
    pub report_at: Option<String>,
    /// Red flag only, required: the report's reference (接警编号 or the like).
    #[serde(default)]
    pub report_ref: Option<String>,
    /// A child in danger: the child (required for `child_danger`).
    #[serde(default)]
    pub child: Option<NewChildLead>,
    /// Refer the call now (for a red flag, urgent; default the line's own organisation).
    #[serde(default)]
    pub referral: Option<referrals::NewReferral>,
    /// Schedule a follow-up at this time.
    #[serde(default)]
    pub followup_due: Option<String>,
    /// An existing child case the call refers to (关联个案编号): the child's village must lie
    /// inside the line's region and the caller's scope, else 422 "个案不存在".
    #[serde(default)]
    pub related_case_id: Option<i64>,
}

/// A validated red flag.
pub(crate) struct FlagRow {
    pub kind: &'static str,
    pub report_to: &'static str,
    pub report_at: i64,
    pub report_ref: String,
    pub child: Option<HotlineChildLead>,
}

/// A validated call (what the insert needs).
pub(crate) struct CallRow {
    pub line: Line,
    pub called_at: i64,
    pub caller_category: &'static str,
    pub issues: String,
    pub risk: &'static str,
    pub actions: String,
    pub duration_s: i64,
    pub caller_region: Option<String>,
    pub phone: Option<String>,
    pub flag: Option<FlagRow>,
}

fn opt(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

async fn red_flag(state: &AppState, input: &NewCall, called_at: i64) -> AppResult<FlagRow> {
    let kind = pick("flag_kind", opt(&input.flag_kind).unwrap_or(""), FLAG_KINDS)?;
    let (Some(to), Some(reference)) = (opt(&input.report_to), opt(&input.report_ref)) else {
        return Err(AppError::field(
            ErrorCode::Validation,
            "report_to",
            "红色预警必须同时登记强制报告（报告对象：公安机关或民政部门，及报告编号）",
        ));
    };
    let report_to = pick("report_to", to, REPORT_TO)?;
    let report_ref = text_field("report_ref", reference, 60, true)?;
    let report_at = match opt(&input.report_at) {
        Some(t) => time_field("report_at", t)?,
        None => called_at,
    };
    let child = match (kind, &input.child) {
        ("child_danger", Some(c)) => {
            // The child's village, whatever the line's scope: a red flag must reach it.
            let region = crate::regions::parse_code("child_region", &c.region_code)?;
            crate::regions::on_record(state, &region, "child_region", "区划代码不存在").await?;
            Some(HotlineChildLead {
                region_code: region.as_str().to_string(),
                child_name: text_field("child_name", &c.child_name, 50, true)?,
                where_now: text_field("child_where", &c.where_now, 200, true)?,
                reason: text_field("child_reason", &c.reason, 500, true)?,
                urgent: true,
                call_ref: String::new(),
                note: String::new(),
            })
        }
        ("child_danger", None) => {
            return Err(AppError::field(
                ErrorCode::Validation,
                "child",
                "儿童处于危险时须填写儿童所在村（社区）、姓名、现在何处及原因",
            ));
        }
        _ => None,
    };
    Ok(FlagRow {
        kind,
        report_to,
        report_at,
        report_ref,
        child,
    })
}

/// Validate a call: the line (unknown or out of scope: 422 on `line_id`) and every field.
async fn validate_call(state: &AppState, actor: &Actor, input: &NewCall) -> AppResult<CallRow> {
    let line = queries::line(state, &actor.everywhere(), input.line_id)
        .await
        .map_err(|_| {
            AppError::field(
                ErrorCode::Validation,
                "line_id",
                "热线线路不存在或不在您的管辖范围内",
            )
        })?;
    let now = state.now_ms();
    let called_at = match opt(&input.called_at) {
        Some(t) => time_field("called_at", t)?,
        None => now,
    };
    if called_at > now + 60_000 {
        return Err(AppError::field(
            ErrorCode::Validation,
            "called_at",
            "来电时间不能晚于现在",
        ));
    }
    let caller_category = pick("caller_category", &input.caller_category, CALLER_CATEGORIES)?;
    let issues = picks("issues", &input.issues, ISSUES, true)?.join(",");
    let risk = pick("risk", &input.risk, RISKS)?;
    let actions = picks("actions", &input.actions, ACTIONS, false)?.join(",");
    if !(0..=24 * 3600).contains(&input.duration_s) {
        return Err(AppError::field(
            ErrorCode::Validation,
            "duration_s",
            "通话时长应在 0 到 86400 秒之间",
        ));
    }
    let caller_region = match opt(&input.caller_region) {
        None => None,
        Some(c) => {
            let code = crate::regions::parse_code("caller_region", c)?;
            crate::regions::find(state, code.as_str())
                .await?
                .ok_or_else(|| {
                    AppError::field(ErrorCode::UnknownRegion, "caller_region", "区划不存在")
                })?;
            Some(code.as_str().to_string())
        }
    };
    let phone = match opt(&input.phone) {
        None => None,
        Some(p) => {
            let ok = (5..=20).contains(&p.len())
                && p.chars()
                    .all(|c| c.is_ascii_digit() || c == '-' || c == '+');
            if !ok {
                return Err(AppError::field(
                    ErrorCode::Validation,
                    "phone",
                    "电话号码格式不正确",
                ));
            }
            Some(p.to_string())
        }
    };
    let flag = if risk == "red_flag" {
        Some(red_flag(state, input, called_at).await?)
    } else {
        if opt(&input.flag_kind).is_some() || input.child.is_some() {
            return Err(AppError::field(
                ErrorCode::Validation,
                "risk",
                "只有红色预警才登记预警类型和儿童线索",
            ));
        }
        None
    };
    Ok(CallRow {
        line,
        called_at,
        caller_category,
        issues,
        risk,
        actions,
        duration_s: input.duration_s,
        caller_region,
        phone,
        flag,
    })
}

/// Record a call (hotline.answer). A red flag records the mandatory report, opens an urgent
/// referral and notifies the line's supervisors in the same write; a child in danger also
/// records the pending child lead. With an `Idempotency-Key` already used, the first answer.
pub async fn record_call(
    state: &AppState,
    actor: &Actor,
    input: &NewCall,
    idem: Option<&str>,
) -> AppResult<Call> {
    staff_only(actor)?;
    actor.require(Permission::HotlineAnswer)?;
    if let Some(id) = crate::assistance::replayed(state, actor, idem, "hotline_call").await? {
        return call(state, actor, id).await;
    }
    let row = validate_call(state, actor, input).await?;
    let mut referral = match &input.referral {
        Some(r) => Some(referrals::validate_referral(state, actor, &row.line, r).await?),
        None => None,
    };
    if let (Some(_), None) = (&row.flag, &referral) {
        // A red flag always opens an urgent referral: by default to the line's own organisation.
        let org = queries::org_region(state, row.line.org_id).await?;
        referral = Some(referrals::ReferralRow {
            org_id: row.line.org_id,
            org_region: org,
            reason: "红色预警紧急转介".to_string(),
        });
    }
    let followup_due = match opt(&input.followup_due) {
        Some(t) => {
            let due = time_field("followup_due", t)?;
            if due <= state.now_ms() {
                return Err(AppError::field(
                    ErrorCode::Validation,
                    "followup_due",
                    "回访时间应晚于现在",
                ));
            }
            Some(due)
        }
        None => None,
    };
    let phone_enc = row
        .phone
        .as_deref()
        .map(|p| crate::privacy::seal(&state.keys, p));
    let phone_masked = row.phone.as_deref().map(mask_phone).unwrap_or_default();
    let mut tx = Tx::begin(state, actor).await?;
    let id = queries::insert_call(
        &mut tx,
        state,
        &row,
        phone_enc.as_deref(),
        &phone_masked,
        actor,
    )
    .await?;
    let mut detail = json!({
        "line_id": row.line.id, "caller_category": row.caller_category, "risk": row.risk,
        "issues": row.issues, "actions": row.actions, "duration_s": row.duration_s,
        "phone": if phone_masked.is_empty() { serde_json::Value::Null } else { json!(phone_masked) },
    });
    if let Some(f) = &row.flag {
        detail["red_flag"] = json!({"kind": f.kind, "report_to": f.report_to, "report_ref": crate::kernel::access::text_len(&f.report_ref)});
        if let Some(c) = &f.child {
            let lead = HotlineChildLead {
                call_ref: format!("hotline_call:{id}"),
                ..c.clone()
            };
            let case_id =
                hand_child_lead_to_children(&mut tx, state, id, &lead, &actor.username).await?;
            detail["child_lead"] = json!({"region_code": lead.region_code, "child_name": mask_name(&lead.child_name), "status": "handed", "case_id": case_id});
        }
    }
    if let Some(case_id) = input.related_case_id {
        crate::children::leads::note_hotline_call(
            &mut tx,
            actor,
            case_id,
            &row.line.region_code,
            id,
            row.called_at,
        )
        .await?;
        queries::set_related_case(&mut tx, id, case_id).await?;
        detail["related_case_id"] = json!(case_id);
    }
    if let Some(r) = &referral {
        let urgent = row.flag.is_some();
        let rid = queries::insert_referral(
            &mut tx,
            &state.keys,
            id,
            &row.line,
            r,
            urgent,
            &actor.username,
        )
        .await?;
        detail["referral"] = json!({"id": rid, "org_id": r.org_id, "urgent": urgent});
    }
    if let Some(due) = followup_due {
        let fid =
            queries::insert_followup(&mut tx, &state.keys, id, &row.line, due, &actor.username)
                .await?;
        detail["followup"] = json!({"id": fid, "due_at": backstop_core::clock::rfc3339(due)});
    }
    if let Some(f) = &row.flag {
        let notified = notify_supervisors(&mut tx, &row.line, id, f).await?;
        detail["notified"] = json!(notified);
    }
    crate::assistance::remember(&mut tx, actor, idem, "hotline_call", id).await?;
    tx.commit(
        Change::new(
            "hotline.call_record",
            "hotline_call",
            id,
            &row.line.region_code,
        )
        .detail(detail),
    )
    .await?;
    call(state, actor, id).await
}

/// Hand a lead about a child in danger to the children's cases: a lead opened in the child's
/// village (notified) in the call's own transaction — the call and the lead commit together
/// or not at all — whatever the line's scope. The call keeps the lead (sealed), the status
/// `handed` and the case's id (its reference); the case stays behind `children.read`.
pub(crate) async fn hand_child_lead_to_children(
    tx: &mut Tx,
    state: &AppState,
    call_id: i64,
    lead: &HotlineChildLead,
    by: &str,
) -> AppResult<i64> {
    // The caller's words on why become the case's reason when they name one, else `other`
    // with the words kept (sealed) in the case's contact history.
    let reason = crate::children::choice(&crate::children::REASONS, "child_reason", &lead.reason)
        .unwrap_or("other");
    let child = HotlineChildLead {
        region_code: lead.region_code.clone(),
        child_name: lead.child_name.clone(),
        where_now: lead.where_now.clone(),
        reason: reason.to_string(),
        urgent: lead.urgent,
        call_ref: lead.call_ref.clone(),
        note: format!("来电所述原因：{}", lead.reason),
    };
    let case_id = crate::children::leads::open_lead_in(tx, state, &child, by).await?;
    let seal = |v: &str| crate::privacy::seal(&state.keys, v);
    queries::set_child_lead(
        tx,
        call_id,
        &lead.region_code,
        [
            seal(&lead.child_name),
            seal(&lead.where_now),
            seal(&lead.reason),
        ],
        "handed",
        case_id,
    )
    .await?;
    Ok(case_id)
}

/// Notify the line's supervisors (users with hotline.supervise whose scope covers the line)
/// of a red flag, in the call's transaction; the units notified. The text carries no name,
/// only the line, the kind and the call's number.
async fn notify_supervisors(
    tx: &mut Tx,
    line: &Line,
    call_id: i64,
    f: &FlagRow,
) -> AppResult<Vec<String>> {
    let code = crate::regions::parse_code("region_code", &line.region_code)?;
    let mut scopes = code.lineage_strings();
    scopes.push("0".to_string());
    let users = queries::supervisors(tx, &scopes).await?;
    let fields = [
        ("line", line.name.clone()),
        ("kind", label(FLAG_KINDS, f.kind)),
        ("id", call_id.to_string()),
    ];
    let mut units = Vec::new();
    for uid in users {
        let unit = format!("user:{uid}");
        let now = tx.now();
        crate::reports::queue_notification(
            tx,
            &crate::reports::NewNotification {
                region: &line.region_code,
                unit: &unit,
                kind: "hotline_red_flag",
                template: "hotline_red_flag",
                fields: &fields,
            },
            now,
        )
        .await?;
        units.push(unit);
    }
    Ok(units)
}

/// One call in scope (hotline staff in scope of its line).
pub async fn call(state: &AppState, actor: &Actor, id: i64) -> AppResult<Call> {
    staff_only(actor)?;
    let scope = actor.everywhere();
    let mut c = queries::call(state, &scope, id).await?;
    c.referrals = queries::call_referrals(state, &scope, id).await?;
    c.followups = queries::call_followups(state, &scope, id).await?;
    Ok(c)
}

/// Calls in scope (optionally one region of it), newest first (at most 500); no notes, only
/// their count.
pub async fn calls(
    state: &AppState,
    actor: &Actor,
    region: Option<&RegionCode>,
) -> AppResult<Vec<Call>> {
    staff_only(actor)?;
    queries::calls(state, &actor.within_opt(region)?).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_lists_and_times() {
        assert_eq!(pick("risk", "red_flag", RISKS).ok(), Some("red_flag"));
        assert!(pick("risk", "severe", RISKS).is_err());
        let p = picks(
            "actions",
            &["referral".into(), "advice".into(), "advice".into()],
            ACTIONS,
            false,
        );
        assert_eq!(
            p.ok(),
            Some(vec!["advice".to_string(), "referral".to_string()])
        );
        assert!(picks("issues", &[], ISSUES, true).is_err());
        // 2026-03-02 08:00 Beijing = 00:00 UTC.
        assert_eq!(
            time_field("t", "2026-03-02 08:00").ok(),
            time_field("t", "2026-03-02T00:00:00Z").ok()
        );
        assert!(time_field("t", "yesterday").is_err());
        assert_eq!(province_of("130110"), "13");
    }
}
