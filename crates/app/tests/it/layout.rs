//! The shape of the code, checked: SQL only in each area's queries module (the access layer,
//! `kernel::access`), and no file of `crates/app/src` over 800 lines. Areas and files not yet
//! moved are listed below; the lists may only shrink — an entry that no longer needs to be
//! there fails the test too, so it is removed as soon as its area is done.

use std::path::{Path, PathBuf};

/// Areas whose SQL still lives outside a queries module.
const SQL_NOT_YET_IN_QUERIES: &[&str] = &[];

/// Files still over the line limit.
const TOO_LONG_NOT_YET_SPLIT: &[&str] = &[];

const MAX_LINES: usize = 800;

/// Tokens that run SQL. `sqlx::Row` and row types may be used anywhere (mapping rows).
const SQL_TOKENS: &[&str] = &[
    "sqlx::query",
    "sqlx::raw_sql",
    "sqlx::AssertSqlSafe",
    "query_scalar(",
    "query_as(",
    ".execute(",
    ".fetch_one(",
    ".fetch_all(",
    ".fetch_optional(",
    ".fetch(",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every `.rs` file under the app crate's `src/`, for the tests that read the source.
pub(crate) fn app_sources() -> Vec<PathBuf> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files
}

fn rel(p: &Path) -> String {
    p.strip_prefix(src())
        .map(|r| r.to_string_lossy().replace('\\', "/"))
        .unwrap_or_default()
}

/// Is this file allowed to run SQL? An area's `queries.rs` or anything under `queries/`.
fn is_queries(rel: &str) -> bool {
    rel.ends_with("/queries.rs") || rel.contains("/queries/")
}

/// The code of a file without its `#[cfg(test)] mod tests` (unit tests may set up rows).
fn without_tests(text: &str) -> &str {
    match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    }
}

#[test]
fn sql_lives_only_in_queries_modules() {
    let files = app_sources();
    let mut offenders: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for f in &files {
        let r = rel(f);
        let Some((area, _)) = r.split_once('/') else {
            continue; // lib.rs, state.rs, pages.rs, openapi.rs: no SQL allowed there either
        };
        if is_queries(&r) {
            continue;
        }
        let text = std::fs::read_to_string(f).expect("read source");
        if let Some(tok) = SQL_TOKENS
            .iter()
            .find(|t| without_tests(&text).contains(*t))
        {
            offenders
                .entry(area.to_string())
                .or_default()
                .push(format!("{r} ({tok})"));
        }
    }
    for f in &files {
        let r = rel(f);
        if !r.contains('/') {
            let text = std::fs::read_to_string(f).expect("read source");
            if let Some(tok) = SQL_TOKENS
                .iter()
                .find(|t| without_tests(&text).contains(*t))
            {
                offenders
                    .entry(r.clone())
                    .or_default()
                    .push(format!("{r} ({tok})"));
            }
        }
    }
    let mut problems = Vec::new();
    for (area, list) in &offenders {
        if !SQL_NOT_YET_IN_QUERIES.contains(&area.as_str()) {
            problems.push(format!(
                "SQL outside the queries module of `{area}`: {}",
                list.join(", ")
            ));
        }
    }
    for area in SQL_NOT_YET_IN_QUERIES {
        if !offenders.contains_key(*area) {
            problems.push(format!(
                "`{area}` has no SQL outside its queries module any more: remove it from \
                 SQL_NOT_YET_IN_QUERIES"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_source_file_is_over_the_limit() {
    let files = app_sources();
    let mut problems = Vec::new();
    let mut long = Vec::new();
    for f in &files {
        let r = rel(f);
        let n = std::fs::read_to_string(f).expect("read").lines().count();
        if n > MAX_LINES {
            long.push(r.clone());
            if !TOO_LONG_NOT_YET_SPLIT.contains(&r.as_str()) {
                problems.push(format!("{r} has {n} lines (limit {MAX_LINES}): split it"));
            }
        }
    }
    for f in TOO_LONG_NOT_YET_SPLIT {
        if !long.iter().any(|l| l == f) {
            problems.push(format!(
                "{f} is within the limit now: remove it from TOO_LONG_NOT_YET_SPLIT"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `docs/ARCHITECTURE.md` walks a request and an import through the layers, naming files
/// (`crates/app/src/reports/mod.rs`) and items in them (`…/queries.rs::insert`). Every one of
/// those names must exist, so the walk-through cannot drift from the code.
#[test]
fn architecture_walkthrough_names_what_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let doc = std::fs::read_to_string(root.join("docs/ARCHITECTURE.md")).expect("read doc");
    let Some(start) = doc.find("## Walk-through") else {
        panic!("docs/ARCHITECTURE.md has no \"## Walk-through\" section");
    };
    let section = &doc[start..];
    let section = match section[3..].find("\n## ") {
        Some(end) => &section[..end + 3],
        None => section,
    };
    let mut checked = 0;
    let mut problems = Vec::new();
    for token in section.split('`').skip(1).step_by(2) {
        let (file, item) = match token.split_once(".rs") {
            Some((f, rest)) => (format!("{f}.rs"), rest.strip_prefix("::")),
            None => continue,
        };
        checked += 1;
        let Ok(text) = std::fs::read_to_string(root.join(&file)) else {
            problems.push(format!("`{token}`: no file {file}"));
            continue;
        };
        if let Some(item) = item {
            let name = item.split("::").last().unwrap_or(item);
            let found = [
                "fn ", "struct ", "enum ", "type ", "const ", "trait ", "mod ",
            ]
            .iter()
            .any(|kw| {
                text.match_indices(&format!("{kw}{name}")).any(|(i, m)| {
                    let next = text[i + m.len()..].chars().next();
                    !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
                })
            });
            if !found {
                problems.push(format!("`{token}`: {file} defines no `{name}`"));
            }
        }
    }
    assert!(checked >= 10, "the walk-through names only {checked} files");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every series the Grafana dashboard in `docs/` queries is one the service records (a metric
/// renamed in the code breaks this test, not the operator's dashboard at 10:00).
#[test]
fn grafana_dashboard_uses_only_recorded_series() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text =
        std::fs::read_to_string(root.join("docs/grafana-dashboard.json")).expect("dashboard");
    let dash: serde_json::Value = serde_json::from_str(&text).expect("dashboard is JSON");
    let mut code = String::new();
    for dir in ["crates/app/src", "crates/store/src"] {
        let mut files = Vec::new();
        rust_files(&root.join(dir), &mut files);
        for f in files {
            code.push_str(&std::fs::read_to_string(f).expect("read"));
        }
    }
    let mut seen = 0;
    for panel in dash["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            let mut rest = expr;
            while let Some(i) = rest.find("backstop_") {
                let name: String = rest[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                rest = &rest[i + name.len()..];
                let base = ["_bucket", "_count", "_sum"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .unwrap_or(&name);
                assert!(
                    code.contains(&format!("\"{base}\"")),
                    "{base} (panel {}) is recorded nowhere",
                    panel["title"]
                );
                seen += 1;
            }
        }
    }
    assert!(seen >= 10, "the dashboard queries {seen} series");
}
