//! The village column of a roster (村、社区、村（社区）…): a village or community by its name,
//! resolved to its code among the villages of the import's region, loaded once per import
//! (one query, a few hundred names in a county). A roster writes "旱码头社区" or "旱码头" where
//! the region table says "旱码头社区居民委员会", so each name is also known without its
//! committee suffix and without 村/社区; a name two villages share is ambiguous and the row
//! is refused with a reason, never put in the wrong village.

use std::collections::HashMap;

/// Village names (and their short forms) → code; `None` when two villages share the name.
#[derive(Debug, Default)]
pub(super) struct Villages {
    by_name: HashMap<String, Option<String>>,
}

/// The forms a village name is known by: as written, without a committee suffix, and
/// without a trailing 村 / 社区 / 居委会.
fn forms(name: &str) -> Vec<String> {
    let n: String = name.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = vec![n.clone()];
    let mut base = n.clone();
    for suffix in ["居民委员会", "村民委员会", "委员会", "居委会", "村委会"] {
        if let Some(b) = base.strip_suffix(suffix) {
            base = b.to_string();
            break;
        }
    }
    out.push(base.clone());
    for suffix in ["社区", "村", "居"] {
        if let Some(b) = base.strip_suffix(suffix)
            && b.chars().count() >= 2
        {
            out.push(b.to_string());
            break;
        }
    }
    out.dedup();
    out
}

impl Villages {
    /// From `(code, name)` of every village under the import's region.
    pub(super) fn new(rows: Vec<(String, String)>) -> Self {
        let mut by_name: HashMap<String, Option<String>> = HashMap::new();
        for (code, name) in rows {
            for f in forms(&name) {
                by_name
                    .entry(f)
                    .and_modify(|c| {
                        if c.as_deref() != Some(code.as_str()) {
                            *c = None;
                        }
                    })
                    .or_insert_with(|| Some(code.clone()));
            }
        }
        Villages { by_name }
    }

    /// The code of a village cell, or the reason it cannot be placed.
    pub(super) fn resolve(&self, cell: &str, within: &str) -> Result<String, String> {
        let shown: String = cell.chars().take(30).collect();
        for f in forms(cell) {
            match self.by_name.get(&f) {
                Some(Some(code)) => return Ok(code.clone()),
                Some(None) => {
                    return Err(format!(
                        "村（社区）“{shown}”在导入区划 {within} 内有重名：请填写区划代码，或选择更小的导入区划"
                    ));
                }
                None => {}
            }
        }
        Err(format!(
            "村（社区）“{shown}”不在导入区划 {within} 内（请核对名称，或填写区划代码）"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_short_forms_and_shared_names() {
        let v = Villages::new(vec![
            ("130110100001".into(), "旱码头社区居民委员会".into()),
            ("130110100002".into(), "新村村民委员会".into()),
            ("130110200002".into(), "新村村民委员会".into()),
            ("130110200003".into(), "东营村".into()),
        ]);
        for cell in [
            "旱码头社区居民委员会",
            "旱码头社区",
            "旱码头",
            " 旱码头社区 ",
        ] {
            assert_eq!(
                v.resolve(cell, "130110").as_deref(),
                Ok("130110100001"),
                "{cell}"
            );
        }
        assert_eq!(v.resolve("东营村", "130110").as_deref(), Ok("130110200003"));
        assert_eq!(v.resolve("东营", "130110").as_deref(), Ok("130110200003"));
        assert!(
            v.resolve("新村", "130110")
                .is_err_and(|e| e.contains("重名"))
        );
        assert!(
            v.resolve("西营村", "130110")
                .is_err_and(|e| e.contains("不在导入区划"))
        );
    }
}
