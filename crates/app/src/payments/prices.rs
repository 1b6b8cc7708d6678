//! Price subsidies (价格临时补贴): the monthly CPI and food-CPI year-on-year rises per province
//! (or city), recorded once per month; a province's rule (lower thresholds, local rounding and
//! minimum); and the month's subsidy roll of a county, generated when the month triggers —
//! with the reason it did or did not. The rule is `backstop_core::price_subsidy`.

use backstop_core::price_subsidy::{self as rule, Indices, Rounding, Rule};
use backstop_core::region::{RegionCode, RegionLevel};
use backstop_core::role::Permission;
use backstop_core::{Fen, Programme};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::queries::{self, generate as g, prices as q};
use super::rolls::on_twice;
use super::{Roll, conflict, county, month, month_end, pay_date_or, province_of, verr};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// A month's index.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PriceIndex {
    pub id: i64,
    pub region_code: String,
    pub month: String,
    /// Year-on-year rise in tenths of a percent (35 = 3.5 %).
    pub cpi_tenths: i64,
    pub food_cpi_tenths: i64,
    /// As text, `3.5%`.
    pub cpi: String,
    pub food_cpi: String,
}

/// Body of `POST /api/v1/payments/price-indices`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewPriceIndex {
    /// Province (2 digits) or city (4 digits).
    pub region_code: String,
    /// `YYYY-MM`.
    pub month: String,
    /// Percent, at most one decimal, e.g. `5.4` or `-0.3`.
    pub cpi: String,
    pub food_cpi: String,
}

/// A province's rule as set.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PriceRule {
    pub province: String,
    pub cpi_tenths: i64,
    pub food_cpi_tenths: i64,
    pub rounding: String,
    pub minimum_fen: i64,
}

/// Body of `PUT /api/v1/payments/price-rules/{province}`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct PriceRuleInput {
    /// Percent, at most 3.5.
    pub cpi: String,
    /// Percent, at most 6.
    pub food_cpi: String,
    /// `fen` | `jiao` | `yuan`.
    pub rounding: String,
    /// Yuan, the least paid per person per month when triggered.
    #[serde(default)]
    pub minimum: String,
}

/// Body of `POST /api/v1/payments/price-subsidies`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct SubsidyRequest {
    pub county: String,
    /// `YYYY-MM`: the month whose index decides.
    pub month: String,
    /// 1 normally; 2 when an emergency doubled the amount (as in 2020).
    #[serde(default)]
    pub multiplier: Option<i64>,
    #[serde(default)]
    pub pay_date: Option<String>,
}

/// Whether the month triggered, why, and the roll when it did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SubsidyOutcome {
    pub triggered: bool,
    pub reason: String,
    /// Per person per month, urban and rural (fen), when triggered.
    pub urban_fen: i64,
    pub rural_fen: i64,
    pub roll: Option<Roll>,
}

/// The groups a price subsidy pays.
const ELIGIBLE: [Programme; 4] = [
    Programme::Dibao,
    Programme::Tekun,
    Programme::OrphanAllowance,
    Programme::DeFactoOrphanAllowance,
];

/// Percent text with at most one decimal (`5.4`, `-0.3`, `6`, `3.5%`) as tenths; no float.
pub(crate) fn tenths(field: &str, s: &str) -> AppResult<i64> {
    let t = s.trim().trim_end_matches('%').trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t),
    };
    let (w, f) = t.split_once('.').unwrap_or((t, ""));
    let ok = !w.is_empty()
        && w.len() <= 4
        && w.chars().all(|c| c.is_ascii_digit())
        && f.len() <= 1
        && f.chars().all(|c| c.is_ascii_digit())
        && !(t.contains('.') && f.is_empty());
    if !ok {
        return Err(verr(field, "应为百分数，最多一位小数，如 5.4 或 -0.3"));
    }
    let v = w.parse::<i64>().unwrap_or(0) * 10 + f.parse::<i64>().unwrap_or(0);
    Ok(if neg { -v } else { v })
}

