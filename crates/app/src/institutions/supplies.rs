//! An institution's supplies stock: quantity and days left per item (masks, protective suits,
//! disinfectant, food); fewer than [`LOW_DAYS`] days left shows as low.

use backstop_core::error::ErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Institution, load_for_write, queries};
use crate::kernel::access::{Change, Scoped, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// A supplies item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    Masks,
    Suits,
    Disinfectant,
    Food,
}

impl Item {
    pub const ALL: [Item; 4] = [Item::Masks, Item::Suits, Item::Disinfectant, Item::Food];
    pub fn as_str(self) -> &'static str {
        match self {
            Item::Masks => "masks",
            Item::Suits => "suits",
            Item::Disinfectant => "disinfectant",
            Item::Food => "food",
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            Item::Masks => "口罩",
            Item::Suits => "防护服",
            Item::Disinfectant => "消毒液",
            Item::Food => "食品",
        }
    }
    pub fn unit_zh(self) -> &'static str {
        match self {
            Item::Masks => "只",
            Item::Suits => "套",
            Item::Disinfectant => "升",
            Item::Food => "公斤",
        }
    }
    pub fn parse(s: &str) -> Option<Item> {
        Item::ALL.into_iter().find(|i| i.as_str() == s.trim())
    }
}

/// Days of stock under which an item is shown as low.
pub const LOW_DAYS: i64 = 3;

/// Stock of one item.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Supply {
    pub item: String,
    pub label: String,
    pub unit: String,
    pub quantity: i64,
    pub days_left: i64,
    /// Fewer than 3 days left.
    pub low: bool,
    pub updated_by: String,
    pub updated_at: String,
}

/// One item of `POST /api/v1/institutions/{id}/supplies`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct SupplyInput {
    /// `masks`, `suits`, `disinfectant` or `food`.
    pub item: String,
    pub quantity: i64,
    pub days_left: i64,
}

/// Body of `POST /api/v1/institutions/{id}/supplies`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct SuppliesInput {
    pub items: Vec<SupplyInput>,
}

/// The stock of an institution, in the order of [`Item::ALL`] (items never recorded left out).
pub(super) async fn of(
    state: &AppState,
    scope: &Scoped<'_>,
    org: &Institution,
) -> AppResult<Vec<Supply>> {
    let rows = queries::supplies(state, scope, org).await?;
    let mut out = Vec::new();
    for item in Item::ALL {
        if let Some(r) = rows.iter().find(|r| r.0 == item.as_str()) {
            out.push(Supply {
                item: item.as_str().to_string(),
                label: item.label_zh().to_string(),
                unit: item.unit_zh().to_string(),
                quantity: r.1,
                days_left: r.2,
                low: r.2 < LOW_DAYS,
                updated_by: r.3.clone(),
                updated_at: backstop_core::clock::rfc3339(r.4),
            });
        }
    }
    Ok(out)
}

/// The items of a stock form, checked: known items, each once, quantities and days in range.
fn check(input: &SuppliesInput) -> AppResult<Vec<(Item, i64, i64)>> {
    let mut values = Vec::new();
    for s in &input.items {
        let item = Item::parse(&s.item)
            .ok_or_else(|| AppError::field(ErrorCode::Validation, "item", "未知的物资类别"))?;
        let field = format!("{}_quantity", item.as_str());
        if !(0..=100_000_000).contains(&s.quantity) {
            return Err(AppError::field(
                ErrorCode::Validation,
                &field,
                "数量应在 0–100000000 之间",
            ));
        }
        let field = format!("{}_days", item.as_str());
        if !(0..=3650).contains(&s.days_left) {
            return Err(AppError::field(
                ErrorCode::Validation,
                &field,
                "可用天数应在 0–3650 之间",
            ));
        }
        if values.iter().any(|(i, _, _)| *i == item) {
            return Err(AppError::field(
                ErrorCode::Validation,
                "item",
                "物资类别重复",
            ));
        }
        values.push((item, s.quantity, s.days_left));
    }
    if values.is_empty() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "items",
            "至少填写一项物资",
        ));
    }
    Ok(values)
}

/// Set the stock of some items.
pub async fn set_supplies(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &SuppliesInput,
) -> AppResult<Vec<Supply>> {
    let scope = actor.everywhere();
    let org = load_for_write(state, &scope, id).await?;
    let values = check(input)?;
    let mut tx = Tx::begin(state, actor).await?;
    let before = queries::stock_before(&mut tx, org.id).await?;
    let mut changes = serde_json::Map::new();
    for (item, q, d) in &values {
        queries::upsert_stock(&mut tx, org.id, item.as_str(), *q, *d, &actor.username).await?;
        let old = before.iter().find(|b| b.0 == item.as_str());
        changes.insert(
            item.as_str().to_string(),
            json!({"before": old.map(|o| json!({"quantity": o.1, "days_left": o.2})),
                   "after": {"quantity": q, "days_left": d}}),
        );
    }
    tx.commit(
        Change::new(
            "institution.supplies",
            "institution",
            org.id,
            &org.region_code,
        )
        .detail(serde_json::Value::Object(changes)),
    )
    .await?;
    of(state, &scope, &org).await
}
