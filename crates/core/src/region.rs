//! Statistical region codes (统计用区划代码) and data scopes.
//!
//! This module owns the one rule the whole platform uses for "is this row inside this user's
//! area": a region code encodes its ancestors as fixed-length prefixes (province 2 digits, city
//! 4, county 6, township 9, village/community 12, and our own grid 15 = village + 3), so "in
//! scope" is a prefix test at a known length and, in SQL, a half-open range scan on an index.
//! It never strips trailing zeros (which would let `13011` match `130111`).
//!
//! Parsing rules (see [`RegionCode::parse`]):
//! * input is trimmed and must be ASCII digits of length 2, 4, 6, 9, 12 or 15;
//! * the 12-digit NBS *padded* form of a higher level is collapsed to that level: a 12-digit
//!   code whose village part (digits 10–12) is `000` is a township, whose township part is
//!   also `000` a county, and so on (`130110000000` → `130110`, `440100000000` → `4401`,
//!   `440000000000` → `44`). A real village or community never has village part `000`, so
//!   this is unambiguous for real villages. The NBS table does carry a few placeholder rows
//!   (e.g. `350527000000` 金门县); importers that must keep such rows literally use
//!   [`RegionCode::parse_exact`];
//! * an all-zero code (or one whose province part is `00`) is rejected.
//!
//! The nation as a whole is not a region code: it is [`Scope::National`].

use std::fmt;
use std::str::FromStr;

/// A level of the administrative tree, from the top down.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum RegionLevel {
    Province,
    City,
    County,
    Township,
    Village,
    Grid,
}

impl RegionLevel {
    /// All levels, top down.
    pub const ALL: [RegionLevel; 6] = [
        RegionLevel::Province,
        RegionLevel::City,
        RegionLevel::County,
        RegionLevel::Township,
        RegionLevel::Village,
        RegionLevel::Grid,
    ];

    /// Number of digits of a code at this level.
    pub fn code_len(self) -> usize {
        match self {
            RegionLevel::Province => 2,
            RegionLevel::City => 4,
            RegionLevel::County => 6,
            RegionLevel::Township => 9,
            RegionLevel::Village => 12,
            RegionLevel::Grid => 15,
        }
    }

    /// The level whose codes have exactly `len` digits.
    pub fn from_code_len(len: usize) -> Option<RegionLevel> {
        RegionLevel::ALL.into_iter().find(|l| l.code_len() == len)
    }

    /// Stable identifier (`"province"`, …, `"grid"`).
    pub fn as_str(self) -> &'static str {
        match self {
            RegionLevel::Province => "province",
            RegionLevel::City => "city",
            RegionLevel::County => "county",
            RegionLevel::Township => "township",
            RegionLevel::Village => "village",
            RegionLevel::Grid => "grid",
        }
    }

    /// Chinese label for pages.
    pub fn label_zh(self) -> &'static str {
        match self {
            RegionLevel::Province => "省",
            RegionLevel::City => "市",
            RegionLevel::County => "县",
            RegionLevel::Township => "乡镇（街道）",
            RegionLevel::Village => "村（社区）",
            RegionLevel::Grid => "网格",
        }
    }

    /// Parse [`RegionLevel::as_str`] back.
    pub fn parse(s: &str) -> Option<RegionLevel> {
        let s = s.trim();
        RegionLevel::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// The level directly below, `None` for a grid.
    pub fn child(self) -> Option<RegionLevel> {
        match self {
            RegionLevel::Province => Some(RegionLevel::City),
            RegionLevel::City => Some(RegionLevel::County),
            RegionLevel::County => Some(RegionLevel::Township),
            RegionLevel::Township => Some(RegionLevel::Village),
            RegionLevel::Village => Some(RegionLevel::Grid),
            RegionLevel::Grid => None,
        }
    }

    /// The level directly above, `None` for a province.
    pub fn parent(self) -> Option<RegionLevel> {
        match self {
            RegionLevel::Province => None,
            RegionLevel::City => Some(RegionLevel::Province),
            RegionLevel::County => Some(RegionLevel::City),
            RegionLevel::Township => Some(RegionLevel::County),
            RegionLevel::Village => Some(RegionLevel::Township),
            RegionLevel::Grid => Some(RegionLevel::Village),
        }
    }
}

impl fmt::Display for RegionLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string is not a region code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegionCodeError {
    #[error("区划代码不能为空")]
    Empty,
    #[error("区划代码只能包含数字")]
    NotDigits,
    #[error("区划代码必须是 2/4/6/9/12/15 位数字（实际 {0} 位）")]
    BadLength(usize),
    #[error("区划代码不能全为 0，省级代码也不能为 00")]
    AllZero,
}

