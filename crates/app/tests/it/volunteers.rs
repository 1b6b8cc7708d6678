//! Issue 19 item 7 (volunteers), on every backend: a volunteer registers on the public face
//! with a phone verified by a one-time code; a township posts a task; the volunteer signs up,
//! checks in and out on the phone; the township confirms (adjusts, with a reason) the minutes;
//! the totals and the certificate show them. Refused: check-out before check-in, check-in on a
//! task not signed up for, check-in outside the window, an adjustment without a reason;
//! another county's staff get 404; the public session and the staff cookie never stand in for
//! each other. Concurrent sign-ups take exactly the places needed, and the totals equal sums
//! computed independently from the shifts.

use axum::http::StatusCode;
use backstop_app::public::Citizen;
use serde_json::{Value, json};

use crate::bookings_pages::public_session;
use crate::notify::{config, each_backend_with_gateway};
use crate::support::{T, audit_count, count, each_backend, enc, form_text, location, web_login};

/// A verified member of the public without going through the code (for the service calls).
fn citizen(t: &T, phone: &str) -> Citizen {
    Citizen {
        session_id: 0,
        phone_index: t.state.keys.blind_index("public_phone", phone),
        phone_masked: backstop_core::mask::mask_phone(phone),
        phone_enc: t.state.keys.encrypt(phone.as_bytes()),
    }
}

async fn register(t: &T, c: &Citizen, region: &str, name: &str, org: Option<i64>) {
    let input = backstop_app::volunteers::NewVolunteer {
        region_code: region.to_string(),
        name: name.to_string(),
        skills: vec!["screening".to_string()],
        availability: "周末".to_string(),
        no_fever: true,
        no_contact: true,
        org_id: org,
    };
    backstop_app::volunteers::register(&t.state, c, "test", &input)
        .await
        .expect("register");
}

fn task_body(region: &str, needed: i64) -> Value {
    json!({"region_code": region, "kind": "screening", "title": "小区入口测温", "address": "东门",
        "day": "2026-03-02", "starts": "09:00", "ends": "12:00", "needed": needed, "skills": ["screening"],
        "note": "每班 3 小时"})
}

