//! Receipts (接收): a donor's gift of money and/or goods lines to a charity in a campaign,
//! entered with its receive entry in the same transaction. The donor's name is sealed at rest
//! and committed to by a salted hash; it is shown masked, and published only with consent (the
//! disclosure, next slice). Bad input is refused before anything is written.

use backstop_core::error::ErrorCode;
use backstop_core::mask::mask_name;
use backstop_core::money::Fen;
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::ledger::{self, Posting};
use super::{CATALOGUE, MONEY, category_label, own_charity, province, queries};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, date_field, text_field};
use crate::state::AppState;

/// Money received: the currency, the amount in it, and the rate used to convert it.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct MoneyInput {
    /// ISO code, default `CNY`.
    #[serde(default)]
    pub currency: String,
    /// The amount in the currency, e.g. `"1000.50"` (two decimals at most).
    pub amount: String,
    /// Yuan per unit of the currency, e.g. `"7.1234"` (six decimals at most); `1` for CNY.
    #[serde(default)]
    pub rate: String,
}

/// A goods line of a receipt.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct GoodsInput {
    /// A catalogue key (`mask_n95`, `protective_suit`, `goggles`, `disinfectant`, …).
    pub category: String,
    #[serde(default)]
    pub spec: String,
    pub quantity: i64,
    /// Default the catalogue's unit.
    #[serde(default)]
    pub unit: String,
    /// Unit value (yuan, e.g. `"3.50"`); the valuation 折款 is quantity × unit value.
    pub unit_value: String,
    /// `YYYY-MM-DD`, when the goods expire.
    #[serde(default)]
    pub expiry_on: Option<String>,
    /// Imported free of tax (only a designated receiver may).
    #[serde(default)]
    pub tax_free_import: bool,
    #[serde(default)]
    pub warehouse: String,
}

/// Body of `POST /api/v1/donations/receipts`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewReceipt {
    pub campaign_id: i64,
    /// The receiving charity; default the caller's own organisation.
    #[serde(default)]
    pub org_id: Option<i64>,
    /// The charity's receipt number (unique per charity).
    pub receipt_no: String,
    /// The donation receipt (捐赠票据) number, when issued.
    #[serde(default)]
    pub bill_no: String,
    /// `YYYY-MM-DD`, default today; inside the campaign's dates, not in the future.
    #[serde(default)]
    pub received_on: Option<String>,
    /// `person`, `org` or `anonymous`.
    pub donor_kind: String,
    #[serde(default)]
    pub donor_name: String,
    /// The donor agrees that the name is published.
    #[serde(default)]
    pub publish_consent: bool,
    /// `""` (undirected), `org`, `region` or `purpose`.
    #[serde(default)]
    pub directed_kind: String,
    #[serde(default)]
    pub directed_org_id: Option<i64>,
    #[serde(default)]
    pub directed_region: Option<String>,
    #[serde(default)]
    pub directed_purpose: String,
    #[serde(default)]
    pub money: Option<MoneyInput>,
    #[serde(default)]
    pub goods: Vec<GoodsInput>,
}

/// A line of a receipt with its balances (sums of ledger lines).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Line {
    pub id: i64,
    pub receipt_id: i64,
    /// `money` or `goods`.
    pub kind: String,
    pub category: String,
    pub category_label: String,
    pub spec: String,
    /// Goods: units; money: fen.
    pub quantity: i64,
    pub unit: String,
    pub unit_value_fen: i64,
    pub value_fen: i64,
    pub expiry_on: Option<String>,
    pub tax_free_import: bool,
    pub warehouse: String,
    /// In the charity's stock now.
    pub in_stock: i64,
    /// Allocated and not yet dispatched.
    pub allocated: i64,
    pub in_transit: i64,
    pub delivered: i64,
}