/// A validated region code at one of the six levels. Ordering is lexicographic, which puts a
/// node right before all of its descendants.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct RegionCode(String);

impl RegionCode {
    /// Parse a code, collapsing the 12-digit NBS padded form of a higher level (see the module
    /// docs). Leading and trailing whitespace is ignored.
    pub fn parse(s: &str) -> Result<RegionCode, RegionCodeError> {
        let s = Self::check_digits(s)?;
        if s.len() == RegionLevel::Village.code_len() {
            let mut end = s.len();
            // village → township → county → city → province
            for level in [
                RegionLevel::Township,
                RegionLevel::County,
                RegionLevel::City,
                RegionLevel::Province,
            ] {
                let cut = level.code_len();
                if s[cut..end].bytes().all(|b| b == b'0') {
                    end = cut;
                } else {
                    break;
                }
            }
            return Ok(RegionCode(s[..end].to_owned()));
        }
        Ok(RegionCode(s.to_owned()))
    }

    /// Parse a code literally: its length alone decides its level, no padded-form collapse.
    /// For importers of the NBS table whose placeholder rows (e.g. `350527000000`) must stay
    /// at the level of the file they come from.
    pub fn parse_exact(s: &str) -> Result<RegionCode, RegionCodeError> {
        Self::check_digits(s).map(|s| RegionCode(s.to_owned()))
    }

    fn check_digits(s: &str) -> Result<&str, RegionCodeError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(RegionCodeError::Empty);
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RegionCodeError::NotDigits);
        }
        if RegionLevel::from_code_len(s.len()).is_none() {
            return Err(RegionCodeError::BadLength(s.chars().count()));
        }
        if s.starts_with("00") {
            return Err(RegionCodeError::AllZero);
        }
        Ok(s)
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The level, from the length.
    pub fn level(&self) -> RegionLevel {
        RegionLevel::from_code_len(self.0.len()).unwrap_or(RegionLevel::Grid)
    }

    /// The node directly above; `None` for a province.
    pub fn parent(&self) -> Option<RegionCode> {
        self.level().parent().and_then(|l| self.prefix_at(l))
    }

    /// All nodes above, province first, excluding `self`.
    pub fn ancestors(&self) -> Vec<RegionCode> {
        RegionLevel::ALL
            .into_iter()
            .take_while(|l| *l < self.level())
            .filter_map(|l| self.prefix_at(l))
            .collect()
    }

    /// `self` and all its ancestors, province first.
    pub fn lineage(&self) -> Vec<RegionCode> {
        let mut v = self.ancestors();
        v.push(self.clone());
        v
    }

    /// [`RegionCode::lineage`] as code strings (what a query binds), province first.
    pub fn lineage_strings(&self) -> Vec<String> {
        self.lineage()
            .iter()
            .map(|c| c.as_str().to_string())
            .collect()
    }

    /// True iff `other` is `self` or below it. Lengths are fixed per level, so this is an
    /// exact prefix test: `130110` never contains `130111`.
    pub fn contains(&self, other: &RegionCode) -> bool {
        other.0.len() >= self.0.len() && other.0.starts_with(&self.0)
    }

    /// The ancestor-or-self at `level`; `None` if `level` is below `self`.
    pub fn prefix_at(&self, level: RegionLevel) -> Option<RegionCode> {
        let n = level.code_len();
        if n > self.0.len() {
            return None;
        }
        Some(RegionCode(self.0[..n].to_owned()))
    }

    /// Half-open lexicographic range for SQL: `(code, code + ":")`. `':'` sorts right after
    /// `'9'`, so every code `c` in scope satisfies `lo <= c < hi` and nothing else does.
    pub fn scope_bounds(&self) -> (String, String) {
        (self.0.clone(), format!("{}:", self.0))
    }

    /// The 12-digit NBS padded form (province to village levels); a grid code is returned as is.
    pub fn padded12(&self) -> String {
        let mut s = self.0.clone();
        while s.len() < 12 {
            s.push('0');
        }
        s
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for RegionCode {
    type Error = RegionCodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        RegionCode::parse(&s)
    }
}

impl TryFrom<&str> for RegionCode {
    type Error = RegionCodeError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        RegionCode::parse(s)
    }
}

impl From<RegionCode> for String {
    fn from(c: RegionCode) -> String {
        c.0
    }
}

impl FromStr for RegionCode {
    type Err = RegionCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RegionCode::parse(s)
    }
}

