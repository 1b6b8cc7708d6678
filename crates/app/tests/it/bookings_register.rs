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

use crate::support::{T, audit_count, cid, count, each_backend, org_user};

fn party(name: &str, id: &str) -> Value {
    json!({"name": name, "id_number": id})
}

fn booking(service: i64, day: &str, parties: Vec<Value>) -> Value {
    json!({"service_id": service, "day": day, "starts": "09:00", "phone": "13912345678", "parties": parties})
}

/// An official of 鹿泉区, a registry in 获鹿镇 and its staff.
async fn registry(t: &T) -> (String, i64, String) {
    t.import_fixture().await;
    let off = t.user("off.a", &["official"], "130110").await;
    let (s, o) = t
        .post("/api/v1/orgs", &off, json!({"name": "鹿泉区婚姻登记处", "kind": "marriage_registry", "region_code": "130110100"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{o}");
    let org = o["id"].as_i64().expect("org");
    let staff = org_user(t, "win.a", &["service_staff"], "130110100", org).await;
    (off, org, staff)
}

async fn service(t: &T, staff: &str, org: i64, kind: &str) -> i64 {
    let (s, v) = t
        .post(
            &format!("/api/v1/bookings/orgs/{org}/services"),
            staff,
            json!({"kind": kind, "open_days": "1234567", "opens": "09:00", "closes": "11:00",
                "slot_minutes": 60, "per_slot": 5, "window_days": 90}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_i64().expect("service")
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
        let off_b = t.user("off.b", &["official"], "130111").await;
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
        assert_eq!(t.post(&w, &off_b, json!({})).await.0, StatusCode::FORBIDDEN);
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
