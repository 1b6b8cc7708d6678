//! Supervision: roles (a community worker cannot record inspections), scope (another county
//! never sees an inspection or its rectifications), validation, the unit's answer (a village's
//! community worker; an institution's own reporter only), overdue rectifications flagged at
//! township and county once the deadline passes on the injected clock and cleared when closed,
//! reopening, pages, audit entries.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{T, each_backend, ids, org_user, page, web_login};

#[tokio::test]
async fn inspections_rectifications_and_overdue() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let insp = t.user("insp.a", &["inspector"], "130110").await;
        let off = t.user("off.a", &["official"], "130110").await;
        let off_b = t.user("off.b", &["official"], "130111").await;
        let ts = t.user("ts.a", &["township_staff"], "130110100").await;
        let cw = t.user("cw.a", &["community_worker"], "130110100001").await;
        let cw2 = t.user("cw.b", &["community_worker"], "130110100002").await;
        let (_, org) = t
            .post("/api/v1/orgs", &off, json!({"name": "获鹿镇敬老院", "kind": "elderly_care", "region_code": "130110100"}))
            .await;
        let home = org["id"].as_i64().expect("org");
        let (_, org2) = t
            .post("/api/v1/orgs", &off, json!({"name": "获鹿镇儿童之家", "kind": "child_welfare", "region_code": "130110100"}))
            .await;
        let home2 = org2["id"].as_i64().expect("org");
        let rep = org_user(&t, "rep.a", &["institution_reporter"], "130110100", home).await;
        let rep2 = org_user(&t, "rep.b", &["institution_reporter"], "130110100", home2).await;

        let body = json!({"unit": "130110100001", "mode": "unannounced", "date": "2026-03-02",
            "findings": "入口未测温登记",
            "problems": [{"description": "入口无人值守", "requirement": "落实 24 小时值守并测温登记", "deadline": "2026-03-04"}]});
        // Roles and validation.
        assert_eq!(t.post("/api/v1/inspections", &cw, body.clone()).await.0, StatusCode::FORBIDDEN);
        assert_eq!(t.post("/api/v1/inspections", &ts, body.clone()).await.0, StatusCode::FORBIDDEN);
        let mut b = body.clone();
        b["problems"][0]["deadline"] = json!("2026-03-01");
        assert_eq!(t.post("/api/v1/inspections", &insp, b).await.0, StatusCode::UNPROCESSABLE_ENTITY);
        let mut b = body.clone();
        b["mode"] = json!("secret");
        assert_eq!(t.post("/api/v1/inspections", &insp, b).await.0, StatusCode::UNPROCESSABLE_ENTITY);
        let mut b = body.clone();
        b["date"] = json!("2026-03-03");
        assert_eq!(t.post("/api/v1/inspections", &insp, b).await.0, StatusCode::UNPROCESSABLE_ENTITY);
        let mut b = body.clone();
        b["unit"] = json!("130111100003");
        assert_eq!(t.post("/api/v1/inspections", &insp, b).await.0, StatusCode::NOT_FOUND);
        let count = || async {
            sqlx::query_scalar::<_, i64>("SELECT CAST(COUNT(*) AS BIGINT) FROM inspections")
                .fetch_one(t.state.db.pool())
                .await
                .expect("count")
        };
        assert_eq!(count().await, 0, "nothing stored by refused requests");

        let (s, i) = t.post("/api/v1/inspections", &insp, body.clone()).await;
        assert_eq!(s, StatusCode::CREATED, "{i}");
        let iid = i["id"].as_i64().expect("id");
        assert_eq!(i["mode_label"], "暗访");
        assert_eq!(i["unit_name"], "旱码头社区居民委员会");
        let pid = i["problems"][0]["id"].as_i64().expect("pid");
        assert_eq!(i["problems"][0]["overdue"], false);
        let (s, oi) = t.post("/api/v1/inspections", &insp, json!({"unit": format!("org:{home}"), "mode": "open",
            "findings": "物资台账不全",
            "problems": [{"description": "台账缺失", "requirement": "补齐台账", "deadline": "2026-03-10"}]})).await;
        assert_eq!(s, StatusCode::CREATED, "{oi}");
        let opid = oi["problems"][0]["id"].as_i64().expect("pid");

        // Scope: another county never sees them.
        let (_, l) = t.get("/api/v1/inspections", &off_b).await;
        assert!(ids(&l).is_empty());
        assert_eq!(t.get(&format!("/api/v1/inspections/{iid}"), &off_b).await.0, StatusCode::NOT_FOUND);
        assert_eq!(t.get(&format!("/api/v1/rectifications/{pid}"), &off_b).await.0, StatusCode::NOT_FOUND);
        assert_eq!(t.post(&format!("/api/v1/rectifications/{pid}/respond"), &off_b, json!({"response": "x"})).await.0, StatusCode::NOT_FOUND);
        let (_, l) = t.get("/api/v1/inspections", &off).await;
        assert_eq!(ids(&l).len(), 2);
        assert_eq!(t.get(&format!("/api/v1/inspections/{iid}"), &cw2).await.0, StatusCode::NOT_FOUND, "a sibling village");
        assert_eq!(t.get(&format!("/api/v1/inspections/{iid}"), &cw).await.0, StatusCode::OK, "the unit sees it");

        // Before the deadline nothing is overdue.
        let (_, o) = t.get("/api/v1/rectifications?overdue=true", &ts).await;
        assert!(ids(&o).is_empty(), "{o}");
        let (_, all) = t.get("/api/v1/rectifications", &ts).await;
        assert_eq!(ids(&all), vec![pid, opid]);

        // Who answers: the village's worker; an institution's own reporter only.
        assert_eq!(t.post(&format!("/api/v1/rectifications/{opid}/respond"), &rep2, json!({"response": "x"})).await.0, StatusCode::FORBIDDEN);
        assert_eq!(t.post(&format!("/api/v1/rectifications/{pid}/respond"), &rep, json!({"response": "x"})).await.0, StatusCode::FORBIDDEN);
        assert_eq!(t.post(&format!("/api/v1/rectifications/{pid}/respond"), &insp, json!({"response": "x"})).await.0, StatusCode::FORBIDDEN);
        let (s, r) = t.post(&format!("/api/v1/rectifications/{opid}/respond"), &rep, json!({"response": "台账已补齐"})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["status"], "answered");

        // Three days later the village's rectification is overdue at every level above it.
        t.clock.advance(chrono::Duration::days(3));
        let insp = t.login("insp.a").await;
        let off = t.login("off.a").await;
        let off_b = t.login("off.b").await;
        let ts = t.login("ts.a").await;
        let cw = t.login("cw.a").await;
        for (who, tok) in [("township", &ts), ("county", &off), ("inspector", &insp), ("unit", &cw)] {
            let (s, o) = t.get("/api/v1/rectifications?overdue=true", tok).await;
            assert_eq!(s, StatusCode::OK);
            assert_eq!(ids(&o), vec![pid], "{who}: {o}");
            assert_eq!(o[0]["overdue"], true);
        }
        let (_, o) = t.get("/api/v1/rectifications?overdue=true", &off_b).await;
        assert!(ids(&o).is_empty());
        let (_, o) = t.get("/api/v1/rectifications?overdue=true&region=130110100", &off).await;
        assert_eq!(ids(&o), vec![pid]);
        assert_eq!(t.get("/api/v1/rectifications?overdue=true&region=130110", &off_b).await.0, StatusCode::NOT_FOUND);

        // The unit answers late: still overdue until the inspector closes it.
        let (s, r) = t.post(&format!("/api/v1/rectifications/{pid}/respond"), &cw, json!({"response": "已安排专人值守"})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["overdue"], true);
        assert_eq!(t.post(&format!("/api/v1/rectifications/{pid}/close"), &cw, json!({})).await.0, StatusCode::FORBIDDEN);
        let (s, r) = t.post(&format!("/api/v1/rectifications/{pid}/close"), &insp, json!({})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["status"], "closed");
        assert_eq!(r["overdue"], false);
        for tok in [&ts, &off] {
            let (_, o) = t.get("/api/v1/rectifications?overdue=true", tok).await;
            assert!(ids(&o).is_empty(), "{o}");
        }
        assert_eq!(t.post(&format!("/api/v1/rectifications/{pid}/close"), &insp, json!({})).await.0, StatusCode::CONFLICT);
        assert_eq!(t.post(&format!("/api/v1/rectifications/{pid}/respond"), &cw, json!({"response": "x"})).await.0, StatusCode::CONFLICT);

        // Reopened: overdue again (the deadline has passed) until closed again.
        let (s, r) = t.post(&format!("/api/v1/rectifications/{pid}/reopen"), &insp, json!({"reason": "复查仍无人值守"})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["status"], "open");
        let (_, o) = t.get("/api/v1/rectifications?overdue=true", &off).await;
        assert_eq!(ids(&o), vec![pid]);
        let (s, _) = t.post(&format!("/api/v1/rectifications/{pid}/close"), &insp, json!({})).await;
        assert_eq!(s, StatusCode::OK);

        let actions: Vec<String> = sqlx::query_scalar(
            "SELECT action FROM audit_log WHERE action LIKE 'inspection.%' OR action LIKE 'rectification.%' ORDER BY id",
        )
        .fetch_all(t.state.db.pool())
        .await
        .expect("audit");
        assert_eq!(actions.iter().filter(|a| *a == "inspection.create").count(), 2);
        for want in ["rectification.respond", "rectification.close", "rectification.reopen"] {
            assert!(actions.iter().any(|a| a == want), "{want} missing from {actions:?}");
        }
        assert_eq!(actions.iter().filter(|a| *a == "rectification.close").count(), 2);
    })
    .await;
}

