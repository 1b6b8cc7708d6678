//! The registration rules of marriage and divorce bookings (issue 19 item 3), checked when
//! booking: who the parties are (a resident ID number, or the documents of residents of Hong
//! Kong, Macao and Taiwan and of foreigners, with sex and date of birth stated), legal
//! marriage age on the registration date (men 22, women 20), where a couple may register (a
//! setting per region: the household-registration place of either party — the rule in 2020 —
//! or anywhere in the country under the current regulation), and that marriages involving
//! foreigners or residents of Hong Kong, Macao and Taiwan are registered only at the
//! registries designated for them. Setting the place rule and designating a registry is an
//! official's act (`bookings.emergency`), audited.

use backstop_core::citizen_id::Sex;
use backstop_core::error::ErrorCode;
use backstop_core::role::Permission;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::book::NewParty;
use super::{OrgInfo, Service, queries};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, date_field, text_field};
use crate::state::AppState;

/// The kinds of identity document a party books with, and their Chinese names.
pub const ID_TYPES: &[(&str, &str)] = &[
    ("resident", "居民身份证"),
    ("hmt", "港澳台居民来往内地通行证"),
    ("foreign", "外国人护照"),
];

/// The place rules and their Chinese names.
pub const PLACE_RULES: &[(&str, &str)] = &[
    ("anywhere", "全国通办（任一婚姻登记机关）"),
    ("household", "一方常住户口所在地"),
];

/// The Chinese name of a place rule.
pub fn place_label(rule: &str) -> &'static str {
    PLACE_RULES
        .iter()
        .find(|(k, _)| *k == rule)
        .map(|(_, l)| *l)
        .unwrap_or("")
}

/// A party checked: ready to seal.
pub(super) struct CheckedParty {
    pub name: String,
    /// `resident`, `hmt` or `foreign`.
    pub id_type: String,
    /// The document number as normalised (a resident ID number in its 18-digit form).
    pub number: String,
    pub sex: Sex,
    pub birth: NaiveDate,
    /// The household-registration county ('' for a party without one on the mainland).
    pub household_region: String,
    /// The blind index of the document (one active booking per document).
    pub index: String,
    pub masked: String,
}

impl CheckedParty {
    /// Does this party make the marriage one involving foreigners or residents of Hong Kong,
    /// Macao or Taiwan? (Their residence permits carry 81/82/83; foreigners' permanent
    /// residence IDs begin with 9.)
    pub fn is_from_outside(&self) -> bool {
        self.id_type != "resident"
            || self.number.starts_with("81")
            || self.number.starts_with("82")
            || self.number.starts_with("83")
            || self.number.starts_with('9')
    }
}

