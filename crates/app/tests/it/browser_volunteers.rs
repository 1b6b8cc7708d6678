//! Issue 19 item 7 in a real browser: a volunteer verifies the phone (the code read from the
//! fake SMS gateway), registers and signs up for the township's task at a phone's width
//! (390 px), checks in and, an hour and a half later on the server's clock, out; the township
//! confirms the hours at desk width; the volunteer's certificate shows them — with no
//! horizontal scrolling on the phone's pages. Skipped (loudly, by `driver`) without Chromium.

use std::sync::Arc;

use backstop_app::kernel::actor::Actor;
use backstop_app::volunteers::NewTask;
use backstop_core::clock::ManualClock;

use crate::browser::{assert_fits, fill, log_in, phone_with_gateway, ready_user, wait_path};

const PASSWORD: &str = "Tq8#Rv2!mZ5pW";

#[test]
fn a_volunteer_signs_up_checks_in_and_out_and_gets_the_hours_confirmed() {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let Some((d, gw_rt, fake, server)) = phone_with_gateway(clock.clone()) else {
        return;
    };
    let rt = server.rt.as_ref().expect("runtime");
    let op = Actor::operator();
    let today = server.state.today().format("%Y-%m-%d").to_string();
    let task = rt
        .block_on(backstop_app::volunteers::create_task(
            &server.state,
            &op,
            &NewTask {
                region_code: "130110100001".into(),
                kind: "screening".into(),
                title: "小区入口测温".into(),
                address: "东门".into(),
                day: today,
                starts: "00:00".into(),
                ends: "23:59".into(),
                needed: 3,
                skills: vec!["screening".into()],
                note: "请佩戴口罩".into(),
            },
        ))
        .expect("task");
    ready_user(&server, "ts.vol", "township_staff", "130110100", PASSWORD);

    // The phone: verify, register, sign up.
    d.goto(&server.url("/public/volunteers"));
    wait_path(&d, "/public/login", |p| p.starts_with("/public/login"));
    crate::browser::verify_phone(&d, &server, rt, &fake);
    wait_path(&d, "/public/volunteers/register", |p| {
        p.starts_with("/public/volunteers/register")
    });
    d.goto(&server.url("/public/volunteers/register?region=130110100001"));
    d.wait_for_text("#vol-register", "健康申报");
    assert_fits(&d, "/public/volunteers/register");
    fill(&d, "#vol-register input[name=name]", "王志愿");
    d.find("#vol-register input[name=skills][value=screening]")
        .click();
    fill(&d, "#vol-register input[name=availability]", "周末全天");
    d.find("#vol-register input[name=no_fever]").click();
    d.find("#vol-register input[name=no_contact]").click();
    d.find("#vol-register-submit").click();
    wait_path(&d, "/public/volunteers", |p| p == "/public/volunteers");
    d.wait_for_text(&format!("#vol-task-{}", task.id), "请佩戴口罩");
    assert_fits(&d, "/public/volunteers (open tasks)");
    d.find(&format!("#vol-signup-{}", task.id)).click();
    d.wait_for_text(&format!("#vol-shift-status-{}", task.id), "已报名");
    fill(
        &d,
        &format!("#vol-shift-{} input[name=place]", task.id),
        "东门岗亭",
    );
    d.find(&format!("#vol-checkin-{}", task.id)).click();
    d.wait_for_text(&format!("#vol-shift-status-{}", task.id), "已签到");
    clock.advance(chrono::Duration::minutes(90));
    d.find(&format!("#vol-checkout-{}", task.id)).click();
    d.wait_for_text(&format!("#vol-shift-hours-{}", task.id), "1 小时 30 分钟");
    assert_fits(&d, "/public/volunteers (checked out)");

    // The township confirms at desk width.
    d.resize(1280, 900);
    log_in(&d, &server, "ts.vol", PASSWORD);
    let shift = rt
        .block_on(backstop_app::volunteers::get_task(
            &server.state,
            &op,
            task.id,
        ))
        .expect("task")
        .shifts[0]
        .id;
    d.goto(&server.url(&format!("/volunteers/tasks/{}", task.id)));
    d.wait_for_text("#vol-shifts", "东门岗亭");
    d.find(&format!("#vol-confirm-{shift} button")).click();
    d.wait_for_text(&format!("#vol-confirmed-{shift}"), "已确认 90 分钟");

    // The certificate, back on the phone.
    d.resize(390, 844);
    d.goto(&server.url("/public/volunteers/certificate"));
    d.wait_for_text("#cert-total", "1 小时 30 分钟");
    d.wait_for_text("#cert-name", "王志愿");
    d.wait_for_text("#cert-lines", "旱码头社区居民委员会");
    assert_fits(&d, "/public/volunteers/certificate");
    drop(server);
    drop(gw_rt);
}
