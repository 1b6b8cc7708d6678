//! Issue 19, the pages, on every backend: a couple books on the public page with a phone
//! verified by a one-time code (a refused form comes back with the reason beside the field);
//! the booking's page answers only the phone that made it; the registry blocks the day on its
//! staff page and the couple accepts the proposed slot; the staff pages show the queue.

use axum::http::StatusCode;
use serde_json::json;

use crate::notify::{config, each_backend_with_gateway};
use crate::public::last_code;
use crate::support::{T, cid, enc, form_text, location, org_user, set_cookie_pair, web_login};

/// A public session for `phone` (code through the fake SMS gateway).
pub(crate) async fn public_session(t: &T, fake: &crate::notify::Shared, phone: &str) -> String {
    let ask = format!("phone={phone}");
    set_cookie_pair(&code_login(t, fake, phone, ("/public/login", &ask), "").await)
}

/// Ask for a code for `phone` by posting `ask.1` to the page `ask.0`, then send the code the
/// fake SMS gateway received (and `then`, e.g. `&next=…`) to the verify step: its answer's
/// headers (a redirect).
pub(crate) async fn code_login(
    t: &T,
    fake: &crate::notify::Shared,
    phone: &str,
    ask: (&str, &str),
    then: &str,
) -> axum::http::HeaderMap {
    let (s, _, html) = form_text(t, "POST", ask.0, None, ask.1).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    backstop_app::notify::step(&t.state).await.expect("step");
    let code = last_code(fake, phone);
    let body = format!("phone={phone}&code={code}{then}");
    let (s, h, _) = form_text(t, "POST", "/public/login/verify", None, &body).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    h
}

