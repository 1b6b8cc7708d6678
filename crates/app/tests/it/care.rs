//! Vulnerable groups and visits (issue 4, part 2): memberships with validation, scope (404)
//! and permissions (403), the carer and the daily check (once per person per day, a second
//! one updates it), visits, follow-up tasks with owners in scope, overdue by the injected
//! clock and closing, coverage and the not-contacted list checked against what the test
//! recorded, audit entries, and the pages — on both backends.

use axum::http::StatusCode;
use backstop_core::mask::mask_name;
use serde_json::{Value, json};

use crate::support::{
    T, assert_audit_counts, audit_count, cid, count, created_id, each_backend, web_login,
};

const V1: &str = "130110100001";
const V2: &str = "130110100002";
const O1: &str = "130111100003";

async fn person(t: &T, token: &str, id_number: &str, name: &str, region: &str) -> i64 {
    let body = json!({"id_number": id_number, "name": name, "region_code": region});
    created_id(t, "/api/v1/persons", token, body).await
}

fn row<'a>(cov: &'a Value, category: &str) -> &'a Value {
    cov["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["category"] == category)
        .expect("category row")
}

#[tokio::test]
async fn care_memberships_checks_visits_tasks_coverage() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let off = t.user("c_off", &["official"], "130110").await;
        let cw = t.user("c_cw", &["community_worker"], V1).await;
        let other = t.user("c_other", &["official"], "130111").await;
        let fin = t.user("c_fin", &["charity_finance"], "130110").await;

        let p1 = person(&t, &off, &cid("130110", "19450101", 1), "王大山", V1).await;
        let p2 = person(&t, &off, &cid("130110", "19500202", 2), "李小花", V1).await;
        let p3 = person(&t, &off, &cid("130110", "19400303", 3), "赵老汉", V2).await;
        let po = person(&t, &other, &cid("130111", "19600404", 4), "孙某某", O1).await;

        // Memberships.
        let m = |cat: &str, start: &str, end: Option<&str>| {
            json!({"category": cat, "start_date": start, "end_date": end, "deciding_body": "鹿泉区民政局"})
        };
        let path = |p: i64, what: &str| format!("/api/v1/care/persons/{p}/{what}");
        let (s, b) = t.post(&path(p1, "memberships"), &cw, m("dibao", "2026-01-01", None)).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        assert_eq!(b["category_label"], "低保");
        assert_eq!(b["end_date"], "");
        let (s, b) = t
            .post(&path(p1, "memberships"), &off, m("特困（分散供养）", "2026-01-01", None))
            .await;
        assert_eq!((s, b["category"].as_str()), (StatusCode::CREATED, Some("tekun_dispersed")), "{b}");
        let (s, _) = t
            .post(&path(p2, "memberships"), &off, m("dibao", "2025-01-01", Some("2025-12-31")))
            .await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, _) = t
            .post(&path(p3, "memberships"), &off, m("elderly_alone", "2026-02-01", None))
            .await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, _) = t
            .post(&path(po, "memberships"), &other, m("dibao", "2026-01-01", None))
            .await;
        assert_eq!(s, StatusCode::CREATED);
        let stored = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM care_memberships").await;
        assert_eq!(stored, 5);

        // Validation: nothing stored.
        let (s, b) = t
            .post(&path(p1, "memberships"), &off, m("dibao", "2026-03-01", Some("2026-02-01")))
            .await;
        assert_eq!((s, b["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("validation")), "{b}");
        assert!(b["message"].as_str().unwrap_or("").contains("结束日期"), "{b}");
        let (s, b) = t.post(&path(p1, "memberships"), &off, m("rich", "2026-01-01", None)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        let (s, _) = t
            .post(&path(p1, "memberships"), &off, json!({"category": "dibao", "start_date": "2026-13-01", "deciding_body": "x"}))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, _) = t.post(&path(p1, "memberships"), &off, m("dibao", "2026-01-01", None).as_object().map(|o| { let mut o = o.clone(); o.insert("deciding_body".into(), json!("")); Value::Object(o) }).expect("obj")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM care_memberships").await, stored);

        // Ending a membership: not before its start; audited; out of scope is 404.
        let (_, rec) = t.get(&format!("/api/v1/care/persons/{p3}"), &off).await;
        let mid = rec["memberships"][0]["id"].as_i64().expect("membership id");
        let end = format!("/api/v1/care/memberships/{mid}/end");
        let (s, _) = t.post(&end, &off, json!({"end_date": "2026-01-15"})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, _) = t.post(&end, &other, json!({"end_date": "2026-12-31"})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, b) = t.post(&end, &off, json!({"end_date": "2026-12-31"})).await;
        assert_eq!((s, b["end_date"].as_str()), (StatusCode::OK, Some("2026-12-31")), "{b}");

        // Scope: 130111 sees nothing of 130110; permissions: charity finance is refused.
        let (s, _) = t.post(&path(p1, "memberships"), &other, m("dibao", "2026-01-01", None)).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = t.get(&format!("/api/v1/care/persons/{p1}"), &other).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = t.get(&format!("/api/v1/care/persons/{p1}"), &fin).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = t.post(&path(p1, "memberships"), &fin, m("dibao", "2026-01-01", None)).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = t.get("/api/v1/care/categories", &fin).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, cats) = t.get("/api/v1/care/categories", &cw).await;
        assert_eq!((s, cats.as_array().map(Vec::len)), (StatusCode::OK, Some(14)));
        let (_, doc) = t.call("GET", "/api/v1/openapi.json", None, None).await;
        for p in ["/api/v1/care/coverage", "/api/v1/care/not-contacted", "/api/v1/care/persons/{id}/visits"] {
            assert!(doc["paths"][p].is_object(), "openapi lacks {p}");
        }
        let (s, _) = t.get("/api/v1/care/coverage", &fin).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = t.get("/api/v1/care/coverage?region=130110", &other).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = t.get(&format!("/api/v1/care/persons/{p2}"), &cw).await;
        assert_eq!(s, StatusCode::OK, "p2 is in the worker's village");
        let (s, _) = t.get(&format!("/api/v1/care/persons/{p3}"), &cw).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "p3 is in another village");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM care_memberships").await, stored);

        // Carer: only for a dispersed 特困 person; phone masked, never stored in plain text.
        let carer = json!({"name": "王二", "phone": "139 1234 5678", "relationship": "侄子"});
        let (s, b) = t.call("PUT", &path(p3, "carer"), Some(&off), Some(carer.clone())).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        let (s, b) = t.call("PUT", &path(p1, "carer"), Some(&cw), Some(carer.clone())).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["phone_masked"], "139****5678");
        let plain = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM care_carers WHERE phone_masked LIKE '%12345678%' OR phone_index LIKE '%13912345678%'").await;
        assert_eq!(plain, 0);
        let (s, _) = t.call("PUT", &path(p1, "carer"), Some(&other), Some(carer)).await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        // Daily check: once per person per day; the second one updates the first.
        let (s, b) = t.post(&path(p3, "checks"), &off, json!({"status": "ok"})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "no carer: {b}");
        let (s, b) = t.post(&path(p1, "checks"), &cw, json!({"status": "maybe"})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        let (s, b) = t.post(&path(p1, "checks"), &cw, json!({"status": "ok"})).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        assert_eq!((b["date"].as_str(), b["carer_name"].as_str()), (Some("2026-03-02"), Some("王二")));
        let (s, b) = t
            .post(&path(p1, "checks"), &cw, json!({"status": "needs_help", "note": "发烧"}))
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["updated"], true);
        let (s, _) = t
            .post(&path(p1, "checks"), &cw, json!({"status": "ok", "date": "2026-03-03"}))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a future day");
        assert_eq!(
            count(&t, &format!("SELECT CAST(COUNT(*) AS BIGINT) FROM care_daily_checks WHERE person_id = {p1}")).await,
            1
        );
        let (s, rec) = t.get(&format!("/api/v1/care/persons/{p1}"), &cw).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(rec["checks"][0]["status"], "needs_help");
        assert_eq!(rec["dispersed_tekun"], true);
        assert_eq!(rec["memberships"].as_array().map(Vec::len), Some(2));

        // Visits.
        let (s, b) = t
            .post(&path(p1, "visits"), &cw, json!({"method": "by_pigeon", "findings": "x"}))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        let (s, _) = t
            .post(&path(p1, "visits"), &cw, json!({"method": "home", "findings": "x", "visited_on": "2026-04-01"}))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "future visit");
        let (s, _) = t
            .post(&path(p1, "visits"), &cw, json!({"method": "home", "findings": ""}))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "findings required");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM care_visits").await, 0);
        let (s, v) = t
            .post(
                &path(p1, "visits"),
                &cw,
                json!({"method": "home", "findings": "房屋漏雨，身体尚可", "needs": ["修缮房屋", " ", "申请临时救助"],
                       "help_given": "送米面油"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(v["visited_by"], "c_cw");
        assert_eq!(v["visited_on"], "2026-03-02");
        assert_eq!(v["needs"], json!(["修缮房屋", "申请临时救助"]));
        let vid = v["id"].as_i64().expect("visit id");
        let (s, _) = t
            .post(&path(p2, "visits"), &off, json!({"method": "phone", "findings": "电话联系", "visited_on": "2026-02-10"}))
            .await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, _) = t.get(&format!("/api/v1/care/visits/{vid}"), &other).await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        // Tasks: owner must be a user in scope who sees the person.
        let tasks = format!("/api/v1/care/visits/{vid}/tasks");
        for (body, why) in [
            (json!({"need_index": 0, "owner": "c_other", "due_date": "2026-03-05"}), "owner out of scope"),
            (json!({"need_index": 0, "owner": "nobody", "due_date": "2026-03-05"}), "unknown owner"),
            (json!({"need_index": 5, "owner": "c_cw", "due_date": "2026-03-05"}), "no such need"),
            (json!({"need_index": 0, "owner": "c_cw", "due_date": "2026-03-01"}), "due in the past"),
        ] {
            let (s, b) = t.post(&tasks, &off, body).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{why}: {b}");
        }
        let (s, _) = t
            .post(&tasks, &other, json!({"need_index": 0, "owner": "c_other", "due_date": "2026-03-05"}))
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, t1) = t
            .post(&tasks, &off, json!({"need_index": 0, "owner": "c_cw", "due_date": "2026-03-05"}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{t1}");
        assert_eq!((t1["need"].as_str(), t1["status"].as_str(), t1["overdue"].as_bool()), (Some("修缮房屋"), Some("open"), Some(false)));
        let (s, t2) = t
            .post(&tasks, &off, json!({"need_index": 1, "owner": "c_off", "due_date": "2026-03-20"}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{t2}");
        let t1id = t1["id"].as_i64().expect("task id");
        let (_, over) = t.get("/api/v1/care/tasks?status=overdue", &off).await;
        assert_eq!(over.as_array().map(Vec::len), Some(0));

        // Four days later the first task is overdue.
        t.clock.advance(chrono::Duration::days(4));
        let off = t.login("c_off").await;
        let cw = t.login("c_cw").await;
        let other = t.login("c_other").await;
        let (s, over) = t.get("/api/v1/care/tasks?status=overdue", &off).await;
        assert_eq!(s, StatusCode::OK);
        let ids: Vec<i64> = over.as_array().expect("list").iter().filter_map(|x| x["id"].as_i64()).collect();
        assert_eq!(ids, vec![t1id]);
        assert_eq!(over[0]["overdue"], true);
        assert_eq!(over[0]["person_name_masked"], mask_name("王大山").as_str());
        let (_, open) = t.get("/api/v1/care/tasks", &off).await;
        assert_eq!(open.as_array().map(Vec::len), Some(2));
        let (_, none) = t.get("/api/v1/care/tasks?status=all", &other).await;
        assert_eq!(none.as_array().map(Vec::len), Some(0), "130111 sees no task of 130110");
        let close = format!("/api/v1/care/tasks/{t1id}/close");
        let (s, _) = t.post(&close, &cw, json!({"note": ""})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, _) = t.post(&close, &other, json!({"note": "x"})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, b) = t.post(&close, &cw, json!({"note": "已联系施工队修好"})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!((b["status"].as_str(), b["closed_by"].as_str()), (Some("closed"), Some("c_cw")));
        let (s, _) = t.post(&close, &cw, json!({"note": "again"})).await;
        assert_eq!(s, StatusCode::CONFLICT);
        let (_, over) = t.get("/api/v1/care/tasks?status=overdue", &off).await;
        assert_eq!(over.as_array().map(Vec::len), Some(0));

        // Coverage for March in 130110: p1 (低保, 特困分散) visited; p2's 低保 ended in 2025;
        // p3 (独居老人) not visited.
        let (s, cov) = t
            .get("/api/v1/care/coverage?region=130110&from=2026-03-01&to=2026-03-31", &off)
            .await;
        assert_eq!(s, StatusCode::OK, "{cov}");
        assert_eq!(cov["rows"].as_array().map(Vec::len), Some(14));
        let d = row(&cov, "dibao");
        assert_eq!((d["members"].as_i64(), d["contacted"].as_i64(), d["share"].as_f64()), (Some(1), Some(1), Some(1.0)));
        let e = row(&cov, "elderly_alone");
        assert_eq!((e["members"].as_i64(), e["contacted"].as_i64(), e["share"].as_f64()), (Some(1), Some(0), Some(0.0)));
        let k = row(&cov, "tekun_dispersed");
        assert_eq!((k["members"].as_i64(), k["contacted"].as_i64()), (Some(1), Some(1)));
        assert_eq!(row(&cov, "homeless")["members"], 0);
        let (s, nc) = t
            .get("/api/v1/care/not-contacted?region=130110&from=2026-03-01&to=2026-03-31", &off)
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(nc.as_array().map(Vec::len), Some(1), "{nc}");
        assert_eq!(nc[0]["person_id"], p3);
        assert_eq!(nc[0]["name_masked"], mask_name("赵老汉").as_str());
        assert_eq!(nc[0]["region_code"], V2);
        let (_, nc) = t
            .get("/api/v1/care/not-contacted?region=130110&from=2026-03-01&to=2026-03-31&category=dibao", &off)
            .await;
        assert_eq!(nc.as_array().map(Vec::len), Some(0));
        // February: p1 was a member but visited only in March; p2's phone call in February
        // counts for nobody (no membership then).
        let (_, feb) = t
            .get("/api/v1/care/coverage?region=130110&from=2026-02-01&to=2026-02-28", &off)
            .await;
        let d = row(&feb, "dibao");
        assert_eq!((d["members"].as_i64(), d["contacted"].as_i64()), (Some(1), Some(0)));
        // The worker's village only.
        let (_, mine) = t
            .get("/api/v1/care/coverage?from=2026-03-01&to=2026-03-31", &cw)
            .await;
        assert_eq!(row(&mine, "elderly_alone")["members"], 0);
        assert_eq!(row(&mine, "dibao")["members"], 1);
        // The other county sees only its own member.
        let (_, theirs) = t
            .get("/api/v1/care/coverage?from=2026-03-01&to=2026-03-31", &other)
            .await;
        let d = row(&theirs, "dibao");
        assert_eq!((d["members"].as_i64(), d["contacted"].as_i64()), (Some(1), Some(0)));
        let (_, nc) = t
            .get("/api/v1/care/not-contacted?from=2026-03-01&to=2026-03-31", &other)
            .await;
        assert_eq!(nc.as_array().map(Vec::len), Some(1));
        assert_eq!(nc[0]["person_id"], po);
        // Bad periods and categories.
        let (s, _) = t
            .get("/api/v1/care/coverage?region=130110&from=2026-03-31&to=2026-03-01", &off)
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, _) = t
            .get("/api/v1/care/not-contacted?region=130110&category=rich", &off)
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

        // Audit entries, written with the changes.
        let audited = [
            ("care.membership.create", 5),
            ("care.carer.create", 1),
            ("care.check.create", 1),
            ("care.check.update", 1),
            ("care.visit.create", 2),
            ("care.task.create", 2),
            ("care.task.close", 1),
            ("care.membership.end", 1),
        ];
        assert_audit_counts(&t, &audited).await;
    })
    .await;
}

/// Every `?region=` of the care lists goes through the caller's scope: another county, a
/// region above the caller's, or a malformed code is *not found*, on the task list, the
/// coverage and the not-contacted list alike, and the records by id of another county too.
#[tokio::test]
async fn care_query_regions_are_scoped() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let off = t.user("q_off", &["official"], "130110").await;
        let cw = t.user("q_cw", &["community_worker"], V1).await;
        let other = t.user("q_other", &["official"], "130111").await;
        let p1 = person(&t, &off, &cid("130110", "19450101", 1), "王大山", V1).await;
        let (s, b) = t
            .post(
                &format!("/api/v1/care/persons/{p1}/visits"),
                &cw,
                json!({"method": "home", "findings": "生活困难", "needs": ["修缮房屋"]}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let vid = b["id"].as_i64().expect("visit id");
        let (s, b) = t
            .post(
                &format!("/api/v1/care/visits/{vid}/tasks"),
                &off,
                json!({"need_index": 0, "owner": "q_cw", "due_date": "2026-12-31"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let tid = b["id"].as_i64().expect("task id");

        for path in [
            "/api/v1/care/tasks",
            "/api/v1/care/coverage",
            "/api/v1/care/not-contacted",
        ] {
            for region in ["130110", "1301", "13011x"] {
                let (s, _) = t.get(&format!("{path}?region={region}"), &other).await;
                assert_eq!(s, StatusCode::NOT_FOUND, "{path} {region}");
            }
            let (s, _) = t.get(&format!("{path}?region=130110"), &cw).await;
            assert_eq!(
                s,
                StatusCode::NOT_FOUND,
                "{path}: above the worker's village"
            );
            let (s, _) = t.get(&format!("{path}?region={V1}"), &cw).await;
            assert_eq!(s, StatusCode::OK, "{path}: the worker's own village");
        }
        let (s, tasks) = t.get("/api/v1/care/tasks", &other).await;
        assert_eq!(
            (s, tasks.as_array().map(Vec::len)),
            (StatusCode::OK, Some(0))
        );
        let (s, tasks) = t
            .get(&format!("/api/v1/care/tasks?region={V1}&status=all"), &cw)
            .await;
        assert_eq!(
            (s, tasks.as_array().map(Vec::len)),
            (StatusCode::OK, Some(1))
        );
        assert_eq!(tasks[0]["person_name_masked"], mask_name("王大山"));
        let (s, _) = t.get(&format!("/api/v1/care/visits/{vid}"), &other).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = t
            .post(
                &format!("/api/v1/care/visits/{vid}/tasks"),
                &other,
                json!({"need_index": 0, "owner": "q_other", "due_date": "2026-12-31"}),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = t
            .post(
                &format!("/api/v1/care/tasks/{tid}/close"),
                &other,
                json!({"note": "x"}),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(audit_count(&t, "care.task.close").await, 0);
    })
    .await;
}
#[tokio::test]
async fn care_pages() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let off = t.user("cp_off", &["official"], "130110").await;
        t.make_user("cp_other", &["official"], "130111").await;
        let p1 = person(&t, &off, &cid("130110", "19450101", 7), "王大山", V1).await;
        let c = web_login(&t, "cp_off").await;

        let (s, _, body) = t.raw_form("GET", "/care", Some(&c), "").await;
        let html = String::from_utf8_lossy(&body).to_string();
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("困难群众走访覆盖") && html.contains("href=\"/care\""), "{html}");

        let form = |p: &str| format!("/care/persons/{p1}/{p}");
        let (s, h, _) = t
            .raw_form("POST", &form("memberships"), Some(&c), "category=tekun_dispersed&start_date=2026-01-01&end_date=&deciding_body=%E6%B0%91%E6%94%BF%E5%B1%80")
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert_eq!(h.get("location").and_then(|v| v.to_str().ok()), Some(format!("/care/persons/{p1}").as_str()));
        let (s, _, body) = t
            .raw_form("POST", &form("memberships"), Some(&c), "category=rich&start_date=2026-01-01&deciding_body=x")
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(String::from_utf8_lossy(&body).contains("未知的类别"));
        let (s, _, _) = t
            .raw_form("POST", &form("carer"), Some(&c), "name=%E7%8E%8B%E4%BA%8C&phone=13912345678&relationship=%E9%82%BB%E5%B1%85")
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (s, _, _) = t
            .raw_form("POST", &form("checks"), Some(&c), "date=&status=ok&note=")
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (s, _, _) = t
            .raw_form("POST", &form("visits"), Some(&c), "method=home&visited_on=&findings=%E8%89%AF%E5%A5%BD&needs=%E7%B1%B3%0D%0A%E6%B2%B9&help_given=")
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (_, rec) = t.get(&format!("/api/v1/care/persons/{p1}"), &off).await;
        let vid = rec["visits"][0]["id"].as_i64().expect("visit");
        assert_eq!(rec["visits"][0]["needs"], json!(["米", "油"]));
        let (s, _, _) = t
            .raw_form("POST", &format!("/care/visits/{vid}/tasks"), Some(&c), "need_index=1&owner=cp_off&due_date=2026-03-09")
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER);

        let (s, _, body) = t.raw_form("GET", &format!("/care/persons/{p1}"), Some(&c), "").await;
        let html = String::from_utf8_lossy(&body).to_string();
        assert_eq!(s, StatusCode::OK);
        for needle in ["特困（分散供养）", "139****5678", "良好", "转为任务", "任务：油", "办理中"] {
            assert!(html.contains(needle), "{needle} in {html}");
        }
        assert!(!html.contains("13912345678"));
        assert!(
            !html.contains(" style=") && !html.contains("<script>") && !html.contains(" onclick="),
            "CSP"
        );

        let (s, _, body) = t
            .raw_form("GET", "/care?region=130110&from=2026-03-01&to=2026-03-31", Some(&c), "")
            .await;
        let html = String::from_utf8_lossy(&body).to_string();
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("id=\"cov-tekun_dispersed\""), "{html}");
        assert!(html.contains("100.0%"), "{html}");

        let (_, rec) = t.get(&format!("/api/v1/care/persons/{p1}"), &off).await;
        let mid = rec["memberships"][0]["id"].as_i64().expect("membership");
        let (s, _, body) = t
            .raw_form("POST", &format!("/care/memberships/{mid}/end"), Some(&c), &format!("person_id={p1}&end_date=2025-01-01"))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(String::from_utf8_lossy(&body).contains("不能早于开始日期"));
        let (s, _, _) = t
            .raw_form("POST", &format!("/care/memberships/{mid}/end"), Some(&c), &format!("person_id={p1}&end_date=2026-06-30"))
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER);

        let o = web_login(&t, "cp_other").await;
        let (s, _, _) = t.raw_form("GET", &format!("/care/persons/{p1}"), Some(&o), "").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _, _) = t
            .raw_form("POST", &form("visits"), Some(&o), "method=home&findings=x")
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _, _) = t.raw_form("GET", "/care?region=130110", Some(&o), "").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    })
    .await;
}
