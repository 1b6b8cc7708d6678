//! An institution's residents and their three daily temperature rounds (早/中/晚): the
//! one-screen round for all residents at once (one bad value refuses the whole round), the
//! day's table and its fevers. A resident's name is shown in full only to the institution's
//! own staff (`people::shown::name_for_org`); anyone tied to another organisation reads none.

use backstop_core::error::ErrorCode;
use backstop_core::temperature::is_fever;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Institution, celsius, load, load_for_write, parse_temp, queries, ymd};
use crate::kernel::access::{Change, Scoped, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, text_field};
use crate::people::shown;
use crate::privacy;
use crate::state::AppState;

/// A resident; the name is shown in full only to the institution's own staff.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Resident {
    pub id: i64,
    pub name: String,
    pub room: String,
}

/// Body of `POST /api/v1/institutions/{id}/residents`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ResidentInput {
    pub name: String,
    #[serde(default)]
    pub room: String,
}

/// Active residents of an institution.
pub async fn residents(state: &AppState, actor: &Actor, id: i64) -> AppResult<Vec<Resident>> {
    let scope = actor.everywhere();
    let org = load(state, &scope, id).await?;
    queries::residents(state, &scope, &org).await
}

/// Add a resident.
pub async fn add_resident(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &ResidentInput,
) -> AppResult<Resident> {
    let scope = actor.everywhere();
    let org = load_for_write(state, &scope, id).await?;
    let name = text_field("name", &input.name, 50, true)?;
    let room = text_field("room", &input.room, 30, false)?;
    let mut tx = Tx::begin(state, actor).await?;
    let rid = queries::insert_resident(&mut tx, &state.keys, org.id, &name, &room).await?;
    tx.commit(
        Change::new(
            "institution.resident_add",
            "institution_resident",
            rid,
            &org.region_code,
        )
        .detail(json!({"org_id": org.id, "name": {"before": null, "after": shown::name_in_list(&name)}, "room": {"before": null, "after": room}})),
    )
    .await?;
    Ok(Resident {
        id: rid,
        name: shown::name_for_org(actor, org.id, &name),
        room,
    })
}

/// A round of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    Morning,
    Noon,
    Evening,
}

impl Round {
    pub const ALL: [Round; 3] = [Round::Morning, Round::Noon, Round::Evening];
    pub fn as_str(self) -> &'static str {
        match self {
            Round::Morning => "morning",
            Round::Noon => "noon",
            Round::Evening => "evening",
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            Round::Morning => "早",
            Round::Noon => "中",
            Round::Evening => "晚",
        }
    }
    pub fn parse(s: &str) -> Option<Round> {
        Round::ALL.into_iter().find(|r| r.as_str() == s.trim())
    }
}

/// One resident's reading in a round.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct TempInput {
    pub resident_id: i64,
    /// ℃, 34–43; absent or null = not measured.
    #[serde(default)]
    pub temperature: Option<f64>,
}

/// Body of `POST /api/v1/institutions/{id}/rounds`: one round for all residents at once.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct RoundsInput {
    /// `YYYY-MM-DD`; default today.
    #[serde(default)]
    pub day: Option<String>,
    /// `morning`, `noon` or `evening`.
    pub round: String,
    pub temperatures: Vec<TempInput>,
}

/// One reading, ℃.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Reading {
    pub temperature: f64,
    pub fever: bool,
}

/// One resident's three rounds of a day.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DayRow {
    pub resident_id: i64,
    pub name: String,
    pub room: String,
    pub morning: Option<Reading>,
    pub noon: Option<Reading>,
    pub evening: Option<Reading>,
}

/// A fever reading of the day.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FeverRow {
    pub resident_id: i64,
    pub name: String,
    pub room: String,
    pub round: String,
    pub round_label: String,
    pub temperature: f64,
}

/// A day's temperature rounds of all residents, with the fevers listed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RoundsView {
    pub day: String,
    pub rows: Vec<DayRow>,
    pub fevers: Vec<FeverRow>,
}

/// The temperature rounds of a day (default today).
pub async fn rounds(
    state: &AppState,
    actor: &Actor,
    id: i64,
    day: Option<NaiveDate>,
) -> AppResult<RoundsView> {
    let scope = actor.everywhere();
    let org = load(state, &scope, id).await?;
    let day = ymd(super::day_or_today(state, "day", day)?);
    day_view(state, &scope, &org, day).await
}

