//! Issue 19 in a real browser at a phone's width (390 px): a couple opens the registry's public
//! page, verifies the phone (the code read from the fake SMS gateway), books tomorrow 09:00
//! with both ID numbers, sees the booking; the registry blocks the day; the couple opens the
//! booking again, sees the proposed slot with the reason and accepts it; fills the pre-check
//! (registration data, documents) on the phone; the window staff read it on the registration
//! desk (at 390 px and at a desk) and approve; the couple sees the approval — with no
//! horizontal scrolling on any page. Skipped (loudly, by `driver`) without Chromium.

use backstop_app::bookings::NewService;
use backstop_app::bookings::rebook::BlockInput;
use backstop_app::kernel::actor::Actor;
use backstop_app::orgs::NewOrg;

use std::sync::Arc;

use backstop_core::clock::SystemClock;

use crate::browser::{assert_fits, fill, log_in, phone_with_gateway, ready_user_in, wait_path};
use crate::support::cid;

const PASSWORD: &str = "Tq8#Rv2!mZ5pW";

#[test]
fn a_couple_books_the_registry_blocks_the_couple_accepts() {
    let Some((phone, gw_rt, fake, server)) = phone_with_gateway(Arc::new(SystemClock)) else {
        return;
    };
    let rt = server.rt.as_ref().expect("runtime");
    let op = Actor::operator();
    let (org, tomorrow) = rt.block_on(async {
        let o = backstop_app::orgs::create(
            &server.state,
            &op,
            &NewOrg {
                name: "鹿泉区婚姻登记处".into(),
                kind: "marriage_registry".into(),
                region_code: "130110100".into(),
                ..NewOrg::default()
            },
        )
        .await
        .expect("org");
        backstop_app::bookings::add_service(
            &server.state,
            &op,
            o.id,
            &NewService {
                kind: "marriage_registration".into(),
                open_days: "1234567".into(),
                opens: "09:00".into(),
                closes: "11:00".into(),
                slot_minutes: 60,
                per_slot: 5,
                ..NewService::default()
            },
        )
        .await
        .expect("service");
        (o.id, server.state.today() + chrono::Duration::days(1))
    });
    let tomorrow = tomorrow.format("%Y-%m-%d").to_string();

    phone.goto(&server.url(&format!("/public/bookings/orgs/{org}")));
    phone.wait_for_text("h1", "鹿泉区婚姻登记处");
    assert_fits(&phone, "/public/bookings/orgs/{id} (not verified)");
    phone.find("#booking-login").click();
    wait_path(&phone, "/public/login", |p| p.starts_with("/public/login"));
    crate::browser::verify_phone(&phone, &server, rt, &fake);
    wait_path(&phone, "/public/bookings/orgs/{id}", |p| {
        p.starts_with("/public/bookings/orgs/")
    });
    phone.wait_for_text("#booking-form", "提交预约");
    assert_fits(&phone, "/public/bookings/orgs/{id} (form)");
    phone.find("input[name=starts][value='09:00']").click();
    fill(&phone, "#booking-p0_name", "张三");
    fill(
        &phone,
        "#booking-p0_id_number",
        &cid("130110", "19900101", 1),
    );
    fill(&phone, "#booking-p1_name", "李四");
    fill(
        &phone,
        "#booking-p1_id_number",
        &cid("130110", "19950101", 2),
    );
    phone.find("#booking-submit").click();
    let path = wait_path(&phone, "/public/bookings/{number}", |p| {
        p.starts_with("/public/bookings/") && !p.contains("orgs")
    });
    phone.wait_for_text("#booking-status", "已预约");
    phone.wait_for_text("#booking-when", &format!("{tomorrow} 09:00"));
    assert_fits(&phone, "/public/bookings/{number}");

    // The registry blocks the day.
    let out = rt
        .block_on(backstop_app::bookings::rebook::block(
            &server.state,
            &op,
            org,
            &BlockInput {
                day: tomorrow.clone(),
                reason: "疫情防控暂停办理".into(),
            },
        ))
        .expect("block");
    assert_eq!((out.moved, out.proposed), (1, 1));

    phone.goto(&server.url(&path));
    phone.wait_for_text("#booking-rebook", "疫情防控暂停办理");
    let proposed = phone.find("#booking-proposed").text();
    assert!(!proposed.starts_with(&tomorrow), "{proposed}");
    assert_fits(&phone, "/public/bookings/{number} (rebooking)");
    phone.find("#booking-accept").click();
    phone.wait_for_text("#booking-when", &proposed);
    phone.wait_for_text("#booking-status", "已预约");
    assert!(!phone.exists("#booking-accept"));
    assert_fits(&phone, "/public/bookings/{number} (accepted)");

    // The couple enters the registration data for the pre-check on the same page.
    for i in 0..2 {
        fill(&phone, &format!("#precheck-p{i}_ethnicity"), "汉族");
        fill(&phone, &format!("#precheck-p{i}_occupation"), "教师");
        fill(&phone, &format!("#precheck-p{i}_education"), "大学本科");
        fill(
            &phone,
            &format!("#precheck-p{i}_address"),
            "获鹿镇向阳街 12 号",
        );
    }
    phone.find("#precheck-doc-hukou").click();
    phone.find("#precheck-doc-id_card").click();
    assert_fits(&phone, "/public/bookings/{number} (pre-check form)");
    phone.find("#precheck-submit").click();
    phone.wait_for_text("#precheck-status", "待预审");
    // The registry's window staff answer on the registration desk: at the phone's width and
    // at a desk.
    ready_user_in(
        &server,
        "win.day",
        "service_staff",
        "130110100",
        Some(org),
        PASSWORD,
    );
    log_in(&phone, &server, "win.day", PASSWORD);
    phone.goto(&server.url(&format!("/bookings/orgs/{org}/register")));
    phone.wait_for_text("#precheck-count", "1");
    assert_fits(&phone, "/bookings/orgs/{id}/register (390 px)");
    let desk = phone.find("main").text();
    assert!(
        desk.contains("教师") && desk.contains("获鹿镇向阳街"),
        "{desk}"
    );
    phone.resize(1280, 900);
    assert_fits(&phone, "/bookings/orgs/{id}/register (desk)");
    phone.find("button[id$='-approve']").click();
    phone.wait_for_text("#precheck-count", "0");
    phone.resize(390, 844);
    phone.goto(&server.url(&path));
    phone.wait_for_text("#precheck-status", "预审通过");
    assert_fits(&phone, "/public/bookings/{number} (pre-check approved)");
    drop(server);
    drop(gw_rt);
}
