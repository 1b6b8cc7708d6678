//! Issue 19 item 3, the registration rules, on every backend: where a couple may register (a
//! setting per region: anywhere by default, the household-registration place when set), the
//! registries designated for marriages involving foreigners or residents of Hong Kong, Macao
//! and Taiwan, foreigners' documents (sex and date of birth stated, sealed and masked); the
//! divorce cooling-off period (the certificate only from day 31 to day 60 after the
//! application, reminders, lapse, withdrawal); the online pre-check (data sealed, documents,
//! staff's answer sent to the phone); scope and roles of each.

use axum::http::StatusCode;
use chrono::TimeZone;
use serde_json::{Value, json};

use crate::bookings::registry;
use crate::bookings_pages::public_session;
use crate::notify::{config, each_backend_with_gateway};
use crate::support::{
    T, audit_count, cid, count, each_backend, enc, form_text, location, web_login,
};

fn party(name: &str, id: &str) -> Value {
    json!({"name": name, "id_number": id})
}

fn booking(service: i64, day: &str, parties: Vec<Value>) -> Value {
    json!({"service_id": service, "day": day, "starts": "09:00", "phone": "13912345678", "parties": parties})
}

/// A service of `kind`, 09:00–11:00 every day, five places an hour, 90 days ahead.
async fn service(t: &T, staff: &str, org: i64, kind: &str) -> i64 {
    let body = json!({"kind": kind, "open_days": "1234567", "opens": "09:00", "closes": "11:00",
        "slot_minutes": 60, "per_slot": 5, "window_days": 90});
    crate::bookings::service(t, staff, org, body).await
}

fn set_day(t: &T, y: i32, m: u32, d: u32) {
    // 10:00 in Beijing.
    t.clock.set(
        chrono::Utc
            .with_ymd_and_hms(y, m, d, 2, 0, 0)
            .single()
            .expect("t"),
    );
}