impl AsRef<str> for RegionCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A user's data scope: the whole nation, or one node of the tree and everything below it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Scope {
    National,
    Region(RegionCode),
}

impl Scope {
    /// Stored form of [`Scope::National`].
    pub const NATIONAL_STR: &'static str = "0";

    /// Parse a stored or typed scope. National is written as `""`, `"0"`, any all-zero string
    /// (e.g. `"000000000000"`), `"national"` (any case) or `"全国"`; anything else must be a
    /// region code ([`RegionCode::parse`]).
    pub fn parse(s: &str) -> Result<Scope, RegionCodeError> {
        let t = s.trim();
        if t.is_empty()
            || t.bytes().all(|b| b == b'0')
            || t.eq_ignore_ascii_case("national")
            || t == "全国"
        {
            return Ok(Scope::National);
        }
        RegionCode::parse(t).map(Scope::Region)
    }

    /// `"0"` for National (the stored form), else the code.
    pub fn as_str(&self) -> &str {
        match self {
            Scope::National => Self::NATIONAL_STR,
            Scope::Region(c) => c.as_str(),
        }
    }

    /// Is `code` inside this scope?
    pub fn contains(&self, code: &RegionCode) -> bool {
        match self {
            Scope::National => true,
            Scope::Region(r) => r.contains(code),
        }
    }

    /// Is the whole of `other` inside this scope? National contains everything; a region never
    /// contains National.
    pub fn contains_scope(&self, other: &Scope) -> bool {
        match (self, other) {
            (Scope::National, _) => true,
            (Scope::Region(_), Scope::National) => false,
            (Scope::Region(a), Scope::Region(b)) => a.contains(b),
        }
    }

    /// SQL range filter for the region-code column; `None` for National (no filter).
    pub fn sql_bounds(&self) -> Option<(String, String)> {
        match self {
            Scope::National => None,
            Scope::Region(c) => Some(c.scope_bounds()),
        }
    }

    /// The region, if any.
    pub fn region(&self) -> Option<&RegionCode> {
        match self {
            Scope::National => None,
            Scope::Region(c) => Some(c),
        }
    }

    /// The code length of the lines a statistics table shows below this node: provinces below
    /// the country, else the next level down (not grids: below a village, the village's own).
    pub fn child_code_len(&self) -> usize {
        match self.region() {
            None => RegionLevel::Province.code_len(),
            Some(r) => r
                .level()
                .child()
                .filter(|l| *l != RegionLevel::Grid)
                .map(RegionLevel::code_len)
                .unwrap_or_else(|| r.as_str().len()),
        }
    }

    /// Chinese label of the scope's level ("全国" for National).
    pub fn level_label_zh(&self) -> &'static str {
        match self {
            Scope::National => "全国",
            Scope::Region(c) => c.level().label_zh(),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = RegionCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::parse(s)
    }
}

impl From<RegionCode> for Scope {
    fn from(c: RegionCode) -> Scope {
        Scope::Region(c)
    }
}

