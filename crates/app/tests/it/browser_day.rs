//! A county's day in a real browser at 390 px (issue 14, "Done when") and what the phone keeps
//! of unsent forms (docs/PRIVACY.md, "On the phone"). Every page visited is checked for
//! sideways scrolling and for English words a person would read.

use std::time::Duration;

use serde_json::json;

use crate::browser::{Server, assert_fits, driver, fill, log_in, ready_user, wait_path};
use crate::webdriver::Driver;

const PASSWORD: &str = "Tq8#Rv2!mZ5pW";
const V1: &str = "130110100001";

/// Latin words a person may read on a page, each for a reason:
const ALLOWED: &[&str] = &[
    // The product's name in the title and footer (兜底 Backstop), a name, not a word to translate.
    "Backstop",
    // File kinds people know by these names (the roster file, its rejected rows).
    "Excel", "CSV", "xlsx", "csv",
    // The second factor and units: no Chinese names in use.
    "TOTP", "ID", "kg",
];

/// The Latin words in the visible text of the page, outside [`ALLOWED`] and `typed` (what the
/// test itself typed, e.g. a file name).
fn latin_words(d: &Driver, typed: &[&str]) -> Vec<String> {
    let v = d.execute(
        "return (document.body.innerText.match(/[A-Za-z][A-Za-z_]+/g) || [])",
        vec![],
    );
    v.as_array()
        .map(|a| a.iter().filter_map(|w| w.as_str().map(String::from)).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|w| !ALLOWED.contains(&w.as_str()) && !typed.iter().any(|t| t.contains(w.as_str())))
        .collect()
}

/// The checks of every page of the day: fits 390 px, no English outside the allow-list.
fn check(d: &Driver, page: &str, typed: &[&str]) {
    assert_fits(d, page);
    let words = latin_words(d, typed);
    assert!(words.is_empty(), "{page}: English on the page: {words:?}");
}

fn outbox(d: &Driver) -> serde_json::Value {
    d.execute(
        "return window.localStorage.getItem('backstop.outbox')",
        vec![],
    )
}

/// Unsent forms wait on the phone only for the account that typed them, at most a day, and
/// logging out clears them.
#[test]
fn the_phone_keeps_unsent_forms_only_for_their_account_and_a_day() {
    let Some(d) = driver(390, 844) else { return };
    let server = Server::start_with(backstop_app::Config::default());
    ready_user(&server, "cw.keep", "community_worker", V1, PASSWORD);
    log_in(&d, &server, "cw.keep", PASSWORD);
    d.goto(&server.url("/gates"));
    // Two entries waiting: one typed under another account, one from two days ago. Opening a
    // page must drop both, sending neither.
    let stale = json!([
        {"key": "k-other", "action": "/gates", "body": format!("name=%E5%88%AB%E4%BA%BA&place=region:{V1}"),
         "at": 0, "who": "someone.else"},
    ]);
    d.execute(
        "var l = arguments[0]; l[0].at = Date.now(); \
         l.push({key: 'k-old', action: '/gates', body: 'name=old&place=region:' + arguments[1], \
                 at: Date.now() - 48 * 3600 * 1000, who: arguments[2]}); \
         window.localStorage.setItem('backstop.outbox', JSON.stringify(l));",
        vec![stale, json!(V1), json!("cw.keep")],
    );
    d.goto(&server.url("/gates"));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(outbox(&d), json!("[]"), "dropped, not kept");
    let html = d.page_source();
    assert!(!html.contains("别人") && !html.contains(">old<"), "neither was sent");

    // One of the account's own, waiting when the worker logs out: gone after the logout.
    d.execute(
        "window.localStorage.setItem('backstop.outbox', JSON.stringify([{key: 'k-mine', \
         action: '/gates', body: 'name=x', at: Date.now(), who: 'cw.keep'}]));",
        vec![],
    );
    assert!(outbox(&d).as_str().is_some_and(|s| s.contains("k-mine")));
    d.find("#logout").click();
    wait_path(&d, "the login page", |p| p.starts_with("/login"));
    assert_eq!(outbox(&d), serde_json::Value::Null, "logout clears the phone");
    let _ = fill;
}
