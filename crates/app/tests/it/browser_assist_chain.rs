//! The whole chain of issue 16 in one real-browser walk, through pages only: a community
//! worker enters two applications on a 390 px phone and verifies them; the township reviews
//! and publicises them; the server's injected clock (a `ManualClock`) is moved past the seven
//! days of publicity; the county approves both at its desk (1280 px), enters the two bank
//! accounts, a second official confirms them, the first generates next month's roll, the
//! second approves it, downloads the bank file (the totals row equals the sum of its lines),
//! uploads the bank's return with one failed line and opens the supplementary roll. Every page
//! is checked for fit at the width it is used at and for English words (`browser_day::check`).
//! The walk's steps are the helpers of `browser_assistance` and `browser_payments`.

use std::sync::Arc;
use std::time::Duration;

use backstop_core::clock::{Clock, ManualClock, beijing_date};
use backstop_core::money::Fen;
use chrono::Datelike;

use crate::browser::{Server, driver, fill, log_in, ready_user};
use crate::browser_assistance::{
    approve, fill_member, log_out, open_new_application, review_and_publicise, seed_household,
    seed_standard, submit_application, take_step,
};
use crate::browser_day::{check, visit};
use crate::browser_payments::{approve_roll, generate, reconcile};
use crate::webdriver::Driver;

const PASSWORD: &str = "Tq8#Rv2!mZ5pW";
const A: &str = "130110";
const T1: &str = "130110100";
const V1: &str = "130110100001";
const USERS: [&str; 4] = ["cw.chain", "ts.chain", "county.chain", "pay.chain"];

/// Log `user` in a minute later on the server's clock (a second factor's step is used once).
fn enter(d: &Driver, server: &Server, clock: &ManualClock, user: &str) {
    clock.advance(chrono::Duration::minutes(1));
    log_in(d, server, user, PASSWORD);
}

/// From the beneficiaries page to `person`'s accounts, and a new account entered there.
fn enter_account(d: &Driver, server: &Server, person: i64, number: &str, holder: &str) {
    visit(d, server, "/assistance/beneficiaries", &USERS);
    d.find(&format!("#accounts-{person}")).click();
    crate::browser::wait_path(d, "the accounts", |p| p.ends_with("/accounts"));
    check(d, "the accounts", &USERS);
    fill(d, "#account-bank", "河北农信");
    fill(d, "#account-number", number);
    fill(d, "#account-holder", holder);
    d.find("#account-submit").click();
    std::thread::sleep(Duration::from_millis(300));
    d.wait_for_text("#accounts", "待确认");
    check(d, "the entered account", &USERS);
}

/// From the beneficiaries page to `person`'s accounts, and the pending one confirmed.
fn confirm_account(d: &Driver, server: &Server, person: i64) {
    visit(d, server, "/assistance/beneficiaries", &USERS);
    d.find(&format!("#accounts-{person}")).click();
    crate::browser::wait_path(d, "the accounts", |p| p.ends_with("/accounts"));
    d.find("#accounts button").click();
    std::thread::sleep(Duration::from_millis(300));
    d.wait_for_text("#accounts", "已确认");
    check(d, "the confirmed account", &USERS);
}

/// The bank file's lines and totals row: (the lines' amounts, the totals row's count text and
/// amount). Independent of the server: read with the `csv` crate from the downloaded bytes.
fn bank_file(bytes: &[u8]) -> (Vec<Fen>, String, Fen) {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_start_matches('\u{feff}');
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let mut lines = Vec::new();
    let mut totals = None;
    for rec in rdr.records() {
        let rec = rec.expect("a CSV record");
        let amount = || Fen::parse_yuan(rec.get(5).unwrap_or("")).expect("an amount");
        match rec.get(0) {
            Some("合计") => totals = Some((rec.get(1).unwrap_or("").to_string(), amount())),
            Some("校验码") => {}
            _ => lines.push(amount()),
        }
    }
    let (count, total) = totals.expect("a totals row");
    (lines, count, total)
}