#[tokio::test]
async fn where_and_by_whom_a_marriage_may_be_registered() {
    each_backend(|t: T| async move {
        let (off, org, staff) = registry(&t).await;
        let off_b = t.user("off.b", &["official"], "130111").await;
        let cw = t.user("cw.a", &["community_worker"], "130110100001").await;
        let sid = service(&t, &staff, org, "marriage_registration").await;
        let day = "2026-03-10";
        // Both from 北京市东城区 (110101): anywhere in the country by default.
        let beijing = vec![party("张三", &cid("110101", "19900101", 1)), party("李四", &cid("110101", "19950101", 2))];
        let (s, b) = t.post("/api/v1/bookings", &staff, booking(sid, day, beijing.clone())).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        assert_eq!(b["parties"][0]["id_type"], "resident");
        let (s, _) = t.post(&format!("/api/v1/bookings/{}/cancel", b["id"]), &staff, json!({})).await;
        assert_eq!(s, StatusCode::OK);

        // The household-registration place (2020): set by an official for the county.
        let rule = json!({"region_code": "130110", "rule": "household"});
        assert_eq!(t.call("PUT", "/api/v1/bookings/place-rules", Some(&staff), Some(rule.clone())).await.0, StatusCode::FORBIDDEN);
        assert_eq!(t.call("PUT", "/api/v1/bookings/place-rules", Some(&off_b), Some(rule.clone())).await.0, StatusCode::NOT_FOUND);
        let (s, e) = t.call("PUT", "/api/v1/bookings/place-rules", Some(&off), Some(json!({"region_code": "130110", "rule": "province"}))).await;
        assert_eq!((s, e["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("rule")), "{e}");
        let (s, r) = t.call("PUT", "/api/v1/bookings/place-rules", Some(&off), Some(rule)).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["rule_label"], "一方常住户口所在地");
        let (_, rules) = t.get("/api/v1/bookings/place-rules", &staff).await;
        assert_eq!(rules.as_array().map(Vec::len), Some(1), "{rules}");
        assert_eq!(t.get("/api/v1/bookings/place-rules", &cw).await.0, StatusCode::FORBIDDEN);
        let (s, e) = t.post("/api/v1/bookings", &staff, booking(sid, day, beijing.clone())).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert!(e["fields"][0]["message"].as_str().is_some_and(|m| m.contains("户口所在地")), "{e}");
        // One of them lives in 鹿泉区 (their household moved): accepted.
        let mut moved = beijing.clone();
        moved[1]["household_region"] = json!("130110");
        let (s, b) = t.post("/api/v1/bookings", &staff, booking(sid, day, moved)).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let mut unknown = beijing.clone();
        unknown[0]["id_number"] = json!(cid("110101", "19900101", 3));
        unknown[0]["household_region"] = json!("999999");
        let (s, e) = t.post("/api/v1/bookings", &staff, booking(sid, day, unknown)).await;
        assert_eq!((s, e["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("parties[0].household_region")), "{e}");

        // A foreigner: passport, sex and birth date stated; only at a designated registry.
        let foreign = json!({"name": "John Smith", "id_type": "foreign", "id_number": "E 1234 5678", "sex": "male", "birth_date": "1990-05-01"});
        let local_bride = party("王芳", &cid("130110", "19960101", 2));
        let (s, e) = t.post("/api/v1/bookings", &staff, booking(sid, day, vec![foreign.clone(), local_bride.clone()])).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert!(e["fields"][0]["message"].as_str().is_some_and(|m| m.contains("指定")), "{e}");
        let mut no_birth = foreign.clone();
        no_birth["birth_date"] = json!("");
        let (s, e) = t.post("/api/v1/bookings", &staff, booking(sid, day, vec![no_birth, local_bride.clone()])).await;
        assert_eq!((s, e["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("parties[0].birth_date")), "{e}");
        let mut young = foreign.clone();
        young["birth_date"] = json!("2005-05-01");
        let path = format!("/api/v1/bookings/orgs/{org}/designation");
        assert_eq!(t.call("PUT", &path, Some(&staff), Some(json!({"designated": true}))).await.0, StatusCode::FORBIDDEN);
        assert_eq!(t.call("PUT", &path, Some(&off_b), Some(json!({"designated": true}))).await.0, StatusCode::NOT_FOUND);
        let (s, d) = t.call("PUT", &path, Some(&off), Some(json!({"designated": true}))).await;
        assert_eq!((s, d["designated"].as_bool()), (StatusCode::OK, Some(true)), "{d}");
        let (s, e) = t.post("/api/v1/bookings", &staff, booking(sid, day, vec![young, local_bride.clone()])).await;
        assert_eq!((s, e["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("parties[0].birth_date")), "{e}");
        let (s, b) = t.post("/api/v1/bookings", &staff, booking(sid, day, vec![foreign.clone(), local_bride])).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        assert_eq!(b["parties"][0]["id_type"], "foreign");
        assert_eq!(b["parties"][0]["id_number"], "E******78");
        assert!(!b.to_string().contains("E12345678"), "the passport number is masked");
        // The same passport cannot hold two bookings.
        let (s, e) = t.post("/api/v1/bookings", &staff, booking(sid, "2026-03-11", vec![foreign, party("赵敏", &cid("130110", "19960101", 4))])).await;
        assert_eq!(s, StatusCode::CONFLICT, "{e}");
        assert_eq!(audit_count(&t, "booking.place_rule").await, 1);
        assert_eq!(audit_count(&t, "booking.designation").await, 1);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM bookings WHERE status = 'booked'").await, 2);
    })
    .await;
}

#[tokio::test]
async fn divorce_cooling_off_reminders_lapse_and_withdrawal() {
    each_backend(|t: T| async move {
        let (_off, org, staff) = registry(&t).await;
        let _off_b = t.user("off.b", &["official"], "130111").await;
        let apply = service(&t, &staff, org, "divorce_registration").await;
        let cert = service(&t, &staff, org, "divorce_certificate").await;
        let couple = |n: u32| vec![party("张三", &cid("130110", "19800101", 2 * n + 1)), party("李四", &cid("130110", "19820101", 2 * n + 2))];
        // No application yet: no certificate.
        let (s, e) = t.post("/api/v1/bookings", &staff, booking(cert, "2026-03-10", couple(1))).await;
        assert_eq!((s, e["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("parties")), "{e}");
        // Three couples apply on 2026-03-03.
        let mut apps = Vec::new();
        for n in 1..=3 {
            let (s, b) = t.post("/api/v1/bookings", &staff, booking(apply, "2026-03-03", couple(n))).await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
            apps.push(b["id"].as_i64().expect("id"));
        }
        set_day(&t, 2026, 3, 3);
        let staff = t.login("win.a").await;
        let off = t.login("off.a").await;
        let off_b = t.login("off.b").await;
        for id in &apps {
            let (s, b) = t.post(&format!("/api/v1/bookings/{id}/outcome"), &staff, json!({"outcome": "done"})).await;
            assert_eq!(s, StatusCode::OK, "{b}");
        }
        let (s, list) = t.get(&format!("/api/v1/bookings/orgs/{org}/divorces"), &off).await;
        assert_eq!(s, StatusCode::OK);
        let list = list.as_array().cloned().expect("a");
        assert_eq!(list.len(), 3);
        assert!(list.iter().all(|d| d["status"] == "cooling" && d["earliest"] == "2026-04-03" && d["latest"] == "2026-05-02"), "{list:?}");
        assert_eq!(t.get(&format!("/api/v1/bookings/orgs/{org}/divorces"), &off_b).await.0, StatusCode::NOT_FOUND);
        let div = |app: i64| list.iter().find(|d| d["application_id"] == app).and_then(|d| d["id"].as_i64()).expect("divorce");

        // Inside the cooling-off period: no certificate.
        let (s, e) = t.post("/api/v1/bookings", &staff, booking(cert, "2026-03-20", couple(1))).await;
        assert_eq!((s, e["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("day")), "{e}");
        assert!(e["fields"][0]["message"].as_str().is_some_and(|m| m.contains("2026-04-03")), "{e}");
        // Couple 3 withdraws (recorded by staff); twice is a conflict.
        let w = format!("/api/v1/bookings/divorces/{}/withdraw", div(apps[2]));
        assert_eq!(t.post(&w, &off_b, json!({})).await.0, StatusCode::NOT_FOUND);
        let (s, d) = t.post(&w, &staff, json!({})).await;
        assert_eq!((s, d["status"].as_str()), (StatusCode::OK, Some("withdrawn")), "{d}");
        assert_eq!(t.post(&w, &staff, json!({})).await.0, StatusCode::CONFLICT);

        // The ticker: nothing due yet; the eve of day 31 reminds each cooling couple once.
        let r = backstop_app::bookings::divorce::tick(&t.state).await.expect("tick");
        assert_eq!((r.reminded, r.lapsed), (0, 0));
        set_day(&t, 2026, 4, 2);
        let r = backstop_app::bookings::divorce::tick(&t.state).await.expect("tick");
        assert_eq!((r.reminded, r.lapsed), (2, 0));
        let r = backstop_app::bookings::divorce::tick(&t.state).await.expect("tick");
        assert_eq!((r.reminded, r.lapsed), (0, 0), "once");
        let staff = t.login("win.a").await;
        // Couple 1 books the certificate inside the window; outside it is refused.
        let (s, e) = t.post("/api/v1/bookings", &staff, booking(cert, "2026-05-03", couple(1))).await;
        assert_eq!((s, e["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("day")), "{e}");
        let (s, c) = t.post("/api/v1/bookings", &staff, booking(cert, "2026-04-03", couple(1))).await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        let cid1 = c["id"].as_i64().expect("id");
        let (s, e) = t.post(&format!("/api/v1/bookings/{cid1}/change"), &staff, json!({"day": "2026-05-05", "starts": "09:00"})).await;
        assert_eq!((s, e["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("day")), "{e}");
        let (s, e) = t.post("/api/v1/bookings", &staff, booking(cert, "2026-04-04", couple(1))).await;
        assert_eq!(s, StatusCode::CONFLICT, "{e}");
        // Five days before the end, only couple 2 (no certificate booked) is reminded again.
        set_day(&t, 2026, 4, 27);
        let r = backstop_app::bookings::divorce::tick(&t.state).await.expect("tick");
        assert_eq!((r.reminded, r.lapsed), (1, 0));
        // The certificate issued: couple 1 done.
        set_day(&t, 2026, 4, 3);
        let staff = t.login("win.a").await;
        let (s, b) = t.post(&format!("/api/v1/bookings/{cid1}/outcome"), &staff, json!({"outcome": "done"})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        // Past day 60 couple 2's application lapses.
        set_day(&t, 2026, 5, 3);
        let r = backstop_app::bookings::divorce::tick(&t.state).await.expect("tick");
        assert_eq!((r.reminded, r.lapsed), (0, 1));
        let off = t.login("off.a").await;
        let (_, list) = t.get(&format!("/api/v1/bookings/orgs/{org}/divorces"), &off).await;
        let status = |app: i64| list.as_array().and_then(|l| l.iter().find(|d| d["application_id"] == app)).map(|d| d["status"].as_str().unwrap_or("").to_string());
        assert_eq!(status(apps[0]).as_deref(), Some("done"));
        assert_eq!(status(apps[1]).as_deref(), Some("lapsed"));
        assert_eq!(status(apps[2]).as_deref(), Some("withdrawn"));
        // Reminders: 2 + 1, and the lapse notice: through the outbox, sealed.
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM notify_deliveries WHERE kind = 'booking_divorce'").await, 4);
        assert_eq!(audit_count(&t, "booking.divorce_remind").await, 3);
        assert_eq!(audit_count(&t, "booking.divorce_lapse").await, 1);
        assert_eq!(audit_count(&t, "booking.divorce_withdraw").await, 1);
    })
    .await;
}

#[tokio::test]
async fn precheck_of_the_registration_data() {
    each_backend(|t: T| async move {
        let (off, org, staff) = registry(&t).await;
        let off_b = t.user("off.b", &["official"], "130111").await;
        let sid = service(&t, &staff, org, "marriage_registration").await;
        let parties = vec![party("张三", &cid("130110", "19900101", 1)), party("李四", &cid("130110", "19950101", 2))];
        let (s, b) = t.post("/api/v1/bookings", &staff, booking(sid, "2026-03-10", parties)).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let id = b["id"].as_i64().expect("id");
        let path = format!("/api/v1/bookings/{id}/precheck");
        let data = |doc: &str| json!({"parties": [
            {"nationality": "中国", "ethnicity": "汉族", "occupation": "教师", "education": "大学本科", "address": "获鹿镇向阳街 12 号"},
            {"nationality": "中国", "ethnicity": "回族", "occupation": "护士", "education": "大专", "address": "获鹿镇向阳街 12 号"}],
            "documents": ["hukou", "id_card", doc]});
        let (s, e) = t.call("PUT", &path, Some(&staff), Some(data("passport"))).await;
        assert_eq!((s, e["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("documents")), "{e}");
        let (s, e) = t.call("PUT", &path, Some(&staff), Some(json!({"parties": [], "documents": []}))).await;
        assert_eq!((s, e["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("parties")), "{e}");
        let mut no_job = data("photos");
        no_job["parties"][1]["occupation"] = json!("");
        let (s, e) = t.call("PUT", &path, Some(&staff), Some(no_job)).await;
        assert_eq!((s, e["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("parties[1].occupation")), "{e}");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM booking_prechecks").await, 0);
        assert_eq!(t.call("PUT", &path, Some(&off_b), Some(data("photos"))).await.0, StatusCode::NOT_FOUND);
        let (s, p) = t.call("PUT", &path, Some(&staff), Some(data("photos"))).await;
        assert_eq!((s, p["status"].as_str()), (StatusCode::OK, Some("submitted")), "{p}");
        // Waiting for staff, with the data; an official reads the status but not the data.
        let (s, w) = t.get(&format!("/api/v1/bookings/orgs/{org}/prechecks"), &staff).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(w[0]["data"][0]["occupation"], "教师", "{w}");
        let (s, p) = t.get(&path, &off).await;
        assert_eq!((s, p["status"].as_str()), (StatusCode::OK, Some("submitted")), "{p}");
        assert_eq!(p["data"].as_array().map(Vec::len), Some(0), "no data for a reader");
        assert_eq!(t.get(&path, &off_b).await.0, StatusCode::NOT_FOUND);
        // The answer: what is missing (required), then approved after a resubmission.
        let answer = format!("{path}/answer");
        let (s, e) = t.post(&answer, &staff, json!({"approved": false})).await;
        assert_eq!((s, e["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("missing")), "{e}");
        let (s, p) = t.post(&answer, &staff, json!({"approved": false, "missing": "缺少无配偶签字声明"})).await;
        assert_eq!((s, p["status"].as_str()), (StatusCode::OK, Some("missing")), "{p}");
        assert_eq!(t.post(&answer, &staff, json!({"approved": true})).await.0, StatusCode::CONFLICT);
        let (s, _) = t.call("PUT", &path, Some(&staff), Some(data("declaration"))).await;
        assert_eq!(s, StatusCode::OK);
        let (s, p) = t.post(&answer, &staff, json!({"approved": true})).await;
        assert_eq!((s, p["status"].as_str()), (StatusCode::OK, Some("approved")), "{p}");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM notify_deliveries WHERE kind = 'booking_precheck'").await, 2);
        assert_eq!(audit_count(&t, "booking.precheck_submit").await, 2);
        assert_eq!(audit_count(&t, "booking.precheck_answer").await, 2);
        // The data is sealed and kept out of the audit log.
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log WHERE detail LIKE '%向阳街%' OR detail LIKE '%签字声明%'").await, 0);
    })
    .await;
}

/// The same on the pages: staff book on behalf of a couple on the phone (refused, then
/// booked once however often the form is sent); the couple fills the pre-check on their
/// booking's public page; the registry's staff see the data and answer on the registration
/// desk, an official of the county sees the queue without the data, designates the registry
/// and sets the place rule; a divorce application withdrawn on the page.
#[tokio::test]
async fn the_registration_desk_on_the_pages() {
    each_backend_with_gateway(config, |t, fake| async move {
            let (off, org, staff) = registry(&t).await;
            let sid = service(&t, &staff, org, "marriage_registration").await;
            let dsid = service(&t, &staff, org, "divorce_registration").await;
            let staff_web = web_login(&t, "win.a").await;
            let off_web = web_login(&t, "off.a").await;

            // Booking on behalf: a foreigner at a registry not designated is refused, the
            // form comes back with the reason and the input.
            let (s, _, html) = form_text(&t, "GET", &format!("/bookings/orgs/{org}"), Some(&staff_web), "").await;
            assert!(s == StatusCode::OK && html.contains("staff-book-form") && html.contains("register-link"), "{html}");
            let body = |p0: &str, idem: &str, seq: u32| format!(
                "service_id={sid}&day=2026-03-10&starts=09:00&phone=13912345678&idem={idem}&{p0}&p1_name={}&p1_id_number={}",
                enc("王芳"), cid("130110", "19960101", seq));
            let foreign = format!("p0_name={}&p0_id_type=foreign&p0_id_number=E12345678&p0_sex=male&p0_birth_date=1990-05-01", enc("John Smith"));
            let (s, _, html) = form_text(&t, "POST", &format!("/bookings/orgs/{org}/book"), Some(&staff_web), &body(&foreign, "bk_page_0001", 2)).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
            assert!(html.contains("指定") && html.contains("John Smith") && html.contains("staff-book-error"), "{html}");
            let resident = format!("p0_name={}&p0_id_number={}", enc("张三"), cid("130110", "19900101", 1));
            for _ in 0..2 {
                let (s, h, html) = form_text(&t, "POST", &format!("/bookings/orgs/{org}/book"), Some(&staff_web), &body(&resident, "bk_page_0002", 2)).await;
                assert_eq!(s, StatusCode::SEE_OTHER, "{html}");
                assert_eq!(location(&h), format!("/bookings/orgs/{org}?day=2026-03-10"));
            }
            assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM bookings WHERE channel = 'staff'").await, 1, "sent twice, booked once");
            // Another registry's page with this registry's service: refused before anything is written.
            let (_, o2) = t.post("/api/v1/orgs", &off, json!({"name": "鹿泉区第二婚姻登记处", "kind": "marriage_registry", "region_code": "130110100"})).await;
            let org2 = o2["id"].as_i64().expect("org2");
            let other = format!("p0_name={}&p0_id_number={}", enc("吴十"), cid("130110", "19900101", 11));
            let (s, _, html) = form_text(&t, "POST", &format!("/bookings/orgs/{org2}/book"), Some(&off_web), &body(&other, "bk_page_0009", 12)).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
            assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM bookings WHERE channel = 'staff'").await, 1, "nothing written");
            let (_, _, html) = form_text(&t, "GET", &format!("/bookings/orgs/{org}?day=2026-03-10"), Some(&staff_web), "").await;
            assert!(html.contains("张*") || html.contains("张三"), "{html}");

            // The couple books on the public page and fills the pre-check there.
            let cookie = public_session(&t, &fake, "13800001111").await;
            let (s, h, html) = form_text(&t, "POST", &format!("/public/bookings/orgs/{org}"), Some(&cookie), &format!(
                "service_id={sid}&day=2026-03-11&idem=bk_pub_0001&starts=10:00&p0_name={}&p0_id_number={}&p1_name={}&p1_id_number={}",
                enc("赵六"), cid("130110", "19910101", 3), enc("钱七"), cid("130110", "19930101", 4))).await;
            assert_eq!(s, StatusCode::SEE_OTHER, "{html}");
            let mine = location(&h);
            let (_, _, html) = form_text(&t, "GET", &mine, Some(&cookie), "").await;
            assert!(html.contains("precheck-form") && html.contains("本人的户口簿"), "{html}");
            let pre = |job: &str, docs: &str| format!(
                "p0_nationality={cn}&p0_ethnicity={han}&p0_occupation={}&p0_education={}&p0_address={}&p1_nationality={cn}&p1_ethnicity={han}&p1_occupation={}&p1_education={}&p1_address={}{docs}",
                enc("教师"), enc("大学本科"), enc("向阳街 12 号"), enc(job), enc("大专"), enc("向阳街 12 号"), cn = enc("中国"), han = enc("汉族"));
            let (s, _, html) = form_text(&t, "POST", &format!("{mine}/precheck"), Some(&cookie), &pre("", "&documents=hukou")).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
            assert!(html.contains("data-field=\"p1_occupation\"") && html.contains("向阳街"), "{html}");
            let (s, _, html) = form_text(&t, "POST", &format!("{mine}/precheck"), Some(&cookie), &pre("护士", "&documents=hukou&documents=id_card")).await;
            assert_eq!(s, StatusCode::SEE_OTHER, "{html}");
            let (_, _, html) = form_text(&t, "GET", &mine, Some(&cookie), "").await;
            assert!(html.contains("待预审") && !html.contains("向阳街"), "the data is not shown back: {html}");

            // The registry's staff see the data; the official sees the queue without it.
            let bid: i64 = t.get(&format!("/api/v1/bookings/orgs/{org}/prechecks"), &staff).await.1[0]["booking_id"].as_i64().expect("id");
            let desk = format!("/bookings/orgs/{org}/register");
            let (s, _, html) = form_text(&t, "GET", &desk, Some(&staff_web), "").await;
            assert!(s == StatusCode::OK && html.contains(&format!("precheck-{bid}")) && html.contains("护士") && html.contains("本人的居民身份证"), "{html}");
            let (s, _, html) = form_text(&t, "GET", &desk, Some(&off_web), "").await;
            assert!(s == StatusCode::OK && html.contains(&format!("precheck-{bid}")) && !html.contains("护士") && html.contains("仅本机构工作人员可见"), "{html}");
            // What is missing, then approved after the couple resubmits.
            let answer = format!("/bookings/{bid}/precheck/answer");
            let (s, _, html) = form_text(&t, "POST", &answer, Some(&staff_web), "missing=").await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
            assert!(html.contains("需补充的材料"), "{html}");
            let (s, h, _) = form_text(&t, "POST", &answer, Some(&staff_web), &format!("missing={}", enc("缺少合影照片"))).await;
            assert_eq!((s, location(&h)), (StatusCode::SEE_OTHER, desk.clone()));
            let (_, _, html) = form_text(&t, "GET", &mine, Some(&cookie), "").await;
            assert!(html.contains("需补充材料") && html.contains("缺少合影照片"), "{html}");
            let (s, _, _) = form_text(&t, "POST", &format!("{mine}/precheck"), Some(&cookie), &pre("护士", "&documents=hukou&documents=id_card&documents=photos")).await;
            assert_eq!(s, StatusCode::SEE_OTHER);
            let (s, _, _) = form_text(&t, "POST", &answer, Some(&staff_web), "approved=1").await;
            assert_eq!(s, StatusCode::SEE_OTHER);
            let (_, _, html) = form_text(&t, "GET", &mine, Some(&cookie), "").await;
            assert!(html.contains("预审通过"), "{html}");

            // The official designates the registry and sets the place rule (refused first).
            let (_, _, html) = form_text(&t, "GET", &desk, Some(&staff_web), "").await;
            assert!(html.contains("不办理涉外") && !html.contains("designation-toggle") && !html.contains("place-rule-form"), "{html}");
            let (s, _, _) = form_text(&t, "POST", &format!("/bookings/orgs/{org}/designation"), Some(&off_web), "designated=1").await;
            assert_eq!(s, StatusCode::SEE_OTHER);
            let (_, _, html) = form_text(&t, "GET", &desk, Some(&off_web), "").await;
            assert!(html.contains("本机关为指定的涉外") && html.contains("取消指定"), "{html}");
            let rules = format!("/bookings/orgs/{org}/place-rules");
            let (s, _, html) = form_text(&t, "POST", &rules, Some(&off_web), "region_code=130110&rule=province").await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
            assert!(html.contains("婚姻登记地规则") && html.contains("place-rule-error"), "{html}");
            let (s, _, html) = form_text(&t, "POST", &rules, Some(&off_web), "region_code=130111&rule=household").await;
            assert_eq!(s, StatusCode::NOT_FOUND, "another county: {html}");
            let (s, _, _) = form_text(&t, "POST", &rules, Some(&off_web), "region_code=130110&rule=household").await;
            assert_eq!(s, StatusCode::SEE_OTHER);
            let (_, _, html) = form_text(&t, "GET", &desk, Some(&staff_web), "").await;
            assert!(html.contains("一方常住户口所在地") && html.contains("130110"), "{html}");
            // The foreigner's booking now goes through on the page.
            let (s, _, html) = form_text(&t, "POST", &format!("/bookings/orgs/{org}/book"), Some(&staff_web), &body(&foreign, "bk_page_0003", 8)).await;
            assert_eq!(s, StatusCode::SEE_OTHER, "{html}");

            // A divorce application done today; withdrawn on the desk.
            let (s, b) = t.post("/api/v1/bookings", &staff, booking(dsid, "2026-03-03", vec![party("孙八", &cid("130110", "19800101", 5)), party("周九", &cid("130110", "19820101", 6))])).await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
            set_day(&t, 2026, 3, 3);
            let staff = t.login("win.a").await;
            let staff_web = web_login(&t, "win.a").await;
            let (s, _) = t.post(&format!("/api/v1/bookings/{}/outcome", b["id"]), &staff, json!({"outcome": "done"})).await;
            assert_eq!(s, StatusCode::OK);
            let (_, _, html) = form_text(&t, "GET", &desk, Some(&staff_web), "").await;
            assert!(html.contains("2026-04-03 至 2026-05-02") && html.contains("冷静期中"), "{html}");
            let did: i64 = t.get(&format!("/api/v1/bookings/orgs/{org}/divorces"), &staff).await.1[0]["id"].as_i64().expect("id");
            let (s, _, _) = form_text(&t, "POST", &format!("/bookings/divorces/{did}/withdraw"), Some(&staff_web), "").await;
            assert_eq!(s, StatusCode::SEE_OTHER);
            let (_, _, html) = form_text(&t, "GET", &desk, Some(&staff_web), "").await;
            assert!(html.contains(&format!("id=\"divorce-{did}-status\">已撤回")), "{html}");
            let _ = off;
    })
    .await;
}