/// A receipt with its lines.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Receipt {
    pub id: i64,
    pub campaign_id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub region_code: String,
    pub receipt_no: String,
    pub bill_no: String,
    pub received_on: String,
    pub donor_kind: String,
    /// The donor as shown: an organisation's name, a person's masked name, or 匿名.
    pub donor: String,
    pub publish_consent: bool,
    pub directed_kind: String,
    pub directed_org_id: Option<i64>,
    pub directed_region: Option<String>,
    pub directed_purpose: String,
    pub currency: String,
    /// As received, in the currency (e.g. `"1000.50"`).
    pub amount: String,
    /// Yuan per unit of the currency.
    pub rate: String,
    pub money_fen: i64,
    pub goods_value_fen: i64,
    pub created_by: String,
    pub created_at: String,
    pub lines: Vec<Line>,
}

impl Receipt {
    /// Money plus the goods' valuation.
    pub fn total_fen(&self) -> i64 {
        self.money_fen + self.goods_value_fen
    }
}

/// The donor as shown to staff (a person's name masked).
pub(crate) fn donor_shown(kind: &str, name: &str) -> String {
    match kind {
        "anonymous" => "匿名".to_string(),
        "person" => mask_name(name),
        _ => name.to_string(),
    }
}

/// A validated line, ready to insert.
pub(crate) struct LineRow {
    pub kind: &'static str,
    pub category: String,
    pub spec: String,
    pub quantity: i64,
    pub unit: String,
    pub unit_value_fen: i64,
    pub value_fen: i64,
    pub expiry_on: Option<String>,
    pub tax_free_import: bool,
    pub warehouse: String,
}

/// A validated receipt, ready to insert.
pub(crate) struct ReceiptRow {
    pub campaign_id: i64,
    pub org_id: i64,
    pub region_code: String,
    pub receipt_no: String,
    pub bill_no: String,
    pub received_on: String,
    pub donor_kind: String,
    pub donor_name_enc: Option<Vec<u8>>,
    pub donor_name_hash: String,
    pub donor_salt: String,
    pub publish_consent: bool,
    pub directed_kind: String,
    pub directed_org_id: Option<i64>,
    pub directed_region: Option<String>,
    pub directed_purpose: String,
    pub currency: String,
    pub amount_minor: i64,
    pub rate_micro: i64,
    pub money_fen: i64,
    pub goods_value_fen: i64,
}

fn bad(field: &str, msg: &str) -> AppError {
    AppError::field(ErrorCode::Validation, field, msg)
}

/// A decimal text with at most `places` decimals, scaled to an integer (`"7.1234"`, 6 →
/// 7_123_400). No float is involved.
fn scaled(field: &str, s: &str, places: u32) -> AppResult<i64> {
    let t = s.trim();
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let ok = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && frac.len() <= places as usize
        && int.len() <= 12;
    if !ok {
        return Err(bad(
            field,
            &format!("应为不小于 0 的数，最多 {places} 位小数"),
        ));
    }
    let mut v: i64 = int.parse().map_err(|_| bad(field, "数值过大"))?;
    for i in 0..places as usize {
        let d = frac
            .as_bytes()
            .get(i)
            .map(|b| i64::from(b - b'0'))
            .unwrap_or(0);
        v = v
            .checked_mul(10)
            .and_then(|x| x.checked_add(d))
            .ok_or_else(|| bad(field, "数值过大"))?;
    }
    Ok(v)
}

/// (currency, amount in cents, rate × 10^6, fen).
fn money(m: &MoneyInput) -> AppResult<(String, i64, i64, i64)> {
    let currency = match m.currency.trim() {
        "" => "CNY".to_string(),
        c if c.len() == 3 && c.bytes().all(|b| b.is_ascii_alphabetic()) => c.to_ascii_uppercase(),
        _ => return Err(bad("currency", "币种应为三位字母代码，如 CNY、USD")),
    };
    let cents = scaled("amount", &m.amount, 2)?;
    if cents <= 0 {
        return Err(bad("amount", "金额应大于 0"));
    }
    let rate = match m.rate.trim() {
        "" if currency == "CNY" => 1_000_000,
        "" => return Err(bad("rate", "外币捐赠须填写折算汇率")),
        r => scaled("rate", r, 6)?,
    };
    if rate <= 0 {
        return Err(bad("rate", "汇率应大于 0"));
    }
    if currency == "CNY" && rate != 1_000_000 {
        return Err(bad("rate", "人民币的汇率应为 1"));
    }
    // fen = cents × rate / 10^6, rounded half up, in i128.
    let fen = (i128::from(cents) * i128::from(rate) + 500_000) / 1_000_000;
    let fen = i64::try_from(fen).map_err(|_| bad("amount", "金额过大"))?;
    Ok((currency, cents, rate, fen))
}

