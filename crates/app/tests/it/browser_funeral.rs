//! Issue 19 item 5 in a real browser at a phone's width (390 px): the funeral home's staff open
//! the day's plan, take a family's call about an epidemic death, schedule the collection on the
//! designated vehicle at once, are told (the form kept) that the cremation must come after the
//! collection, schedule it two hours later, and record the collection done — with no sideways
//! scrolling and no English words on any page. Skipped (loudly, by `driver`) without Chromium.

use std::sync::Arc;

use backstop_app::bookings::NewResource;
use backstop_app::bookings::funeral::UnitState;
use backstop_app::kernel::actor::Actor;
use backstop_app::orgs::NewOrg;
use backstop_core::clock::ManualClock;
use chrono::TimeZone;

use crate::browser::{Server, assert_fits, driver, fill, log_in, ready_user_in, wait_path};
use crate::browser_day::latin_words;
use crate::support::cid;

const PASSWORD: &str = "Tq8#Rv2!mZ5pW";

fn fits_in_chinese(d: &crate::webdriver::Driver, page: &str, typed: &[&str]) {
    assert_fits(d, page);
    // The signed-in user's name (fh.day) is in the page header.
    let mut typed = typed.to_vec();
    typed.push("fh");
    let words = latin_words(d, &typed);
    assert!(words.is_empty(), "{page}: English words {words:?}");
}

#[test]
fn the_day_plan_of_an_epidemic_death_on_a_phone() {
    let Some(phone) = driver(390, 844) else {
        return;
    };
    // 2026-03-02 09:00 in Beijing.
    let start = chrono::Utc
        .with_ymd_and_hms(2026, 3, 2, 1, 0, 0)
        .single()
        .expect("time");
    let server = Server::start_with_clock(
        backstop_app::Config::default(),
        Arc::new(ManualClock::new(start)),
    );
    let rt = server.rt.as_ref().expect("runtime");
    let op = Actor::operator();
    let org = rt.block_on(async {
        let o = backstop_app::orgs::create(
            &server.state,
            &op,
            &NewOrg {
                name: "鹿泉区殡仪馆".into(),
                kind: "funeral_home".into(),
                region_code: "130110100".into(),
                ..NewOrg::default()
            },
        )
        .await
        .expect("org");
        for (kind, name) in [
            ("vehicle", "专用车"),
            ("vehicle", "殡仪车"),
            ("cremator", "一号炉"),
        ] {
            let r = backstop_app::bookings::add_resource(
                &server.state,
                &op,
                o.id,
                &NewResource {
                    kind: kind.into(),
                    name: name.into(),
                    units: 1,
                },
            )
            .await
            .expect("resource");
            if name == "专用车" {
                backstop_app::bookings::funeral::set_unit(
                    &server.state,
                    &op,
                    r.id,
                    &UnitState {
                        designated: true,
                        ..UnitState::default()
                    },
                )
                .await
                .expect("designated");
            }
        }
        o.id
    });
    ready_user_in(
        &server,
        "fh.day",
        "service_staff",
        "130110100",
        Some(org),
        PASSWORD,
    );
    log_in(&phone, &server, "fh.day", PASSWORD);

    phone.goto(&server.url(&format!("/bookings/funeral/{org}")));
    phone.wait_for_text("h1", "当日安排");
    fits_in_chinese(&phone, "/bookings/funeral/{id}", &[]);
    // A family's call: an epidemic death.
    let id_number = cid("130110", "19400101", 7);
    fill(&phone, "#request-name", "王老汉");
    fill(&phone, "#request-id", &id_number);
    fill(&phone, "#request-place", "获鹿镇某村家中");
    phone.execute(
        "document.querySelector('#request-died').value = '2026-03-02T06:30'",
        vec![],
    );
    fill(&phone, "#request-phone", "13912345678");
    phone.find("#request-epidemic").click();
    phone.find("#request-submit").click();
    phone.wait_for_text(".plan-request h3", "疫情");
    fits_in_chinese(&phone, "/bookings/funeral/{id} (a request)", &[]);
    // The collection: only the designated vehicle is offered; this hour is the default.
    let unit = phone.find(".plan-request select[name=resource_id]").text();
    assert!(
        unit.contains("专用车") && !unit.contains("殡仪车"),
        "{unit}"
    );
    phone.find(".plan-request button[type=submit]").click();
    phone.wait_for_text(".plan-request button[type=submit]", "安排火化");
    let plan = phone.find("main").text();
    assert!(plan.contains("09:00–11:00"), "{plan}");
    // The cremation at this hour is refused, the form kept with the reason.
    phone.find(".plan-request button[type=submit]").click();
    phone.wait_for_text(".plan-request", "火化应在接运结束");
    fits_in_chinese(&phone, "/bookings/funeral/{id} (refused)", &[]);
    phone.execute(
        "document.querySelector('.plan-request select[name=hour]').value = '11'",
        vec![],
    );
    phone.find(".plan-request button[type=submit]").click();
    wait_path(&phone, "the plan again", |p| {
        p.starts_with("/bookings/funeral/")
    });
    phone.wait_for_text("main", "11:00–12:00");
    // The collection done.
    phone.find("button[id^=job-][id$=-done]").click();
    phone.wait_for_text("main", "已完成");
    fits_in_chinese(&phone, "/bookings/funeral/{id} (done)", &[]);
}
