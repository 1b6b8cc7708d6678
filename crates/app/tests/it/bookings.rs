//! Issue 19 (bookings), on every backend: a registry's services, resources and special dates;
//! booking by staff with the registration rules (valid ID numbers sealed and masked, legal
//! marriage age on the date, one active booking per ID number, the booking window), a full slot
//! refused, change and cancel, the Idempotency-Key; 2,000 concurrent requests for a day of 200
//! places (exactly 200 accepted); emergency settings decided by region and date; blocking
//! 2020-02-02 with 300 bookings and rebooking every one, none lost; scope.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::TimeZone;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::{T, audit_count, cid, count, each_backend, org_user};

/// A man (odd sequence) or a woman (even) born on `ymd`.
fn person(ymd: &str, seq: u32) -> String {
    cid("130110", ymd, seq)
}

fn couple(day: &str, starts: &str, service: i64, n: u32) -> Value {
    json!({"service_id": service, "day": day, "starts": starts, "phone": "13912345678",
        "parties": [{"name": "张三", "id_number": person("19900101", 2 * n + 1)},
                    {"name": "李四", "id_number": person("19950101", 2 * n + 2)}]})
}

/// An official, a registry in 获鹿镇 with a window resource, and its staff (tied to it).
pub(crate) async fn registry(t: &T) -> (String, i64, String) {
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

/// As `staff`, a service of the registry `org` (`body`); its id.
pub(crate) async fn service(t: &T, staff: &str, org: i64, body: Value) -> i64 {
    let (s, v) = t
        .post(
            &format!("/api/v1/bookings/orgs/{org}/services"),
            staff,
            body,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_i64().expect("service")
}

#[tokio::test]
async fn services_booking_rules_change_cancel_and_scope() {
    each_backend(|t: T| async move {
        let (off, org, staff) = registry(&t).await;
        let off_b = t.user("off.b", &["official"], "130111").await;
        let cw = t.user("cw.a", &["community_worker"], "130110100001").await;
        let base = format!("/api/v1/bookings/orgs/{org}");
        // Setup: a resource of 2 windows limits a service of 3 per slot.
        let (s, r) = t.post(&format!("{base}/resources"), &staff, json!({"kind": "window", "name": "登记窗口", "units": 2})).await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
        let rid = r["id"].as_i64().expect("rid");
        for bad in [
            json!({"kind": "cremation", "opens": "09:00", "closes": "11:00", "slot_minutes": 60, "per_slot": 3}),
            json!({"kind": "marriage_registration", "opens": "11:00", "closes": "09:00", "slot_minutes": 60, "per_slot": 3}),
            json!({"kind": "marriage_registration", "opens": "9点", "closes": "11:00", "slot_minutes": 60, "per_slot": 3}),
            json!({"kind": "marriage_registration", "opens": "09:00", "closes": "11:00", "slot_minutes": 60, "per_slot": 0}),
            json!({"kind": "marriage_registration", "open_days": "189", "opens": "09:00", "closes": "11:00", "slot_minutes": 60, "per_slot": 3}),
        ] {
            let (s, e) = t.post(&format!("{base}/services"), &staff, bad).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
            assert!(e["message"].as_str().is_some_and(|m| !m.is_ascii()), "{e}");
        }
        let sid = service(&t, &staff, org, json!({"kind": "marriage_registration", "opens": "09:00", "closes": "11:00",
            "slot_minutes": 60, "per_slot": 3, "window_days": 30, "resource_id": rid})).await;
        let (s, setup) = t.get(&base, &staff).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(setup["services"][0]["places"], 2, "limited by the windows");
        assert_eq!(setup["services"][0]["kind_label"], "结婚登记");
        // Scope: another county, a community worker.
        assert_eq!(t.get(&base, &off_b).await.0, StatusCode::NOT_FOUND);
        assert_eq!(t.get(&base, &cw).await.0, StatusCode::FORBIDDEN);
        assert_eq!(t.post(&format!("{base}/services"), &off_b, json!({"kind": "divorce_registration", "opens": "09:00", "closes": "11:00", "slot_minutes": 60, "per_slot": 3})).await.0, StatusCode::NOT_FOUND);

        // The clock is Monday 2026-03-02 (Beijing). Refusals, nothing stored.
        let day = "2026-03-03";
        let mut refusals = vec![
            (couple("2026-03-02", "09:00", sid, 1), "day"),
            (couple("2026-04-02", "09:00", sid, 1), "day"),
            (couple("2026-03-07", "09:00", sid, 1), "day"),
            (couple(day, "09:30", sid, 1), "starts"),
        ];
        let mut young = couple(day, "09:00", sid, 1);
        young["parties"][0]["id_number"] = json!(person("20050101", 1));
        refusals.push((young, "parties[0].id_number"));
        let mut girl = couple(day, "09:00", sid, 1);
        girl["parties"][1]["id_number"] = json!(person("20070101", 2));
        refusals.push((girl, "parties[1].id_number"));
        let mut two_women = couple(day, "09:00", sid, 1);
        two_women["parties"][0]["id_number"] = json!(person("19900101", 4));
        refusals.push((two_women, "parties"));
        let mut bad_id = couple(day, "09:00", sid, 1);
        let valid = person("19900101", 1);
        let wrong = if valid.ends_with('0') { "1" } else { "0" };
        bad_id["parties"][0]["id_number"] = json!(format!("{}{wrong}", &valid[..17]));
        refusals.push((bad_id, "parties[0].id_number"));
        let mut one = couple(day, "09:00", sid, 1);
        one["parties"].as_array_mut().expect("a").pop();
        refusals.push((one, "parties"));
        let mut no_phone = couple(day, "09:00", sid, 1);
        no_phone["phone"] = json!("123");
        refusals.push((no_phone, "phone"));
        for (body, field) in refusals {
            let (s, e) = t.post("/api/v1/bookings", &staff, body).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
            assert_eq!(e["fields"][0]["field"], field, "{e}");
        }
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM bookings").await, 0);
        assert_eq!(t.post("/api/v1/bookings", &cw, couple(day, "09:00", sid, 1)).await.0, StatusCode::FORBIDDEN);
        assert_eq!(t.post("/api/v1/bookings", &off_b, couple(day, "09:00", sid, 1)).await.0, StatusCode::NOT_FOUND);

        // A booking: sealed and masked; the same ID number cannot book twice.
        let (s, b1) = t.post("/api/v1/bookings", &staff, couple(day, "09:00", sid, 1)).await;
        assert_eq!(s, StatusCode::CREATED, "{b1}");
        let id1 = b1["id"].as_i64().expect("id");
        assert_eq!(b1["number"].as_str().expect("n").len(), 12);
        let full = person("19900101", 3);
        assert!(!b1.to_string().contains(&full), "no full ID number");
        assert!(!b1.to_string().contains("张三"), "names masked");
        let raw = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM booking_parties WHERE id_masked LIKE '1%'").await;
        assert_eq!(raw, 2);
        let (s, e) = t.post("/api/v1/bookings", &staff, couple("2026-03-04", "09:00", sid, 1)).await;
        assert_eq!(s, StatusCode::CONFLICT, "{e}");
        // The slot has 2 places (the windows): a second couple fits, a third does not.
        assert_eq!(t.post("/api/v1/bookings", &staff, couple(day, "09:00", sid, 2)).await.0, StatusCode::CREATED);
        let (s, e) = t.post("/api/v1/bookings", &staff, couple(day, "09:00", sid, 3)).await;
        assert_eq!(s, StatusCode::CONFLICT, "{e}");
        assert_eq!(e["fields"][0]["field"], "starts");
        // Cancel frees the place and the ID numbers.
        let (s, c) = t.post(&format!("/api/v1/bookings/{id1}/cancel"), &staff, json!({})).await;
        assert_eq!((s, c["status"].as_str()), (StatusCode::OK, Some("cancelled")));
        assert_eq!(t.post(&format!("/api/v1/bookings/{id1}/cancel"), &staff, json!({})).await.0, StatusCode::CONFLICT);
        let (s, b3) = t.post("/api/v1/bookings", &staff, couple(day, "09:00", sid, 3)).await;
        assert_eq!(s, StatusCode::CREATED, "{b3}");
        let (s, again) = t.post("/api/v1/bookings", &staff, couple("2026-03-05", "10:00", sid, 1)).await;
        assert_eq!(s, StatusCode::CREATED, "{again}");
        // Change: to a full slot refused, to a free one done.
        let id3 = b3["id"].as_i64().expect("id");
        let (s, _) = t.post(&format!("/api/v1/bookings/{id3}/change"), &staff, json!({"day": "2026-03-05", "starts": "10:00"})).await;
        assert_eq!(s, StatusCode::OK);
        let (_, d) = t.get(&format!("{base}/day?day={day}"), &staff).await;
        assert_eq!(d.as_array().expect("a").iter().filter(|b| b["status"] == "booked").count(), 1);
        // Idempotency-Key: a retry answers the first booking.
        let body = couple("2026-03-06", "09:00", sid, 7).to_string();
        let key = [("Idempotency-Key", "bk-retry-0001")];
        let (s1, _, r1) = t.raw("POST", "/api/v1/bookings", Some(&staff), Some(body.clone()), &key).await;
        let (s2, _, r2) = t.raw("POST", "/api/v1/bookings", Some(&staff), Some(body), &key).await;
        assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::CREATED));
        let (v1, v2): (Value, Value) = (serde_json::from_slice(&r1).expect("j"), serde_json::from_slice(&r2).expect("j"));
        assert_eq!(v1["id"], v2["id"]);
        // Counters equal the bookings held.
        let held = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM bookings WHERE status = 'booked'").await;
        assert_eq!(count(&t, "SELECT CAST(COALESCE(SUM(booked), 0) AS BIGINT) FROM booking_slots").await, held);
        assert_eq!(count(&t, "SELECT CAST(COALESCE(SUM(booked), 0) AS BIGINT) FROM booking_days").await, held);
        // Reads: scope, organisation.
        assert_eq!(t.get(&format!("/api/v1/bookings/{id3}"), &off).await.0, StatusCode::OK);
        assert_eq!(t.get(&format!("/api/v1/bookings/{id3}"), &off_b).await.0, StatusCode::NOT_FOUND);
        assert_eq!(audit_count(&t, "booking.create").await, 5);
        assert_eq!(audit_count(&t, "booking.cancel").await, 1);
        assert_eq!(audit_count(&t, "booking.change").await, 1);
        assert_eq!(audit_count(&t, "booking.service_create").await, 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_requests_for_two_hundred_places() {
    each_backend(|t: T| async move {
        let (_, org, staff) = registry(&t).await;
        let sid = service(&t, &staff, org, json!({"kind": "certificate_replacement", "opens": "09:00", "closes": "17:00",
            "slot_minutes": 60, "per_slot": 25})).await;
        let starts = ["09:00", "10:00", "11:00", "12:00", "13:00", "14:00", "15:00", "16:00"];
        let mut jobs = tokio::task::JoinSet::new();
        for i in 0..2000u32 {
            let app = t.app.clone();
            let token = staff.clone();
            let body = json!({"service_id": sid, "day": "2026-03-04", "starts": starts[i as usize % 8], "phone": "13912345678",
                "parties": [{"name": "王五", "id_number": cid("130110", &format!("198001{:02}", 1 + i / 1000), i % 1000)}]});
            jobs.spawn(async move {
                // A phone that is told "busy" (503) sends the same request again with its key,
                // as a loaded machine may answer; anything else is the answer.
                for _ in 0..20 {
                    let req = Request::builder()
                        .method("POST")
                        .uri("/api/v1/bookings")
                        .header(header::HOST, "backstop.test")
                        .header(header::AUTHORIZATION, format!("Bearer {token}"))
                        .header(header::CONTENT_TYPE, "application/json")
                        .header("Idempotency-Key", format!("burst-{i:06}"))
                        .body(Body::from(body.to_string()))
                        .expect("request");
                    let status = app.clone().oneshot(req).await.expect("response").status();
                    if status != StatusCode::SERVICE_UNAVAILABLE {
                        return status;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                StatusCode::SERVICE_UNAVAILABLE
            });
        }
        let (mut ok, mut full, mut other) = (0, 0, Vec::new());
        while let Some(r) = jobs.join_next().await {
            match r.expect("task") {
                StatusCode::CREATED => ok += 1,
                StatusCode::CONFLICT => full += 1,
                s => other.push(s),
            }
        }
        assert!(other.is_empty(), "{other:?}");
        assert_eq!((ok, full), (200, 1800), "{}", t.backend);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM bookings").await, 200);
        assert_eq!(count(&t, "SELECT CAST(MAX(booked) AS BIGINT) FROM booking_slots").await, 25);
        assert_eq!(count(&t, "SELECT CAST(SUM(booked) AS BIGINT) FROM booking_days").await, 200);
    })
    .await;
}

#[tokio::test]
async fn emergency_settings_by_region_and_date() {
    each_backend(|t: T| async move {
        let (off, org, staff) = registry(&t).await;
        let off_b = t.user("off.b", &["official"], "130111").await;
        let sid = service(&t, &staff, org, json!({"kind": "marriage_registration", "opens": "09:00", "closes": "12:00",
            "slot_minutes": 60, "per_slot": 10})).await;
        // Three couples on Wednesday before the setting.
        for n in 1..=3 {
            assert_eq!(t.post("/api/v1/bookings", &staff, couple("2026-03-04", "09:00", sid, n)).await.0, StatusCode::CREATED);
        }
        let decl = json!({"region_code": "130110", "org_kind": "marriage_registry", "starts_on": "2026-03-04",
            "ends_on": "2026-03-10", "daily_cap": 2, "no_ceremony": true,
            "questions": [{"key": "fever", "action": "refuse"}, {"key": "contact", "action": "defer", "days": 14}],
            "reason": "新冠肺炎疫情防控"});
        assert_eq!(t.post("/api/v1/bookings/emergencies", &staff, decl.clone()).await.0, StatusCode::FORBIDDEN);
        assert_eq!(t.post("/api/v1/bookings/emergencies", &off_b, decl.clone()).await.0, StatusCode::NOT_FOUND);
        let mut bad = decl.clone();
        bad["questions"] = json!([{"key": "mood", "action": "refuse"}]);
        assert_eq!(t.post("/api/v1/bookings/emergencies", &off, bad).await.0, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, e) = t.post("/api/v1/bookings/emergencies", &off, decl).await;
        assert_eq!(s, StatusCode::CREATED, "{e}");
        let eid = e["id"].as_i64().expect("id");
        // The cap is below what was booked: the latest booked goes to rebooking.
        let (_, w) = t.get(&format!("/api/v1/bookings/orgs/{org}/rebookings"), &staff).await;
        assert_eq!(w.as_array().expect("a").len(), 1, "{w}");
        assert_eq!(w[0]["old_day"], "2026-03-04");
        assert_ne!(w[0]["new_day"], "2026-03-04", "not the capped day");
        // Health questions: unanswered, fever (refused), contact (deferred 14 days).
        let mut b = couple("2026-03-05", "09:00", sid, 10);
        let (s, e) = t.post("/api/v1/bookings", &staff, b.clone()).await;
        assert_eq!((s, e["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("answers_fever")), "{e}");
        b["answers"] = json!({"fever": true, "contact": false});
        let (s, e) = t.post("/api/v1/bookings", &staff, b.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        b["answers"] = json!({"fever": false, "contact": true});
        let (s, e) = t.post("/api/v1/bookings", &staff, b.clone()).await;
        assert!(s == StatusCode::UNPROCESSABLE_ENTITY && e["message"].as_str().is_some_and(|m| m.contains("2026-03-16")), "{e}");
        b["answers"] = json!({"fever": false, "contact": false});
        b["ceremony"] = json!(true);
        assert_eq!(t.post("/api/v1/bookings", &staff, b.clone()).await.0, StatusCode::UNPROCESSABLE_ENTITY);
        b["ceremony"] = json!(false);
        assert_eq!(t.post("/api/v1/bookings", &staff, b.clone()).await.0, StatusCode::CREATED);
        // The daily cap of 2 holds on the 5th too (the held proposal counts).
        let mut c = couple("2026-03-05", "10:00", sid, 11);
        c["answers"] = json!({"fever": false, "contact": false});
        assert_eq!(t.post("/api/v1/bookings", &staff, c.clone()).await.0, StatusCode::CONFLICT);
        // After the period, no questions: the setting is decided by the date.
        assert_eq!(t.post("/api/v1/bookings", &staff, couple("2026-03-11", "09:00", sid, 12)).await.0, StatusCode::CREATED);
        // Ended: no longer in force.
        let (s, _) = t.post(&format!("/api/v1/bookings/emergencies/{eid}/end"), &off, json!({})).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(t.post("/api/v1/bookings", &staff, couple("2026-03-06", "09:00", sid, 13)).await.0, StatusCode::CREATED);
        assert_eq!(audit_count(&t, "booking.emergency_create").await, 1);
        assert_eq!(audit_count(&t, "booking.emergency_end").await, 1);
        assert_eq!(audit_count(&t, "booking.rebook_propose").await, 1);
    })
    .await;
}

#[tokio::test]
async fn blocking_2020_02_02_rebooks_all_three_hundred() {
    each_backend(|t: T| async move {
        let (_, org, staff) = registry(&t).await;
        t.clock.set(chrono::Utc.with_ymd_and_hms(2020, 1, 10, 2, 0, 0).single().expect("t"));
        // 2020-02-02 is a Sunday, specially opened; 10 slots of 30 on it; Monday to Friday after.
        let sid = service(&t, &staff, org, json!({"kind": "marriage_registration", "opens": "08:00", "closes": "18:00",
            "slot_minutes": 60, "per_slot": 30, "window_days": 60})).await;
        let (s, e) = t.post(&format!("/api/v1/bookings/orgs/{org}/dates"), &staff,
            json!({"day": "2020-02-02", "kind": "open", "reason": "“爱你爱你”特别开放"})).await;
        assert_eq!(s, StatusCode::CREATED, "{e}");
        let starts: Vec<String> = (8..18).map(|h| format!("{h:02}:00")).collect();
        for n in 0..300u32 {
            let (s, e) = t.post("/api/v1/bookings", &staff, couple("2020-02-02", &starts[(n % 10) as usize], sid, n)).await;
            assert_eq!(s, StatusCode::CREATED, "{n} {e}");
        }
        assert_eq!(t.post("/api/v1/bookings", &staff, couple("2020-02-02", "08:00", sid, 400)).await.0, StatusCode::CONFLICT);
        let (s, out) = t.post(&format!("/api/v1/bookings/orgs/{org}/block"), &staff,
            json!({"day": "2020-02-02", "reason": "新冠肺炎疫情防控，暂停办理"})).await;
        assert_eq!(s, StatusCode::OK, "{out}");
        assert_eq!((out["moved"].as_i64(), out["proposed"].as_i64(), out["unplaced"].as_i64()), (Some(300), Some(300), Some(0)));
        // Nobody lost: 300 waiting, each with a held slot on an open day, none on the 2nd.
        let (_, w) = t.get(&format!("/api/v1/bookings/orgs/{org}/rebookings"), &staff).await;
        let w = w.as_array().expect("a").clone();
        assert_eq!(w.len(), 300);
        assert!(w.iter().all(|r| r["new_day"] != "2020-02-02" && r["notified_at"].is_string()));
        // Nearest first, in order of booking time: the first booked got Monday the 3rd.
        assert_eq!(w[0]["new_day"], "2020-02-03");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM notify_deliveries WHERE kind = 'booking_rebook'").await, 300);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM bookings WHERE status = 'rebooking'").await, 300);
        // No booking on the blocked day.
        assert_eq!(t.post("/api/v1/bookings", &staff, couple("2020-02-02", "08:00", sid, 401)).await.0, StatusCode::UNPROCESSABLE_ENTITY);
        // Every party answers: accept (most), another slot, cancel.
        for (i, r) in w.iter().enumerate() {
            let id = r["booking_id"].as_i64().expect("b");
            let (s, b) = match i % 10 {
                0 => t.post(&format!("/api/v1/bookings/{id}/change"), &staff, json!({"day": "2020-02-10", "starts": "09:00"})).await,
                1 => t.post(&format!("/api/v1/bookings/{id}/cancel"), &staff, json!({})).await,
                _ => t.post(&format!("/api/v1/bookings/{id}/accept"), &staff, json!({})).await,
            };
            assert_eq!(s, StatusCode::OK, "{i} {b}");
        }
        let (_, w) = t.get(&format!("/api/v1/bookings/orgs/{org}/rebookings"), &staff).await;
        assert_eq!(w.as_array().expect("a").len(), 0, "every one answered");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM bookings WHERE status = 'booked'").await, 270);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM bookings WHERE status = 'cancelled'").await, 30);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM bookings WHERE day = '2020-02-02'").await, 30, "only the cancelled");
        // The counters equal what is booked, nothing held for nobody.
        assert_eq!(count(&t, "SELECT CAST(SUM(booked) AS BIGINT) FROM booking_slots").await, 270);
        assert_eq!(count(&t, "SELECT CAST(SUM(booked) AS BIGINT) FROM booking_days").await, 270);
        assert_eq!(count(&t, "SELECT CAST(MAX(booked) AS BIGINT) FROM booking_slots").await, 30, "never over a slot");
        assert_eq!(audit_count(&t, "booking.block").await, 1);
        assert_eq!(audit_count(&t, "booking.rebook_propose").await, 300);
        assert_eq!(audit_count(&t, "booking.rebook_accept").await, 240);
    })
    .await;
}
