//! The 18-digit resident identity number (公民身份号码), GB 11643-1999.
//!
//! This module owns validation and normalisation of ID numbers, because "one person, one
//! record" hangs on the ID number being unique and canonical: full-width digits, lower-case
//! `x` and old 15-digit numbers all become the same 18-character ASCII form with an upper-case
//! `X`. It also owns the masked forms so that no caller invents its own, and its `Debug`
//! prints only the masked form, so a stray `{:?}` in a log never leaks a full number.
//!
//! Layout: 6-digit address code (GB/T 2260) + 8-digit birth date `YYYYMMDD` + 3-digit sequence
//! (odd = male) + check character (ISO 7064 MOD 11-2).
//!
//! The foreign permanent-residence ID card issued since 1 December 2023 (新版外国人永久居留身份证)
//! uses the same 18-character form with a leading `9` (no citizen number starts with 9): `9` +
//! 2-digit province code of the issuing office + 3-digit nationality code + birth date +
//! sequence + the same MOD 11-2 check character. Such numbers are accepted
//! ([`CitizenId::is_foreign_permanent`]).
//!
//! Some valid numbers deserve a second look rather than a refusal ([`CitizenId::warnings`]): an
//! address code whose county is not in the national table embedded here (the 2023 statistical
//! table; a person keeps the code of a county renamed or merged since, so an old code is normal
//! but worth checking), and a first-generation 15-digit number with sequence 996–999 (a block
//! reserved for centenarians, often misused).

use std::fmt;

use chrono::{Datelike, NaiveDate};

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: &[u8; 11] = b"10X98765432";

/// First two digits of a GB/T 2260 address code: the 34 provincial-level divisions
/// (incl. 71 台湾, 81 香港, 82 澳门) plus 83, used by residence permits for Taiwan residents,
/// which share this format.
pub const PROVINCE_CODES: [&str; 35] = [
    "11", "12", "13", "14", "15", // 京 津 冀 晋 蒙
    "21", "22", "23", // 辽 吉 黑
    "31", "32", "33", "34", "35", "36", "37", // 沪 苏 浙 皖 闽 赣 鲁
    "41", "42", "43", "44", "45", "46", // 豫 鄂 湘 粤 桂 琼
    "50", "51", "52", "53", "54", // 渝 川 贵 云 藏
    "61", "62", "63", "64", "65", // 陕 甘 青 宁 新
    "71", "81", "82", "83", // 台 港 澳, 台湾居民居住证
];

/// Why a string is not a valid ID number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CitizenIdError {
    #[error("身份证号码必须是 18 位（或旧版 15 位）")]
    BadLength,
    #[error("身份证号码只能包含数字，末位可以是 X")]
    BadCharacter,
    #[error("身份证号码的地址码不是有效的省级行政区划代码")]
    BadRegion,
    #[error("身份证号码中的出生日期无效")]
    BadBirthDate,
    #[error("身份证号码中的出生日期晚于今天")]
    FutureBirthDate,
    #[error("身份证号码校验位错误")]
    BadCheckDigit,
}

/// Sex as encoded by the 17th digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    /// 男 / 女.
    pub fn label_zh(self) -> &'static str {
        match self {
            Sex::Male => "男",
            Sex::Female => "女",
        }
    }

    /// `"male"` / `"female"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
        }
    }
}

/// A validated, canonical 18-character ID number. `Debug` shows the masked form only; there is
/// deliberately no `Display` or `Serialize`: use [`CitizenId::as_str`] where the full value is
/// truly needed (encryption, blind index). Equal numbers are equal however they were typed.
#[derive(Clone)]
pub struct CitizenId {
    id: String,
    birth: NaiveDate,
    /// Typed in the first-generation 15-digit form.
    from15: bool,
}

impl PartialEq for CitizenId {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for CitizenId {}

impl std::hash::Hash for CitizenId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

/// Why a valid number should be checked by a person (shown where the person is registered;
/// the number is accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdWarning {
    /// The county part of the address code is not in the national table (an old code of a
    /// renamed or merged county, or a mistake).
    CountyNotOnRecord,
    /// A 15-digit number with sequence 996–999.
    FifteenDigitReview,
}