/// The province (the 2-digit prefix) of a region code: the first column of every growing
/// table's keys, so the nation can distribute them by province (ADR 0003).
pub fn province_of(code: &str) -> String {
    code.chars().take(2).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rc(s: &str) -> RegionCode {
        RegionCode::parse(s).unwrap()
    }

    #[test]
    fn levels_and_lengths() {
        let cases = [
            ("44", RegionLevel::Province),
            ("4401", RegionLevel::City),
            ("440115", RegionLevel::County),
            ("440115001", RegionLevel::Township),
            ("440115001001", RegionLevel::Village),
            ("440115001001001", RegionLevel::Grid),
        ];
        for (s, l) in cases {
            let c = rc(s);
            assert_eq!(c.level(), l, "{s}");
            assert_eq!(c.as_str(), s);
            assert_eq!(l.code_len(), s.len());
            assert_eq!(RegionLevel::from_code_len(s.len()), Some(l));
            assert_eq!(RegionLevel::parse(l.as_str()), Some(l));
        }
        assert_eq!(RegionLevel::from_code_len(3), None);
        assert_eq!(RegionLevel::Province.child(), Some(RegionLevel::City));
        assert_eq!(RegionLevel::Village.child(), Some(RegionLevel::Grid));
        assert_eq!(RegionLevel::Grid.child(), None);
        assert_eq!(RegionLevel::Township.label_zh(), "乡镇（街道）");
        assert_eq!(RegionLevel::Village.label_zh(), "村（社区）");
        for l in RegionLevel::ALL {
            if let Some(c) = l.child() {
                assert_eq!(c.parent(), Some(l));
            }
        }
    }

    #[test]
    fn parse_trims_and_rejects() {
        assert_eq!(rc("  130110 ").as_str(), "130110");
        assert_eq!(RegionCode::parse(""), Err(RegionCodeError::Empty));
        assert_eq!(RegionCode::parse("   "), Err(RegionCodeError::Empty));
        assert_eq!(RegionCode::parse("13a1"), Err(RegionCodeError::NotDigits));
        assert_eq!(
            RegionCode::parse("１３０１"),
            Err(RegionCodeError::NotDigits)
        );
        assert_eq!(RegionCode::parse("-130"), Err(RegionCodeError::NotDigits));
        assert_eq!(RegionCode::parse("130"), Err(RegionCodeError::BadLength(3)));
        assert_eq!(
            RegionCode::parse("1301101"),
            Err(RegionCodeError::BadLength(7))
        );
        assert_eq!(
            RegionCode::parse("1301100000001"),
            Err(RegionCodeError::BadLength(13))
        );
        assert_eq!(RegionCode::parse("000000"), Err(RegionCodeError::AllZero));
        assert_eq!(
            RegionCode::parse("000000000000"),
            Err(RegionCodeError::AllZero)
        );
        assert_eq!(RegionCode::parse("00"), Err(RegionCodeError::AllZero));
        assert_eq!(RegionCode::parse("001234"), Err(RegionCodeError::AllZero));
        assert!(
            RegionCodeError::BadLength(3)
                .to_string()
                .contains("2/4/6/9/12")
        );
    }

    #[test]
    fn padded_twelve_digit_forms() {
        assert_eq!(rc("130110000000").as_str(), "130110");
        assert_eq!(rc("440000000000").as_str(), "44");
        assert_eq!(rc("440100000000").as_str(), "4401");
        assert_eq!(rc("440115001000").as_str(), "440115001");
        assert_eq!(rc("440115001001").as_str(), "440115001001");
        assert_eq!(rc("440115000001").as_str(), "440115000001");
        assert_eq!(rc("440115001000").level(), RegionLevel::Township);
        // Other lengths are literal (the NBS table has a pseudo-county 441900 东莞市).
        assert_eq!(rc("441900").level(), RegionLevel::County);
        assert_eq!(rc("441900003").parent(), Some(rc("441900")));
        // parse_exact keeps placeholder rows literally.
        let kinmen = RegionCode::parse_exact("350527000000").unwrap();
        assert_eq!(kinmen.level(), RegionLevel::Village);
        assert_eq!(
            RegionCode::parse_exact("000000"),
            Err(RegionCodeError::AllZero)
        );
        assert_eq!(rc("130110").padded12(), "130110000000");
        assert_eq!(rc("130110000000").padded12(), "130110000000");
    }

    #[test]
    fn parent_chain() {
        let g = rc("440115001001002");
        assert_eq!(g.parent(), Some(rc("440115001001")));
        assert_eq!(
            g.ancestors(),
            vec![
                rc("44"),
                rc("4401"),
                rc("440115"),
                rc("440115001"),
                rc("440115001001")
            ]
        );
        assert_eq!(g.lineage().len(), 6);
        assert_eq!(
            rc("440115").lineage_strings(),
            vec!["44".to_string(), "4401".to_string(), "440115".to_string()]
        );
        assert_eq!(rc("44").parent(), None);
        assert!(rc("44").ancestors().is_empty());
        assert_eq!(rc("4401").parent(), Some(rc("44")));
        let v = rc("440115001001");
        assert_eq!(v.prefix_at(RegionLevel::County), Some(rc("440115")));
        assert_eq!(v.prefix_at(RegionLevel::Village), Some(v.clone()));
        assert_eq!(v.prefix_at(RegionLevel::Grid), None);
        // Walking parents reaches the province.
        let mut c = g.clone();
        let mut n = 0;
        while let Some(p) = c.parent() {
            assert!(p.contains(&g));
            c = p;
            n += 1;
        }
        assert_eq!(n, 5);
        assert_eq!(c, rc("44"));
    }

    #[test]
    fn contains_is_exact_prefix() {
        let a = rc("130110");
        assert!(a.contains(&a));
        assert!(!a.contains(&rc("130111")));
        assert!(!rc("130111").contains(&a));
        assert!(a.contains(&rc("130110001")));
        assert!(a.contains(&rc("130110001002")));
        assert!(!a.contains(&rc("130111001")));
        assert!(rc("1301").contains(&a));
        assert!(!a.contains(&rc("1301")));
        assert!(rc("13").contains(&a));
        assert!(!rc("14").contains(&a));
        // 13011 style garbage cannot even be built.
        assert!(RegionCode::parse("13011").is_err());
    }

    #[test]
    fn bounds_agree_with_contains() {
        let codes = [
            "13",
            "1301",
            "130110",
            "130111",
            "130110001",
            "130110001001",
            "130110001001001",
            "1302",
            "14",
            "130109",
            "13011099",
        ];
        let parsed: Vec<RegionCode> = codes
            .iter()
            .filter_map(|s| RegionCode::parse(s).ok())
            .collect();
        for a in &parsed {
            let (lo, hi) = a.scope_bounds();
            assert_eq!(lo, a.as_str());
            assert!(hi.ends_with(':'));
            for b in &parsed {
                let in_range = lo.as_str() <= b.as_str() && b.as_str() < hi.as_str();
                assert_eq!(in_range, a.contains(b), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn scope_rules() {
        for s in [
            "",
            "0",
            "000000000000",
            "national",
            "NATIONAL",
            " 0 ",
            "全国",
        ] {
            assert_eq!(Scope::parse(s), Ok(Scope::National), "{s:?}");
        }
        assert_eq!(Scope::National.as_str(), "0");
        assert_eq!(Scope::parse("0"), Ok(Scope::National));
        let s = Scope::parse("130110").unwrap();
        assert_eq!(s, Scope::Region(rc("130110")));
        assert_eq!(s.as_str(), "130110");
        assert_eq!(Scope::parse(s.as_str()), Ok(s.clone()));
        assert!(Scope::parse("13x").is_err());
        assert!(s.contains(&rc("130110001")));
        assert!(!s.contains(&rc("130111")));
        assert!(Scope::National.contains(&rc("130111")));
        assert!(Scope::National.contains_scope(&Scope::National));
        assert!(Scope::National.contains_scope(&s));
        assert!(!s.contains_scope(&Scope::National));
        assert!(Scope::Region(rc("1301")).contains_scope(&s));
        assert!(!s.contains_scope(&Scope::Region(rc("1301"))));
        assert!(!s.contains_scope(&Scope::Region(rc("130111"))));
        assert_eq!(Scope::National.sql_bounds(), None);
        assert_eq!(
            s.sql_bounds(),
            Some(("130110".to_owned(), "130110:".to_owned()))
        );
        assert_eq!(s.region(), Some(&rc("130110")));
        assert_eq!(Scope::National.level_label_zh(), "全国");
    }

    #[test]
    fn serde_and_traits() {
        let c: RegionCode = "130110".parse().unwrap();
        assert_eq!(c.to_string(), "130110");
        let s: String = c.clone().into();
        assert_eq!(s, "130110");
        assert_eq!(RegionCode::try_from(s).unwrap(), c);
        assert!(RegionCode::try_from("abc".to_owned()).is_err());
        assert!("1301".parse::<RegionCode>().unwrap() < c);
        let l: RegionLevel = RegionLevel::Township;
        assert_eq!(l.to_string(), "township");
    }

    fn arb_code() -> impl Strategy<Value = RegionCode> {
        // Small alphabets so that related codes collide often.
        (
            prop::sample::select(vec!["13", "14", "44"]),
            prop::sample::select(vec!["01", "02", "10"]),
            prop::sample::select(vec!["10", "11", "01"]),
            prop::sample::select(vec!["001", "010", "100"]),
            prop::sample::select(vec!["001", "011", "200"]),
            prop::sample::select(vec!["001", "002", "010"]),
            0usize..6,
        )
            .prop_map(|(p, c, x, t, v, g, lvl)| {
                let full = format!("{p}{c}{x}{t}{v}{g}");
                let len = RegionLevel::ALL[lvl].code_len();
                RegionCode::parse_exact(&full[..len]).unwrap()
            })
    }

    proptest! {
        #[test]
        fn prop_contains_matches_bounds(a in arb_code(), b in arb_code()) {
            let (lo, hi) = a.scope_bounds();
            let in_range = lo.as_str() <= b.as_str() && b.as_str() < hi.as_str();
            prop_assert_eq!(in_range, a.contains(&b));
            prop_assert_eq!(a.contains(&b), b.lineage().contains(&a));
        }

        #[test]
        fn prop_parse_roundtrip(a in arb_code()) {
            prop_assert_eq!(RegionCode::parse(a.as_str()).unwrap(), a.clone());
            let ancestors = a.ancestors();
            prop_assert_eq!(ancestors.len(), a.level() as usize);
            for anc in ancestors {
                prop_assert!(anc.contains(&a));
                prop_assert!(!a.contains(&anc));
            }
        }
    }
}
