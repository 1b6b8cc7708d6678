//! Screening campaigns (摸排) and home observation with four responsible people (四包一),
//! issue 4 items 4 and 6.
//!
//! This module owns the rules of door-to-door screening and of home medical observation:
//! who may open a campaign (an official above village level, for a region in scope), how a
//! grid or community worker records one household visit and every person in it in one write
//! (temperature 34.0–43.0 °C in tenths, a risk class and a disposition), the live coverage of
//! households reached of households on the roll by child region (furthest behind first — the
//! "four full coverages"), and the life of an observation: four named responsible people
//! (phones encrypted and shown masked, like a person's phone), an end date that can only move
//! later, two check-ins a day, and release or transfer that closes it. `run_observation_checks`
//! is the sweep that turns a missed half-day check-in into notifications to the four and,
//! after a delay, to the township. Every change is audited inside its write transaction
//! (`kernel::access::Tx`); every read goes through a `Scoped` handle (outside the caller's
//! scope a record does not exist: 404). All SQL is in `queries`.
//!
//! Files: `campaigns` (opening and reading campaigns), `visits` (the one-write household
//! visit and the household finder), `coverage` (roll-ups by child region), `observation`
//! (居家观察 四包一: start, check-ins, extend, close, lists), `checks` (the missed check-in
//! sweep), `federated` (campaigns from a parent deployment, their coverage going up), `queries`
//! (every statement); the API is in `web`, the pages in `pages`.

mod campaigns;
mod checks;
mod coverage;
pub mod federated;
mod observation;
pub mod pages;
mod queries;
pub mod todo;
mod visits;
pub mod web;

use backstop_core::clock::{beijing_date, format_beijing, from_millis};
use backstop_core::error::ErrorCode;
use backstop_core::region::RegionCode;
use backstop_core::temperature;

use crate::kernel::error::{AppError, AppResult};

pub use campaigns::{Campaign, NewCampaign, create_campaign, get_campaign, list_campaigns};
pub use checks::{escalate_after_ms, run_observation_checks, run_observation_checks_with};
pub use coverage::{
    Coverage, CoverageChild, FIGURES_KIND, ObservationLine, ObservationSummary, SummaryChild,
    coverage, node_lines, summary,
};
pub use observation::{
    Checkin, CloseObservation, Keeper, KeeperInput, Listed, NewCheckin, NewObservation,
    Observation, ObservationQuery, checkin, close, extend, get_observation, list_observations,
    start_observation,
};
pub use visits::{
    MemberInput, RollHousehold, Visit, VisitInput, VisitMember, find_households, get_visit,
    record_visit,
};

/// Risk classes of a screened person.
pub const RISKS: [(&str, &str); 5] = [
    ("none", "无"),
    ("fever", "发热"),
    ("close_contact", "密切接触者"),
    ("suspected", "疑似"),
    ("confirmed", "确诊"),
];

/// Dispositions of a screened person.
pub const DISPOSITIONS: [(&str, &str); 4] = [
    ("none", "无需处置"),
    ("home_observation", "居家医学观察"),
    ("central_isolation", "集中隔离"),
    ("fever_clinic", "分流到发热门诊"),
];

/// How an observation ends.
pub const OUTCOMES: [(&str, &str); 3] = [
    ("released", "解除观察"),
    ("central_isolation", "转集中隔离"),
    ("hospital", "送医院"),
];

/// Default roles of the four responsible people.
pub const KEEPER_ROLES: [&str; 4] = ["社区干部", "医生", "民警", "志愿者"];

/// Lowest and highest temperature accepted, tenths of a degree (`backstop_core::temperature`).
pub const TEMP_MIN: i64 = temperature::MIN_TENTHS;
pub const TEMP_MAX: i64 = temperature::MAX_TENTHS;

/// Default length of an observation, days.
pub const DEFAULT_DAYS: i64 = 14;