#[tokio::test]
async fn a_task_from_posting_to_confirmed_hours() {
    each_backend_with_gateway(config, |t, fake| async move {
            t.import_fixture().await;
            let off = t.user("off.a", &["official"], "130110").await;
            let ts = t.user("ts.a", &["township_staff"], "130110100").await;
            let ts_b = t.user("ts.b", &["township_staff"], "130111100").await;
            let cw = t.user("cw.a", &["community_worker"], "130110100001").await;
            let (s, o) = t.post("/api/v1/orgs", &off, json!({"name": "鹿泉区青年志愿者协会", "kind": "social_organisation", "region_code": "130110100"})).await;
            assert_eq!(s, StatusCode::CREATED, "{o}");
            let org = o["id"].as_i64().expect("org");

            // The volunteer registers on the public face.
            let cookie = public_session(&t, &fake, "13912345678").await;
            let (s, h, _) = form_text(&t, "GET", "/public/volunteers", Some(&cookie), "").await;
            let loc = location(&h);
            assert_eq!((s, loc.as_str()), (StatusCode::SEE_OTHER, "/public/volunteers/register"));
            let (s, _, html) = form_text(&t, "GET", "/public/volunteers/register?region=130110100001", Some(&cookie), "").await;
            assert!(s == StatusCode::OK && html.contains("vol-register") && html.contains("鹿泉区青年志愿者协会"), "{html}");
            let reg = |health: &str| format!("region_code=130110100001&name={}&skills=screening&skills=driving&availability={}&org_id={org}{health}",
                enc("王志愿"), enc("周末全天"));
            let (s, _, html) = form_text(&t, "POST", "/public/volunteers/register", Some(&cookie), &reg("&no_fever=1")).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
            assert!(html.contains("健康申报未通过") && html.contains("王志愿"), "{html}");
            assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM volunteers").await, 0);
            let (s, h, _) = form_text(&t, "POST", "/public/volunteers/register", Some(&cookie), &reg("&no_fever=1&no_contact=1")).await;
            let loc = location(&h);
            assert_eq!((s, loc.as_str()), (StatusCode::SEE_OTHER, "/public/volunteers"));
            let (s, _, html) = form_text(&t, "GET", "/public/volunteers", Some(&cookie), "").await;
            assert!(s == StatusCode::OK && html.contains("王志愿") && html.contains("vol-open-empty"), "{html}");

            // Staff see the volunteer masked; a community worker sees its own village's.
            let (s, l) = t.get("/api/v1/volunteers", &ts).await;
            assert_eq!(s, StatusCode::OK);
            assert_eq!(l[0]["name"], "王**", "{l}");
            assert_eq!(l[0]["phone_masked"], "139****5678");
            assert_eq!(l[0]["org_name"], "鹿泉区青年志愿者协会");
            let vid = l[0]["id"].as_i64().expect("vid");
            let (s, l) = t.get("/api/v1/volunteers", &cw).await;
            assert_eq!((s, l[0]["name"].as_str()), (StatusCode::OK, Some("王**")), "{l}");
            assert!(t.get("/api/v1/volunteers", &ts_b).await.1.as_array().expect("list").is_empty());

            // The township posts a task; bad input refused, nothing written.
            let mut bad = task_body("130110100001", 2);
            bad["ends"] = json!("08:00");
            assert_eq!(t.post("/api/v1/volunteers/tasks", &ts, bad).await.0, StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(t.post("/api/v1/volunteers/tasks", &ts, task_body("130111100003", 2)).await.0, StatusCode::NOT_FOUND);
            // A community worker posts for its own village only (the township's level is not its).
            assert_eq!(t.post("/api/v1/volunteers/tasks", &cw, task_body("130110100", 2)).await.0, StatusCode::NOT_FOUND);
            assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM volunteer_tasks").await, 0);
            let (s, task) = t.post("/api/v1/volunteers/tasks", &ts, task_body("130110100001", 2)).await;
            assert_eq!(s, StatusCode::CREATED, "{task}");
            let tid = task["id"].as_i64().expect("tid");
            assert_eq!(task["starts"], "2026-03-02 09:00");
            assert_eq!(task["status_label"], "报名中");
            // A second task the volunteer never signs up for.
            let (_, other) = t.post("/api/v1/volunteers/tasks", &ts, task_body("130110100", 1)).await;
            let other_id = other["id"].as_i64().expect("tid");

            // Scope: another county's township sees nothing.
            assert_eq!(t.get(&format!("/api/v1/volunteers/tasks/{tid}"), &ts_b).await.0, StatusCode::NOT_FOUND);
            assert_eq!(t.post(&format!("/api/v1/volunteers/tasks/{tid}/assign"), &ts_b, json!({"volunteer_id": vid})).await.0, StatusCode::NOT_FOUND);
            assert!(t.get("/api/v1/volunteers/tasks", &ts_b).await.1.as_array().expect("list").is_empty());

            // Check-in on a task not signed up for; check-out before check-in.
            let (s, _, html) = form_text(&t, "POST", &format!("/public/volunteers/tasks/{other_id}/checkin"), Some(&cookie), "place=x").await;
            assert_eq!(s, StatusCode::CONFLICT);
            assert!(html.contains("未报名或未被指派"), "{html}");
            let (s, _, html) = form_text(&t, "GET", "/public/volunteers", Some(&cookie), "").await;
            assert!(s == StatusCode::OK && html.contains(&format!("vol-signup-{tid}")) && html.contains("每班 3 小时"), "{html}");
            let (s, _, _) = form_text(&t, "POST", &format!("/public/volunteers/tasks/{tid}/signup"), Some(&cookie), "").await;
            assert_eq!(s, StatusCode::SEE_OTHER);
            // Signing up again changes nothing.
            assert_eq!(form_text(&t, "POST", &format!("/public/volunteers/tasks/{tid}/signup"), Some(&cookie), "").await.0, StatusCode::SEE_OTHER);
            let (s, _, html) = form_text(&t, "POST", &format!("/public/volunteers/tasks/{tid}/checkout"), Some(&cookie), "").await;
            assert_eq!(s, StatusCode::CONFLICT);
            assert!(html.contains("尚未签到"), "{html}");
            // Check in at 09:10, out at 11:40: 150 minutes.
            t.clock.advance(chrono::Duration::minutes(10));
            let (s, _, _) = form_text(&t, "POST", &format!("/public/volunteers/tasks/{tid}/checkin"), Some(&cookie), &format!("place={}", enc("东门岗亭"))).await;
            assert_eq!(s, StatusCode::SEE_OTHER);
            t.clock.advance(chrono::Duration::minutes(150));
            // The two-hour public session has run out: the volunteer verifies the phone again.
            let (s, _, _) = form_text(&t, "GET", "/public/volunteers", Some(&cookie), "").await;
            assert_eq!(s, StatusCode::SEE_OTHER, "an expired public session is sent to log in");
            let cookie = public_session(&t, &fake, "13912345678").await;
            let (s, _, _) = form_text(&t, "POST", &format!("/public/volunteers/tasks/{tid}/checkout"), Some(&cookie), "").await;
            assert_eq!(s, StatusCode::SEE_OTHER);
            let (_, _, html) = form_text(&t, "GET", "/public/volunteers", Some(&cookie), "").await;
            assert!(html.contains("2 小时 30 分钟") && html.contains("待确认"), "{html}");
            // The staff's sessions idled out too (30 minutes): they sign in again.
            let (off, ts, ts_b) = (t.login("off.a").await, t.login("ts.a").await, t.login("ts.b").await);

            // The township confirms: an adjustment needs a reason.
            let (s, d) = t.get(&format!("/api/v1/volunteers/tasks/{tid}"), &ts).await;
            assert_eq!(d["task"]["taken"], 1, "{s} {d}");
            assert_eq!(d["shifts"][0]["minutes"], 150, "{d}");
            assert_eq!(d["shifts"][0]["volunteer_name"], "王**");
            assert_eq!(d["shifts"][0]["checkin_place"], "东门岗亭");
            let sid = d["shifts"][0]["id"].as_i64().expect("sid");
            assert_eq!(t.post(&format!("/api/v1/volunteers/shifts/{sid}/confirm"), &ts_b, json!({})).await.0, StatusCode::NOT_FOUND);
            let (s, e) = t.post(&format!("/api/v1/volunteers/shifts/{sid}/confirm"), &ts, json!({"minutes": 120})).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
            assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM volunteer_shifts WHERE status = 'confirmed'").await, 0);
            let (s, sh) = t.post(&format!("/api/v1/volunteers/shifts/{sid}/confirm"), &ts, json!({"minutes": 120, "reason": "中途离岗 30 分钟"})).await;
            assert_eq!(s, StatusCode::OK, "{sh}");
            assert_eq!(sh["confirmed_minutes"], 120);

            // Totals and certificates count the confirmed minutes only.
            let (_, tot) = t.get("/api/v1/volunteers/totals", &off).await;
            assert_eq!(tot["total"]["minutes"], 120, "{tot}");
            let by_region: i64 = tot["regions"].as_array().expect("r").iter().map(|l| l["minutes"].as_i64().unwrap_or(0)).sum();
            assert_eq!(by_region, 120);
            assert_eq!(tot["orgs"][0]["name"], "鹿泉区青年志愿者协会");
            assert_eq!(tot["volunteers"][0]["name"], "王**");
            let (_, tot_b) = t.get("/api/v1/volunteers/totals", &ts_b).await;
            assert_eq!(tot_b["total"]["minutes"], 0);
            let (s, cert) = t.get(&format!("/api/v1/volunteers/{vid}/certificate"), &ts).await;
            assert_eq!(s, StatusCode::OK);
            assert_eq!(cert["total_minutes"], 120);
            assert_eq!(cert["lines"][0]["region_name"], "旱码头社区居民委员会");
            assert_eq!(t.get(&format!("/api/v1/volunteers/{vid}/certificate"), &ts_b).await.0, StatusCode::NOT_FOUND);
            let (s, _, html) = form_text(&t, "GET", "/public/volunteers/certificate", Some(&cookie), "").await;
            assert!(s == StatusCode::OK && html.contains("王志愿") && html.contains("2 小时") && html.contains("旱码头社区居民委员会"), "{html}");
            let (s, h, bytes) = t.raw("GET", "/api/v1/volunteers/totals/export", Some(&ts), None, &[]).await;
            assert_eq!(s, StatusCode::OK, "{h:?}");
            assert!(bytes.starts_with(b"PK"));

            // Staff pages; the public session is no staff login, the staff cookie no public one.
            let web = web_login(&t, "ts.a").await;
            let (s, _, html) = form_text(&t, "GET", &format!("/volunteers/tasks/{tid}"), Some(&web), "").await;
            assert!(s == StatusCode::OK && html.contains("已确认 120 分钟") && html.contains("中途离岗"), "{html}");
            let (s, _, html) = form_text(&t, "GET", "/volunteers/totals", Some(&web), "").await;
            assert!(s == StatusCode::OK && html.contains("chart-hours") && html.contains("2 小时"), "{html}");
            let (s, _, html) = form_text(&t, "POST", &format!("/volunteers/shifts/{sid}/confirm"), Some(&web), "minutes=90&reason=").await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
            assert!(html.contains("调整时长须填写理由"), "{html}");
            let (s, h, _) = form_text(&t, "GET", "/volunteers", Some(&cookie), "").await;
            let loc = location(&h);
            assert!(s == StatusCode::SEE_OTHER && loc.starts_with("/login"), "{s} {loc}");
            let (s, h, _) = form_text(&t, "GET", "/public/volunteers", Some(&web), "").await;
            let loc = location(&h);
            assert!(s == StatusCode::SEE_OTHER && loc.starts_with("/public/login"), "{s} {loc}");
            let (s, h, _) = form_text(&t, "POST", &format!("/public/volunteers/tasks/{tid}/checkin"), Some(&web), "").await;
            let loc = location(&h);
            assert!(s == StatusCode::SEE_OTHER && loc.starts_with("/public/login"), "{s} {loc}");

            // The community posts its own entrance duty and reads it; the township sees it too.
            let cw = t.login("cw.a").await;
            let (s, own) = t.post("/api/v1/volunteers/tasks", &cw, task_body("130110100001", 1)).await;
            assert_eq!(s, StatusCode::CREATED, "{own}");
            let own_id = own["id"].as_i64().expect("tid");
            assert_eq!(t.get(&format!("/api/v1/volunteers/tasks/{own_id}"), &cw).await.0, StatusCode::OK);
            assert_eq!(t.get(&format!("/api/v1/volunteers/tasks/{own_id}"), &ts).await.0, StatusCode::OK);
            assert_eq!(t.get(&format!("/api/v1/volunteers/tasks/{other_id}"), &cw).await.0, StatusCode::NOT_FOUND, "the township's own task");

            // Personal data sealed at rest; every change audited.
            let n: Vec<u8> = sqlx::query_scalar("SELECT name_enc FROM volunteers").fetch_one(t.state.db.pool()).await.expect("row");
            assert!(!String::from_utf8_lossy(&n).contains("王志愿"));
            for (action, n) in [("volunteer.register", 1), ("volunteer_task.create", 3), ("volunteer.signup", 1),
                ("volunteer.checkin", 1), ("volunteer.checkout", 1), ("volunteer.hours_confirm", 1)] {
                assert_eq!(audit_count(&t, action).await, n, "{action}");
            }
    })
    .await;
}

#[tokio::test]
async fn sign_ups_never_exceed_the_places_and_totals_add_up() {
    each_backend(|t: T| async move {
        use backstop_app::volunteers as vol;
        t.import_fixture().await;
        let off = t.user("off.a", &["official"], "130110").await;
        let ts = t.user("ts.a", &["township_staff"], "130110100").await;
        let (_, o) = t.post("/api/v1/orgs", &off, json!({"name": "社工服务站", "kind": "social_work", "region_code": "130110100"})).await;
        let org = o["id"].as_i64().expect("org");
        let (s, task) = t.post("/api/v1/volunteers/tasks", &ts, task_body("130110100001", 5)).await;
        assert_eq!(s, StatusCode::CREATED, "{task}");
        let tid = task["id"].as_i64().expect("tid");
        let mut people = Vec::new();
        for i in 0..20 {
            let c = citizen(&t, &format!("1390000{i:04}"));
            register(&t, &c, "130110100001", &format!("志愿者{i}"), (i % 2 == 0).then_some(org)).await;
            people.push(c);
        }
        let mut jobs = tokio::task::JoinSet::new();
        for c in people.clone() {
            let state = t.state.clone();
            jobs.spawn(async move { vol::sign_up(&state, &c, "test", tid).await });
        }
        let (mut ok, mut full) = (0, 0);
        while let Some(r) = jobs.join_next().await {
            match r.expect("join") {
                Ok(_) => ok += 1,
                Err(e) if e.status() == StatusCode::CONFLICT => full += 1,
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!((ok, full), (5, 15));
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM volunteer_shifts").await, 5);
        assert_eq!(count(&t, &format!("SELECT taken FROM volunteer_tasks WHERE id = {tid}")).await, 5);
        assert_eq!(audit_count(&t, "volunteer.signup").await, 5);
        // Staff cannot assign past the places either.
        let (_, vl) = t.get("/api/v1/volunteers", &ts).await;
        let signed: Vec<i64> = t.get(&format!("/api/v1/volunteers/tasks/{tid}"), &ts).await.1["shifts"]
            .as_array().expect("s").iter().map(|s| s["volunteer_id"].as_i64().unwrap_or(0)).collect();
        let free = vl.as_array().expect("v").iter().map(|v| v["id"].as_i64().unwrap_or(0)).find(|id| !signed.contains(id)).expect("free");
        assert_eq!(t.post(&format!("/api/v1/volunteers/tasks/{tid}/assign"), &ts, json!({"volunteer_id": free})).await.0, StatusCode::CONFLICT);

        // A second task in another township of the county, a volunteer assigned there.
        let (s, t2) = t.post("/api/v1/volunteers/tasks", &off, task_body("130110101001", 3)).await;
        assert_eq!(s, StatusCode::CREATED, "{t2}");
        let tid2 = t2["id"].as_i64().expect("tid");
        let c2 = citizen(&t, "13711112222");
        register(&t, &c2, "130110101001", "赵六", None).await;
        let (_, vl2) = t.get("/api/v1/volunteers?region=130110101", &off).await;
        let v2 = vl2[0]["id"].as_i64().expect("v2");
        let (s, sh) = t.post(&format!("/api/v1/volunteers/tasks/{tid2}/assign"), &off, json!({"volunteer_id": v2})).await;
        assert_eq!(s, StatusCode::CREATED, "{sh}");
        assert_eq!(sh["via"], "assigned");
        // Everyone on task 1 checks in now; they leave at different times.
        let signed_people: Vec<&Citizen> = {
            let mut v = Vec::new();
            for c in &people {
                if vol::my_shifts(&t.state, c).await.expect("mine").iter().any(|s| s.task_id == tid) {
                    v.push(c);
                }
            }
            v
        };
        assert_eq!(signed_people.len(), 5);
        for c in &signed_people {
            vol::check_in(&t.state, c, "test", tid, "").await.expect("in");
        }
        vol::check_in(&t.state, &c2, "test", tid2, "").await.expect("in");
        for (k, c) in signed_people.iter().enumerate() {
            t.clock.advance(chrono::Duration::minutes(17 + i64::try_from(k).expect("k")));
            vol::check_out(&t.state, c, "test", tid, "").await.expect("out");
        }
        vol::check_out(&t.state, &c2, "test", tid2, "").await.expect("out");
        // The staff's sessions idled out meanwhile: they sign in again.
        let (off, ts) = (t.login("off.a").await, t.login("ts.a").await);
        // Confirm all but one (unconfirmed minutes never count).
        let mut shifts: Vec<Value> = t.get(&format!("/api/v1/volunteers/tasks/{tid}"), &ts).await.1["shifts"].as_array().expect("s").clone();
        let (s2, d2) = t.get(&format!("/api/v1/volunteers/tasks/{tid2}"), &off).await;
        shifts.extend(d2["shifts"].as_array().unwrap_or_else(|| panic!("{s2} {d2}")).clone());
        for s in shifts.iter().skip(1) {
            let id = s["id"].as_i64().expect("id");
            let (st, v) = t.post(&format!("/api/v1/volunteers/shifts/{id}/confirm"), &off, json!({})).await;
            assert_eq!(st, StatusCode::OK, "{v}");
        }
        // Check-in after the window (12:00 + 1 h): refused; assigning to an ended task too.
        let late = citizen(&t, "13755556666");
        register(&t, &late, "130110101001", "迟到", None).await;
        let (_, vl3) = t.get("/api/v1/volunteers?region=130110101001", &off).await;
        let late_id = vl3.as_array().expect("v").iter().find(|v| v["id"].as_i64() != Some(v2)).and_then(|v| v["id"].as_i64()).expect("late");
        let (s, _) = t.post(&format!("/api/v1/volunteers/tasks/{tid2}/assign"), &off, json!({"volunteer_id": late_id})).await;
        assert_eq!(s, StatusCode::CREATED);
        t.clock.set(chrono::DateTime::parse_from_rfc3339("2026-03-02T05:01:00Z").expect("t").with_timezone(&chrono::Utc));
        let e = vol::check_in(&t.state, &late, "test", tid2, "").await.expect_err("late");
        assert_eq!(e.status(), StatusCode::CONFLICT);
        assert!(e.message.contains("不在任务时间内"), "{}", e.message);
        let e = vol::check_out(&t.state, &late, "test", tid2, "").await.expect_err("not in");
        assert_eq!(e.status(), StatusCode::CONFLICT);
        let c3 = citizen(&t, "13755557777");
        register(&t, &c3, "130110101001", "又一位", None).await;
        let off = t.login("off.a").await;
        let (_, vl4) = t.get("/api/v1/volunteers?region=130110101001", &off).await;
        let id4 = vl4.as_array().expect("v").iter().filter_map(|v| v["id"].as_i64()).find(|id| *id != v2 && *id != late_id).expect("id4");
        let (s, _) = t.post(&format!("/api/v1/volunteers/tasks/{tid2}/assign"), &off, json!({"volunteer_id": id4})).await;
        assert_eq!(s, StatusCode::CONFLICT, "the task has ended");

        // Independent sums: straight from the shifts' confirmed minutes.
        let rows: Vec<(String, i64, Option<i64>, i64)> = sqlx::query_as(
            "SELECT region_code, volunteer_id, org_id, confirmed_minutes FROM volunteer_shifts WHERE status = 'confirmed'")
            .fetch_all(t.state.db.pool()).await.expect("rows");
        assert_eq!(rows.len(), 5);
        let total: i64 = rows.iter().map(|r| r.3).sum();
        let (_, tot) = t.get("/api/v1/volunteers/totals", &off).await;
        assert_eq!(tot["total"]["minutes"].as_i64(), Some(total), "{tot}");
        let line = |list: &str, key: &str| tot[list].as_array().expect("l").iter().find(|l| l["key"] == key).map(|l| l["minutes"].as_i64().unwrap_or(0)).unwrap_or(0);
        type ShiftRow = (String, i64, Option<i64>, i64);
        let sum_of = |f: &dyn Fn(&ShiftRow) -> bool| rows.iter().filter(|r| f(r)).map(|r| r.3).sum::<i64>();
        assert_eq!(line("regions", "130110100"), sum_of(&|r| r.0.starts_with("130110100")));
        assert_eq!(line("regions", "130110101"), sum_of(&|r| r.0.starts_with("130110101")));
        assert_eq!(line("orgs", &org.to_string()), sum_of(&|r| r.2 == Some(org)));
        assert_eq!(line("orgs", ""), sum_of(&|r| r.2.is_none()));
        for r in &rows {
            assert_eq!(line("volunteers", &r.1.to_string()), sum_of(&|x| x.1 == r.1));
        }
        let (_, tot_t) = t.get("/api/v1/volunteers/totals?region=130110100", &off).await;
        assert_eq!(tot_t["total"]["minutes"].as_i64(), Some(sum_of(&|r| r.0.starts_with("130110100"))));
        let ts = t.login("ts.a").await;
        let (_, tot_ts) = t.get("/api/v1/volunteers/totals", &ts).await;
        assert_eq!(tot_ts["total"], tot_t["total"], "the township's own totals");
    })
    .await;
}