/// Record a month's indices for a province or city in scope; a second entry is an error.
pub async fn record_index(
    state: &AppState,
    actor: &Actor,
    input: &NewPriceIndex,
) -> AppResult<PriceIndex> {
    actor.require(Permission::PaymentsGenerate)?;
    let region = RegionCode::parse(input.region_code.trim())
        .ok()
        .filter(|r| matches!(r.level(), RegionLevel::Province | RegionLevel::City))
        .ok_or_else(|| verr("region_code", "应为省级（2 位）或市级（4 位）区划代码"))?;
    let (m, _) = month("month", &input.month)?;
    let cpi = tenths("cpi", &input.cpi)?;
    let food = tenths("food_cpi", &input.food_cpi)?;
    actor.within(&region)?;
    let mut i = PriceIndex {
        id: 0,
        region_code: region.as_str().to_string(),
        month: m,
        cpi_tenths: cpi,
        food_cpi_tenths: food,
        cpi: rule::percent(cpi),
        food_cpi: rule::percent(food),
    };
    let mut tx = Tx::begin(state, actor).await?;
    if q::index_exists(&mut tx, &i.region_code, &i.month).await? {
        return Err(conflict(format!(
            "{} {} 月的价格指数已经录入，不能重复录入",
            i.region_code, i.month
        )));
    }
    i.id = q::insert_index(&mut tx, &i, &actor.username).await?;
    tx.commit(
        Change::new(
            "payments.price_index.create",
            "price_index",
            i.id,
            &i.region_code,
        )
        .detail(json!({"month": i.month, "cpi_tenths": cpi, "food_cpi_tenths": food})),
    )
    .await?;
    Ok(i)
}

/// Set a province's rule: thresholds at most the national ones, rounding, minimum.
pub async fn set_rule(
    state: &AppState,
    actor: &Actor,
    province: &str,
    input: &PriceRuleInput,
) -> AppResult<PriceRule> {
    actor.require(Permission::PaymentsGenerate)?;
    let region = RegionCode::parse(province.trim())
        .ok()
        .filter(|r| r.level() == RegionLevel::Province)
        .ok_or_else(AppError::not_found)?;
    let rounding = Rounding::parse(&input.rounding)
        .ok_or_else(|| verr("rounding", "应为 fen（分）、jiao（角）或 yuan（元）"))?;
    let minimum = match input.minimum.trim() {
        "" => Fen::ZERO,
        s => Fen::parse_non_negative(s).map_err(|e| verr("minimum", e.to_string()))?,
    };
    let r = Rule {
        cpi_tenths: tenths("cpi", &input.cpi)?,
        food_tenths: tenths("food_cpi", &input.food_cpi)?,
        rounding,
        minimum,
    };
    r.validate().map_err(|m| verr("cpi", m))?;
    actor.within(&region)?;
    let mut tx = Tx::begin(state, actor).await?;
    let vals = (r.cpi_tenths, r.food_tenths, rounding.key(), minimum.0);
    q::put_rule(&mut tx, region.as_str(), vals, &actor.username).await?;
    tx.commit(
        Change::new(
            "payments.price_rule.set",
            "price_subsidy_rule",
            region.as_str(),
            region.as_str(),
        )
        .detail(json!({
            "cpi_tenths": r.cpi_tenths, "food_cpi_tenths": r.food_tenths,
            "rounding": rounding.key(), "minimum_fen": minimum.0,
        })),
    )
    .await?;
    Ok(PriceRule {
        province: region.as_str().to_string(),
        cpi_tenths: r.cpi_tenths,
        food_cpi_tenths: r.food_tenths,
        rounding: rounding.key().to_string(),
        minimum_fen: minimum.0,
    })
}