impl IdWarning {
    /// Stable identifier for the API.
    pub fn as_str(self) -> &'static str {
        match self {
            IdWarning::CountyNotOnRecord => "id_county_not_on_record",
            IdWarning::FifteenDigitReview => "id_fifteen_digit_review",
        }
    }

    /// The Chinese message for the user.
    pub fn message_zh(self) -> &'static str {
        match self {
            IdWarning::CountyNotOnRecord => {
                "身份证号码的地址码不在现行县级行政区划表中（可能是区划调整前的旧代码），号码已接受，请核对"
            }
            IdWarning::FifteenDigitReview => {
                "15 位旧号码的顺序码为 996–999（百岁老人专用号段），号码已接受，请核实"
            }
        }
    }
}

/// The county codes of the national table (2023 statistical table, `assets/regions/areas.csv`,
/// the same file the service loads its counties from).
fn counties() -> &'static std::collections::HashSet<&'static str> {
    static SET: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
        std::sync::OnceLock::new();
    SET.get_or_init(|| {
        include_str!("../../../assets/regions/areas.csv")
            .lines()
            .skip(1)
            .filter_map(|l| l.split(',').next())
            .map(str::trim)
            .filter(|c| c.len() == 6)
            .collect()
    })
}

/// Is the 6-digit `code` a county of the national table?
pub fn county_on_record(code: &str) -> bool {
    counties().contains(code)
}

/// The ISO 7064 MOD 11-2 check character for the first 17 digits (`None` if `body17` is not
/// 17 ASCII digits).
pub fn check_char(body17: &str) -> Option<char> {
    if body17.len() != 17 || !body17.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sum: u32 = body17
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    CHECK_CHARS.get((sum % 11) as usize).map(|&c| char::from(c))
}

fn normalise_char(c: char) -> char {
    match c {
        '０'..='９' => {
            char::from_u32(u32::from(c) - u32::from('０') + u32::from('0')).unwrap_or(c)
        }
        'x' | 'Ｘ' | 'ｘ' => 'X',
        _ => c,
    }
}

impl CitizenId {
    /// Parse, normalise and validate. Accepts surrounding whitespace, full-width digits,
    /// full-width `Ｘ`/`ｘ`, lower-case `x`, and 15-digit first-generation numbers (converted by
    /// inserting `19` before the 2-digit year and computing the check character). Rejects
    /// unknown province codes, impossible dates and dates before 1900-01-01, and a wrong check
    /// character. Does not know today's date: see [`CitizenId::check_not_future`].
    pub fn parse(s: &str) -> Result<CitizenId, CitizenIdError> {
        let s: String = s.trim().chars().map(normalise_char).collect();
        let n = s.chars().count();
        let mut from15 = false;
        let full = match n {
            18 => {
                // Any non-ASCII character left after normalising is not a digit (and would
                // make the byte split below fall inside a character).
                if !s.is_ascii() {
                    return Err(CitizenIdError::BadCharacter);
                }
                let (body, last) = s.split_at(17);
                if !body.bytes().all(|b| b.is_ascii_digit())
                    || !(last == "X" || last.bytes().all(|b| b.is_ascii_digit()))
                {
                    return Err(CitizenIdError::BadCharacter);
                }
                s
            }
            15 => {
                if !s.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(CitizenIdError::BadCharacter);
                }
                let body = format!("{}19{}", &s[..6], &s[6..]);
                let c = check_char(&body).ok_or(CitizenIdError::BadCharacter)?;
                from15 = true;
                format!("{body}{c}")
            }
            _ => return Err(CitizenIdError::BadLength),
        };
        // A leading 9 is the 2023 foreign permanent-residence card: the province of the
        // issuing office follows (never in a 15-digit number).
        let province = match full.strip_prefix('9') {
            Some(rest) if !from15 => &rest[..2],
            _ => &full[..2],
        };
        if !PROVINCE_CODES.contains(&province) {
            return Err(CitizenIdError::BadRegion);
        }
        let birth = parse_birth(&full[6..14]).ok_or(CitizenIdError::BadBirthDate)?;
        let expected = check_char(&full[..17]).ok_or(CitizenIdError::BadCharacter)?;
        if !full.ends_with(expected) {
            return Err(CitizenIdError::BadCheckDigit);
        }
        Ok(CitizenId {
            id: full,
            birth,
            from15,
        })
    }

    /// A 2023 foreign permanent-residence ID (leading `9`).
    pub fn is_foreign_permanent(&self) -> bool {
        self.id.starts_with('9')
    }

    /// What a person should check about this (valid) number: see [`IdWarning`]. Foreign
    /// numbers and Hong Kong, Macao and Taiwan codes (not in the table) have no county check.
    pub fn warnings(&self) -> Vec<IdWarning> {
        let mut out = Vec::new();
        let outside_table = matches!(&self.id[..2], "71" | "81" | "82" | "83");
        if !self.is_foreign_permanent() && !outside_table && !county_on_record(&self.id[..6]) {
            out.push(IdWarning::CountyNotOnRecord);
        }
        if self.from15 && matches!(&self.id[14..17], "996" | "997" | "998" | "999") {
            out.push(IdWarning::FifteenDigitReview);
        }
        out
    }

    /// Parse and also reject a birth date after `today` (use Beijing date).
    pub fn parse_on(s: &str, today: NaiveDate) -> Result<CitizenId, CitizenIdError> {
        let id = CitizenId::parse(s)?;
        id.check_not_future(today)?;
        Ok(id)
    }

    /// The full canonical 18 characters.
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// Date of birth.
    pub fn birth_date(&self) -> NaiveDate {
        self.birth
    }

    /// Age in whole years on `today` (0 if `today` is before the birth date).
    pub fn age_on(&self, today: NaiveDate) -> u32 {
        let b = self.birth;
        let mut age = today.year() - b.year();
        if (today.month(), today.day()) < (b.month(), b.day()) {
            age -= 1;
        }
        u32::try_from(age).unwrap_or(0)
    }

    /// Sex from the 17th digit: odd = male.
    pub fn sex(&self) -> Sex {
        let d = self.id.as_bytes().get(16).copied().unwrap_or(b'0');
        if (d - b'0') % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// The 6-digit address code (county where first registered; for a foreign
    /// permanent-residence number, `9`, the issuing province and the nationality code).
    pub fn region_prefix(&self) -> &str {
        &self.id[..6]
    }

    /// For roles permitted to see more: first 6 + 11 `*` + last 1. The birth date (8 digits)
    /// and the sequence (3) are hidden together: with the birth year and sex that a list shows,
    /// about 16,600 numbers fit what such a role sees (issue 13: never under 10,000). The old
    /// "6+4" form hid exactly the birth date, so it plus a shown birth date was the number.
    pub fn masked(&self) -> String {
        format!("{}{}{}", &self.id[..6], "*".repeat(11), &self.id[17..])
    }

    /// For everyone else: first 1 + 16 `*` + last 1.
    pub fn masked_strict(&self) -> String {
        format!("{}{}{}", &self.id[..1], "*".repeat(16), &self.id[17..])
    }

    /// Reject a birth date after `today`.
    pub fn check_not_future(&self, today: NaiveDate) -> Result<(), CitizenIdError> {
        if self.birth > today {
            Err(CitizenIdError::FutureBirthDate)
        } else {
            Ok(())
        }
    }
}