fn goods_line(state: &AppState, i: usize, g: &GoodsInput, designated: bool) -> AppResult<LineRow> {
    let f = |name: &str| format!("goods[{i}].{name}");
    let (category, _, default_unit) = CATALOGUE
        .iter()
        .find(|(k, _, _)| *k == g.category.trim())
        .ok_or_else(|| bad(&f("category"), "请从物资目录中选择类别"))?;
    if g.quantity <= 0 {
        return Err(bad(&f("quantity"), "数量应大于 0"));
    }
    if g.unit_value.trim().is_empty() {
        return Err(bad(&f("unit_value"), "物资须填写单价（折款）"));
    }
    let unit_value = Fen::parse_non_negative(&g.unit_value)
        .map_err(|_| bad(&f("unit_value"), "单价应为不小于 0 的金额，最多两位小数"))?;
    if unit_value.0 == 0 {
        return Err(bad(&f("unit_value"), "物资须有估值，单价应大于 0"));
    }
    let value = g
        .quantity
        .checked_mul(unit_value.0)
        .ok_or_else(|| bad(&f("quantity"), "数量与单价之积过大"))?;
    let expiry_on = match g
        .expiry_on
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(s) => {
            let d = date_field(&f("expiry_on"), s)?;
            if d < state.today() {
                return Err(bad(&f("expiry_on"), "物资已过有效期，不能接收入账"));
            }
            Some(d.format("%Y-%m-%d").to_string())
        }
    };
    if g.tax_free_import && !designated {
        return Err(bad(&f("tax_free_import"), "本单位未被指定接收免税进口物资"));
    }
    let unit = text_field(&f("unit"), &g.unit, 10, false)?;
    Ok(LineRow {
        kind: "goods",
        category: (*category).to_string(),
        spec: text_field(&f("spec"), &g.spec, 200, false)?,
        quantity: g.quantity,
        unit: if unit.is_empty() {
            (*default_unit).to_string()
        } else {
            unit
        },
        unit_value_fen: unit_value.0,
        value_fen: value,
        expiry_on,
        tax_free_import: g.tax_free_import,
        warehouse: text_field(&f("warehouse"), &g.warehouse, 100, false)?,
    })
}

