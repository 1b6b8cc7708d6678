//! A month's payment in a real browser (issue 16 items 4–6): with beneficiaries and their
//! confirmed accounts set up through the services, a county officer generates February's roll
//! on a phone-sized window; a second officer, at the desk, approves it, exports the bank file
//! and uploads the bank's return file with one failed line, and sees the reconciliation and
//! the supplementary roll. Every page is checked for fit and for English words
//! (`browser_day::check`).

use std::time::Duration;

use backstop_app::kernel::actor::Actor;

use crate::browser::{Server, driver, fill, log_in, ready_user, wait_path};
use crate::browser_assistance::log_out;
use crate::browser_day::{check, id_in_path};
use crate::support::cid;
use crate::webdriver::Driver;

const PASSWORD: &str = "Tq8#Rv2!mZ5pW";
const V1: &str = "130110100001";
const USERS: [&str; 2] = ["pay.gen", "pay.appr"];

/// Two persons on February's dibao roll with confirmed accounts (entered by one operator,
/// confirmed by another); their ids.
fn beneficiaries(server: &Server) -> Vec<i64> {
    let Some(rt) = server.rt.as_ref() else {
        return Vec::new();
    };
    let state = server.state.clone();
    rt.block_on(async move {
        let op = Actor::operator();
        let second = Actor {
            username: "cli:second".to_string(),
            ..Actor::operator()
        };
        let mut ids = Vec::new();
        for (seq, name, amount, number) in [
            (1, "王大山", 90_000_i64, "6222000011110001"),
            (2, "李小花", 45_050, "6222000011110002"),
        ] {
            let input = backstop_app::people::NewPerson {
                id_number: Some(cid("130110", "19600101", seq)),
                name: name.to_string(),
                region_code: V1.to_string(),
                ..Default::default()
            };
            let id = match backstop_app::people::create(&state, &op, &input)
                .await
                .expect("person")
            {
                backstop_app::people::Created::New(p) => p.id,
                backstop_app::people::Created::Existing(id) => id,
            };
            sqlx::query(
                "INSERT INTO assistance_beneficiaries (province, programme, county_code, \
                 region_code, person_id, members, area_kind, monthly_amount_fen, status, \
                 since_month, exit_held, created_at, updated_at) VALUES ('13', 'dibao', \
                 '130110', $1, $2, 1, 'urban', $3, 'active', '2019-06', 0, 0, 0)",
            )
            .bind(V1)
            .bind(id)
            .bind(amount)
            .execute(state.db.pool())
            .await
            .expect("beneficiary");
            let acc = backstop_app::payments::enter_account(
                &state,
                &op,
                id,
                &backstop_app::payments::NewAccount {
                    bank_name: "河北农信".to_string(),
                    account_number: number.to_string(),
                    holder: name.to_string(),
                },
            )
            .await
            .expect("account");
            backstop_app::payments::confirm_account(&state, &second, acc.id)
                .await
                .expect("confirm");
            ids.push(id);
        }
        ids
    })
}

/// The bank file exported through the roll page's own route, as the browser sends it.
fn export_csv(d: &Driver, roll: i64) -> String {
    let v = d.execute(
        "var x = new XMLHttpRequest(); x.open('POST', arguments[0], false); \
         x.setRequestHeader('Content-Type', 'application/x-www-form-urlencoded'); \
         x.send('format=csv'); return [x.status, x.responseText];",
        vec![serde_json::json!(format!("/payments/rolls/{roll}/export"))],
    );
    assert_eq!(v[0].as_i64(), Some(200), "export: {v}");
    v[1].as_str().unwrap_or("").to_string()
}

/// The export answered by the bank: the line of `failed_person`'s name failed.
pub(crate) fn bank_return(csv: &str, failed_name: &str) -> String {
    crate::payments::return_lines(csv, |line| {
        if line.contains(failed_name) {
            ("失败", "账户已冻结")
        } else {
            ("成功", "")
        }
    })
}