#[test]
fn an_application_from_a_phone_to_the_bank_and_back_in_a_real_browser() {
    let Some(d) = driver(390, 844) else { return };
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let server = Server::start_with_clock(backstop_app::Config::default(), clock.clone());
    let roles = ["community_worker", "township_staff", "official", "official"];
    for ((user, role), region) in USERS.iter().zip(roles).zip([V1, T1, A, A]) {
        ready_user(&server, user, role, region, PASSWORD);
    }
    let couple = seed_household(&server, &[("王大", "1970-01-01"), ("李二", "1972-02-02")]);
    let single = seed_household(&server, &[("赵三", "1955-05-05")]);
    seed_standard(&server);

    // The community worker, on the phone: two applications entered and verified.
    enter(&d, &server, &clock, USERS[0]);
    open_new_application(&d, &server);
    fill_member(&d, 1, couple[0], "12000", "", true);
    fill_member(&d, 2, couple[1], "", "600", true);
    let first = submit_application(&d, "450.00");
    take_step(&d, "verify", "已核查");
    open_new_application(&d, &server);
    fill_member(&d, 1, single[0], "", "", true);
    let second = submit_application(&d, "750.00");
    take_step(&d, "verify", "已核查");
    check(&d, "the verified application", &USERS);
    log_out(&d);

    // The township, on the phone: review and publicity.
    enter(&d, &server, &clock, USERS[1]);
    review_and_publicise(&d, &server, &[first, second], "750.00");
    log_out(&d);

    // Eight days later (the publicity lasts seven), the county at its desk approves both.
    clock.advance(chrono::Duration::days(8));
    d.resize(1280, 900);
    enter(&d, &server, &clock, USERS[2]);
    approve(&d, &server, first);
    approve(&d, &server, second);
    visit(&d, &server, "/assistance/beneficiaries", &USERS);
    d.wait_for_text("#beneficiaries", "750.00");
    // The accounts: entered by one official, confirmed by another.
    enter_account(&d, &server, couple[0], "6222000011110001", "王大");
    enter_account(&d, &server, single[0], "6222000011110002", "赵三");
    log_out(&d);
    enter(&d, &server, &clock, USERS[3]);
    confirm_account(&d, &server, couple[0]);
    confirm_account(&d, &server, single[0]);
    log_out(&d);

    // The month after the approval (benefits start then): generated by the first official…
    let today = beijing_date(clock.now());
    let month = if today.month() == 12 {
        format!("{:04}-01", today.year() + 1)
    } else {
        format!("{:04}-{:02}", today.year(), today.month() + 1)
    };
    enter(&d, &server, &clock, USERS[2]);
    let roll = generate(&d, &server, &month, &USERS);
    assert_eq!(d.find("#roll-total").text(), "1200.00");
    assert_eq!(d.find("#roll-count").text(), "2");
    log_out(&d);

    // … approved and exported by the second: the bank file downloaded by the browser.
    enter(&d, &server, &clock, USERS[3]);
    approve_roll(&d, &server, roll, &USERS);
    d.find("#roll-export").click();
    let bytes = d.downloaded(".csv");
    let (lines, count, total) = bank_file(&bytes);
    assert_eq!(lines.len(), 2);
    assert_eq!(count, "2 笔");
    assert_eq!(total, Fen(lines.iter().map(|f| f.0).sum()));
    assert_eq!(total, Fen(120_000));
    let csv = String::from_utf8(bytes).expect("UTF-8");
    assert!(csv.contains("6222000011110002"), "{csv}");

    // The bank's return with 赵三's line failed: reconciled, the supplementary roll.
    d.goto(&server.url(&format!("/payments/rolls/{roll}")));
    std::thread::sleep(Duration::from_millis(150));
    let checksum = d.find("code").text();
    let mut typed = USERS.to_vec();
    typed.push(&checksum);
    check(&d, "the exported roll", &typed);
    reconcile(&d, &csv, "赵三", "750.00", &typed);
    visit(&d, &server, "/payments", &typed);
}