fn parse_birth(yyyymmdd: &str) -> Option<NaiveDate> {
    let y: i32 = yyyymmdd.get(0..4)?.parse().ok()?;
    let m: u32 = yyyymmdd.get(4..6)?.parse().ok()?;
    let d: u32 = yyyymmdd.get(6..8)?.parse().ok()?;
    let date = NaiveDate::from_ymd_opt(y, m, d)?;
    (y >= 1900).then_some(date)
}

impl fmt::Debug for CitizenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CitizenId").field(&self.masked()).finish()
    }
}

impl std::str::FromStr for CitizenId {
    type Err = CitizenIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CitizenId::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const STD: &str = "11010519491231002X";

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// Build a valid number from parts.
    fn make(region: &str, ymd: &str, seq: &str) -> String {
        let body = format!("{region}{ymd}{seq}");
        format!("{body}{}", check_char(&body).unwrap())
    }

    #[test]
    fn standard_example() {
        let id = CitizenId::parse(STD).unwrap();
        assert_eq!(id.as_str(), STD);
        assert_eq!(id.birth_date(), date(1949, 12, 31));
        assert_eq!(id.sex(), Sex::Female); // 17th digit 2
        assert_eq!(id.region_prefix(), "110105");
        assert_eq!(id.masked(), "110105***********X");
        assert_eq!(id.masked_strict(), "1****************X");
        assert_eq!(id.masked_strict().chars().count(), 18);
        assert_eq!(id.age_on(date(2020, 1, 1)), 70);
        assert_eq!(id.age_on(date(2019, 12, 31)), 70);
        assert_eq!(id.age_on(date(2019, 12, 30)), 69);
        assert_eq!(check_char("11010519491231002"), Some('X'));
        assert_eq!(check_char("1101051949123100"), None);
    }