/// Age in whole years on `day` of someone born on `birth`.
fn age_on(birth: NaiveDate, day: NaiveDate) -> i32 {
    let mut age = day.year() - birth.year();
    if (day.month(), day.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

fn bad(field: &str, m: impl Into<String>) -> AppError {
    AppError::field(ErrorCode::Validation, field, m)
}

/// Check the `i`th party as typed.
pub(super) fn check_party(
    state: &AppState,
    i: usize,
    p: &NewParty,
    today: NaiveDate,
) -> AppResult<CheckedParty> {
    let f = |n: &str| format!("parties[{i}].{n}");
    let name = text_field(&f("name"), &p.name, 50, true)?;
    let id_type = match p.id_type.trim() {
        "" | "resident" => "resident",
        "hmt" => "hmt",
        "foreign" => "foreign",
        _ => return Err(bad(&f("id_type"), "请选择证件类型")),
    };
    let household = p.household_region.trim();
    if !household.is_empty()
        && (household.len() != 6 || !backstop_core::citizen_id::county_on_record(household))
    {
        return Err(bad(
            &f("household_region"),
            "户籍所在地应为 6 位县级区划代码",
        ));
    }
    if id_type == "resident" {
        let id = crate::people::parse_id(&p.id_number, today).map_err(|e| {
            let m = e
                .fields
                .first()
                .map(|x| x.message.clone())
                .unwrap_or_default();
            AppError::field(ErrorCode::InvalidIdNumber, &f("id_number"), m)
        })?;
        let household_region = match household {
            "" if backstop_core::citizen_id::county_on_record(id.region_prefix()) => {
                id.region_prefix().to_string()
            }
            h => h.to_string(),
        };
        return Ok(CheckedParty {
            name,
            id_type: id_type.to_string(),
            number: id.as_str().to_string(),
            sex: id.sex(),
            birth: id.birth_date(),
            household_region,
            index: crate::people::id_index(state, &id),
            masked: id.masked_strict(),
        });
    }
    let number: String = p
        .id_number
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    if !(5..=20).contains(&number.len()) || !number.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(AppError::field(
            ErrorCode::InvalidIdNumber,
            &f("id_number"),
            "证件号码应为 5–20 位字母或数字",
        ));
    }
    let sex = match p.sex.trim() {
        "male" => Sex::Male,
        "female" => Sex::Female,
        _ => return Err(bad(&f("sex"), "请选择性别")),
    };
    let birth = date_field(&f("birth_date"), &p.birth_date)?;
    if birth >= today {
        return Err(bad(&f("birth_date"), "出生日期应早于今天"));
    }
    let masked = {
        let chars: Vec<char> = number.chars().collect();
        let head: String = chars.iter().take(1).collect();
        let tail: String = chars[chars.len().saturating_sub(2)..].iter().collect();
        format!("{head}{}{tail}", "*".repeat(chars.len().saturating_sub(3)))
    };
    Ok(CheckedParty {
        name,
        id_type: id_type.to_string(),
        index: state
            .keys
            .blind_index("booking_document", &format!("{id_type}:{number}")),
        number,
        sex,
        birth,
        household_region: household.to_string(),
        masked,
    })
}

/// Legal marriage age on the registration date: men 22, women 20.
pub(super) fn check_age(parties: &[CheckedParty], day: NaiveDate) -> AppResult<()> {
    if parties.iter().filter(|p| p.sex == Sex::Male).count() != 1 {
        return Err(bad("parties", "结婚登记须为一男一女"));
    }
    for (i, p) in parties.iter().enumerate() {
        let (age, label) = match p.sex {
            Sex::Male => (22, "男方"),
            Sex::Female => (20, "女方"),
        };
        if age_on(p.birth, day) < age {
            let field = if p.id_type == "resident" {
                "id_number"
            } else {
                "birth_date"
            };
            return Err(bad(
                &format!("parties[{i}].{field}"),
                format!("{label}登记当日须年满 {age} 周岁（法定婚龄）"),
            ));
        }
    }
    Ok(())
}

/// The place rule for a registry in `region`: the setting of the nearest region above it
/// (the longest code that prefixes it), else `anywhere`.
pub async fn rule_for(state: &AppState, region: &str) -> AppResult<String> {
    Ok(queries::place_rules(state)
        .await?
        .into_iter()
        .filter(|(r, _)| region.starts_with(r.as_str()))
        .max_by_key(|(r, _)| r.len())
        .map_or_else(|| "anywhere".to_string(), |(_, rule)| rule))
}

/// Where and by whom `service` may be registered at `org`: the designated registries for
/// marriages involving foreigners or residents of Hong Kong, Macao and Taiwan; the place rule.
pub(super) async fn check_place(
    state: &AppState,
    org: &OrgInfo,
    service: &Service,
    parties: &[CheckedParty],
) -> AppResult<()> {
    if !matches!(
        service.kind.as_str(),
        "marriage_registration" | "divorce_registration"
    ) {
        return Ok(());
    }
    if parties.iter().any(CheckedParty::is_from_outside)
        && !queries::designated(state, org.id).await?
    {
        let names = queries::designated_names(state, &super::province_of(&org.region_code)).await?;
        let hint = if names.is_empty() {
            "请咨询省级民政部门".to_string()
        } else {
            format!("本省指定机关：{}", names.join("、"))
        };
        return Err(bad(
            "parties",
            format!("涉外及涉港澳台居民婚姻登记须到指定的婚姻登记机关办理（{hint}）"),
        ));
    }
    if rule_for(state, &org.region_code).await? == "household" {
        let county: String = org.region_code.chars().take(6).collect();
        if !parties.iter().any(|p| p.household_region == county) {
            let name = crate::regions::scope_name(state, &county).await?;
            return Err(bad(
                "parties",
                format!(
                    "按本地规定须到一方常住户口所在地的婚姻登记机关办理；本机关受理户籍在{name}的当事人（可在“户籍所在地”中填写实际户籍地）"
                ),
            ));
        }
    }
    Ok(())
}

/// A place rule as set for a region.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PlaceRule {
    pub region_code: String,
    pub region_name: String,
    /// `household` or `anywhere`.
    pub rule: String,
    pub rule_label: String,
}

