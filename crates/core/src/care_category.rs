//! The groups of people the state must not lose sight of (困难群众类别): a stable identifier
//! and a Chinese label each. Care records memberships in them, people lists filter and export
//! by them, and cross-checks compare them with other registers, so the list lives once, here.

/// The categories, in their fixed order: (identifier, Chinese label).
pub const CATEGORIES: [(&str, &str); 14] = [
    ("dibao", "低保"),
    ("tekun_dispersed", "特困（分散供养）"),
    ("tekun_institution", "特困（集中供养）"),
    ("low_income", "低收入"),
    ("orphan_scattered", "孤儿（散居）"),
    ("orphan_foster", "孤儿（家庭寄养）"),
    ("de_facto_unattended", "事实无人抚养儿童"),
    ("left_behind", "留守儿童"),
    ("children_in_difficulty", "困境儿童"),
    ("disabled_in_difficulty", "困难残疾人"),
    ("severely_disabled", "重度残疾人"),
    ("elderly_alone", "独居/空巢老人"),
    ("homeless", "流浪乞讨人员"),
    ("registered_poor", "建档立卡"),
];

/// Chinese label of a category identifier (empty if unknown).
pub fn label(id: &str) -> &'static str {
    CATEGORIES
        .iter()
        .find(|(k, _)| *k == id)
        .map(|(_, l)| *l)
        .unwrap_or("")
}

/// A category given as identifier or Chinese label (surrounding whitespace ignored).
pub fn parse(s: &str) -> Option<&'static str> {
    let s = s.trim();
    CATEGORIES
        .iter()
        .find(|(id, label)| *id == s || *label == s)
        .map(|(id, _)| *id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_parse_both_ways() {
        assert_eq!(parse("dibao"), Some("dibao"));
        assert_eq!(parse(" 特困（分散供养）"), Some("tekun_dispersed"));
        assert_eq!(parse("nope"), None);
        assert_eq!(label("registered_poor"), "建档立卡");
        assert_eq!(label("nope"), "");
    }
}
