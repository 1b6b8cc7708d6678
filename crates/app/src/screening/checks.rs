//! The missed check-in sweep, run by the escalation engine's tick (`notify::escalate`, rule
//! kind `observation_checkin` in the one rule table, shown on `/notifications/escalation`):
//! every half-day slot of an active observation that passed without a check-in notifies the
//! four responsible people once, again at each of the rule's repeats, and — once the rule's
//! escalation time has passed since the slot ended — the leader of the person's community
//! (its 村（居）委会's contact, by SMS when a gateway is configured), shown to the township. It
//! runs for the system (audit user `system`, source `scheduler`), over every active
//! observation. The texts are templates (`observation_missed`, `observation_missed_leader`):
//! a masked name and a reference, no health detail.

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

/// Find missed check-ins under the `observation_checkin` escalation rule in force (none when
/// it is switched off); returns notifications queued.
pub async fn run_observation_checks(state: &AppState) -> AppResult<i64> {
    let rule = crate::notify::escalate::rule_in_force(state, "observation_checkin").await?;
    if !rule.enabled {
        return Ok(0);
    }
    let repeats: Vec<i64> = rule.repeats.iter().map(|m| m * 60_000).collect();
    run_observation_checks_with(state, &repeats, rule.escalate_after_min * 60_000).await
}

/// The level of a slot's alert: 1 the first notice to the four, 2 the escalation, 10 + i the
/// four again at the rule's i-th repeat.
const REPEAT_LEVEL: i64 = 10;

/// Find every half-day slot of an active observation that has passed without a check-in
/// (slots from the first one starting after the observation began, to the end of its last
/// day). Each such slot notifies the four once (region = the person's region), again
/// `repeats_ms[i]` after the slot ended, and once `escalate_after_ms` has passed since the
/// slot ended, the community's leader once (shown to the township, region = its 9-digit code).
/// Idempotent: a slot and level is alerted at most once.
pub async fn run_observation_checks_with(
    state: &AppState,
    repeats_ms: &[i64],
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
            let mut levels = vec![(1i64, 0i64)];
            for (i, r) in repeats_ms.iter().enumerate() {
                levels.push((REPEAT_LEVEL + i as i64, *r));
            }
            levels.push((2, escalate_after_ms));
            for (level, after) in levels {
                if alerted.contains(&(slot, level)) || slot_end + after > now {
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
    let system = Who::system("scheduler");
    let (id, region) = (o.id, o.region_code.as_str());
    let mut tx = Tx::begin_as(state, system).await?;
    if !queries::claim_alert(&mut tx, id, slot, level, now).await? {
        return Ok(0);
    }
    let when = slot_label(slot);
    // (region, unit, template, fields) of each notification.
    type Target = (String, String, &'static str, Vec<(&'static str, String)>);
    let targets: Vec<Target> = if level != 2 {
        queries::keepers_of(&mut tx, id)
            .await?
            .into_iter()
            .map(|(seq, role, kname)| {
                (
                    region.to_string(),
                    format!("observation:{id}:keeper:{seq}"),
                    "observation_missed",
                    vec![
                        ("role", role),
                        ("keeper", kname),
                        ("name", name.to_string()),
                        ("id", id.to_string()),
                        ("when", when.clone()),
                    ],
                )
            })
            .collect()
    } else {
        let township = RegionCode::parse(region)
            .ok()
            .and_then(|c| c.prefix_at(RegionLevel::Township))
            .map(|c| c.to_string())
            .unwrap_or_else(|| region.to_string());
        // The community's leader: its committee's contact (`leader:<village>`, see
        // `notify::dispatch`), addressed to the township, which sees it in its list.
        vec![(
            township,
            format!("leader:{region}"),
            "observation_missed_leader",
            vec![
                ("name", name.to_string()),
                ("id", id.to_string()),
                ("region", region.to_string()),
                ("when", when.clone()),
            ],
        )]
    };
    let mut sent = 0i64;
    for (to, unit, template, fields) in &targets {
        crate::reports::queue_notification(
            &mut tx,
            &crate::reports::NewNotification {
                region: to,
                unit,
                kind: "observation_missed",
                template,
                fields,
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