#[tokio::test]
async fn a_couple_books_the_registry_blocks_the_couple_accepts() {
    each_backend_with_gateway(config, |t, fake| async move {
            t.import_fixture().await;
            let off = t.user("off.a", &["official"], "130110").await;
            let (_, o) = t.post("/api/v1/orgs", &off, json!({"name": "鹿泉区婚姻登记处", "kind": "marriage_registry", "region_code": "130110100"})).await;
            let org = o["id"].as_i64().expect("org");
            let staff = org_user(&t, "win.a", &["service_staff"], "130110100", org).await;
            let (s, v) = t.post(&format!("/api/v1/bookings/orgs/{org}/services"), &staff,
                json!({"kind": "marriage_registration", "opens": "09:00", "closes": "11:00", "slot_minutes": 60, "per_slot": 5})).await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
            let sid = v["id"].as_i64().expect("sid");

            // Public: the region lists the registry; without a phone, a link to verify.
            let (s, _, html) = form_text(&t, "GET", "/public/bookings?region=130110", None, "").await;
            assert!(s == StatusCode::OK && html.contains(&format!("/public/bookings/orgs/{org}")), "{html}");
            let page = format!("/public/bookings/orgs/{org}?service={sid}&day=2026-03-03");
            let (_, _, html) = form_text(&t, "GET", &page, None, "").await;
            assert!(html.contains("booking-login") && html.contains("剩余 5"), "{html}");
            let cookie = public_session(&t, &fake, "13912345678").await;
            let (_, _, html) = form_text(&t, "GET", &page, Some(&cookie), "").await;
            assert!(html.contains("booking-form"), "{html}");

            let man = cid("130110", "19900101", 1);
            let woman = cid("130110", "19950101", 2);
            let young = cid("130110", "20070101", 4);
            let body = |w: &str| format!("service_id={sid}&day=2026-03-03&idem=bk_test_0001&starts=09:00&p0_name={}&p0_id_number={man}&p1_name={}&p1_id_number={w}",
                enc("张三"), enc("李四"));
            // Refused: the form again, the reason beside the field, input kept.
            let (s, _, html) = form_text(&t, "POST", &format!("/public/bookings/orgs/{org}"), Some(&cookie), &body(&young)).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
            assert!(html.contains("data-field=\"p1_id_number\"") && html.contains("法定婚龄") && html.contains("张三"), "{html}");
            let (s, h, _) = form_text(&t, "POST", &format!("/public/bookings/orgs/{org}"), Some(&cookie), &body(&woman)).await;
            assert_eq!(s, StatusCode::SEE_OTHER);
            let mine = location(&h);
            assert!(mine.starts_with("/public/bookings/13"), "{mine}");
            let (s, _, html) = form_text(&t, "GET", &mine, Some(&cookie), "").await;
            assert_eq!(s, StatusCode::OK);
            assert!(html.contains("2026-03-03 09:00") && !html.contains(&man) && html.contains("已预约"), "{html}");
            // Another phone (and no session): not this booking.
            t.clock.advance(chrono::Duration::seconds(61));
            let other = public_session(&t, &fake, "13700001111").await;
            assert_eq!(form_text(&t, "GET", &mine, Some(&other), "").await.0, StatusCode::NOT_FOUND);
            assert_eq!(form_text(&t, "GET", &mine, None, "").await.0, StatusCode::SEE_OTHER);
            // The staff cookie means nothing on the public side.
            let staff_web = web_login(&t, "win.a").await;
            assert_eq!(form_text(&t, "GET", &mine, Some(&staff_web), "").await.0, StatusCode::SEE_OTHER);

            // The registry blocks the day on its page; the queue shows who has not answered.
            let (s, h, _) = form_text(&t, "POST", &format!("/bookings/orgs/{org}/block"), Some(&staff_web),
                &format!("day=2026-03-03&reason={}", enc("疫情防控暂停办理"))).await;
            assert_eq!(s, StatusCode::SEE_OTHER, "{h:?}");
            let (s, _, html) = form_text(&t, "GET", &format!("/bookings/orgs/{org}?day=2026-03-03"), Some(&staff_web), "").await;
            assert_eq!(s, StatusCode::OK);
            assert!(html.contains("待改约（尚未答复）：1") && html.contains("139****5678"), "{html}");
            // Refused block form: shown again with the reason.
            let (s, _, html) = form_text(&t, "POST", &format!("/bookings/orgs/{org}/block"), Some(&staff_web), "day=2026-03-03&reason=x").await;
            assert_eq!(s, StatusCode::CONFLICT, "{html}");
            assert!(html.contains("该日已停办"));

            // The couple sees the proposal and accepts.
            let (_, _, html) = form_text(&t, "GET", &mine, Some(&cookie), "").await;
            assert!(html.contains("booking-accept") && html.contains("2026-03-04 09:00") && html.contains("疫情防控暂停办理"), "{html}");
            let (s, _, _) = form_text(&t, "POST", &format!("{mine}/accept"), Some(&cookie), "").await;
            assert_eq!(s, StatusCode::SEE_OTHER);
            let (_, _, html) = form_text(&t, "GET", &mine, Some(&cookie), "").await;
            assert!(html.contains("2026-03-04 09:00") && html.contains("已预约") && !html.contains("booking-accept"), "{html}");
            let (_, _, html) = form_text(&t, "GET", &format!("/bookings/orgs/{org}"), Some(&staff_web), "").await;
            assert!(html.contains("待改约（尚未答复）：0"), "{html}");
            // Staff overview and the emergency form for an official.
            let off_web = web_login(&t, "off.a").await;
            let (s, _, html) = form_text(&t, "GET", "/bookings", Some(&off_web), "").await;
            assert!(s == StatusCode::OK && html.contains("emergency-form"), "{html}");
            let (s, _, html) = form_text(&t, "POST", "/bookings/emergencies", Some(&off_web), "region_code=130110&org_kind=marriage_registry&starts_on=2026-03-10&ends_on=2026-03-01&reason=x").await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
            assert!(html.contains("结束日期不能早于开始日期"), "{html}");
    })
    .await;
}
