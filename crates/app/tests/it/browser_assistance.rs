//! Social assistance in a real browser (issue 16): a community worker enters an application
//! on a 390 px phone (members by their registry ids, incomes, the e-authorisation ticked) and
//! verifies it; the township reviews and publicises it; the publicity end is moved to the past
//! (the browser server runs on the system clock); the county approves. Every page fits 390 px
//! and shows no English outside the allow-list (`browser_day`'s checks); the county's pages
//! are checked at desk width (1280) too.

use std::time::Duration;

use backstop_app::kernel::actor::Actor;

use crate::browser::{Server, driver, fill, log_in, ready_user, wait_path};
use crate::browser_day::{check, id_in_path, visit};
use crate::webdriver::Driver;

const PASSWORD: &str = "Tq8#Rv2!mZ5pW";
const A: &str = "130110";
const T1: &str = "130110100";
const V1: &str = "130110100001";

/// A household of V1 of the registry's persons `members` (`(name, birth date)`, the first the
/// head, the others spouses): their ids.
pub(crate) fn seed_household(server: &Server, members: &[(&str, &str)]) -> Vec<i64> {
    let Some(rt) = server.rt.as_ref() else {
        panic!("no runtime")
    };
    let state = server.state.clone();
    let members: Vec<(String, String)> = members
        .iter()
        .map(|(n, b)| (n.to_string(), b.to_string()))
        .collect();
    rt.block_on(async move {
        let op = Actor::operator();
        let mut ids = Vec::new();
        for (name, birth) in members {
            let created = backstop_app::people::create(
                &state,
                &op,
                &backstop_app::people::NewPerson {
                    name,
                    region_code: V1.into(),
                    birth_date: Some(birth),
                    ..Default::default()
                },
            )
            .await
            .expect("person");
            ids.push(match created {
                backstop_app::people::Created::New(p) => p.id,
                backstop_app::people::Created::Existing(id) => id,
            });
        }
        let members = ids
            .iter()
            .enumerate()
            .map(|(i, &person_id)| backstop_app::people::NewMember {
                person_id,
                relationship: if i == 0 { "head" } else { "spouse" }.into(),
            })
            .collect();
        backstop_app::people::create_household(
            &state,
            &op,
            &backstop_app::people::NewHousehold {
                region_code: V1.into(),
                address: format!("旱码头 {} 号", ids[0]),
                members,
            },
        )
        .await
        .expect("household");
        ids
    })
}

/// The county's urban dibao standard, 750 yuan from today (the server's clock).
pub(crate) fn seed_standard(server: &Server) {
    let Some(rt) = server.rt.as_ref() else { return };
    let state = server.state.clone();
    rt.block_on(async move {
        backstop_app::assistance::standards::create(
            &state,
            &Actor::operator(),
            &backstop_app::assistance::standards::NewStandard {
                region_code: A.into(),
                programme: "dibao".into(),
                area_kind: "urban".into(),
                component: "base".into(),
                amount: "750".into(),
                effective_from: state.today().format("%Y-%m-%d").to_string(),
            },
        )
        .await
        .expect("standard");
    });
}

/// The publicity of application `id` ended a minute ago (the browser server cannot advance
/// its clock by the seven days).
fn end_publicity(server: &Server, id: i64) {
    let Some(rt) = server.rt.as_ref() else { return };
    let state = server.state.clone();
    rt.block_on(async move {
        let past = state.now_ms() - 60_000;
        let mut w = state.db.begin_write().await.expect("tx");
        sqlx::query("UPDATE assistance_applications SET publicity_ends_at = $1 WHERE id = $2")
            .bind(past)
            .bind(id)
            .execute(w.conn())
            .await
            .expect("publicity end");
        w.commit().await.expect("commit");
    });
}

pub(crate) fn log_out(d: &Driver) {
    d.find("#logout").click();
    wait_path(d, "the login page", |p| p.starts_with("/login"));
}

/// Press the button of the step form `step` and wait for the application page again.
pub(crate) fn take_step(d: &Driver, step: &str, after: &str) {
    d.find(&format!("#step-{step} button")).click();
    std::thread::sleep(Duration::from_millis(300));
    d.wait_for_text("#application-status", after);
}

/// From the hub to the new application's form (checked).
pub(crate) fn open_new_application(d: &Driver, server: &Server) {
    visit(d, server, "/assistance", &[]);
    d.find("#new-application").click();
    wait_path(d, "the new application", |p| {
        p.starts_with("/assistance/applications/new")
    });
    check(d, "the new application", &[]);
}

