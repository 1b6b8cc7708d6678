//! Issue 15 (the public face) in a real browser at a phone's width: a member of the public
//! opens a village's information page (published by the county), asks for a code, reads it
//! from the fake SMS gateway, verifies the phone and sees an empty "my requests" page — with
//! no horizontal scrolling on any of them. Skipped (loudly, by `driver`) without Chromium.

use std::sync::Arc;

use backstop_core::clock::SystemClock;

use crate::browser::{assert_fits, fill, phone_with_gateway, wait_path};

#[test]
fn a_member_of_the_public_on_a_phone() {
    // The fake gateway runs on a runtime of its own for the whole test.
    let Some((phone, gw_rt, fake, server)) = phone_with_gateway(Arc::new(SystemClock)) else {
        return;
    };
    let rt = server.rt.as_ref().expect("runtime");
    // The county publishes its texts (as an official would on /regions/130110/public-info).
    rt.block_on(async {
        let info = backstop_app::public::PublicInfo {
            region_code: "130110".to_string(),
            hotlines: "鹿泉区民政局 0311-82012345".to_string(),
            visiting: "养老机构暂停探视，可预约视频探望。".to_string(),
            assistance: "低保、特困申请可在线提交。".to_string(),
        };
        backstop_app::public::staff::set_info(
            &server.state,
            &backstop_app::kernel::actor::Actor::operator(),
            &info,
        )
        .await
        .expect("publish");
    });

    phone.goto(&server.url("/public"));
    phone.wait_for_text("#public-regions", "河北");
    assert_fits(&phone, "/public");
    phone.goto(&server.url("/public/regions/130110100001"));
    phone.wait_for_text("#public-hotlines", "0311-82012345");
    assert_fits(&phone, "/public/regions/130110100001");
    assert!(
        !phone.exists("nav.areas a[href='/persons']"),
        "no staff navigation"
    );

    phone.goto(&server.url("/public/login"));
    fill(&phone, "#public-phone", "13912345678");
    phone.find("#public-send").click();
    phone.wait_for_text("#public-sent", "139****5678");
    assert_fits(&phone, "/public/login (code step)");
    rt.block_on(backstop_app::notify::step(&server.state))
        .expect("send the code");
    let code: String = {
        let g = fake.lock().expect("fake");
        let sms = g
            .seen
            .iter()
            .rev()
            .find(|s| s.0 == "/sms")
            .expect("the code reached the SMS gateway");
        sms.3["content"]
            .as_str()
            .unwrap_or("")
            .chars()
            .filter(char::is_ascii_digit)
            .take(6)
            .collect()
    };
    fill(&phone, "#public-code", &code);
    phone.find("#public-verify").click();
    wait_path(&phone, "/public/me", |p| p == "/public/me");
    phone.wait_for_text("#public-me-phone", "139****5678");
    assert!(phone.exists("#public-me-empty"));
    assert_fits(&phone, "/public/me");
    drop(server);
    drop(gw_rt);
}
