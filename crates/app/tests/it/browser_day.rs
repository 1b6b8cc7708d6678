//! A county's day in a real browser at 390 px (issue 14, "Done when") and what the phone keeps
//! of unsent forms (docs/PRIVACY.md, "On the phone"). Every page visited is checked for
//! sideways scrolling and for English words a person would read.

use std::time::Duration;

use serde_json::json;

use crate::browser::{Server, assert_fits, driver, fill, log_in, ready_user, wait_path};
use crate::webdriver::Driver;

const PASSWORD: &str = "Tq8#Rv2!mZ5pW";
const V1: &str = "130110100001";
/// The accounts' names, shown in the page header: typed data, not words of the page.
const USERS: &[&str] = &[
    "cw.day",
    "county.day",
    "county.eve",
    "cw.keep",
    "home.day",
    "cw.as",
    "ts.as",
    "county.as",
    "cw.chain",
    "ts.chain",
    "county.chain",
    "pay.chain",
];

/// Latin words a person may read on a page, each for a reason:
const ALLOWED: &[&str] = &[
    // The product's name in the title and footer (兜底 Backstop), a name, not a word to translate.
    "Backstop",
    // File kinds people know by these names (the roster file, its rejected rows).
    "Excel", "CSV", "xlsx", "csv",
    // Text encodings of an uploaded file (UTF-8, GBK): known only by these names.
    "UTF", "GBK", "utf",
    "gbk", // The second factor and units (kg, MB): no Chinese names in use.
    "TOTP", "ID", "kg", "MB",
];

/// The Latin words in the visible text of the page, outside [`ALLOWED`] and `typed` (what the
/// test itself typed, e.g. a file name).
pub(crate) fn latin_words(d: &Driver, typed: &[&str]) -> Vec<String> {
    let v = d.execute(
        "return (document.body.innerText.match(/[A-Za-z][A-Za-z_]+/g) || [])",
        vec![],
    );
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|w| w.as_str().map(String::from))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .filter(|w| {
            !ALLOWED.contains(&w.as_str())
                && !typed.iter().chain(USERS).any(|t| t.contains(w.as_str()))
        })
        .collect()
}

/// The checks of every page of the day: fits 390 px, no English outside the allow-list.
pub(crate) fn check(d: &Driver, page: &str, typed: &[&str]) {
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
    assert!(
        !html.contains("别人") && !html.contains(">old<"),
        "neither was sent"
    );

    // One of the account's own, waiting when the worker logs out: gone after the logout.
    d.execute(
        "window.localStorage.setItem('backstop.outbox', JSON.stringify([{key: 'k-mine', \
         action: '/gates', body: 'name=x', at: Date.now(), who: 'cw.keep'}]));",
        vec![],
    );
    assert!(outbox(&d).as_str().is_some_and(|s| s.contains("k-mine")));
    d.find("#logout").click();
    wait_path(&d, "the login page", |p| p.starts_with("/login"));
    assert_eq!(
        outbox(&d),
        serde_json::Value::Null,
        "logout clears the phone"
    );
    let _ = fill;
}

/// The id at the end of the current page's path (`/persons/12` → 12).
pub(crate) fn id_in_path(d: &Driver) -> i64 {
    let url = d.current_url();
    let path = url.split('?').next().unwrap_or("");
    path.rsplit('/')
        .next()
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("no id in {url}"))
}

/// 获鹿镇敬老院, a care institution of the township, and `username` its reporter, ready to
/// log in; the institution's id.
fn ready_home(server: &Server, username: &str) -> i64 {
    ready_user(
        server,
        username,
        "institution_reporter",
        "130110100",
        PASSWORD,
    );
    let Some(rt) = server.rt.as_ref() else {
        return 0;
    };
    let state = server.state.clone();
    let username = username.to_string();
    rt.block_on(async move {
        let org = backstop_app::orgs::create(
            &state,
            &backstop_app::kernel::actor::Actor::operator(),
            &backstop_app::orgs::NewOrg {
                name: "获鹿镇敬老院".into(),
                kind: "elderly_care".into(),
                region_code: "130110100".into(),
                contact_person: "王院长".into(),
                contact_phone: "13812345678".into(),
                address: "获鹿镇北街 8 号".into(),
            },
        )
        .await
        .expect("create the institution");
        let mut w = state.db.begin_write().await.expect("tx");
        sqlx::query("UPDATE users SET org_id = $1 WHERE username = $2")
            .bind(org.id)
            .bind(&username)
            .execute(w.conn())
            .await
            .expect("tie the reporter");
        w.commit().await.expect("commit");
        org.id
    })
}