/// Default delay before a missed check-in is escalated to the township.
pub const DEFAULT_ESCALATE_MS: i64 = 12 * 3_600_000;

const HALF_DAY_MS: i64 = 12 * 3_600_000;
const BEIJING_MS: i64 = 8 * 3_600_000;

fn label(table: &[(&'static str, &'static str)], id: &str) -> &'static str {
    table
        .iter()
        .find(|(k, _)| *k == id)
        .map(|(_, l)| *l)
        .unwrap_or("")
}

fn parse_choice(
    table: &[(&'static str, &'static str)],
    field: &str,
    s: &str,
) -> AppResult<&'static str> {
    let s = s.trim();
    let s = if s.is_empty() { "none" } else { s };
    table
        .iter()
        .find(|(k, l)| *k == s || *l == s)
        .map(|(k, _)| *k)
        .ok_or_else(|| {
            AppError::field(
                ErrorCode::Validation,
                field,
                format!("未知的取值“{}”", s.chars().take(20).collect::<String>()),
            )
        })
}

/// Half-day slot of an instant: even = Beijing morning (00:00–12:00), odd = evening.
pub fn slot_of(ms: i64) -> i64 {
    (ms + BEIJING_MS).div_euclid(HALF_DAY_MS)
}

fn slot_start(slot: i64) -> i64 {
    slot * HALF_DAY_MS - BEIJING_MS
}

/// `2026-03-02 上午` / `2026-03-02 下午`.
pub fn slot_label(slot: i64) -> String {
    let d = beijing_date(from_millis(slot_start(slot)));
    format!(
        "{} {}",
        d.format("%Y-%m-%d"),
        if slot.rem_euclid(2) == 0 {
            "上午"
        } else {
            "下午"
        }
    )
}

fn check_temperature(t: i64) -> AppResult<i64> {
    if temperature::plausible(t) {
        Ok(t)
    } else {
        Err(AppError::field(
            ErrorCode::Validation,
            "temperature",
            "体温应在 34.0 到 43.0 ℃ 之间（以 0.1 ℃ 为单位，如 365 表示 36.5 ℃）",
        ))
    }
}

/// `365` → `36.5`.
pub fn temp_label(t: i64) -> String {
    temperature::label(t)
}

fn fmt_ms(ms: i64) -> String {
    format_beijing(from_millis(ms))
}

/// A region of the query string (`?region=`): empty or `0` is none (the caller's scope), a
/// malformed code is *not found*.
pub fn region_query(value: Option<&str>) -> AppResult<Option<RegionCode>> {
    crate::kernel::extract::region_param(value.filter(|s| s.trim() != "0"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn slots_are_beijing_half_days() {
        // 2026-03-02 01:00 UTC = 09:00 Beijing (morning).
        let t = chrono::DateTime::parse_from_rfc3339("2026-03-02T01:00:00Z")
            .expect("t")
            .timestamp_millis();
        let s = slot_of(t);
        assert_eq!(s % 2, 0);
        assert_eq!(slot_label(s), "2026-03-02 上午");
        assert_eq!(slot_label(s + 1), "2026-03-02 下午");
        // 12:00 Beijing starts the evening slot.
        assert_eq!(slot_of(slot_start(s) + HALF_DAY_MS), s + 1);
        let day = NaiveDate::from_ymd_opt(2026, 3, 2).expect("d");
        assert_eq!((day - NaiveDate::default()).num_days() * 2, s);
        assert_eq!(temp_label(365), "36.5");
        assert!(check_temperature(339).is_err() && check_temperature(431).is_err());
        assert!(check_temperature(340).is_ok() && check_temperature(430).is_ok());
        assert_eq!(
            parse_choice(&RISKS, "risk", "密切接触者").ok(),
            Some("close_contact")
        );
        assert_eq!(region_query(Some("0")).ok(), Some(None));
        assert!(region_query(Some("x")).is_err());
    }
}