    #[test]
    fn computed_examples() {
        // Computed by hand from the algorithm: 440115 19800101 001 → sum mod 11.
        let a = make("440115", "19800101", "001");
        let id = CitizenId::parse(&a).unwrap();
        assert_eq!(id.sex(), Sex::Male);
        assert_eq!(id.birth_date(), date(1980, 1, 1));
        // Leap day in a leap year is fine.
        assert!(CitizenId::parse(&make("130110", "20000229", "123")).is_ok());
        assert!(CitizenId::parse(&make("130110", "20200229", "124")).is_ok());
        // Known published-style example with digit check: 110101199003074477? compute ours.
        let b = make("110101", "19900307", "447");
        assert_eq!(CitizenId::parse(&b).unwrap().as_str(), b);
        assert_eq!(Sex::Male.label_zh(), "男");
        assert_eq!(Sex::Female.label_zh(), "女");
    }

    #[test]
    fn normalises_input() {
        let lower = CitizenId::parse(" 11010519491231002x\n").unwrap();
        assert_eq!(lower.as_str(), STD);
        let full = CitizenId::parse("１１０１０５１９４９１２３１００２Ｘ").unwrap();
        assert_eq!(full.as_str(), STD);
        let full_lower = CitizenId::parse("１１０１０５１９４９１２３１００２ｘ").unwrap();
        assert_eq!(full_lower, lower);
    }

    #[test]
    fn fifteen_digit_conversion() {
        let id = CitizenId::parse("110105491231002").unwrap();
        assert_eq!(id.as_str(), STD);
        assert_eq!(id.birth_date(), date(1949, 12, 31));
        assert_eq!(
            CitizenId::parse("11010549123100X"),
            Err(CitizenIdError::BadCharacter)
        );
        assert_eq!(
            CitizenId::parse("110105490231002"),
            Err(CitizenIdError::BadBirthDate)
        );
    }

    #[test]
    fn foreign_permanent_residence_2023() {
        // 9 + issuing province 31 (上海) + nationality 156… + birth + sequence + check.
        let f = make("931840", "19850615", "123");
        let id = CitizenId::parse(&f).unwrap();
        assert!(id.is_foreign_permanent());
        assert_eq!(id.birth_date(), date(1985, 6, 15));
        assert_eq!(id.sex(), Sex::Male);
        assert!(
            id.warnings().is_empty(),
            "no county check for foreign numbers"
        );
        // Unknown issuing province, wrong check character: refused.
        assert_eq!(
            CitizenId::parse(&make("999840", "19850615", "123")),
            Err(CitizenIdError::BadRegion)
        );
        let mut bad = f.clone();
        let last = if f.ends_with('0') { '1' } else { '0' };
        bad.replace_range(17.., &last.to_string());
        assert_eq!(CitizenId::parse(&bad), Err(CitizenIdError::BadCheckDigit));
        // A 15-digit number never starts with 9.
        assert_eq!(
            CitizenId::parse("931840850615123"),
            Err(CitizenIdError::BadRegion)
        );
        assert!(!CitizenId::parse(STD).unwrap().is_foreign_permanent());
    }

    #[test]
    fn county_codes_and_fifteen_digit_reviews_warn() {
        assert!(CitizenId::parse(STD).unwrap().warnings().is_empty());
        // 110103 崇文区, merged into 东城区 in 2010: still a valid number, with a warning.
        let old = CitizenId::parse(&make("110103", "19600101", "011")).unwrap();
        assert_eq!(old.warnings(), vec![IdWarning::CountyNotOnRecord]);
        assert!(!county_on_record("110103") && county_on_record("110101"));
        // Hong Kong codes are not in the table and are not flagged.
        assert!(
            CitizenId::parse(&make("810000", "19600101", "011"))
                .unwrap()
                .warnings()
                .is_empty()
        );
        // 15 digits with sequence 996–999: review; the same number typed in 18 digits: not.
        let fifteen = CitizenId::parse("110105191231997").unwrap();
        assert_eq!(fifteen.warnings(), vec![IdWarning::FifteenDigitReview]);
        let eighteen = CitizenId::parse(fifteen.as_str()).unwrap();
        assert!(eighteen.warnings().is_empty());
        assert_eq!(eighteen, fifteen);
        assert!(
            CitizenId::parse("110105491231002")
                .unwrap()
                .warnings()
                .is_empty()
        );
        assert!(!IdWarning::CountyNotOnRecord.message_zh().is_empty());
    }

