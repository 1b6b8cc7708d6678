//! Social assistance (社会救助, issue 16 items 1–3): the standards money is computed from
//! ([`standards`]), applications on the normal path with their due times, close relatives and
//! cross-checks ([`applications`], [`steps`]), the beneficiaries approval makes, and the
//! emergency periods with their measures ([`emergency`]). The amount rules themselves are pure
//! and live in `backstop_core::benefit`; payment rolls (task MONEY) read the beneficiaries.
//!
//! Rules kept here: every read goes through a scoped handle (out of scope is *not found*),
//! every write is one [`crate::kernel::access::Tx`] with its audit entry, permissions are
//! checked in the service functions (`assistance.*`), money is integer fen parsed from yuan
//! text exactly, and what an applicant declared (incomes, assets, notes) is sealed at rest.
//!
//! Due times: "working days" are counted as plain calendar days (a county that wants the
//! stricter reading sets fewer days, see [`due_times`]: per county, inherited from the city or
//! province); the defaults are verify 5, review 10, approve 10, publicity 7, aid-first
//! approval 10. Statistics per region and month are in [`stats`].

pub mod applications;
pub mod due_times;
pub mod emergency;
pub mod federated;
pub mod pages;
pub mod public;
mod queries;
pub mod standards;
pub mod stats;
pub mod stats_pages;
pub mod stats_web;
pub mod steps;
pub mod todo;
pub mod web;

use backstop_core::Programme;
use backstop_core::error::ErrorCode;
use backstop_core::money::Fen;
use backstop_core::region::{RegionCode, RegionLevel};
use chrono::NaiveDate;
use serde::Serialize;

use crate::kernel::access::Tx;
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

pub const DAY_MS: i64 = 24 * 3600 * 1000;

/// A county's due times in days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Settings {
    pub verify_days: i64,
    pub review_days: i64,
    pub approve_days: i64,
    pub publicity_days: i64,
    pub aid_first_days: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            verify_days: 5,
            review_days: 10,
            approve_days: 10,
            publicity_days: 7,
            aid_first_days: 10,
        }
    }
}

/// The county a region code belongs to (the region itself for a county); a province or city
/// has none.
pub fn county_of(code: &RegionCode) -> Option<RegionCode> {
    code.prefix_at(RegionLevel::County)
}

pub use backstop_core::region::province_of;

/// A programme key, or a Chinese error on `field`.
pub fn programme_field(field: &str, s: &str) -> AppResult<Programme> {
    Programme::parse(s).ok_or_else(|| {
        AppError::field(
            ErrorCode::Validation,
            field,
            "未知的救助项目（应为 dibao、tekun、temporary、orphan_allowance、de_facto_orphan_allowance 或 disability_allowances）",
        )
    })
}

/// `urban` / `rural` (城市 / 农村).
pub fn area_kind_field(field: &str, s: &str) -> AppResult<&'static str> {
    match s.trim() {
        "urban" | "城市" => Ok("urban"),
        "rural" | "农村" => Ok("rural"),
        _ => Err(AppError::field(
            ErrorCode::Validation,
            field,
            "应为 urban（城市）或 rural（农村）",
        )),
    }
}

/// An amount in yuan text, non-negative and exact to the fen, or a Chinese error on `field`.
pub fn amount_field(field: &str, s: &str) -> AppResult<Fen> {
    Fen::parse_non_negative(s)
        .map_err(|e| AppError::field(ErrorCode::Validation, field, e.to_string()))
}

/// An optional amount (empty = 0).
pub fn opt_amount_field(field: &str, s: Option<&str>) -> AppResult<Fen> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(Fen::ZERO),
        Some(s) => amount_field(field, s),
    }
}

/// `YYYY-MM-DD` of a date.
pub fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// The county's due times: its own, else the nearest set by its city or province, else the
/// defaults ([`due_times`]).
pub async fn settings(state: &AppState, county: &str) -> AppResult<Settings> {
    match RegionCode::parse(county) {
        Ok(code) => Ok(due_times::in_force(state, &code).await?.settings),
        Err(_) => Ok(Settings::default()),
    }
}

/// Remember an API write's answer under the caller's `Idempotency-Key` (in the same
/// transaction as the write), keyed `assist:<route>:<key>`.
pub(crate) async fn remember(
    tx: &mut Tx,
    actor: &Actor,
    key: Option<&str>,
    route: &str,
    id: i64,
) -> AppResult<()> {
    if let (Some(k), Some(uid)) = (key, actor.user_id) {
        let key = format!("assist:{route}:{k}");
        queries::remember(tx, (actor.province(), uid), &key, id).await?;
    }
    Ok(())
}

/// The id a previous write under this `Idempotency-Key` answered, if any.
pub(crate) async fn replayed(
    state: &AppState,
    actor: &Actor,
    key: Option<&str>,
    route: &str,
) -> AppResult<Option<i64>> {
    let (Some(k), Some(uid)) = (key, actor.user_id) else {
        return Ok(None);
    };
    if !(8..=100).contains(&k.len()) {
        return Err(AppError::field(
            ErrorCode::Validation,
            "Idempotency-Key",
            "应为 8 到 100 个字符",
        ));
    }
    let key = format!("assist:{route}:{k}");
    queries::replayed(state, (actor.province(), uid), &key).await
}