/// February's… or any month's roll generated from the rolls page: its id (the roll page
/// checked).
pub(crate) fn generate(d: &Driver, server: &Server, month: &str, typed: &[&str]) -> i64 {
    d.goto(&server.url("/payments"));
    std::thread::sleep(Duration::from_millis(150));
    check(d, "the rolls", typed);
    fill(d, "#generate-month", month);
    d.find("#generate-submit").click();
    wait_path(d, "the roll", |p| p.starts_with("/payments/rolls/"));
    let url = d.current_url();
    let roll: i64 = url
        .rsplit('/')
        .next()
        .and_then(|x| x.split('#').next())
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("no roll id in {url}"));
    check(d, "the new roll", typed);
    assert!(d.exists("#roll-own") && !d.exists("#roll-approve") && !d.exists("#roll-export"));
    roll
}

/// Roll `roll` approved on its page by a second officer.
pub(crate) fn approve_roll(d: &Driver, server: &Server, roll: i64, typed: &[&str]) {
    d.goto(&server.url(&format!("/payments/rolls/{roll}")));
    std::thread::sleep(Duration::from_millis(150));
    check(d, "the roll to approve", typed);
    d.execute("window.confirm = function () { return true; };", vec![]);
    d.find("#roll-approve").click();
    std::thread::sleep(Duration::from_millis(300));
    d.wait_for_text("#roll-status", "已审批");
    assert!(d.exists("#roll-export"));
}

/// The bank's answer to the exported `csv` uploaded on the roll's page, the line of
/// `failed_name` failed: the reconciliation shown, then the supplementary roll opened
/// (checked; `supplementary_total` its total).
pub(crate) fn reconcile(
    d: &Driver,
    csv: &str,
    failed_name: &str,
    supplementary_total: &str,
    typed: &[&str],
) {
    let roll = id_in_path(d);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("return.csv");
    std::fs::write(&file, bank_return(csv, failed_name)).expect("write the return file");
    d.find("#return-file")
        .send_keys(&file.display().to_string());
    d.find("#return-submit").click();
    std::thread::sleep(Duration::from_millis(400));
    d.wait_for_text("#reconciled", "对账结果");
    assert_eq!(d.find("#failed-count").text(), "1");
    check(d, "the reconciled roll", typed);
    d.find("#supplementary-link").click();
    wait_path(d, "the supplementary roll", |p| {
        p.starts_with("/payments/rolls/") && !p.ends_with(&format!("/{roll}"))
    });
    assert_eq!(d.find("#roll-total").text(), supplementary_total);
    check(d, "the supplementary roll", typed);
}

#[test]
fn a_month_paid_through_the_pages() {
    let Some(d) = driver(390, 844) else { return };
    let server = Server::start_with(backstop_app::Config::default());
    ready_user(&server, USERS[0], "official", "130110", PASSWORD);
    ready_user(&server, USERS[1], "official", "130110", PASSWORD);
    assert_eq!(beneficiaries(&server).len(), 2);

    // The first officer, on the phone: February's roll generated.
    log_in(&d, &server, USERS[0], PASSWORD);
    let roll = generate(&d, &server, "2020-02", &USERS);
    assert_eq!(d.find("#roll-total").text(), "1350.50");
    log_out(&d);

    // The second officer, at the desk: approve, export, upload the return.
    d.resize(1280, 900);
    log_in(&d, &server, USERS[1], PASSWORD);
    approve_roll(&d, &server, roll, &USERS);
    let csv = export_csv(&d, roll);
    assert!(
        csv.contains("合计,2 笔") && csv.contains("6222000011110002"),
        "{csv}"
    );
    d.goto(&server.url(&format!("/payments/rolls/{roll}")));
    std::thread::sleep(Duration::from_millis(150));
    let checksum = d.find("code").text();
    let typed = [USERS[0], USERS[1], checksum.as_str()];
    check(&d, "the exported roll", &typed);
    reconcile(&d, &csv, "李小花", "450.50", &typed);

    // The same pages at 390 px.
    d.resize(390, 844);
    d.goto(&server.url(&format!("/payments/rolls/{roll}")));
    std::thread::sleep(Duration::from_millis(150));
    check(&d, "the reconciled roll at 390 px", &typed);
    d.goto(&server.url("/payments"));
    std::thread::sleep(Duration::from_millis(150));
    check(&d, "the rolls at 390 px", &USERS);
}
