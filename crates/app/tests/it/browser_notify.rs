//! Notifications in a real browser at 390 px (issue 15): a national official finds the
//! notification settings in the navigation, edits a message template (a new version shows)
//! and has a refused edit (an unknown field) shown again with the input kept and the reason
//! beside it; a community worker chooses the channels they accept on /account. Every page
//! fits 390 px and shows no English outside the allow-list of `browser_day` (the template
//! field names, `{form}` …, are what an official types into a template: passed as typed).

use std::time::Duration;

use crate::browser::{Server, driver, fill, log_in, ready_user, wait_path};
use crate::browser_day::{check, visit};

const PASSWORD: &str = "Tq8#Rv2!mZ5pW";
const V1: &str = "130110100001";

/// The field names the templates offer (typed into templates, so not words of the page), and
/// the test's own account names.
fn typed() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = backstop_app::notify::templates::BUILTIN
        .iter()
        .flat_map(|b| b.fields.iter().map(|(n, _)| *n))
        .collect();
    v.extend(["nat.bn", "cw.bn", "amount"]);
    // The account page's API tokens: the literal header a program sends
    // (`Authorization: Bearer …`), copied as written, and "API" in the tokens' name.
    v.extend(["API", "Authorization", "Bearer"]);
    v
}

#[test]
fn templates_and_channels_at_390px() {
    let Some(d) = driver(390, 844) else { return };
    let server = Server::start_with(backstop_app::Config::default());
    ready_user(&server, "nat.bn", "official", "0", PASSWORD);
    ready_user(&server, "cw.bn", "community_worker", V1, PASSWORD);
    let typed = typed();

    // The national official reaches the settings from the navigation, then the templates.
    log_in(&d, &server, "nat.bn", PASSWORD);
    check(&d, "the home page", &typed);
    d.find("nav a[href='/notifications/escalation']").click();
    wait_path(&d, "the escalation rules", |p| {
        p == "/notifications/escalation"
    });
    check(&d, "the escalation rules", &typed);
    d.find("#templates-link").click();
    wait_path(&d, "the message templates", |p| {
        p == "/notifications/templates"
    });
    check(&d, "the message templates", &typed);
    assert!(
        d.find("#template-report_reminder h2")
            .text()
            .contains("第 1 版")
    );

    // A new version: saved, shown as version 2 with the new text.
    fill(
        &d,
        "#template-report_reminder input[name=title]",
        "截止催报：{form}",
    );
    save_template(&d);
    d.wait_for_text("#templates-notice", "已保存为新版本");
    check(&d, "the templates after a save", &typed);
    assert!(
        d.find("#template-report_reminder h2")
            .text()
            .contains("第 2 版")
    );
    assert_eq!(
        d.find("#template-report_reminder input[name=title]")
            .prop("value")
            .as_deref(),
        Some("截止催报：{form}")
    );

    // A field the template does not offer: refused, the input kept, the reason beside it.
    let wrong = "{form} 的金额 {amount}";
    fill(&d, "#template-report_reminder textarea[name=body]", wrong);
    save_template(&d);
    d.wait_for_text("#template-error", "未知字段");
    check(&d, "the refused template", &typed);
    assert_eq!(
        d.find("#template-report_reminder textarea[name=body]")
            .prop("value")
            .as_deref(),
        Some(wrong),
        "the input is kept"
    );
    assert!(
        d.find("#template-report_reminder .field-error")
            .text()
            .contains("{amount}")
    );
    assert!(
        d.find("#template-report_reminder h2")
            .text()
            .contains("第 2 版"),
        "no version 3"
    );
    visit(&d, &server, "/notifications/deliveries", &typed);

    // A community worker: the settings in the nav, not the deliveries; channels on /account.
    d.find("#logout").click();
    wait_path(&d, "the login page", |p| p.starts_with("/login"));
    log_in(&d, &server, "cw.bn", PASSWORD);
    assert!(d.exists("nav a[href='/notifications/escalation']"));
    assert!(!d.exists("nav a[href='/notifications/deliveries']"));
    visit(&d, &server, "/account", &typed);
    assert!(
        d.find("#channel-sms").prop("checked").as_deref() == Some("true"),
        "every channel by default"
    );
    d.find("#channel-sms").click();
    d.find("#channel-wechat").click();
    d.find("#channels-submit").click();
    d.wait_for_text("#account-notice", "接收渠道已保存");
    check(&d, "the account after choosing channels", &typed);
    assert_eq!(
        d.find("#channel-sms").prop("checked").as_deref(),
        Some("false")
    );
    assert_eq!(
        d.find("#channel-wechat").prop("checked").as_deref(),
        Some("false")
    );
    assert!(
        d.exists("#channels-in-app-only"),
        "told that only in-app messages remain"
    );
    std::thread::sleep(Duration::from_millis(50));
}

/// Send the report reminder's template form.
fn save_template(d: &crate::webdriver::Driver) {
    d.find("#template-report_reminder button[type=submit]")
        .click();
}
