//! Issue 14, item 9: the home page is a to-do list per role — today's reports not sent,
//! alerts and immediate reports to acknowledge, observations with a check-in due,
//! rectifications due, units to chase, imports finished — each a link with a count, and each
//! line leaves once the thing is done.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{T, cid, created_id, each_backend, keepers, page, web_login};

const V1: &str = "130110100001";

/// The count on the to-do line `id` of the visitor's home page, or `None` without that line.
async fn todo_count(t: &T, cookie: &str, id: &str) -> Option<i64> {
    let (s, html) = page(t, "/", cookie).await;
    assert_eq!(s, StatusCode::OK);
    let at = html.find(&format!("<li id=\"{id}\">"))?;
    let rest = &html[at..];
    let start = rest.find("todo-count\">")? + "todo-count\">".len();
    let end = rest[start..].find('<')?;
    rest[start..start + end].trim().parse().ok()
}

#[tokio::test]
async fn home_page_is_a_to_do_list_per_role() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        t.make_user("off.h", &["official"], "130110").await;
        let cw = t.user("cw.h", &["community_worker"], V1).await;
        let insp = t.user("insp.h", &["inspector"], "130110").await;
        let cw_page = web_login(&t, "cw.h").await;
        let off_page = web_login(&t, "off.h").await;
        let insp_page = web_login(&t, "insp.h").await;

        // The village worker: today's village report is due, with a link to its form.
        assert_eq!(todo_count(&t, &cw_page, "todo-report-village_daily").await, Some(1));
        let (_, html) = page(&t, "/", &cw_page).await;
        assert!(html.contains(&format!("href=\"/reports/fill/village_daily?unit={V1}&#38;period=2026-03-02\"")), "link to the form: {html}");
        // The county official: villages to chase, no report of its own due.
        let chase = todo_count(&t, &off_page, "todo-missing-village_daily").await.expect("missing line");
        assert!(chase > 1);
        assert_eq!(todo_count(&t, &off_page, "todo-report-village_daily").await, None);

        // Sending the report takes the line away, and the county's count drops by one.
        let vals = json!({"households_screened": 10, "people_screened": 30, "close_contacts": 1, "home_observation": 1,
            "released": 0, "fever_referred": 1, "entrance_registrations": 5, "volunteers_on_duty": 2, "notes": "正常"});
        let (s, _) = t.post("/api/v1/reports", &cw, json!({"template": "village_daily", "unit": V1, "period": "2026-03-02", "values": vals})).await;
        assert_eq!(s, StatusCode::CREATED);
        assert_eq!(todo_count(&t, &cw_page, "todo-report-village_daily").await, None);
        assert_eq!(todo_count(&t, &off_page, "todo-missing-village_daily").await, Some(chase - 1));

        // The township corrects the village's report: the village is asked to check it.
        assert_eq!(todo_count(&t, &cw_page, "todo-corrected").await, None);
        t.make_user("twn.h", &["township_staff"], "130110100").await;
        let twn = t.login("twn.h").await;
        let mut fixed = vals.clone();
        fixed["households_screened"] = json!(12);
        let (s, _) = t.post("/api/v1/reports", &twn, json!({"template": "village_daily", "unit": V1, "period": "2026-03-02", "values": fixed})).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(todo_count(&t, &cw_page, "todo-corrected").await, Some(1));

        // An immediate report: for the county to acknowledge (not for the village).
        let (s, _) = t.post("/api/v1/reports", &cw, json!({"template": "incident", "unit": V1, "period": "2026-03-02",
            "values": {"event_kind": "走失", "occurred_at": "08:10", "place": "村口", "people_affected": 1, "measures": "寻找"}})).await;
        assert_eq!(s, StatusCode::CREATED);
        assert_eq!(todo_count(&t, &off_page, "todo-incidents").await, Some(1));
        assert_eq!(todo_count(&t, &cw_page, "todo-incidents").await, None);

        // A home observation: its check-in is due now, until one is recorded.
        let p = created_id(&t, "/api/v1/persons", &cw, json!({"id_number": cid("130110", "19800101", 11), "name": "张三", "region_code": V1})).await;
        let oid = created_id(&t, "/api/v1/observations", &cw, json!({"person_id": p, "keepers": keepers(), "reason": "密切接触者"})).await;
        assert_eq!(todo_count(&t, &cw_page, "todo-checkins").await, Some(1));
        let (s, o) = t.post(&format!("/api/v1/observations/{oid}/checkins"), &cw, json!({"temperature": 366})).await;
        assert_eq!(s, StatusCode::OK, "{o}");
        assert_eq!(todo_count(&t, &cw_page, "todo-checkins").await, None);

        // A rectification: the village must answer it, then the inspector must check it.
        let (s, i) = t.post("/api/v1/inspections", &insp, json!({"unit": V1, "mode": "unannounced", "date": "2026-03-02",
            "findings": "入口未测温登记",
            "problems": [{"description": "入口无人值守", "requirement": "落实值守", "deadline": "2026-03-04"}]})).await;
        assert_eq!(s, StatusCode::CREATED, "{i}");
        assert_eq!(todo_count(&t, &cw_page, "todo-rectifications").await, Some(1));
        assert_eq!(todo_count(&t, &insp_page, "todo-rectifications").await, None);
        let pid = i["problems"][0]["id"].as_i64().expect("problem id");
        let (s, _) = t.post(&format!("/api/v1/rectifications/{pid}/respond"), &cw, json!({"response": "已安排值守"})).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(todo_count(&t, &cw_page, "todo-rectifications").await, None);
        assert_eq!(todo_count(&t, &insp_page, "todo-rectifications").await, Some(1));

        // A roster import that has finished: its importer is asked to look at the result.
        assert_eq!(todo_count(&t, &off_page, "todo-imports").await, None);
        let b = "homeTodoBoundary7MA4";
        let body = format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"region\"\r\n\r\n{V1}\r\n\
             --{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"r.csv\"\r\n\
             Content-Type: text/csv\r\n\r\n身份证号,姓名\n{},导入甲\n\r\n--{b}--\r\n",
            cid("130110", "19610101", 71)
        );
        let off = t.login("off.h").await;
        let req = axum::http::Request::builder()
            .method("POST")
            .uri("/api/v1/persons/imports")
            .header("host", "backstop.test")
            .header("authorization", format!("Bearer {off}"))
            .header("content-type", format!("multipart/form-data; boundary={b}"))
            .body(axum::body::Body::from(body))
            .expect("request");
        let (s, _, job) = t.send(req).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&job));
        let job: Value = serde_json::from_slice(&job).expect("job");
        let mut done = false;
        for _ in 0..600 {
            let (_, j) = t.get(&format!("/api/v1/persons/imports/{}", job["id"]), &off).await;
            if j["status"] != "running" {
                done = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(done, "the import finished");
        assert_eq!(todo_count(&t, &off_page, "todo-imports").await, Some(1));
        assert_eq!(todo_count(&t, &cw_page, "todo-imports").await, None, "only its importer's");

        // Nothing to do: the list says so.
        t.make_user("fin.h", &["charity_finance"], "130110").await;
        let fin_page = web_login(&t, "fin.h").await;
        let (_, html) = page(&t, "/", &fin_page).await;
        assert!(html.contains("id=\"todo-empty\""));
    })
    .await;
}