async fn day_view(
    state: &AppState,
    scope: &Scoped<'_>,
    org: &Institution,
    day: String,
) -> AppResult<RoundsView> {
    let people = queries::residents(state, scope, org).await?;
    let temps = queries::temps_of_day(state, scope, org, &day).await?;
    let mut rows = Vec::new();
    let mut fevers = Vec::new();
    for p in people {
        let reading = |round: Round| {
            temps
                .iter()
                .find(|t| t.0 == p.id && t.1 == round.as_str())
                .map(|t| Reading {
                    temperature: celsius(t.2),
                    fever: t.3 != 0,
                })
        };
        for round in Round::ALL {
            if let Some(r) = reading(round).filter(|r| r.fever) {
                fevers.push(FeverRow {
                    resident_id: p.id,
                    name: p.name.clone(),
                    room: p.room.clone(),
                    round: round.as_str().to_string(),
                    round_label: round.label_zh().to_string(),
                    temperature: r.temperature,
                });
            }
        }
        rows.push(DayRow {
            resident_id: p.id,
            morning: reading(Round::Morning),
            noon: reading(Round::Noon),
            evening: reading(Round::Evening),
            name: p.name,
            room: p.room,
        });
    }
    Ok(RoundsView { day, rows, fevers })
}

/// Every reading of a round checked against the institution's active residents: one bad value
/// refuses the whole round (all errors named).
fn check_round(known: &[i64], input: &[TempInput]) -> AppResult<Vec<(i64, i64)>> {
    let mut values = Vec::new();
    let mut errors = Vec::new();
    for t in input {
        let field = format!("t_{}", t.resident_id);
        if !known.contains(&t.resident_id) {
            errors.push(AppError::field(
                ErrorCode::Validation,
                &field,
                "不是本机构的在院人员",
            ));
            continue;
        }
        if values.iter().any(|(r, _)| *r == t.resident_id) {
            errors.push(AppError::field(ErrorCode::Validation, &field, "重复填写"));
            continue;
        }
        let Some(c) = t.temperature else { continue };
        match parse_temp(&field, c) {
            Ok(v) => values.push((t.resident_id, v)),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        let mut e = AppError::msg(ErrorCode::Validation, "体温数据有误，本轮未保存");
        e.fields = errors.into_iter().flat_map(|x| x.fields).collect();
        return Err(e);
    }
    if values.is_empty() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "temperatures",
            "至少填写一人的体温",
        ));
    }
    Ok(values)
}

/// Record one round for many residents at once. Every value is checked first; one bad value
/// refuses the whole round and nothing is stored.
pub async fn record_round(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &RoundsInput,
) -> AppResult<RoundsView> {
    let scope = actor.everywhere();
    let org = load_for_write(state, &scope, id).await?;
    let day = super::day_param("day", input.day.as_deref())
        .and_then(|d| super::day_or_today(state, "day", d))?;
    let day = ymd(day);
    let round = Round::parse(&input.round).ok_or_else(|| {
        AppError::field(
            ErrorCode::Validation,
            "round",
            "应为 morning、noon 或 evening",
        )
    })?;
    let known = queries::resident_ids(state, &scope, &org).await?;
    let values = check_round(&known, &input.temperatures)?;
    // Sealed before the write begins: one encryption per reading.
    let sealed: Vec<(i64, i64, Vec<u8>)> = values
        .iter()
        .map(|(rid, v)| (*rid, *v, privacy::seal_int(&state.keys, *v)))
        .collect();
    let mut tx = Tx::begin(state, actor).await?;
    let before = queries::round_before(&mut tx, &state.keys, org.id, &day, round.as_str()).await?;
    // Which residents' readings changed; the readings themselves are sealed in the rows.
    let mut changed = Vec::new();
    let mut fever_count = 0;
    for (rid, v, enc) in sealed {
        let fever = is_fever(v);
        fever_count += i64::from(fever);
        let reading = queries::NewReading {
            resident_id: rid,
            day: &day,
            round: round.as_str(),
            tenths_enc: enc,
            fever,
            by: &actor.username,
        };
        queries::upsert_reading(&mut tx, org.id, &reading).await?;
        if before.iter().find(|b| b.0 == rid).map(|b| b.1) != Some(v) {
            changed.push(rid);
        }
    }
    tx.commit(
        Change::new("institution.temperature_round", "institution", org.id, &org.region_code)
            .detail(json!({"day": day, "round": round.as_str(), "recorded": values.len(), "fevers": fever_count, "changed": changed})),
    )
    .await?;
    day_view(state, &scope, &org, day).await
}