/// Open `path`, then check it.
pub(crate) fn visit(d: &Driver, server: &Server, path: &str, typed: &[&str]) {
    d.goto(&server.url(path));
    std::thread::sleep(Duration::from_millis(150));
    check(d, path, typed);
}

/// A county's day at 390 px, through the pages only: a worker registers two people, makes a
/// household from the first one's page and adds the second; the county opens a screening
/// campaign; the worker screens the household and starts a home observation from the person's
/// page; the village and the township's care institution (敬老院) send their daily reports;
/// a bad roster row is fixed and uploaded again; the county chases the missing units and
/// corrects the institution's report visibly (before → after on the report). Every page fits
/// and shows no English outside the allow-list.
#[test]
fn a_county_day_at_390px_through_the_pages() {
    let Some(d) = driver(390, 844) else { return };
    let server = Server::start_with(backstop_app::Config::default());
    ready_user(&server, "cw.day", "community_worker", V1, PASSWORD);
    ready_user(&server, "county.day", "official", "130110", PASSWORD);
    // A second county account for the evening: one TOTP code is accepted once.
    ready_user(&server, "county.eve", "official", "130110", PASSWORD);
    let home = ready_home(&server, "home.day");

    // The county official opens the screening campaign for the township.
    log_in(&d, &server, "county.day", PASSWORD);
    check(&d, "the home page", &[]);
    visit(&d, &server, "/screening", &[]);
    fill(&d, "#campaign-name", "获鹿镇入户摸排");
    d.find("#campaign-region").clear();
    fill(&d, "#campaign-region", "130110100");
    d.find("#campaign-submit").click();
    wait_path(&d, "the campaign", |p| {
        p.starts_with("/screening/campaigns/")
    });
    let camp = id_in_path(&d);
    check(&d, "the campaign", &[]);
    d.find("#logout").click();
    wait_path(&d, "the login page", |p| p.starts_with("/login"));
    check(&d, "the login page", &[]);

    // The worker: two people, a household from the first one's page, the second added.
    log_in(&d, &server, "cw.day", PASSWORD);
    check(&d, "the worker's home page", &[]);
    let mut people = Vec::new();
    for name in ["赵六", "赵小六"] {
        visit(&d, &server, "/persons/new", &[]);
        fill(&d, "#person-name", name);
        d.find("#person-submit").click();
        wait_path(&d, "the person", |p| {
            p.starts_with("/persons/") && !p.starts_with("/persons/new")
        });
        check(&d, "the person", &[]);
        people.push(id_in_path(&d));
    }
    d.goto(&server.url(&format!("/persons/{}", people[0])));
    d.find(&format!("a[href='/households/new?person={}']", people[0]))
        .click();
    wait_path(&d, "the new household", |p| {
        p.starts_with("/households/new")
    });
    check(&d, "the new household", &[]);
    fill(&d, "#household-address", "旱码头 8 号");
    d.find("#household-submit").click();
    wait_path(&d, "the household", |p| {
        p.starts_with("/households/") && !p.starts_with("/households/new")
    });
    let hid = id_in_path(&d);
    check(&d, "the household", &[]);
    fill(&d, "#member-person", &people[1].to_string());
    d.find("#member-relationship option[value=child]").click();
    d.find("#member-submit").click();
    std::thread::sleep(Duration::from_millis(400));
    d.wait_for_text("main", "赵小六");
    check(&d, "the household with its member", &[]);

    // Screening: the household in the campaign, temperatures entered, saved.
    visit(&d, &server, &format!("/screening/campaigns/{camp}"), &[]);
    d.find(&format!("#household-{hid}")).click();
    wait_path(&d, "the household form", |p| {
        p.ends_with(&format!("/households/{hid}"))
    });
    check(&d, "the screening form", &[]);
    fill(&d, &format!("#temp-{}", people[0]), "36.5");
    fill(&d, &format!("#temp-{}", people[1]), "36.8");
    d.find("#visit-submit").click();
    wait_path(&d, "the saved household", |p| p.contains("saved=1"));
    check(&d, "the saved screening", &[]);

    // A home observation started from the person's page.
    d.goto(&server.url(&format!("/persons/{}", people[1])));
    d.find(&format!("a[href='/observations/new?person={}']", people[1]))
        .click();
    wait_path(&d, "the observation form", |p| {
        p.starts_with("/observations/new")
    });
    check(&d, "the observation form", &[]);
    for i in 1..=4 {
        fill(&d, &format!("#keeper-name-{i}"), &format!("责任人{i}"));
        fill(&d, &format!("#keeper-phone-{i}"), &format!("1380000000{i}"));
    }
    d.find("#observation-submit").click();
    wait_path(&d, "the observation", |p| {
        p.starts_with("/observations/") && !p.starts_with("/observations/new")
    });
    check(&d, "the observation", &[]);

    // The village's daily report, filled on the phone.
    visit(&d, &server, "/reports", &[]);
    d.find("#fill-village_daily").click();
    wait_path(&d, "the report form", |p| {
        p.starts_with("/reports/fill/village_daily")
    });
    check(&d, "the report form", &[]);
    crate::browser::fill_village_daily(&d);
    wait_path(&d, "the saved report", |p| p.starts_with("/reports/view/"));
    d.wait_for_text("#saved", "已提交");
    check(&d, "the saved report", &[]);

    // The roster: one good row, one with a wrong ID number; the good one imported, the bad
    // one downloaded, fixed and uploaded again.
    let dir = tempfile::tempdir().expect("tempdir");
    let good = crate::support::cid("130110", "19800101", 21);
    let fixed = crate::support::cid("130110", "19800101", 22);
    let mut bad = fixed.clone();
    bad.replace_range(17..18, if fixed.ends_with('1') { "2" } else { "1" });
    let upload = |name: &str, csv: String| {
        let file = dir.path().join(name);
        std::fs::write(&file, csv).expect("write roster");
        // The import page lists the files uploaded before: their names are typed data.
        visit(&d, &server, "/persons/import", &["roster.csv", "fixed.csv"]);
        d.find("#import-file")
            .send_keys(&file.display().to_string());
        d.find("#import-submit").click();
        wait_path(&d, "the preview", |p| {
            p.starts_with("/persons/import/") && !p.ends_with("/import/")
        });
        check(&d, "the import preview", &[name]);
        if d.exists("#import-mode-good") {
            d.find("#import-mode-good").click();
        }
        d.find("#import-go").click();
        std::thread::sleep(Duration::from_millis(500));
        d.wait_for_text("#import-progress", "导入完成");
        check(&d, "the import result", &[name]);
    };
    upload(
        "roster.csv",
        format!("身份证号,姓名,区划代码\n{good},钱一,{V1}\n{bad},钱二,{V1}\n"),
    );
    d.wait_for_text("#import-rejected", "1");
    // The rejected rows, downloaded as the link gives them: an Excel file with the bad row.
    let got = d.execute(
        "var x = new XMLHttpRequest(); \
         x.open('GET', document.querySelector('#import-rejects').href, false); \
         x.overrideMimeType('text/plain; charset=x-user-defined'); x.send(); \
         return [x.status, x.getResponseHeader('content-type') || '', x.responseText.length];",
        vec![],
    );
    assert_eq!(got[0], json!(200), "{got}");
    assert!(
        got[1].as_str().is_some_and(|t| t.contains("spreadsheetml")),
        "{got}"
    );
    assert!(got[2].as_u64().unwrap_or(0) > 100, "{got}");
    upload(
        "fixed.csv",
        format!("身份证号,姓名,区划代码\n{fixed},钱二,{V1}\n"),
    );
    d.wait_for_text("#import-imported", "1");

    // The pages of the rest of the day, opened as the worker.
    for path in [
        "/",
        "/persons",
        "/observations",
        "/care",
        "/gates",
        "/reports",
        "/persons/import",
    ] {
        visit(&d, &server, path, &["roster.csv", "fixed.csv"]);
    }
    d.find("#logout").click();
    wait_path(&d, "the login page", |p| p.starts_with("/login"));

    // The care institution's daily report, filled by its reporter on the phone.
    log_in(&d, &server, "home.day", PASSWORD);
    check(&d, "the institution's home page", &[]);
    visit(&d, &server, "/reports", &[]);
    d.find("#fill-institution_daily").click();
    wait_path(&d, "the institution's report form", |p| {
        p.starts_with("/reports/fill/institution_daily")
    });
    check(&d, "the institution's report form", &[]);
    for (field, value) in [
        ("residents", "48"),
        ("staff_on_duty", "12"),
        ("new_admissions", "0"),
        ("resident_fever", "1"),
        ("staff_fever", "0"),
        ("suspected", "0"),
        ("confirmed", "0"),
        ("isolated", "0"),
        ("mask_days", "9"),
        ("disinfectant_days", "14"),
    ] {
        fill(&d, &format!("#f-{field}"), value);
    }
    d.find("#f-closed_management option[value='是']").click();
    d.find("#report-submit").click();
    wait_path(&d, "the institution's saved report", |p| {
        p.starts_with("/reports/view/")
    });
    d.wait_for_text("#saved", "已提交");
    check(&d, "the institution's saved report", &[]);
    visit(&d, &server, &format!("/institutions/{home}"), &[]);
    d.find("#logout").click();
    wait_path(&d, "the login page", |p| p.starts_with("/login"));

    // The county: summary, missing list, audit.
    log_in(&d, &server, "county.eve", PASSWORD);
    // The villages still missing are chased; the worker's report corrected, visibly.
    let missing = "/reports/missing?template=village_daily&region=130110100";
    visit(&d, &server, missing, &[]);
    d.find("#chase-all").click();
    d.wait_for_text("#chased", "已向");
    d.wait_for_text("#chase-history", "county.eve");
    check(&d, "the chased list", &[]);
    visit(
        &d,
        &server,
        &format!("/reports/fill/village_daily?unit={V1}"),
        &[],
    );
    d.wait_for_text("#correct-other", "上级更正");
    d.find("#f-people_screened").clear();
    fill(&d, "#f-people_screened", "250");
    d.find("#report-submit").click();
    wait_path(&d, "the corrected report", |p| {
        p.starts_with("/reports/view/")
    });
    d.wait_for_text("#corrections", "240");
    d.wait_for_text("#corrections", "250");
    check(&d, "the corrected report", &[]);
    // The care institution's report: sent, so not missing; corrected by the county, visibly.
    let missing = "/reports/missing?template=institution_daily&region=130110100";
    visit(&d, &server, missing, &[]);
    visit(
        &d,
        &server,
        &format!("/reports/fill/institution_daily?unit=org:{home}"),
        &[],
    );
    d.wait_for_text("#correct-other", "上级更正");
    d.find("#f-residents").clear();
    fill(&d, "#f-residents", "47");
    d.find("#report-submit").click();
    wait_path(&d, "the institution's corrected report", |p| {
        p.starts_with("/reports/view/")
    });
    d.wait_for_text("#corrections", "48");
    d.wait_for_text("#corrections", "47");
    check(&d, "the institution's corrected report", &[]);

    for path in [
        "/reports",
        "/reports/summary?template=village_daily&region=130110",
        "/reports/missing?template=village_daily&region=130110",
        "/screening",
        "/observations",
        "/institutions",
        "/orgs",
        "/crosscheck",
        "/inspections",
    ] {
        visit(&d, &server, path, &["roster.csv", "fixed.csv"]);
    }
}
