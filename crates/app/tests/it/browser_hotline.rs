//! Hotlines in a real browser (issue 17): a hotline worker logs a call on a 390 px phone — the
//! one-screen form, refused once (a red flag without its mandatory report, the input kept),
//! then saved as a medium-risk call referred to the county's social-work agency — and the
//! county official (the line's supervisor) sees it among the open referrals at desk width.
//! Every page fits 390 px and shows no English outside the allow-list (`browser_day`'s checks).

use std::time::Duration;

use backstop_app::kernel::actor::Actor;
use serde_json::json;

use crate::browser::{Server, driver, fill, log_in, ready_user, wait_path};
use crate::browser_day::{check, id_in_path, visit};

const PASSWORD: &str = "Tq8#Rv2!mZ5pW";
const A: &str = "130110";
const T1: &str = "130110100";
const TYPED: &[&str] = &["hw.br", "off.br"];
/// The line of the walk: name, number, kind.
const LINE: (&str, &str, &str) = ("鹿泉区心理援助热线", "0311-82012345", "psychological");

/// The county's social-work agency and its line `name` (`number`, of `kind`): the agency's id.
pub(crate) fn seed_line(server: &Server, (name, number, kind): (&str, &str, &str)) -> i64 {
    let Some(rt) = server.rt.as_ref() else {
        panic!("no runtime")
    };
    let state = server.state.clone();
    let line = backstop_app::hotline::NewLine {
        region_code: A.into(),
        name: name.into(),
        number: number.into(),
        kind: kind.into(),
        org_id: 0,
        hours: "24 小时".into(),
    };
    rt.block_on(async move {
        let op = Actor::operator();
        let org = backstop_app::orgs::create(
            &state,
            &op,
            &backstop_app::orgs::NewOrg {
                name: "鹿泉区阳光社工站".into(),
                kind: "social_work".into(),
                region_code: T1.into(),
                ..Default::default()
            },
        )
        .await
        .expect("org");
        let line = backstop_app::hotline::NewLine {
            org_id: org.id,
            ..line
        };
        backstop_app::hotline::create_line(&state, &op, &line)
            .await
            .expect("line");
        org.id
    })
}

#[test]
fn a_hotline_call_with_a_referral_from_a_phone_reaches_the_supervisor() {
    let Some(d) = driver(390, 844) else { return };
    let server = Server::start_with(backstop_app::Config::default());
    ready_user(&server, "hw.br", "hotline_worker", A, PASSWORD);
    ready_user(&server, "off.br", "official", A, PASSWORD);
    let org = seed_line(&server, LINE);

    // The hotline worker, on the phone: the hub, then the call form.
    log_in(&d, &server, "hw.br", PASSWORD);
    visit(&d, &server, "/hotline", TYPED);
    d.find("#new-call").click();
    wait_path(&d, "the call form", |p| p.starts_with("/hotline/calls/new"));
    check(&d, "the call form", TYPED);
    d.find("#issue-anxiety").click();
    d.find("#action-referral").click();
    fill(&d, "#call-duration", "15");
    fill(&d, "#call-referral-reason", "需要持续陪伴");
    d.execute(
        "document.querySelector('#call-referral-org').value = arguments[0]; \
         document.querySelector('#call-risk').value = 'red_flag'; \
         document.querySelector('select[name=flag_kind]').value = 'suicide';",
        vec![json!(org.to_string())],
    );
    // A red flag without its mandatory report: refused, everything kept.
    d.find("#call-save").click();
    d.wait_for_text("#call-error", "");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        d.exists("#call-form [data-field=\"report_to\"]"),
        "the reason beside the report's field"
    );
    assert_eq!(
        d.find("#call-referral-reason").prop("value").as_deref(),
        Some("需要持续陪伴")
    );
    check(&d, "the refused call form", TYPED);
    // Medium risk instead: saved, on to the call's page with the referral.
    d.execute(
        "document.querySelector('#call-risk').value = 'medium';",
        vec![],
    );
    d.find("#call-save").click();
    wait_path(&d, "the call", |p| {
        p.starts_with("/hotline/calls/") && !p.ends_with("/new")
    });
    let call = id_in_path(&d);
    d.wait_for_text("#call-referrals", "鹿泉区阳光社工站");
    check(&d, "the call", TYPED);

    // The county official at desk width: the open referrals list the call.
    d.resize(1280, 900);
    d.find("#logout").click();
    wait_path(&d, "the login page", |p| p.starts_with("/login"));
    log_in(&d, &server, "off.br", PASSWORD);
    d.goto(&server.url("/hotline"));
    d.wait_for_text("#open-referrals", &format!("来电 {call}"));
    d.goto(&server.url("/hotline/referrals"));
    d.wait_for_text("#referrals", "需要持续陪伴");
    d.wait_for_text("#referrals", "待接收");
}
