//! The escalation engine (催报升级, issue 15 item 3): one engine, one rule table keyed by kind,
//! one tick on the injected clock, for everything that waits on someone — a unit that has not
//! reported (`report`, with optional per-form rules `report:<form key>`), an inspection
//! problem past its rectification deadline (`rectification`), an institution's shortage not
//! answered (`shortage`), a care task past its due date (`care_task`), a home-observation
//! check-in missed (`observation_checkin`, 四包一: the four keepers, then the community's
//! leader; its slots are found and alerted by `screening::run_observation_checks`, which the
//! tick runs under this rule).
//!
//! A rule says when the first notice repeats (minutes after the due time) and when a thing
//! still outstanding after every reminder escalates: a notification to its leader (an
//! organisation's contact; for a village, its 村（居）委会's contact — an SMS when a gateway is
//! configured, see `dispatch`) addressed to the level above, and a red mark on the level
//! above's missing list. The first notice at the due time is the area's own for reports (the
//! deadline reminder, `reports::run_deadlines`) and the engine's for the other kinds. Where
//! each thing is (reminders sent, escalated when, to whom, masked) is in `escalations`, so a
//! tick repeated or run by two processes sends nothing twice.
//!
//! Other areas' tables are read only through small queries in `notify::queries` (and, for
//! reports, through `reports::chase`). Texts carry a reference and a unit's name, never
//! health, case or amount detail.

use std::collections::HashMap;

use backstop_core::error::ErrorCode;
use backstop_core::region::Scope;
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::queries;
use crate::audit::Who;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::reports::{NewNotification, queue_notification};
use crate::state::AppState;

const MINUTE_MS: i64 = 60_000;
/// At most this many reminders after the first notice.
pub const MAX_REPEATS: usize = 5;
/// Reminders and escalations are at most two weeks after the due time.
pub const MAX_MINUTES: i64 = 20_160;
/// Things written per transaction.
const CHUNK: usize = 1000;

/// The kinds the engine serves, with their Chinese names.
pub const KINDS: [(&str, &str); 6] = [
    ("report", "报表未报"),
    ("rectification", "整改逾期"),
    ("shortage", "物资缺口未答复"),
    ("care_task", "关爱任务逾期"),
    ("observation_checkin", "居家观察漏报"),
    ("child_lead", "困境儿童线索未接收或未分类"),
];

/// The Chinese name of a rule's kind (`report:<form>` is a form's own report rule).
pub fn kind_label(kind: &str) -> String {
    if let Some(form) = kind.strip_prefix("report:") {
        return format!("报表未报（{form}）");
    }
    KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, l)| (*l).to_string())
        .unwrap_or_else(|| kind.to_string())
}

/// The rule in force for a kind when nobody has set one.
fn default_rule(kind: &str) -> (Vec<i64>, i64) {
    match kind {
        // At the deadline (the deadline reminder), again 2 h later, escalate an hour after.
        k if k == "report" || k.starts_with("report:") => (vec![120], 180),
        "shortage" => (vec![240], 480),
        // The four at the missed slot's end; the leader 12 h later (or what
        // BACKSTOP_OBSERVATION_ESCALATE_MINUTES says, until someone sets the rule).
        "observation_checkin" => (
            vec![],
            crate::screening::escalate_after_ms().max(MINUTE_MS) / MINUTE_MS,
        ),
        // A child's lead: the village at its due time, the township 30 min later, the
        // county 30 min after that (`children::leads::overdue`).
        "child_lead" => (vec![], 30),
        _ => (vec![1440], 2880),
    }
}

/// An escalation rule as shown and edited.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Rule {
    /// `report`, `report:<form key>`, `rectification`, `shortage` or `care_task`.
    pub kind: String,
    pub label: String,
    /// Minutes after the due time at which the first notice is repeated.
    pub repeats: Vec<i64>,
    /// Minutes after the due time at which a thing still outstanding escalates.
    pub escalate_after_min: i64,
    pub enabled: bool,
    /// Who last changed it (empty: the default).
    pub updated_by: String,
}

impl Rule {
    fn default_for(kind: &str) -> Rule {
        let (repeats, escalate_after_min) = default_rule(kind);
        Rule {
            kind: kind.to_string(),
            label: kind_label(kind),
            repeats,
            escalate_after_min,
            enabled: true,
            updated_by: String::new(),
        }
    }
}

/// Body of `PUT /api/v1/notifications/escalation-rules/{kind}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct RuleInput {
    pub repeats: Vec<i64>,
    pub escalate_after_min: i64,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// Check a rule: at most [`MAX_REPEATS`] repeats, each 1–[`MAX_MINUTES`] minutes and later