/// The month's price-subsidy roll of a county, when the month's index triggers; otherwise the
/// reason it did not (nothing written). A second subsidy roll for the month is refused.
pub async fn generate_subsidy(
    state: &AppState,
    actor: &Actor,
    req: &SubsidyRequest,
) -> AppResult<SubsidyOutcome> {
    actor.require(Permission::PaymentsGenerate)?;
    let county = county(&req.county)?;
    let (m, first) = month("month", &req.month)?;
    let multiplier = req.multiplier.unwrap_or(1);
    if !(1..=3).contains(&multiplier) {
        return Err(verr("multiplier", "应为 1 至 3 的整数"));
    }
    let pay = pay_date_or(req.pay_date.as_deref(), first, month_end(first))?;
    actor.within(&county)?;
    let province = province_of(county.as_str());
    let mut lineage = county.lineage_strings();
    lineage.reverse();
    let mut tx = Tx::begin(state, actor).await?;
    let up: Vec<String> = lineage.iter().filter(|c| c.len() < 6).cloned().collect();
    let Some(index) = q::index_for(&mut tx, &up, &m).await? else {
        return Err(conflict(format!(
            "{m} 月的价格指数尚未录入，无法判断是否触发"
        )));
    };
    let rule = match q::rule(&mut tx, &province).await? {
        Some((cpi, food, rounding, min)) => Rule {
            cpi_tenths: cpi,
            food_tenths: food,
            rounding: Rounding::parse(&rounding).unwrap_or(Rounding::Jiao),
            minimum: Fen(min),
        },
        None => Rule::default(),
    };
    let d = rule::decide(
        Indices {
            cpi_tenths: index.cpi_tenths,
            food_tenths: index.food_cpi_tenths,
        },
        &rule,
    );
    if !d.triggered() {
        return Ok(SubsidyOutcome {
            triggered: false,
            reason: d.reason,
            urban_fen: 0,
            rural_fen: 0,
            roll: None,
        });
    }
    let on = month_end(first).format("%Y-%m-%d").to_string();
    let mut per = [0i64; 2];
    for (i, area) in ["urban", "rural"].into_iter().enumerate() {
        let Some(std) = q::dibao_standard(&mut tx, &lineage, area, &on).await? else {
            let label = if area == "urban" { "城市" } else { "农村" };
            return Err(conflict(format!(
                "未找到本县适用的{label}低保标准，无法计算价格临时补贴"
            )));
        };
        per[i] = rule::amount(Fen(std), d.rise_tenths, &rule, multiplier).0;
    }
    let note = format!(
        "{}；每人每月 城市 {} 元、农村 {} 元{}",
        d.reason,
        Fen(per[0]).to_yuan_string(),
        Fen(per[1]).to_yuan_string(),
        if multiplier > 1 {
            format!("（应急期间按 {multiplier} 倍发放）")
        } else {
            String::new()
        }
    );
    let pay_s = pay.format("%Y-%m-%d").to_string();
    let new = g::NewRoll {
        province: &province,
        county: county.as_str(),
        programme: "price_subsidy",
        month: &m,
        batch: "",
        kind: "price_subsidy",
        parent_roll_id: None,
        grant_id: None,
        pay_date: &pay_s,
        note: &note,
        generated_by: &actor.username,
    };
    if g::roll_exists(&mut tx, &new).await? {
        return Err(conflict(format!(
            "{} {m} 月的价格临时补贴名册已经生成，不能重复生成",
            county.as_str()
        )));
    }
    let id = g::insert_roll(&mut tx, &new).await?;
    let keys: Vec<&str> = ELIGIBLE.iter().map(|p| p.key()).collect();
    g::subsidy_lines(
        &mut tx,
        id,
        (province.as_str(), county.as_str()),
        &m,
        (per[0], per[1]),
        &keys,
    )
    .await
    .map_err(on_twice)?;
    g::finish_roll(&mut tx, id, (0, 0, 0)).await?;
    let roll = queries::roll_in(tx.conn(), &actor.everywhere(), id).await?;
    tx.commit(super::roll_generated(id, county.as_str()).detail(json!({
        "kind": "price_subsidy", "month": m, "rise_tenths": d.rise_tenths,
        "multiplier": multiplier, "urban_fen": per[0], "rural_fen": per[1],
        "lines": roll.0.line_count, "total_fen": roll.0.total_fen,
    })))
    .await?;
    Ok(SubsidyOutcome {
        triggered: true,
        reason: d.reason,
        urban_fen: per[0],
        rural_fen: per[1],
        roll: Some(roll.0),
    })
}

/// Indices a caller may see: of provinces and cities in scope or above it, newest first.
pub async fn list_indices(state: &AppState, actor: &Actor) -> AppResult<Vec<PriceIndex>> {
    actor.require(Permission::PaymentsRead)?;
    q::indices(state, &actor.everywhere()).await
}

/// The provinces' own rules a caller may see (a province without one applies the national
/// mechanism, [`Rule::default`]).
pub async fn list_rules(state: &AppState, actor: &Actor) -> AppResult<Vec<PriceRule>> {
    actor.require(Permission::PaymentsRead)?;
    q::rules(state, &actor.everywhere()).await
}

/// The rule a province applies: its own when set, else the national one.
pub(crate) fn rule_of(rules: &[PriceRule], province: &str) -> Rule {
    rules
        .iter()
        .find(|r| r.province == province)
        .map(|r| Rule {
            cpi_tenths: r.cpi_tenths,
            food_tenths: r.food_cpi_tenths,
            rounding: Rounding::parse(&r.rounding).unwrap_or(Rounding::Jiao),
            minimum: Fen(r.minimum_fen),
        })
        .unwrap_or_default()
}

/// Whether a recorded month triggers under its province's rule, and why (or why not).
pub(crate) fn explain(index: &PriceIndex, rules: &[PriceRule]) -> (bool, String) {
    let rule = rule_of(rules, &province_of(&index.region_code));
    let d = rule::decide(
        Indices {
            cpi_tenths: index.cpi_tenths,
            food_tenths: index.food_cpi_tenths,
        },
        &rule,
    );
    (d.triggered(), d.reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_text_to_tenths() {
        assert_eq!(tenths("cpi", "5.4").ok(), Some(54));
        assert_eq!(tenths("cpi", "-0.3%").ok(), Some(-3));
        assert_eq!(tenths("cpi", "6").ok(), Some(60));
        assert!(tenths("cpi", "5.45").is_err());
        assert!(tenths("cpi", "5.").is_err());
        assert!(tenths("cpi", "abc").is_err());
        assert!(tenths("cpi", "").is_err());
    }
}
