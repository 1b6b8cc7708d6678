//! Pinyin search keys of a person's name (issue 4): `name_pinyin` (full pinyin without tones
//! or separators, `张三` → `zhangsan`) and `name_initials` (`zs`), stored in two columns of
//! `persons` and indexed for prefix search (`LIKE 'x%'`: SQLite indexes them `COLLATE NOCASE`,
//! PostgreSQL with `text_pattern_ops`; migration 0010).
//!
//! This module owns how a name becomes its keys and how a typed query becomes a key to look
//! up, so the stored keys and the search agree. The readings come from the `pinyin` crate's
//! offline table (the common reading of a polyphonic character); the first character (or the
//! first two, for a compound surname) takes its *surname* reading from a small table
//! (`单` shan, `曾` zeng, `解` xie, `区` ou, …), because names are looked up by how the
//! surname is said. `ü` is written `v`, as typed on a pinyin keyboard (`吕` → `lv`). Latin
//! letters and digits in a name are kept (lower case; one initial per Latin word); other
//! characters (`·`, spaces) are dropped.
//!
//! Keys are computed in Rust on every insert and name change (`people::insert`,
//! `people::update`) and, for rows written before migration 0010, by [`backfill`] at startup
//! and on `backstop migrate` (batched by id).

use backstop_store::Db;
use pinyin::ToPinyin;

/// Compound surnames whose reading differs from their characters' common readings.
const COMPOUND_SURNAMES: [(&str, &str, &str); 6] = [
    ("尉迟", "yuchi", "yc"),
    ("万俟", "moqi", "mq"),
    ("单于", "chanyu", "cy"),
    ("澹台", "tantai", "tt"),
    ("长孙", "zhangsun", "zs"),
    ("令狐", "linghu", "lh"),
];

/// Single-character surnames read differently from the character's common reading.
const SURNAMES: [(char, &str); 20] = [
    ('单', "shan"),
    ('曾', "zeng"),
    ('解', "xie"),
    ('区', "ou"),
    ('仇', "qiu"),
    ('朴', "piao"),
    ('查', "zha"),
    ('盖', "ge"),
    ('乐', "yue"),
    ('缪', "miao"),
    ('繁', "po"),
    ('秘', "bi"),
    ('阚', "kan"),
    ('员', "yun"),
    ('覃', "qin"),
    ('种', "chong"),
    ('折', "she"),
    ('召', "shao"),
    ('隗', "wei"),
    ('黑', "he"),
];

/// The reading of one Han character, `ü` as `v`; `None` for a character without one.
fn reading(c: char) -> Option<String> {
    c.to_pinyin().map(|p| p.plain().replace('ü', "v"))
}

/// `(name_pinyin, name_initials)` of a name, both lower-case ASCII.
pub fn keys(name: &str) -> (String, String) {
    let name = name.trim();
    let mut full = String::new();
    let mut initials = String::new();
    let mut rest = name;
    if let Some((prefix, f, i)) = COMPOUND_SURNAMES
        .iter()
        .find(|(prefix, _, _)| name.starts_with(prefix))
    {
        full.push_str(f);
        initials.push_str(i);
        rest = &name[prefix.len()..];
    } else if let Some(first) = name.chars().next()
        && let Some((_, r)) = SURNAMES.iter().find(|(c, _)| *c == first)
    {
        full.push_str(r);
        initials.push_str(&r[..1]);
        rest = &name[first.len_utf8()..];
    }
    let mut in_latin_word = false;
    for c in rest.chars() {
        if c.is_ascii_alphanumeric() {
            let l = c.to_ascii_lowercase();
            full.push(l);
            if !in_latin_word {
                initials.push(l);
            }
            in_latin_word = true;
            continue;
        }
        in_latin_word = false;
        if let Some(r) = reading(c) {
            full.push_str(&r);
            if let Some(i) = r.chars().next() {
                initials.push(i);
            }
        }
    }
    (full, initials)
}

/// The pinyin initials of a place or organisation name (`南沙区` → `nsq`, `获鹿镇敬老院` →
/// `hlzjly`): the common reading of every character (no surname readings: a place is not a
/// person), Latin letters and digits kept one per word, other characters dropped. Used for the
/// pickers' search (`regions.initials`, computed at region import).
pub fn place_initials(name: &str) -> String {
    let mut out = String::new();
    let mut in_latin_word = false;
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            if !in_latin_word {
                out.push(c.to_ascii_lowercase());
            }
            in_latin_word = true;
            continue;
        }
        in_latin_word = false;
        if let Some(i) = reading(c).and_then(|r| r.chars().next()) {
            out.push(i);
        }
    }
    out
}