/// Member `n` (1-based) of the form: the registry id, earned and other income of the past
/// 12 months (yuan; empty for none), the e-authorisation ticked or not.
pub(crate) fn fill_member(
    d: &Driver,
    n: usize,
    person: i64,
    earned: &str,
    other: &str,
    auth: bool,
) {
    fill(d, &format!("#m{n}-person"), &person.to_string());
    if !earned.is_empty() {
        fill(d, &format!("#m{n}-earned"), earned);
    }
    if !other.is_empty() {
        fill(d, &format!("#m{n}-other"), other);
    }
    if auth {
        d.find(&format!("#m{n}-auth")).click();
    }
}

/// Submit the filled form; the new application's page (checked, its monthly amount
/// `amount`): its id.
pub(crate) fn submit_application(d: &Driver, amount: &str) -> i64 {
    d.find("#app-submit").click();
    wait_path(d, "the application", |p| {
        p.starts_with("/assistance/applications/") && !p.ends_with("/new")
    });
    let id = id_in_path(d);
    check(d, "the application", &[]);
    d.wait_for_text("#amount", amount);
    id
}

/// The township's review and publicity of each of `ids`, then its lists (logged in as
/// township staff).
pub(crate) fn review_and_publicise(d: &Driver, server: &Server, ids: &[i64], amount: &str) {
    visit(d, server, "/assistance", &[]);
    for id in ids {
        visit(d, server, &format!("/assistance/applications/{id}"), &[]);
        take_step(d, "review", "已审核");
        take_step(d, "publicise", "公示中");
        check(d, "the publicised application", &[]);
    }
    visit(d, server, "/assistance/publicity", &[]);
    d.wait_for_text("#publicity", amount);
    visit(d, server, "/assistance/applications", &[]);
    visit(d, server, "/assistance/aid-grants", &[]);
}

/// The county's approval of application `id` on its page (the publicity over).
pub(crate) fn approve(d: &Driver, server: &Server, id: i64) {
    visit(d, server, &format!("/assistance/applications/{id}"), &[]);
    take_step(d, "approve", "已审批");
    check(d, "the approved application", &[]);
}

#[test]
fn an_application_from_a_phone_to_approval_in_a_real_browser() {
    let Some(d) = driver(390, 844) else { return };
    let server = Server::start_with(backstop_app::Config::default());
    ready_user(&server, "cw.as", "community_worker", V1, PASSWORD);
    ready_user(&server, "ts.as", "township_staff", T1, PASSWORD);
    ready_user(&server, "county.as", "official", A, PASSWORD);
    let ids = seed_household(&server, &[("王大", "1970-01-01"), ("李二", "1972-02-02")]);
    seed_standard(&server);

    // The community worker, on the phone: the hub, the new application, verify.
    log_in(&d, &server, "cw.as", PASSWORD);
    open_new_application(&d, &server);
    fill_member(&d, 1, ids[0], "12000", "", true);
    // The spouse's authorisation forgotten: refused, beside her input, everything kept.
    fill_member(&d, 2, ids[1], "", "600", false);
    d.find("#app-submit").click();
    std::thread::sleep(Duration::from_millis(400));
    d.wait_for_text("#application-form", "成年家庭成员须签署电子授权");
    check(&d, "the refused application", &[]);
    assert_eq!(d.find("#m1-earned").prop("value").as_deref(), Some("12000"));
    d.find("#m2-auth").click();
    let id = submit_application(&d, "450.00");
    take_step(&d, "verify", "已核查");
    check(&d, "the verified application", &[]);
    log_out(&d);

    // The township: review and publicise, then the publicity list.
    log_in(&d, &server, "ts.as", PASSWORD);
    review_and_publicise(&d, &server, &[id], "450.00");
    log_out(&d);

    // The county approves once the publicity has ended; its pages at phone and desk width.
    end_publicity(&server, id);
    log_in(&d, &server, "county.as", PASSWORD);
    let pages = [
        "/assistance".to_string(),
        "/assistance/applications".to_string(),
        "/assistance/overdue".to_string(),
        "/assistance/commitments".to_string(),
        "/assistance/standards".to_string(),
        "/assistance/emergencies".to_string(),
        "/assistance/aid-grants".to_string(),
    ];
    for p in &pages {
        visit(&d, &server, p, &[]);
    }
    approve(&d, &server, id);
    visit(&d, &server, "/assistance/beneficiaries", &[]);
    d.wait_for_text("#beneficiaries", "450.00");
    d.resize(1280, 900);
    for p in pages.iter().chain([
        &format!("/assistance/applications/{id}"),
        &"/assistance/beneficiaries".to_string(),
    ]) {
        visit(&d, &server, p, &[]);
    }
}