/// Check a receipt entirely; nothing is written.
pub(crate) async fn validate(
    state: &AppState,
    actor: &Actor,
    input: &NewReceipt,
) -> AppResult<(ReceiptRow, Vec<LineRow>, Option<String>)> {
    let org = own_charity(state, actor, input.org_id).await?;
    let campaign = super::campaign(state, actor, input.campaign_id)
        .await
        .map_err(|_| bad("campaign_id", "募捐活动不存在"))?;
    let receiver = queries::receiver(state, &actor.everywhere(), org.id)
        .await
        .map_err(|_| bad("org_id", "本单位尚未登记为接收捐赠单位"))?;
    let receipt_no = text_field("receipt_no", &input.receipt_no, 40, true)?;
    let received = match input
        .received_on
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => state.today(),
        Some(s) => date_field("received_on", s)?,
    };
    let ymd = received.format("%Y-%m-%d").to_string();
    if received > state.today() {
        return Err(bad("received_on", "接收日期不能晚于今天"));
    }
    if ymd < campaign.starts_on || ymd > campaign.ends_on {
        return Err(bad("received_on", "接收日期不在募捐活动期间内"));
    }
    let donor_kind = input.donor_kind.trim();
    let name = text_field("donor_name", &input.donor_name, 100, false)?;
    let name = match donor_kind {
        "anonymous" => None,
        "person" | "org" if name.is_empty() => {
            return Err(bad("donor_name", "请填写捐赠人名称，或选择匿名"));
        }
        "person" | "org" => Some(name),
        _ => {
            return Err(bad(
                "donor_kind",
                "应为 person（个人）、org（单位）或 anonymous（匿名）",
            ));
        }
    };
    let (directed_org_id, directed_region) = match input.directed_kind.trim() {
        "" => (None, None),
        "org" => {
            let id = input
                .directed_org_id
                .ok_or_else(|| bad("directed_org_id", "定向捐赠须指定受赠单位"))?;
            queries::org(state, &actor.everywhere(), id)
                .await
                .map_err(|_| bad("directed_org_id", "受赠单位不存在或不在本辖区"))?;
            (Some(id), None)
        }
        "region" => {
            let code = crate::regions::parse_code(
                "directed_region",
                input.directed_region.as_deref().unwrap_or(""),
            )?;
            (None, Some(code.as_str().to_string()))
        }
        "purpose" => (None, None),
        _ => {
            return Err(bad(
                "directed_kind",
                "应为空（非定向）、org、region 或 purpose",
            ));
        }
    };
    let directed_purpose = text_field("directed_purpose", &input.directed_purpose, 200, false)?;
    if input.directed_kind.trim() == "purpose" && directed_purpose.is_empty() {
        return Err(bad("directed_purpose", "定向用途不能为空"));
    }
    if input.goods.len() > 200 {
        return Err(bad("goods", "物资明细不能超过 200 条"));
    }
    let mut lines = Vec::new();
    let (mut currency, mut cents, mut rate, mut fen) = ("CNY".to_string(), 0, 1_000_000, 0);
    if let Some(m) = &input.money {
        (currency, cents, rate, fen) = money(m)?;
        lines.push(LineRow {
            kind: "money",
            category: MONEY.to_string(),
            spec: String::new(),
            quantity: fen,
            unit: "分".to_string(),
            unit_value_fen: 1,
            value_fen: fen,
            expiry_on: None,
            tax_free_import: false,
            warehouse: String::new(),
        });
    }
    for (i, g) in input.goods.iter().enumerate() {
        lines.push(goods_line(state, i, g, receiver.tax_free_imports)?);
    }
    if lines.is_empty() {
        return Err(bad("goods", "请填写捐赠资金或至少一条物资"));
    }
    let goods_value = lines
        .iter()
        .filter(|l| l.kind == "goods")
        .try_fold(0i64, |a, l| a.checked_add(l.value_fen))
        .ok_or_else(|| bad("goods", "物资估值合计过大"))?;
    let (enc, hash, salt) = match &name {
        Some(n) => {
            let salt = crate::kernel::crypto::random_token("s");
            let hash = crate::kernel::crypto::sha256_hex(format!("{salt}\u{0}{n}").as_bytes());
            (Some(crate::privacy::seal(&state.keys, n)), hash, salt)
        }
        None => (None, String::new(), String::new()),
    };
    let row = ReceiptRow {
        campaign_id: campaign.id,
        org_id: org.id,
        region_code: org.region_code.clone(),
        receipt_no,
        bill_no: text_field("bill_no", &input.bill_no, 40, false)?,
        received_on: ymd,
        donor_kind: donor_kind.to_string(),
        donor_name_enc: enc,
        donor_name_hash: hash,
        donor_salt: salt,
        publish_consent: input.publish_consent && name.is_some(),
        directed_kind: input.directed_kind.trim().to_string(),
        directed_org_id,
        directed_region,
        directed_purpose,
        currency,
        amount_minor: cents,
        rate_micro: rate,
        money_fen: fen,
        goods_value_fen: goods_value,
    };
    Ok((row, lines, name))
}

/// Enter a receipt with its receive entry (donor → stock for every line). With an
/// `Idempotency-Key` already used, the first answer.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    input: &NewReceipt,
    idem: Option<&str>,
) -> AppResult<Receipt> {
    actor.require(Permission::DonationsManage)?;
    if let Some(id) = crate::assistance::replayed(state, actor, idem, "donation_receipt").await? {
        return get(state, actor, id).await;
    }
    let (row, lines, name) = validate(state, actor, input).await?;
    let mut tx = Tx::begin(state, actor).await?;
    let (id, change) = write(&mut tx, actor, &row, &lines, name.as_deref()).await?;
    crate::assistance::remember(&mut tx, actor, idem, "donation_receipt", id).await?;
    tx.commit(change).await?;
    get(state, actor, id).await
}

