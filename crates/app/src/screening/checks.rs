//! The missed check-in sweep (run by the CLI ticker): every half-day slot of an active
//! observation that passed without a check-in notifies the four responsible people once, and —
//! once the escalation delay has passed since the slot ended — the township once. It runs for
//! the system (audit user `system`, source `scheduler`), over every active observation.

use backstop_core::region::{RegionCode, RegionLevel};
use chrono::NaiveDate;
use serde_json::json;

use super::{DEFAULT_ESCALATE_MS, HALF_DAY_MS, queries, slot_label, slot_of, slot_start};
use crate::audit::Who;
use crate::kernel::access::{Change, Tx};
use crate::kernel::error::AppResult;
use crate::people::shown;
use crate::state::AppState;

/// The escalation delay: `BACKSTOP_OBSERVATION_ESCALATE_MINUTES` if set, else 12 hours.
pub fn escalate_after_ms() -> i64 {
    std::env::var("BACKSTOP_OBSERVATION_ESCALATE_MINUTES")
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|m| *m >= 0)
        .map(|m| m * 60_000)
        .unwrap_or(DEFAULT_ESCALATE_MS)
}

/// Find missed check-ins with the configured escalation delay; returns notifications queued.
pub async fn run_observation_checks(state: &AppState) -> AppResult<i64> {
    run_observation_checks_with(state, escalate_after_ms()).await
}

/// Find every half-day slot of an active observation that has passed without a check-in
/// (slots from the first one starting after the observation began, to the end of its last
/// day). Each such slot notifies the four once (region = the person's region), and once
/// `escalate_after_ms` has passed since the slot ended, the township once (region = its
/// 9-digit code). Idempotent: a slot and level is alerted at most once.
pub async fn run_observation_checks_with(
    state: &AppState,
    escalate_after_ms: i64,
) -> AppResult<i64> {
    let now = state.now_ms();
    let mut queued = 0;
    for o in queries::active_observations(state).await? {
        let name = shown::name_in_list(&o.person_name);
        let first = (o.started_at + super::BEIJING_MS + HALF_DAY_MS - 1).div_euclid(HALF_DAY_MS);
        let Ok(last_day) = NaiveDate::parse_from_str(&o.ends_on, "%Y-%m-%d") else {
            continue;
        };
        // Slots of the last day: the day's morning is slot (days since epoch) * 2.
        let days = (last_day - NaiveDate::default()).num_days();
        let last_by_end = days * 2 + 1;
        let last = (slot_of(now) - 1).min(last_by_end);
        if last < first {
            continue;
        }
        let first = first.max(last - 200);
        let (done, alerted) = queries::slots_since(state, o.id, first).await?;
        for slot in first..=last {
            if done.contains(&slot) {
                continue;
            }
            let slot_end = slot_start(slot) + HALF_DAY_MS;
            for level in [1i64, 2] {
                if alerted.contains(&(slot, level))
                    || (level == 2 && slot_end + escalate_after_ms > now)
                {
                    continue;
                }
                queued += alert(state, now, &o, &name, slot, level).await?;
            }
        }
    }
    Ok(queued)
}

/// Queue the notifications of one missed slot at one level, once.
async fn alert(
    state: &AppState,
    now: i64,
    o: &queries::ActiveObservation,
    name: &str,
    slot: i64,
    level: i64,
) -> AppResult<i64> {
    let system = Who {
        user_id: None,
        username: "system".into(),
        source: "scheduler".into(),
    };
    let (id, region) = (o.id, o.region_code.as_str());
    let mut tx = Tx::begin_as(state, system).await?;
    if !queries::claim_alert(&mut tx, id, slot, level, now).await? {
        return Ok(0);
    }
    let when = slot_label(slot);
    let (title, targets): (String, Vec<(String, String, String)>) = if level == 1 {
        let t = queries::keepers_of(&mut tx, id)
            .await?
            .into_iter()
            .map(|(seq, role, kname)| {
                (
                    region.to_string(),
                    format!("observation:{id}:keeper:{seq}"),
                    format!(
                        "{role} {kname}：居家医学观察人员 {name}（观察编号 {id}）{when} 未按时报告体温和症状，请立即联系核实。"
                    ),
                )
            })
            .collect();
        (format!("居家观察漏报：{name}"), t)
    } else {
        let township = RegionCode::parse(region)
            .ok()
            .and_then(|c| c.prefix_at(RegionLevel::Township))
            .map(|c| c.to_string())
            .unwrap_or_else(|| region.to_string());
        (
            format!("居家观察漏报未处理：{name}"),
            vec![(
                township,
                format!("observation:{id}"),
                format!(
                    "居家医学观察人员 {name}（观察编号 {id}，{region}）{when} 未报告，四包一责任人已通知但仍未补报，请乡镇（街道）督促处置。"
                ),
            )],
        )
    };
    let mut sent = 0i64;
    for (to, unit, body) in &targets {
        crate::reports::queue_notification(
            &mut tx,
            &crate::reports::NewNotification {
                region: to,
                unit,
                kind: "observation_missed",
                title: &title,
                body,
            },
            now,
        )
        .await?;
        sent += 1;
    }
    tx.commit(
        Change::new("observation.missed", "observation", id, region)
            .detail(json!({"slot": when, "level": level, "notified": sent})),
    )
    .await?;
    Ok(sent)
}
