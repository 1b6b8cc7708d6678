//! A person's fields as typed → checked → sealed: validation without the database (GB 11643
//! ID number, sex and birth date checked against it, phone, texts) with errors that carry the
//! Chinese field label, and the protection at rest of the ID number, phone and birth date
//! (AES-256-GCM ciphertext, HMAC blind index, stored masked form or birth year). Shared by the person API and pages, the
//! roster import, and the areas that keep a phone of their own (care, screening, entrance).

use backstop_core::citizen_id::{CitizenId, Sex};
use backstop_core::error::ErrorCode;
use backstop_core::mask::mask_phone;
use chrono::{Datelike, NaiveDate};
use serde_json::{Value, json};

use crate::kernel::error::{AppError, AppResult, FieldError, text_field};
use crate::state::AppState;

/// A validation error on a person field, with the Chinese field label.
pub(crate) fn ferr(code: ErrorCode, field: &str, message: impl Into<String>) -> AppError {
    let message = message.into();
    let fallback;
    let label = match field {
        "id_number" => "身份证号",
        "name" => "姓名",
        "sex" => "性别",
        "birth_date" => "出生日期",
        "phone" => "联系电话",
        "region_code" => "区划代码",
        "address" => "现住址",
        "hukou_address" => "户籍地址",
        "reason" => "查看原因",
        "relationship" => "与户主关系",
        "members" => "家庭成员",
        "masked" => "证件号或电话片段",
        "group" => "类别",
        other => {
            fallback = crate::kernel::error::field_label(other);
            fallback.as_str()
        }
    };
    AppError {
        code,
        message: format!("{label}：{message}"),
        fields: vec![FieldError {
            field: field.to_string(),
            message,
        }],
    }
}

pub(crate) fn text(field: &str, v: &str, max: usize, required: bool) -> AppResult<String> {
    text_field(field, v, max, required).map_err(|e| {
        let msg = e
            .fields
            .first()
            .map(|f| f.message.clone())
            .unwrap_or(e.message);
        ferr(ErrorCode::Validation, field, msg)
    })
}

/// `男`/`女`/`male`/`female`/`m`/`f`/`1`/`2`; empty is unknown.
pub fn parse_sex(s: &str) -> Result<Option<Sex>, &'static str> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "male" | "m" | "男" | "1" => Ok(Some(Sex::Male)),
        "female" | "f" | "女" | "2" => Ok(Some(Sex::Female)),
        _ => Err("应为“男”或“女”"),
    }
}

/// `YYYY-MM-DD`, `YYYY/M/D`, `YYYY.MM.DD` or `YYYYMMDD`; empty is unknown.
pub fn parse_date(s: &str) -> Result<Option<NaiveDate>, &'static str> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    for f in ["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return Ok(Some(d));
        }
    }
    Err("日期格式应为 YYYY-MM-DD")
}

/// Normalise a phone number: spaces and `-` removed, digits only (an optional leading `+`),
/// 7 to 15 digits; a mobile number (starting with 1) must have 11. Empty is none.
pub fn normalise_phone(s: &str) -> Result<Option<String>, &'static str> {
    let p: String = s
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '\u{3000}'))
        .collect();
    if p.is_empty() {
        return Ok(None);
    }
    let digits = p.strip_prefix('+').unwrap_or(&p);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("只能包含数字、空格、+ 和 -");
    }
    if !(7..=15).contains(&digits.len()) {
        return Err("位数不对（应为 7 到 15 位数字）");
    }
    if digits.starts_with('1') && digits.len() != 11 && !p.starts_with('+') {
        return Err("手机号码应为 11 位");
    }
    Ok(Some(p))
}

/// The personal fields of a person, as typed (API body, form or file row).
#[derive(Debug, Clone, Default)]
pub(crate) struct RawFields<'a> {
    pub id_number: &'a str,
    pub name: &'a str,
    pub sex: &'a str,
    pub birth_date: &'a str,
    pub phone: &'a str,
    pub address: &'a str,
    pub hukou_address: &'a str,
}

/// Validated fields, ready to be sealed and stored.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    pub id: Option<CitizenId>,
    pub name: String,
    pub sex: Option<Sex>,
    pub birth: Option<NaiveDate>,
    pub phone: Option<String>,
    pub address: String,
    pub hukou_address: String,
}

/// Parse an ID number (422 `invalid_id_number` with the Chinese reason).
pub(crate) fn parse_id(s: &str, today: NaiveDate) -> AppResult<CitizenId> {
    CitizenId::parse_on(s, today)
        .map_err(|e| ferr(ErrorCode::InvalidIdNumber, "id_number", e.to_string()))
}

