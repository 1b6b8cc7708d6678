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

/// The categories of a roster cell (花名册的“类别”列): several separated by `、` `,` `，` `;`
/// `；` `/`, each an identifier, a label or a usual short form (低保户, 分散特困, 散居孤儿,
/// 低保边缘 → 低收入, which covers the 低保边缘 households). An ambiguous short form (特困,
/// 孤儿) or an unknown one is an error naming it and the choices, so the row can be fixed.
pub fn parse_roster(cell: &str) -> Result<Vec<&'static str>, String> {
    let mut out: Vec<&'static str> = Vec::new();
    for part in cell.split(['、', ',', '，', ';', '；', '/']) {
        let p: String = part
            .trim()
            .replace('(', "（")
            .replace(')', "）")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if p.is_empty() || p == "无" {
            continue;
        }
        let id = match p.as_str() {
            "低保户" | "低保对象" | "城市低保" | "农村低保" | "城乡低保" => {
                "dibao"
            }
            "低保边缘" | "低保边缘家庭" | "低保边缘户" | "低边" | "低收入人口" | "低收入户" => {
                "low_income"
            }
            "分散特困" | "分散供养特困" | "特困分散" | "分散供养" => {
                "tekun_dispersed"
            }
            "集中特困" | "集中供养特困" | "特困集中" | "集中供养" => {
                "tekun_institution"
            }
            "散居孤儿" | "社会散居孤儿" => "orphan_scattered",
            "寄养孤儿" => "orphan_foster",
            "残疾" | "残疾人" => "disabled_in_difficulty",
            "重度残疾" => "severely_disabled",
            "独居老人" | "空巢老人" | "独居" | "空巢" => "elderly_alone",
            "流浪乞讨" => "homeless",
            "脱贫户" | "建档立卡户" => "registered_poor",
            "特困" | "特困人员" | "特困供养" => {
                return Err(format!(
                    "类别“{p}”不明确：请写“特困（分散供养）”或“特困（集中供养）”"
                ));
            }
            "孤儿" => {
                return Err(format!(
                    "类别“{p}”不明确：请写“孤儿（散居）”或“孤儿（家庭寄养）”"
                ));
            }
            other => match parse(other) {
                Some(id) => id,
                None => {
                    let labels: Vec<&str> = CATEGORIES.iter().map(|(_, l)| *l).collect();
                    return Err(format!(
                        "未知的类别“{}”（可用：{}）",
                        other.chars().take(20).collect::<String>(),
                        labels.join("、")
                    ));
                }
            },
        };
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
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

    #[test]
    fn roster_cells_take_short_forms_and_refuse_ambiguous_ones() {
        assert_eq!(
            parse_roster("低保、低保边缘"),
            Ok(vec!["dibao", "low_income"])
        );
        assert_eq!(
            parse_roster(" 特困(分散供养) ; 低保户"),
            Ok(vec!["tekun_dispersed", "dibao"])
        );
        assert_eq!(parse_roster(""), Ok(vec![]));
        assert!(parse_roster("特困").is_err_and(|e| e.contains("分散供养")));
        assert!(parse_roster("孤儿").is_err_and(|e| e.contains("散居")));
        assert!(parse_roster("富户").is_err_and(|e| e.contains("未知的类别")));
    }
}
