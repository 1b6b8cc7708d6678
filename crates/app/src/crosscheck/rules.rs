//! What counts as a conflict: the kinds, the payment groups and the groups not enjoyed
//! together, the lowest region containing every person of a conflict (where it is stored and
//! who sees it), and a found conflict with its fingerprint. Pure rules, no I/O.

use backstop_core::region::RegionCode;
use serde_json::Value;

use crate::kernel::crypto::{KeyRing, sha256_hex};

/// Kinds of conflict, with stable identifiers and Chinese labels.
pub const KINDS: [(&str, &str); 5] = [
    ("observation_region", "居家观察登记地与现住地不一致"),
    ("screening_region", "摸排登记地与现住地不一致"),
    ("possible_duplicate", "疑似重复登记"),
    ("exclusive_groups", "互斥类别同时享受"),
    ("deceased_paid", "已故人员仍在发放名单"),
];

/// Chinese label of a kind (empty if unknown).
pub fn kind_label(id: &str) -> &'static str {
    KINDS
        .iter()
        .find(|(k, _)| *k == id)
        .map(|(_, l)| *l)
        .unwrap_or("")
}

/// Groups that carry a payment (care category identifiers).
pub const PAYMENT_GROUPS: [&str; 8] = [
    "dibao",
    "tekun_dispersed",
    "tekun_institution",
    "orphan_scattered",
    "orphan_foster",
    "de_facto_unattended",
    "disabled_in_difficulty",
    "severely_disabled",
];

/// Pairs of groups not enjoyed together for overlapping periods, with the rule in words.
/// (The same payment group twice is checked as well; see [`exclusion`].)
pub const EXCLUSIONS: [(&str, &str, &str); 6] = [
    ("tekun_dispersed", "dibao", "特困供养人员不同时享受低保"),
    ("tekun_institution", "dibao", "特困供养人员不同时享受低保"),
    (
        "tekun_institution",
        "tekun_dispersed",
        "集中供养与分散供养不能同时登记",
    ),
    (
        "orphan_scattered",
        "de_facto_unattended",
        "孤儿不再认定为事实无人抚养儿童",
    ),
    (
        "orphan_foster",
        "de_facto_unattended",
        "孤儿不再认定为事实无人抚养儿童",
    ),
    (
        "orphan_scattered",
        "orphan_foster",
        "散居孤儿与家庭寄养孤儿不能同时登记",
    ),
];

/// The rule two overlapping memberships break, if any.
pub fn exclusion(a: &str, b: &str) -> Option<&'static str> {
    if a == b && PAYMENT_GROUPS.contains(&a) {
        return Some("同一类别重复登记，可能重复发放");
    }
    EXCLUSIONS
        .iter()
        .find(|(x, y, _)| (*x == a && *y == b) || (*x == b && *y == a))
        .map(|(_, _, why)| *why)
}

/// The lowest region containing all `codes` (`""` when they lie in different provinces).
pub fn common_region(codes: &[&str]) -> String {
    let parsed: Vec<RegionCode> = codes
        .iter()
        .filter_map(|c| RegionCode::parse(c).ok())
        .collect();
    let Some(first) = parsed.first() else {
        return String::new();
    };
    first
        .lineage()
        .into_iter()
        .rev()
        .find(|anc| parsed.iter().all(|c| anc.contains(c)))
        .map(|c| c.as_str().to_string())
        .unwrap_or_default()
}

/// The stored fingerprint of a conflict: the HMAC blind index (under the key that indexes ID
/// numbers, purpose `crosscheck`) of the SHA-256 of `kind|facts`. The facts of a duplicate
/// name a person and a birth date, so a plain hash would let anyone with the database test
/// guesses; keyed, it tells nothing without the key file. Built on the SHA-256 so that rows
/// stored before (which kept that hash) are rekeyed at open without their facts
/// ([`crate::privacy::seal_clear_rows`], step 4). 32 hex characters (the old ones had 64).
pub fn fingerprint_of(keys: &KeyRing, sha256: &str) -> String {
    keys.blind_index(FINGERPRINT_PURPOSE, sha256)
}

/// The blind-index purpose of conflict fingerprints.
const FINGERPRINT_PURPOSE: &str = "crosscheck";

/// One conflict found by a run.
#[derive(Debug, Clone)]
pub(super) struct Found {
    pub kind: &'static str,
    /// Canonical facts; the fingerprint is the keyed blind index of their SHA-256
    /// ([`fingerprint_of`]).
    pub facts: String,
    pub persons: Vec<(i64, String)>,
    pub detail: Value,
}

impl Found {
    pub fn fingerprint(&self, keys: &KeyRing) -> String {
        fingerprint_of(
            keys,
            &sha256_hex(format!("{}|{}", self.kind, self.facts).as_bytes()),
        )
    }

    pub fn region(&self) -> String {
        let codes: Vec<&str> = self.persons.iter().map(|(_, r)| r.as_str()).collect();
        common_region(&codes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::care::category_label;

    #[test]
    fn rules_and_regions() {
        assert!(exclusion("dibao", "tekun_dispersed").is_some());
        assert!(exclusion("tekun_institution", "dibao").is_some());
        assert!(exclusion("tekun_dispersed", "tekun_institution").is_some());
        assert!(exclusion("de_facto_unattended", "orphan_foster").is_some());
        assert!(exclusion("dibao", "dibao").is_some(), "paid twice");
        assert!(exclusion("low_income", "low_income").is_none());
        assert!(exclusion("dibao", "severely_disabled").is_none());
        assert!(exclusion("dibao", "left_behind").is_none());
        for (a, b, _) in EXCLUSIONS {
            assert!(!category_label(a).is_empty() && !category_label(b).is_empty());
        }
        for g in PAYMENT_GROUPS {
            assert!(!category_label(g).is_empty(), "{g}");
        }
        assert_eq!(
            common_region(&["130110100001", "130110100002"]),
            "130110100"
        );
        assert_eq!(common_region(&["130110100001", "130111100003"]), "1301");
        assert_eq!(common_region(&["130110100001"]), "130110100001");
        assert_eq!(common_region(&["130110100001", "440115001001"]), "");
        assert_eq!(common_region(&[]), "");
    }
}