/// than the one before; the escalation later than the last repeat.
pub fn validate(input: &RuleInput) -> AppResult<()> {
    if input.repeats.len() > MAX_REPEATS {
        return Err(AppError::field(
            ErrorCode::Validation,
            "repeats",
            format!("重复提醒最多 {MAX_REPEATS} 次"),
        ));
    }
    let mut last = 0;
    for r in &input.repeats {
        if *r <= last || *r > MAX_MINUTES {
            return Err(AppError::field(
                ErrorCode::Validation,
                "repeats",
                format!("重复提醒时间应为到期后 1–{MAX_MINUTES} 分钟，且逐次递增"),
            ));
        }
        last = *r;
    }
    if input.escalate_after_min <= last || input.escalate_after_min > MAX_MINUTES {
        return Err(AppError::field(
            ErrorCode::Validation,
            "escalate_after_min",
            format!("升级时间应晚于最后一次提醒，且不超过到期后 {MAX_MINUTES} 分钟"),
        ));
    }
    Ok(())
}

/// Parse a typed list of minutes ("120, 240" or "120，240"); a Chinese error naming the field.
pub fn parse_minutes(text: &str) -> AppResult<Vec<i64>> {
    text.split([',', '，', ' ', '、'])
        .filter(|t| !t.trim().is_empty())
        .map(|t| {
            t.trim().parse::<i64>().map_err(|_| {
                AppError::field(
                    ErrorCode::Validation,
                    "repeats",
                    "重复提醒时间请填写分钟数，用逗号分隔",
                )
            })
        })
        .collect()
}

/// Every rule in force: the kinds' rules (stored or default) and the forms' own report rules.
pub async fn rules(state: &AppState, actor: &Actor) -> AppResult<Vec<Rule>> {
    actor.require(Permission::ReportsRead)?;
    all_rules(state).await
}

/// The rule in force for a kind (stored, else the default).
pub async fn rule_in_force(state: &AppState, kind: &str) -> AppResult<Rule> {
    Ok(queries::rules(state)
        .await?
        .into_iter()
        .find(|r| r.kind == kind)
        .unwrap_or_else(|| Rule::default_for(kind)))
}

async fn all_rules(state: &AppState) -> AppResult<Vec<Rule>> {
    let stored = queries::rules(state).await?;
    let mut out: Vec<Rule> = KINDS
        .iter()
        .map(|(k, _)| {
            stored
                .iter()
                .find(|r| r.kind == *k)
                .cloned()
                .unwrap_or_else(|| Rule::default_for(k))
        })
        .collect();
    out.extend(stored.into_iter().filter(|r| r.kind.starts_with("report:")));
    Ok(out)
}

/// May the actor change the rules? They hold for the whole country: an official
/// (`reports.manage`) of national scope.
pub fn may_edit(actor: &Actor) -> bool {
    actor.can(Permission::ReportsManage) && matches!(actor.scope, Scope::National)
}

/// Set the rule of a kind (audited). A form's own rule is `report:<form key>` of a form that
/// exists.
pub async fn set_rule(
    state: &AppState,
    actor: &Actor,
    kind: &str,
    input: &RuleInput,
) -> AppResult<Rule> {
    if !may_edit(actor) {
        return Err(AppError::forbidden());
    }
    let kind = kind.trim();
    let known = KINDS.iter().any(|(k, _)| *k == kind)
        || match kind.strip_prefix("report:") {
            Some(form) => crate::reports::chase::form_exists(state, form).await?,
            None => false,
        };
    if !known {
        return Err(AppError::field(
            ErrorCode::Validation,
            "kind",
            "没有这种升级规则（可选：报表未报、整改逾期、物资缺口未答复、关爱任务逾期、居家观察漏报，或 report:报表代码）",
        ));
    }
    validate(input)?;
    let rule = Rule {
        kind: kind.to_string(),
        label: kind_label(kind),
        repeats: input.repeats.clone(),
        escalate_after_min: input.escalate_after_min,
        enabled: input.enabled,
        updated_by: actor.username.clone(),
    };
    let mut tx = Tx::begin(state, actor).await?;
    let now = tx.now();
    queries::put_rule(&mut tx, &rule, now).await?;
    tx.commit(
        Change::new("notify.escalation_rule", "escalation_rule", kind, "0").detail(json!({
            "repeats": rule.repeats,
            "escalate_after_min": rule.escalate_after_min,
            "enabled": rule.enabled,
        })),
    )
    .await?;
    Ok(rule)
}