/// Write a validated receipt, its lines and its receive entry into `tx` (refused when the
/// receipt number is taken): its id and the audit change to commit (the bulk import writes
/// many in one transaction).
pub(crate) async fn write(
    tx: &mut Tx,
    actor: &Actor,
    row: &ReceiptRow,
    lines: &[LineRow],
    name: Option<&str>,
) -> AppResult<(i64, Change)> {
    let prov = province(&row.region_code);
    let seq = queries::next_seq(tx, &prov, row.campaign_id).await?;
    if queries::receipt_no_taken(tx, &prov, row.org_id, &row.receipt_no).await? {
        return Err(AppError::field(
            ErrorCode::Conflict,
            "receipt_no",
            "该收据编号已经登记，请勿重复录入",
        ));
    }
    let id = queries::insert_receipt(tx, &prov, row, &actor.username).await?;
    let mut postings = Vec::new();
    for l in lines {
        let lid = queries::insert_line(tx, &prov, id, row, l).await?;
        postings.push(Posting::new(lid, "donor", None, -l.quantity, -l.value_fen));
        postings.push(Posting::new(lid, "stock", None, l.quantity, l.value_fen));
    }
    let meta = ledger::EntryMeta {
        province: &prov,
        campaign_id: row.campaign_id,
        org_id: row.org_id,
        region_code: &row.region_code,
        kind: "receive",
        receipt_id: Some(id),
        allocation_id: None,
        reverses_id: None,
        memo: "",
    };
    let entry = ledger::post(tx, actor, &meta, seq, &postings).await?;
    Ok((
        id,
        Change::new(
            "donation.receipt_create",
            "donation_receipt",
            id,
            &row.region_code,
        )
        .detail(json!({
            "campaign_id": row.campaign_id, "receipt_no": row.receipt_no, "bill_no": row.bill_no,
            "donor_kind": row.donor_kind, "donor": name.map(|n| donor_shown(&row.donor_kind, n)),
            "directed_kind": row.directed_kind, "money_fen": row.money_fen,
            "goods_value_fen": row.goods_value_fen, "lines": lines.len(), "entry_id": entry,
        })),
    ))
}

/// One receipt the actor reads, with its lines and their balances.
pub async fn get(state: &AppState, actor: &Actor, id: i64) -> AppResult<Receipt> {
    super::may_read(actor)?;
    queries::receipt(state, &actor.everywhere(), id).await
}

/// Receipts of a campaign the actor reads, newest first (at most 500).
pub async fn list(state: &AppState, actor: &Actor, campaign_id: i64) -> AppResult<Vec<Receipt>> {
    super::may_read(actor)?;
    queries::receipts(state, &actor.everywhere(), campaign_id).await
}

/// Every category key with its label and unit (for forms).
pub fn catalogue() -> Vec<(&'static str, &'static str, &'static str)> {
    CATALOGUE.to_vec()
}

/// The label of a line's category.
pub fn label(category: &str) -> &'static str {
    category_label(category)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_scale_without_floats() {
        assert_eq!(scaled("rate", "7.1234", 6).ok(), Some(7_123_400));
        assert_eq!(scaled("amount", "1000.5", 2).ok(), Some(100_050));
        assert!(scaled("amount", "-1", 2).is_err());
        assert!(scaled("amount", "1.234", 2).is_err());
        let m = MoneyInput {
            currency: "usd".into(),
            amount: "100.00".into(),
            rate: "7.1234".into(),
        };
        assert_eq!(
            money(&m).ok(),
            Some(("USD".to_string(), 10_000, 7_123_400, 71_234))
        );
        let m = MoneyInput {
            currency: String::new(),
            amount: "0".into(),
            rate: String::new(),
        };
        assert!(money(&m).is_err());
    }
}