/// The lookup key of a typed query if it is pinyin-like: ASCII letters (any case) with
/// optional spaces, apostrophes, hyphens or dots between syllables (`Zhang San`, `xi'an`),
/// `ü` typed as `v` or `ü`. `None` for anything containing a Han character, a digit or another
/// symbol (those are searched as a name fragment or a masked number instead).
pub fn query_key(q: &str) -> Option<String> {
    let mut key = String::new();
    for c in q.trim().chars() {
        match c {
            'a'..='z' => key.push(c),
            'A'..='Z' => key.push(c.to_ascii_lowercase()),
            'ü' | 'Ü' => key.push('v'),
            ' ' | '\'' | '’' | '-' | '.' | '·' | '\u{3000}' => {}
            _ => return None,
        }
    }
    if key.is_empty() {
        None
    } else {
        Some(key.chars().take(60).collect())
    }
}

/// Compute the keys of rows written before they existed (`name_pinyin IS NULL`), in batches
/// of 500 by id, one short write transaction each. Returns the number of rows filled.
/// Idempotent: a second run finds nothing to do.
pub async fn backfill(db: &Db) -> Result<u64, sqlx::Error> {
    let mut done = 0u64;
    let mut after = 0i64;
    loop {
        let rows = super::queries::without_name_keys(db, after).await?;
        if rows.is_empty() {
            break;
        }
        let mut w = db.begin_write().await?;
        for (id, name) in &rows {
            let (full, initials) = keys(name);
            super::queries::set_name_keys(w.conn(), *id, &full, &initials).await?;
            after = *id;
            done += 1;
        }
        w.commit().await?;
    }
    if done > 0 {
        tracing::info!(rows = done, "person name search keys filled");
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(name: &str) -> (String, String) {
        keys(name)
    }

    #[test]
    fn names_become_keys() {
        assert_eq!(k("张三"), ("zhangsan".into(), "zs".into()));
        assert_eq!(k(" 王小明 "), ("wangxiaoming".into(), "wxm".into()));
        assert_eq!(k("吕绿"), ("lvlv".into(), "ll".into()));
        // Surname readings.
        assert_eq!(k("单雄信"), ("shanxiongxin".into(), "sxx".into()));
        assert_eq!(k("曾国藩"), ("zengguofan".into(), "zgf".into()));
        assert_eq!(k("解缙"), ("xiejin".into(), "xj".into()));
        assert_eq!(k("区家明"), ("oujiaming".into(), "ojm".into()));
        assert_eq!(k("尉迟恭"), ("yuchigong".into(), "ycg".into()));
        // Only the first character is a surname: 单 elsewhere keeps its common reading.
        assert_eq!(k("李单"), ("lidan".into(), "ld".into()));
        // Latin words and symbols.
        assert_eq!(
            k("阿依古丽·买买提"),
            ("ayigulimaimaiti".into(), "ayglmmt".into())
        );
        assert_eq!(k("Tom Lee"), ("tomlee".into(), "tl".into()));
        assert_eq!(k("张3"), ("zhang3".into(), "z3".into()));
        assert_eq!(k(""), (String::new(), String::new()));
    }

    #[test]
    fn places_become_initials() {
        assert_eq!(place_initials("南沙区"), "nsq");
        assert_eq!(place_initials("单县"), "dx");
        assert_eq!(place_initials("旱码头社区"), "hmtsq");
        assert_eq!(place_initials(""), "");
    }

    #[test]
    fn queries() {
        assert_eq!(query_key("zhangsan").as_deref(), Some("zhangsan"));
        assert_eq!(query_key(" Zhang San ").as_deref(), Some("zhangsan"));
        assert_eq!(query_key("xi'an").as_deref(), Some("xian"));
        assert_eq!(query_key("lü").as_deref(), Some("lv"));
        assert_eq!(query_key("ZS").as_deref(), Some("zs"));
        assert_eq!(query_key("张三"), None);
        assert_eq!(query_key("1234"), None);
        assert_eq!(query_key("z%"), None);
        assert_eq!(query_key("   "), None);
    }
}