/// Something outstanding, as a source reports it.
pub struct Overdue {
    /// Stable within the kind: `form/period/unit`, `problem:17`, …
    pub subject: String,
    pub region_code: String,
    /// Who is reminded: a region code or `org:ID`.
    pub unit: String,
    pub unit_name: String,
    pub due_at: i64,
    /// What is outstanding, a reference only ("《村日报》2026-12-05 未填报").
    pub what: String,
}

/// Where a thing is in its rule.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub reminders: i64,
    pub escalated: bool,
}

/// What one tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TickReport {
    pub reminded: i64,
    pub escalated: i64,
}

/// The step a thing is due for: how many reminders it should have had by `now` (the first
/// notice at the due time, then one per repeat passed), and whether it should escalate.
pub fn owed(rule: &Rule, due_at: i64, now: i64) -> (i64, bool) {
    if now < due_at {
        return (0, false);
    }
    let repeats = rule
        .repeats
        .iter()
        .filter(|r| due_at + *r * MINUTE_MS <= now)
        .count() as i64;
    (
        1 + repeats,
        due_at + rule.escalate_after_min * MINUTE_MS <= now,
    )
}

/// One tick of the engine: every kind's outstanding things moved on to where their rule says
/// they should be. Safe to call every minute, from several processes.
pub async fn tick(state: &AppState) -> AppResult<TickReport> {
    let rules = all_rules(state).await?;
    let rule_for = |kind: &str| -> Rule {
        rules
            .iter()
            .find(|r| r.kind == kind)
            .cloned()
            .unwrap_or_else(|| Rule::default_for(kind))
    };
    let now = state.now_ms();
    let mut report = TickReport::default();
    // Reports: every missing unit of a form moves together, so a step already run for a
    // form's period is not looked at again.
    for due in crate::reports::chase::deadlines_passed(state).await? {
        let rule = match rules
            .iter()
            .find(|r| r.kind == format!("report:{}", due.form))
        {
            Some(r) => r.clone(),
            None => rule_for("report"),
        };
        if !rule.enabled {
            continue;
        }
        let (n, esc) = owed(&rule, due.due_at, now);
        let step = n + i64::from(esc);
        let run_key = format!("report:{}/{}", due.form, due.period);
        if queries::run_step(state, &run_key).await? >= step {
            continue;
        }
        let items = crate::reports::chase::overdue_units(state, &due).await?;
        let prefix = format!("{}/{}/", due.form, due.period);
        let r = advance(state, "report", &rule, true, &items, &prefix, now).await?;
        report.reminded += r.reminded;
        report.escalated += r.escalated;
        queries::set_run_step(state, &run_key, step, now).await?;
    }
    for kind in ["rectification", "shortage", "care_task", "child_lead"] {
        let rule = rule_for(kind);
        if !rule.enabled {
            continue;
        }
        let items = match kind {
            "child_lead" => {
                crate::children::leads::overdue(state, now, rule.escalate_after_min * MINUTE_MS)
                    .await?
            }
            _ => queries::overdue(state, kind, now).await?,
        };
        let r = advance(state, kind, &rule, false, &items, "", now).await?;
        report.reminded += r.reminded;
        report.escalated += r.escalated;
    }
    // Missed home-observation check-ins: found and alerted per slot by screening, under the
    // `observation_checkin` rule (which it reads itself).
    report.reminded += crate::screening::run_observation_checks(state).await?;
    Ok(report)
}