    #[test]
    fn rejections() {
        assert_eq!(CitizenId::parse(""), Err(CitizenIdError::BadLength));
        assert_eq!(
            CitizenId::parse("11010519491231002"),
            Err(CitizenIdError::BadLength)
        );
        assert_eq!(
            CitizenId::parse("11010519491231002XX"),
            Err(CitizenIdError::BadLength)
        );
        assert_eq!(
            CitizenId::parse("1101051949123100X2"),
            Err(CitizenIdError::BadCharacter)
        );
        assert_eq!(
            CitizenId::parse("11010519491231002Y"),
            Err(CitizenIdError::BadCharacter)
        );
        assert_eq!(
            CitizenId::parse("110105 19491231002X"),
            Err(CitizenIdError::BadLength)
        );
        assert_eq!(
            CitizenId::parse(&make("990105", "19491231", "002")),
            Err(CitizenIdError::BadRegion)
        );
        assert_eq!(
            CitizenId::parse(&make("000000", "19491231", "002")),
            Err(CitizenIdError::BadRegion)
        );
        for bad in ["20190229", "19801301", "19800132", "19800000", "18991231"] {
            assert_eq!(
                CitizenId::parse(&make("110105", bad, "002")),
                Err(CitizenIdError::BadBirthDate),
                "{bad}"
            );
        }
        assert!(CitizenId::parse(&make("110105", "19000101", "002")).is_ok());
        assert_eq!(
            CitizenId::parse("110105194912310021"),
            Err(CitizenIdError::BadCheckDigit)
        );
        // 18 characters, not all ASCII: refused, never a panic on a byte split.
        assert_eq!(
            CitizenId::parse("1101051949123100女X"),
            Err(CitizenIdError::BadCharacter)
        );
        assert_eq!(
            CitizenId::parse("女女女女女女女女女女女女女女女女女女"),
            Err(CitizenIdError::BadCharacter)
        );
        assert!(CitizenIdError::BadCheckDigit.to_string().contains("校验"));
    }

    #[test]
    fn future_dates() {
        let id = CitizenId::parse(&make("110105", "20260101", "002")).unwrap();
        assert_eq!(
            id.check_not_future(date(2025, 12, 31)),
            Err(CitizenIdError::FutureBirthDate)
        );
        assert_eq!(id.check_not_future(date(2026, 1, 1)), Ok(()));
        assert!(CitizenId::parse_on(id.as_str(), date(2025, 1, 1)).is_err());
        assert!(CitizenId::parse_on(STD, date(2025, 1, 1)).is_ok());
        assert_eq!(id.age_on(date(2025, 1, 1)), 0);
    }

    #[test]
    fn debug_is_masked() {
        let id = CitizenId::parse(STD).unwrap();
        let dbg = format!("{id:?}");
        assert!(!dbg.contains(STD), "{dbg}");
        assert!(!dbg.contains("19491231"), "{dbg}");
        assert!(dbg.contains("110105***********X"), "{dbg}");
        let wrapped = format!("{:?}", Some(&id));
        assert!(!wrapped.contains("19491231"));
    }

    proptest! {
        #[test]
        fn prop_roundtrip_and_single_digit_change(
            p in prop::sample::select(PROVINCE_CODES.to_vec()),
            rest in 0u32..10000,
            days in 0i64..45000,
            seq in 0u32..1000,
            pos in 0usize..18,
            delta in 1u8..10,
        ) {
            let d = date(1900, 1, 1) + chrono::Duration::days(days);
            let region = format!("{p}{rest:04}");
            let ymd = d.format("%Y%m%d").to_string();
            let s = make(&region, &ymd, &format!("{seq:03}"));
            let id = CitizenId::parse(&s).unwrap();
            prop_assert_eq!(id.as_str(), s.as_str());
            prop_assert_eq!(id.birth_date(), d);
            prop_assert_eq!(id.sex() == Sex::Male, seq % 2 == 1);
            prop_assert_eq!(CitizenId::parse(&s.to_lowercase()).unwrap(), id.clone());

            // Change one character to another valid character: must be rejected
            // (MOD 11-2 detects every single substitution).
            let mut bytes = s.clone().into_bytes();
            let alphabet: &[u8] = if pos == 17 { b"0123456789X" } else { b"0123456789" };
            let cur = alphabet.iter().position(|&c| c == bytes[pos]).unwrap();
            let next = alphabet[(cur + usize::from(delta)) % alphabet.len()];
            prop_assume!(next != bytes[pos]);
            bytes[pos] = next;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert!(CitizenId::parse(&changed).is_err(), "{} accepted", changed);
        }
    }
}