/// Validate the personal fields (no database access).
pub(crate) fn check_fields(raw: &RawFields<'_>, today: NaiveDate) -> AppResult<Checked> {
    let id = if raw.id_number.trim().is_empty() {
        None
    } else {
        Some(parse_id(raw.id_number, today)?)
    };
    let name = text("name", raw.name, 50, true)?;
    let sex = parse_sex(raw.sex).map_err(|m| ferr(ErrorCode::Validation, "sex", m))?;
    let birth =
        parse_date(raw.birth_date).map_err(|m| ferr(ErrorCode::Validation, "birth_date", m))?;
    if let Some(b) = birth
        && b > today
    {
        return Err(ferr(ErrorCode::Validation, "birth_date", "不能晚于今天"));
    }
    let (sex, birth) = match &id {
        Some(cid) => {
            if sex.is_some_and(|s| s != cid.sex()) {
                return Err(ferr(ErrorCode::Validation, "sex", "与身份证号不符"));
            }
            if birth.is_some_and(|b| b != cid.birth_date()) {
                return Err(ferr(
                    ErrorCode::Validation,
                    "birth_date",
                    "与身份证号中的出生日期不符",
                ));
            }
            (Some(cid.sex()), Some(cid.birth_date()))
        }
        None => (sex, birth),
    };
    let phone = normalise_phone(raw.phone).map_err(|m| ferr(ErrorCode::Validation, "phone", m))?;
    Ok(Checked {
        id,
        name,
        sex,
        birth,
        phone,
        address: text("address", raw.address, 200, false)?,
        hukou_address: text("hukou_address", raw.hukou_address, 200, false)?,
    })
}

/// What is stored for an ID number and a phone (ciphertext, blind index, masked form) and,
/// for a whole person, the birth date ([`seal_person`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct Sealed {
    pub id_enc: Option<Vec<u8>>,
    pub id_index: Option<String>,
    pub id_masked: String,
    pub phone_enc: Option<Vec<u8>>,
    pub phone_index: Option<String>,
    pub phone_masked: String,
    pub birth: SealedBirth,
}

/// Blind index of a canonical ID number.
pub(crate) fn id_index(state: &AppState, id: &CitizenId) -> String {
    state.keys.blind_index("id", id.as_str())
}

pub(crate) fn phone_index(state: &AppState, phone: &str) -> String {
    state.keys.blind_index("phone", phone)
}

pub(crate) fn seal(state: &AppState, id: Option<&CitizenId>, phone: Option<&str>) -> Sealed {
    let mut s = Sealed::default();
    if let Some(id) = id {
        s.id_enc = Some(state.keys.encrypt(id.as_str().as_bytes()));
        s.id_index = Some(id_index(state, id));
        s.id_masked = id.masked();
    }
    if let Some(p) = phone {
        s.phone_enc = Some(state.keys.encrypt(p.as_bytes()));
        s.phone_index = Some(phone_index(state, p));
        s.phone_masked = mask_phone(p);
    }
    s
}

/// What is stored for a birth date: ciphertext of `YYYY-MM-DD`, the year (what lists show),
/// and a blind index (exact matching: the duplicate cross-check). All `None` when unknown.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SealedBirth {
    pub enc: Option<Vec<u8>>,
    pub year: Option<i64>,
    pub index: Option<String>,
}

pub(crate) fn seal_birth(state: &AppState, birth: Option<NaiveDate>) -> SealedBirth {
    match birth {
        None => SealedBirth::default(),
        Some(d) => {
            let text = date_str(Some(d));
            SealedBirth {
                enc: Some(state.keys.encrypt(text.as_bytes())),
                year: Some(i64::from(d.year())),
                index: Some(state.keys.blind_index("birth", &text)),
            }
        }
    }
}

/// Everything of a checked person that is stored sealed: ID number, phone and birth date.
pub(crate) fn seal_person(state: &AppState, c: &Checked) -> Sealed {
    Sealed {
        birth: seal_birth(state, c.birth),
        ..seal(state, c.id.as_ref(), c.phone.as_deref())
    }
}

pub(crate) fn sex_str(s: Option<Sex>) -> &'static str {
    s.map(Sex::as_str).unwrap_or("")
}

pub(crate) fn date_str(d: Option<NaiveDate>) -> String {
    d.map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// The audit detail of a person's creation (numbers masked), through the API or an import.
pub(crate) fn created_detail(region: &str, c: &Checked, s: &Sealed, via: &str) -> Value {
    json!({
        "via": via,
        "name": {"before": null, "after": super::shown::name_in_list(&c.name)},
        "id_number": {"before": null, "after": s.id_masked},
        "phone": {"before": null, "after": s.phone_masked},
        "region_code": {"before": null, "after": region},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_helpers() {
        assert_eq!(parse_sex("男"), Ok(Some(Sex::Male)));
        assert_eq!(parse_sex(" Female "), Ok(Some(Sex::Female)));
        assert_eq!(parse_sex(""), Ok(None));
        assert!(parse_sex("x").is_err());
        let d = NaiveDate::from_ymd_opt(1980, 1, 5);
        assert_eq!(parse_date("1980-01-05"), Ok(d));
        assert_eq!(parse_date("1980/1/5"), Ok(d));
        assert_eq!(parse_date("19800105"), Ok(d));
        assert!(parse_date("05.01.1980").is_err());
        assert_eq!(
            normalise_phone("138 1234-5678"),
            Ok(Some("13812345678".into()))
        );
        assert!(normalise_phone("1381234567").is_err());
        assert!(normalise_phone("abc").is_err());
        assert_eq!(normalise_phone(""), Ok(None));
    }
}
