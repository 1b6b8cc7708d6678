//! Supply–demand matching in a real browser at 390 px (issue 18): the charity's finance
//! officer enters a goods donation, then tries the bulk entry (a sheet with a bad row: the job
//! page's progress ends with the row refused and nothing written); the hospital's user posts a need for it on the phone; the
//! charity opens the need, accepts the proposed stock line (an allocation) and dispatches it;
//! the hospital signs for it and sees its need met. Last, with the session's cookies deleted
//! (a visitor without an account), the public campaign page shows the delivery to the
//! hospital and that no fee was taken, and no personal data (the donor without consent reads
//! 爱心人士; no user name, no phone). Every page is checked for fit and English words.

use std::time::Duration;

use crate::browser::{Server, assert_fits, driver, fill, log_in, wait_path};
use crate::browser_assistance::log_out;
use crate::browser_day::latin_words;
use crate::browser_donations::{PASSWORD, dispatch, enter_masks, setup, sign};
use crate::webdriver::Driver;

const TYPED: [&str; 4] = ["fin.need", "hosp.need", "KN95", "JZ-2020-0002"];

fn settle(d: &Driver, what: &str) {
    crate::browser_donations::settle(d, what, &TYPED);
}

#[test]
fn a_hospitals_need_met_from_the_charitys_stock() {
    let Some(d) = driver(390, 844) else { return };
    let server = Server::start_with(backstop_app::Config::default());
    let Some((_, _, c)) = setup(&server, "鹿泉区红十字会", "fin.need", "hosp.need") else {
        return;
    };
    let campaign = server.url(&format!("/donations/campaigns/{c}"));

    // The charity enters a goods donation.
    log_in(&d, &server, "fin.need", PASSWORD);
    d.goto(&campaign);
    enter_masks(&d, "JZ-2020-0002", &TYPED);

    // Bulk entry on the phone: the upload page, a sheet with a bad row, the job page's
    // progress ending with the refused row listed and nothing written.
    d.find("#import-link").click();
    wait_path(&d, "the upload page", |p| p.ends_with("/import"));
    assert!(d.exists("#import-template"));
    settle(&d, "the bulk-entry page");
    let dir = tempfile::tempdir().expect("tempdir");
    let sheet = dir.path().join("接收登记.csv");
    std::fs::write(
        &sheet,
        format!(
            "{}\n2026-03-01,JZ-2020-0009,,匿名,,,,火箭,,5,,1,,,\n",
            backstop_app::donations::import::COLUMNS.join(",")
        ),
    )
    .expect("sheet");
    d.find("#import-file")
        .send_keys(sheet.to_str().expect("utf-8 path"));
    d.find("#import-submit").click();
    wait_path(&d, "the import job", |p| {
        p.starts_with("/donations/imports/")
    });
    d.wait_for_text("#import-status", "有错误，未导入");
    d.wait_for_text("#import-errors", "物资类别");
    assert_eq!(d.find("#import-errors td[data-label=行号]").text(), "2");
    settle(&d, "the import job, refused");
    d.goto(&campaign);
    assert_eq!(
        d.find_all("article[id^=receipt-]").len(),
        1,
        "nothing written"
    );
    log_out(&d);

    // The hospital posts a need on the phone, from the campaign list.
    log_in(&d, &server, "hosp.need", PASSWORD);
    d.goto(&server.url("/donations"));
    settle(&d, "the campaigns, for a recipient");
    d.find(&format!("#needs-link-{c}")).click();
    wait_path(&d, "the needs", |p| p.ends_with("/needs"));
    settle(&d, "the needs, none yet");
    d.execute(
        "document.querySelector('#need-form select[name=category]').value = 'mask_n95'; \
         document.querySelector('#need-form select[name=urgency]').value = 'urgent'; \
         document.querySelector('#need-form input[name=needed_by]').value = '2099-01-31';",
        vec![],
    );
    fill(&d, "#need-form input[name=spec]", "KN95");
    fill(&d, "#need-form input[name=quantity]", "0");
    d.find("#need-form button[type=submit]").click();
    std::thread::sleep(Duration::from_millis(400));
    // Refused: the reason beside the field, the input kept.
    d.wait_for_text(".field-error", "数量");
    settle(&d, "the refused need");
    fill(&d, "#need-form input[name=quantity]", "600");
    d.find("#need-form button[type=submit]").click();
    wait_path(&d, "the need", |p| p.starts_with("/donations/needs/"));
    d.wait_for_text("#need-state", "未满足");
    let need_url = d.current_url();
    settle(&d, "the need posted");
    log_out(&d);

    // The charity opens the need and accepts the proposed stock line, then dispatches.
    log_in(&d, &server, "fin.need", PASSWORD);
    d.goto(&need_url);
    d.wait_for_text(".proposal", "KN95");
    assert_eq!(
        d.find(".accept-form input[name=quantity]").attr("value"),
        Some("600".to_string())
    );
    settle(&d, "the need with its proposal");
    d.find(".accept-form button[type=submit]").click();
    std::thread::sleep(Duration::from_millis(400));
    d.wait_for_text("#need-state", "已满足");
    settle(&d, "the need met");
    d.goto(&campaign);
    dispatch(&d, &TYPED);

    // The hospital signs for it on the phone.
    log_in(&d, &server, "hosp.need", PASSWORD);
    d.goto(&server.url("/donations/pending"));
    settle(&d, "the deliveries waiting");
    fill(&d, "form[id^=confirm-form] input[name=received_qty]", "600");
    sign(&d, &TYPED);
    d.goto(&need_url);
    d.wait_for_text("#need-state", "已满足");
    settle(&d, "the need, delivered");

    // Anyone, without an account: the public campaign page, in a fresh cookie jar.
    log_out(&d);
    d.delete_all_cookies();
    assert!(d.cookie_names().is_empty(), "{:?}", d.cookie_names());
    d.goto(&server.url(&format!("/public/donations/{c}")));
    d.wait_for_text("#public-campaign-name", "抗击新冠肺炎疫情");
    assert!(
        d.cookie_names().is_empty(),
        "the public page sets no session"
    );
    d.wait_for_text("#public-moves", "签收");
    let moves = d.find("#public-moves").text();
    assert!(moves.contains("获鹿镇卫生院"), "{moves}");
    assert!(moves.contains("600"), "{moves}");
    assert!(
        d.find("#public-campaign-name")
            .text()
            .contains("抗击新冠肺炎疫情")
            && d.page_source().contains("本活动不提取管理费"),
        "the no-fee rule shown"
    );
    assert_eq!(d.find("#total-fee").text(), "0.00 元");
    assert_eq!(
        d.find("#total-delivered").text(),
        "2100.00 元",
        "600 × 3.50"
    );
    let receipts = d.find("#public-receipts").text();
    assert!(receipts.contains("爱心人士"), "{receipts}");
    let source = d.page_source();
    for personal in ["某某医疗器械公司", "fin.need", "hosp.need", "id=\"logout\""] {
        assert!(!source.contains(personal), "{personal} on the public page");
    }
    // At 390 px; the only Latin words are the verification command and the feed's format,
    // and hex fragments of the key id.
    std::thread::sleep(Duration::from_millis(200));
    assert_fits(&d, "the public campaign page");
    let words: Vec<String> = latin_words(&d, &TYPED)
        .into_iter()
        .filter(|w| !["JSON", "backstop", "ledger", "verify", "feed"].contains(&w.as_str()))
        .filter(|w| !w.chars().all(|c| c.is_ascii_hexdigit()))
        .collect();
    assert!(
        words.is_empty(),
        "the public campaign page: English {words:?}"
    );
}