#[tokio::test]
async fn inspection_pages() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        t.make_user("insp.p", &["inspector"], "130110").await;
        t.make_user("ts.p", &["township_staff"], "130110100").await;
        t.make_user("cw.p", &["community_worker"], "130110100001").await;
        t.make_user("off.q", &["official"], "130111").await;
        let ci = web_login(&t, "insp.p").await;
        let (s, html) = page(&t, "/inspections", &ci).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("id=\"inspection-form\"") && html.contains("督导"));
        let form = "unit=130110100001&mode=unannounced&date=2026-03-02&findings=%E5%85%A5%E5%8F%A3%E6%9C%AA%E6%B5%8B%E6%B8%A9\
            &p1_description=no-duty&p1_requirement=duty-24h&p1_deadline=2026-03-03\
            &p2_description=&p2_requirement=&p2_deadline=&p3_description=&p3_requirement=&p3_deadline=";
        let (s, h, _) = t.raw_form("POST", "/inspections", Some(&ci), form).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let loc = h.get("location").and_then(|v| v.to_str().ok()).expect("location").to_string();
        let (s, html) = page(&t, &loc, &ci).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("暗访") && html.contains("duty-24h") && html.contains("销号"));
        assert!(!html.contains("style=") && !html.contains("onclick"));

        // A community worker cannot record one.
        let cc = web_login(&t, "cw.p").await;
        let (s, _, _) = t.raw_form("POST", "/inspections", Some(&cc), form).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (_, html) = page(&t, &loc, &cc).await;
        assert!(html.contains("/respond") && !html.contains("inspection-form"));
        let pid: i64 = sqlx::query_scalar("SELECT id FROM inspection_problems")
            .fetch_one(t.state.db.pool())
            .await
            .expect("pid");

        // After the deadline the township page flags it; closed, it drops off.
        t.clock.advance(chrono::Duration::days(2));
        let ct = web_login(&t, "ts.p").await;
        let (s, html) = page(&t, "/inspections/rectifications?overdue=1", &ct).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("no-duty") && html.contains("逾期"), "{html}");
        let (_, html) = page(&t, "/inspections", &ct).await;
        assert!(html.contains("逾期未整改：1"));
        let cq = web_login(&t, "off.q").await;
        let (_, html) = page(&t, "/inspections/rectifications?overdue=1", &cq).await;
        assert!(!html.contains("no-duty"));
        assert_eq!(page(&t, &loc, &cq).await.0, StatusCode::NOT_FOUND);

        let ci = web_login(&t, "insp.p").await;
        let (s, _, _) = t.raw_form("POST", &format!("/inspections/rectifications/{pid}/close"), Some(&ci), "").await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (_, html) = page(&t, "/inspections/rectifications?overdue=1", &ct).await;
        assert!(!html.contains("no-duty"));
    })
    .await;
}