/// Move each thing of a kind on: a reminder when one is owed, an escalation when due and
/// every reminder went out. `first_sent`: the area sent the notice at the due time itself.
async fn advance(
    state: &AppState,
    kind: &str,
    rule: &Rule,
    first_sent: bool,
    items: &[Overdue],
    prefix: &str,
    now: i64,
) -> AppResult<TickReport> {
    let mut report = TickReport::default();
    if items.is_empty() {
        return Ok(report);
    }
    let progress = queries::progress(state, kind, prefix).await?;
    let label = kind_label(kind);
    let all_reminders = 1 + rule.repeats.len() as i64;
    for chunk in items.chunks(CHUNK) {
        let mut work = Vec::new();
        for it in chunk {
            let had = progress.get(&it.subject).copied().unwrap_or(Progress {
                reminders: i64::from(first_sent),
                escalated: false,
            });
            let (n, esc) = owed(rule, it.due_at, now);
            let remind = n > had.reminders;
            let reminders = had.reminders.max(n);
            let escalate = esc && !had.escalated && reminders >= all_reminders;
            if remind || escalate {
                work.push((it, reminders, remind, escalate));
            }
        }
        if work.is_empty() {
            continue;
        }
        let leaders: HashMap<String, String> = if work.iter().any(|w| w.3) {
            let units: Vec<String> = work
                .iter()
                .filter(|w| w.3)
                .map(|w| w.0.unit.clone())
                .collect();
            queries::leader_phones(state, &units).await?
        } else {
            HashMap::new()
        };
        let mut tx = Tx::begin_as(state, Who::system("escalation")).await?;
        let (mut reminded, mut escalated) = (0, 0);
        for (it, reminders, remind, escalate) in &work {
            let fields = [
                ("label", label.clone()),
                ("n", reminders.to_string()),
                ("unit_name", it.unit_name.clone()),
                ("what", it.what.clone()),
            ];
            if *remind {
                let note = NewNotification {
                    region: &it.region_code,
                    unit: &it.unit,
                    kind: repeat_kind(kind),
                    template: "escalation_repeat",
                    fields: &fields,
                };
                queue_notification(&mut tx, &note, now).await?;
                reminded += 1;
            }
            let mut leader = String::new();
            if *escalate {
                leader = leaders
                    .get(&it.unit)
                    .map(|p| backstop_core::mask::mask_phone(p))
                    .unwrap_or_default();
                let above = backstop_core::region::RegionCode::parse(&it.region_code)
                    .ok()
                    .and_then(|r| r.parent())
                    .map(|r| r.as_str().to_string())
                    .unwrap_or_else(|| it.region_code.clone());
                let unit = format!("leader:{}", it.unit);
                let note = NewNotification {
                    region: &above,
                    unit: &unit,
                    kind: escalation_kind(kind),
                    template: "escalation_notice",
                    fields: &fields,
                };
                queue_notification(&mut tx, &note, now).await?;
                escalated += 1;
            }
            queries::put_progress(
                &mut tx,
                kind,
                it,
                *reminders,
                escalate.then_some(now),
                &leader,
                now,
            )
            .await?;
        }
        tx.commit(
            Change::new("notify.escalate", "escalation", kind, "0")
                .detail(json!({"reminded": reminded, "escalated": escalated})),
        )
        .await?;
        report.reminded += reminded;
        report.escalated += escalated;
    }
    Ok(report)
}

fn repeat_kind(kind: &str) -> &'static str {
    match kind {
        "report" => "report_repeat",
        "rectification" => "rectification_repeat",
        "shortage" => "shortage_repeat",
        "child_lead" => "child_lead_repeat",
        _ => "care_task_repeat",
    }
}

fn escalation_kind(kind: &str) -> &'static str {
    match kind {
        "report" => "report_escalation",
        "rectification" => "rectification_escalation",
        "shortage" => "shortage_escalation",
        "child_lead" => "child_lead_escalation",
        _ => "care_task_escalation",
    }
}

/// The units of a form's period that escalated (for the red mark on the missing list).
pub async fn escalated_units(
    state: &AppState,
    form: &str,
    period: &str,
) -> AppResult<std::collections::HashSet<String>> {
    queries::escalated_units(state, "report", &format!("{form}/{period}/")).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(repeats: Vec<i64>, esc: i64) -> RuleInput {
        RuleInput {
            repeats,
            escalate_after_min: esc,
            enabled: true,
        }
    }

    #[test]
    fn rules_are_checked() {
        assert!(validate(&input(vec![120], 180)).is_ok());
        assert!(validate(&input(vec![], 60)).is_ok());
        assert!(validate(&input(vec![120, 60], 180)).is_err());
        assert!(validate(&input(vec![120], 120)).is_err());
        assert!(validate(&input(vec![0], 60)).is_err());
        assert!(validate(&input(vec![1, 2, 3, 4, 5, 6], 60)).is_err());
        assert!(validate(&input(vec![], MAX_MINUTES + 1)).is_err());
        assert_eq!(parse_minutes("120，240").ok(), Some(vec![120, 240]));
        assert!(parse_minutes("两小时").is_err());
    }

    #[test]
    fn owed_steps_follow_the_clock() {
        let rule = Rule::default_for("report");
        let due = 1_000_000;
        assert_eq!(owed(&rule, due, due - 1), (0, false));
        assert_eq!(owed(&rule, due, due), (1, false));
        assert_eq!(owed(&rule, due, due + 120 * MINUTE_MS), (2, false));
        assert_eq!(owed(&rule, due, due + 180 * MINUTE_MS), (2, true));
    }
}