/// Body of `PUT /api/v1/bookings/place-rules`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct SetPlaceRule {
    pub region_code: String,
    /// `household` or `anywhere`.
    pub rule: String,
}

/// The place rules set in the actor's scope (and above it: those that hold there).
pub async fn place_rules(state: &AppState, actor: &Actor) -> AppResult<Vec<PlaceRule>> {
    super::may_read(actor)?;
    let mut out = Vec::new();
    for (region, rule) in queries::place_rules(state).await? {
        let code = crate::regions::parse_code("region_code", &region)?;
        let (lo, _) = actor.scope_bounds();
        if !(actor.sees(&code) || lo.starts_with(&region)) {
            continue;
        }
        out.push(PlaceRule {
            region_name: crate::regions::scope_name(state, &region).await?,
            rule_label: place_label(&rule).to_string(),
            region_code: region,
            rule,
        });
    }
    Ok(out)
}

/// Set where couples may register in a region (an official: `bookings.emergency`).
pub async fn set_place_rule(
    state: &AppState,
    actor: &Actor,
    input: &SetPlaceRule,
) -> AppResult<PlaceRule> {
    actor.require(Permission::BookingsEmergency)?;
    let code =
        crate::regions::existing_in_scope(state, actor, "region_code", input.region_code.trim())
            .await?;
    let rule = input.rule.trim();
    if place_label(rule).is_empty() {
        return Err(bad("rule", "应为一方常住户口所在地或全国通办"));
    }
    let mut tx = Tx::begin(state, actor).await?;
    let before = queries::set_place_rule(&mut tx, code.as_str(), rule, &actor.username).await?;
    tx.commit(
        Change::new("booking.place_rule", "region", code.as_str(), code.as_str())
            .detail(json!({"rule": {"before": before, "after": rule}})),
    )
    .await?;
    Ok(PlaceRule {
        region_name: crate::regions::scope_name(state, code.as_str()).await?,
        region_code: code.as_str().to_string(),
        rule: rule.to_string(),
        rule_label: place_label(rule).to_string(),
    })
}

/// Body of `PUT /api/v1/bookings/orgs/{id}/designation`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Designation {
    /// Designated for marriages involving foreigners or residents of Hong Kong, Macao and
    /// Taiwan.
    pub designated: bool,
}

/// Is a registry designated (read: `bookings.read`, in scope)?
pub async fn designation(state: &AppState, actor: &Actor, org_id: i64) -> AppResult<Designation> {
    let o = super::org(state, actor, org_id).await?;
    Ok(Designation {
        designated: queries::designated(state, o.id).await?,
    })
}

/// Designate a marriage registry or withdraw the designation (`bookings.emergency`).
pub async fn set_designation(
    state: &AppState,
    actor: &Actor,
    org_id: i64,
    input: &Designation,
) -> AppResult<Designation> {
    actor.require(Permission::BookingsEmergency)?;
    let o = super::org(state, actor, org_id).await?;
    if o.kind != "marriage_registry" {
        return Err(bad("designated", "只有婚姻登记机关可以指定"));
    }
    let before = queries::designated(state, o.id).await?;
    let mut tx = Tx::begin(state, actor).await?;
    queries::set_designated(&mut tx, o.id, input.designated, &actor.username).await?;
    tx.commit(
        Change::new("booking.designation", "org", o.id, &o.region_code)
            .detail(json!({"designated": {"before": before, "after": input.designated}})),
    )
    .await?;
    Ok(Designation {
        designated: input.designated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_counts_whole_years() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).expect("d");
        assert_eq!(age_on(d(1998, 2, 2), d(2020, 2, 2)), 22);
        assert_eq!(age_on(d(1998, 2, 3), d(2020, 2, 2)), 21);
        assert_eq!(age_on(d(2000, 2, 29), d(2020, 2, 28)), 19);
    }
}
