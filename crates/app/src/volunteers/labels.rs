//! The volunteers area's fixed lists (skills, task kinds, the organisation kinds a volunteer may
//! belong to) with their Chinese labels, and how minutes read (`2 小时 30 分钟`).

/// Skills a volunteer may offer: (key, label).
pub const SKILLS: &[(&str, &str)] = &[
    ("screening", "测温排查"),
    ("entrance", "卡口值守"),
    ("publicity", "宣传"),
    ("transport", "物资运送"),
    ("psych", "心理支持"),
    ("medical", "医疗"),
    ("driving", "驾驶"),
    ("other", "其他"),
];

/// Kinds of task: (key, label).
pub const KINDS: &[(&str, &str)] = &[
    ("screening", "测温排查"),
    ("entrance_duty", "卡口值守"),
    ("publicity", "宣传"),
    ("supply_transport", "物资运送"),
    ("household_support", "居家隔离户帮扶"),
];

/// Organisation kinds a volunteer may belong to.
pub const ORG_KINDS: &[&str] = &["social_organisation", "social_work"];

fn label_of(list: &[(&str, &'static str)], key: &str) -> &'static str {
    list.iter()
        .find(|(k, _)| *k == key)
        .map(|(_, l)| *l)
        .unwrap_or("")
}

/// Labels of comma-separated skill keys, joined with `、`.
pub fn skill_labels(keys: &str) -> String {
    keys.split(',')
        .map(|k| label_of(SKILLS, k.trim()))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("、")
}

/// The label of a task kind.
pub fn kind_label(key: &str) -> &'static str {
    label_of(KINDS, key)
}

/// Minutes as people read them: `2 小时 30 分钟`.
pub fn hours_text(minutes: i64) -> String {
    let (h, m) = (minutes / 60, minutes % 60);
    match (h, m) {
        (0, m) => format!("{m} 分钟"),
        (h, 0) => format!("{h} 小时"),
        (h, m) => format!("{h} 小时 {m} 分钟"),
    }
}
