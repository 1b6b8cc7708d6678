//! One-off grants (一次性生活补贴): defined for a region (name, programmes, per household or per
//! person, amount in fen, as-of date); each county under it generates its roll from who was
//! active on that date, exported and reconciled like any roll.

use backstop_core::Programme;
use backstop_core::region::RegionCode;
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::queries::{self, generate as g, prices as q};
use super::rolls::on_twice;
use super::{RollDetail, amount, conflict, county, pay_date_or, province_of, verr};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::AppResult;
use crate::state::AppState;

/// A grant.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Grant {
    pub id: i64,
    pub region_code: String,
    pub name: String,
    pub programmes: Vec<String>,
    /// `household` | `person`.
    pub per: String,
    pub amount_fen: i64,
    pub amount_yuan: String,
    pub as_of: String,
    pub created_by: String,
}

/// Body of `POST /api/v1/payments/grants`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewGrant {
    pub name: String,
    /// The region the grant covers (a province, city or county in the caller's scope).
    pub region_code: String,
    /// Programme keys or names.
    pub programmes: Vec<String>,
    /// `household` (每户) or `person` (每人).
    pub per: String,
    /// Yuan, exact to the fen, more than 0.
    pub amount: String,
    /// `YYYY-MM-DD`: who was active on this date is paid.
    pub as_of: String,
}

/// Body of `POST /api/v1/payments/grants/{id}/rolls`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct GrantRollRequest {
    pub county: String,
    /// `YYYY-MM-DD`; default the as-of date.
    #[serde(default)]
    pub pay_date: Option<String>,
}

/// Define a grant for a region in scope.
pub async fn create_grant(state: &AppState, actor: &Actor, input: &NewGrant) -> AppResult<Grant> {
    actor.require(Permission::PaymentsGenerate)?;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(verr("name", "不能为空，最多 100 个字"));
    }
    let region = RegionCode::parse(input.region_code.trim())
        .map_err(|_| verr("region_code", "区划代码不正确"))?;
    let mut programmes = Vec::new();
    for p in &input.programmes {
        let p = Programme::parse(p)
            .ok_or_else(|| verr("programmes", format!("未知的救助项目：{p}")))?;
        if !programmes.contains(&p.key().to_string()) {
            programmes.push(p.key().to_string());
        }
    }
    if programmes.is_empty() {
        return Err(verr("programmes", "至少选择一个救助项目"));
    }
    let per = match input.per.trim() {
        "household" | "每户" => "household",
        "person" | "每人" => "person",
        _ => return Err(verr("per", "应为 household（每户）或 person（每人）")),
    };
    let amount = amount("amount", &input.amount)?;
    let as_of = chrono::NaiveDate::parse_from_str(input.as_of.trim(), "%Y-%m-%d")
        .map_err(|_| verr("as_of", "格式应为 YYYY-MM-DD"))?;
    actor.within(&region)?;
    let mut grant = Grant {
        id: 0,
        region_code: region.as_str().to_string(),
        name: name.to_string(),
        programmes,
        per: per.to_string(),
        amount_fen: amount.0,
        amount_yuan: amount.to_yuan_string(),
        as_of: as_of.format("%Y-%m-%d").to_string(),
        created_by: actor.username.clone(),
    };
    let mut tx = Tx::begin(state, actor).await?;
    grant.id = q::insert_grant(&mut tx, &grant).await?;
    tx.commit(
        Change::new(
            "payments.grant.create",
            "payment_grant",
            grant.id,
            &grant.region_code,
        )
        .detail(json!({
            "name": grant.name, "programmes": grant.programmes, "per": per,
            "amount_fen": grant.amount_fen, "as_of": grant.as_of,
        })),
    )
    .await?;
    Ok(grant)
}

/// Generate a county's roll of a grant: who was active on the as-of date, in one statement.
/// A second roll of the same grant for the county is refused.
pub async fn generate_grant_roll(
    state: &AppState,
    actor: &Actor,
    grant_id: i64,
    req: &GrantRollRequest,
) -> AppResult<RollDetail> {
    actor.require(Permission::PaymentsGenerate)?;
    let county = county(&req.county)?;
    let scope = actor.within(&county)?;
    let mut tx = Tx::begin(state, actor).await?;
    let grant = q::grant(&mut tx, &scope, grant_id).await?;
    if !county.as_str().starts_with(grant.region_code.as_str()) {
        return Err(verr("county", "该区县不在补贴范围内"));
    }
    let as_of = chrono::NaiveDate::parse_from_str(&grant.as_of, "%Y-%m-%d")
        .map_err(|_| verr("as_of", "认定日期不正确"))?;
    let month = as_of.format("%Y-%m").to_string();
    let first = chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .map_err(|_| verr("as_of", "认定日期不正确"))?;
    let pay = pay_date_or(req.pay_date.as_deref(), first, as_of)?;
    let province = province_of(county.as_str());
    let batch = format!("grant:{grant_id}");
    let pay_s = pay.format("%Y-%m-%d").to_string();
    let new = g::NewRoll {
        province: &province,
        county: county.as_str(),
        programme: "grant",
        month: &month,
        batch: &batch,
        kind: "grant",
        parent_roll_id: None,
        grant_id: Some(grant_id),
        pay_date: &pay_s,
        note: &grant.name,
        generated_by: &actor.username,
    };
    if g::roll_exists(&mut tx, &new).await? {
        return Err(conflict(format!(
            "{} 的“{}”名册已经生成，不能重复生成",
            county.as_str(),
            grant.name
        )));
    }
    let id = g::insert_roll(&mut tx, &new).await?;
    let key = (province.as_str(), county.as_str());
    let how = (grant.per == "household", grant.amount_fen);
    g::grant_lines(&mut tx, id, key, &grant.programmes, (&month, &batch), how)
        .await
        .map_err(on_twice)?;
    g::finish_roll(&mut tx, id, (0, 0, 0)).await?;
    let roll = queries::roll_in(tx.conn(), &actor.everywhere(), id).await?;
    tx.commit(
        super::roll_generated(id, county.as_str()).detail(json!({
            "kind": "grant", "grant": grant_id, "lines": roll.0.line_count, "total_fen": roll.0.total_fen,
        })),
    )
    .await?;
    super::rolls::detail(state, roll, &super::LinePage::default()).await
}

/// Grants a caller may see: those of regions in scope and those above it (a province-wide
/// grant its counties pay), newest first.
pub async fn list_grants(state: &AppState, actor: &Actor) -> AppResult<Vec<Grant>> {
    actor.require(Permission::PaymentsRead)?;
    q::grants(state, &actor.everywhere()).await
}
