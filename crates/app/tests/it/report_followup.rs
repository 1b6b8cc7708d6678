//! Issue 14, items 6 and 8: a correction by someone else is visible on the report (who, when,
//! the value before) and notifies the unit, the unit's own submission stays readable; the
//! missing list shows contacts (in full only to those who chase), chases one unit or all
//! (notification + record + history), exports Excel; the summary shows cumulative sums.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{T, audit_count, count, each_backend, org_user, page, web_login};

const DAY: &str = "2026-03-02";

fn village_values(n: i64) -> Value {
    json!({"households_screened": 10 * n, "people_screened": 30 * n, "close_contacts": n, "home_observation": n,
           "released": 0, "fever_referred": 1, "entrance_registrations": 5, "volunteers_on_duty": 2, "notes": "正常"})
}

fn home_values(residents: i64) -> Value {
    json!({"residents": residents, "staff_on_duty": 31, "closed_management": "是", "new_admissions": 0,
           "resident_fever": 0, "staff_fever": 0, "suspected": 0, "confirmed": 0, "isolated": 0, "mask_days": 12})
}

async fn submit(t: &T, tok: &str, body: Value) -> (StatusCode, Value) {
    t.post("/api/v1/reports", tok, body).await
}

async fn notes_of_kind(t: &T, tok: &str, kind: &str) -> Vec<Value> {
    let (s, notes) = t.get("/api/v1/notifications", tok).await;
    assert_eq!(s, StatusCode::OK, "{notes}");
    notes
        .as_array()
        .expect("notifications")
        .iter()
        .filter(|n| n["kind"] == kind)
        .cloned()
        .collect()
}

#[tokio::test]
async fn corrections_by_someone_else_are_visible_and_notified() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let off = t.user("off", &["official"], "130110").await;
        let (_, home) = t.post("/api/v1/orgs", &off, json!({"name": "获鹿镇敬老院", "kind": "elderly_care", "region_code": "130110100"})).await;
        let (_, other) = t.post("/api/v1/orgs", &off, json!({"name": "获鹿镇福利院", "kind": "elderly_care", "region_code": "130110100"})).await;
        let home_id = home["id"].as_i64().expect("id");
        let rep = org_user(&t, "rep", &["institution_reporter"], "130110100", home_id).await;
        let rep2 = org_user(&t, "rep2", &["institution_reporter"], "130110100", other["id"].as_i64().expect("id")).await;
        let body = |r: i64| json!({"template": "institution_daily", "unit": home_id, "period": DAY, "values": home_values(r)});
        let (s, sub) = submit(&t, &rep, body(108)).await;
        assert_eq!(s, StatusCode::CREATED, "{sub}");
        let id = sub["id"].as_i64().expect("id");
        // The unit corrects itself, then the county official corrects it.
        let (s, b) = submit(&t, &rep, body(109)).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert!(notes_of_kind(&t, &rep, "report_corrected").await.is_empty(), "own correction notifies no one");
        let (s, b) = submit(&t, &off, body(120)).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        // Another institution's reporter may not correct it, and writes nothing.
        let (s, _) = submit(&t, &rep2, body(1)).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM report_corrections").await, 2);

        let (s, r) = t.get(&format!("/api/v1/reports/{id}"), &rep).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["values"]["residents"], 120);
        assert_eq!(r["corrections"], 2);
        let h = r["history"].as_array().expect("history");
        assert_eq!(h.len(), 2, "{r}");
        assert_eq!((h[0]["n"].as_i64(), h[0]["by_unit"].as_bool()), (Some(1), Some(true)));
        assert_eq!(h[0]["before_by"], "rep", "the unit's own submission is kept");
        assert_eq!(h[0]["before"]["residents"], 108);
        assert_eq!(h[0]["after"]["residents"], 109);
        assert_eq!(h[1]["corrected_by"], "off");
        assert_eq!(h[1]["by_unit"], false);
        assert_eq!(h[1]["before"]["residents"], 109);
        assert_eq!(h[1]["after"]["residents"], 120);
        assert!(!h[1]["corrected_at"].as_str().unwrap_or("").is_empty());

        // The unit is told (once: the official's correction), naming the changed field.
        let told = notes_of_kind(&t, &rep, "report_corrected").await;
        assert_eq!(told.len(), 1, "{told:?}");
        assert!(told[0]["body"].as_str().unwrap_or("").contains("在院（站）人数"), "{told:?}");
        assert_eq!(told[0]["unit"], format!("org:{home_id}"));

        // On the page: marked corrected by the level above, who and the value before, and the
        // unit's original submission.
        let cookie = web_login(&t, "rep").await;
        let (s, html) = page(&t, &format!("/reports/view/{id}"), &cookie).await;
        assert_eq!(s, StatusCode::OK);
        for want in ["上级更正", "本单位更正", "第 2 次更正", "原填报内容", "id=\"original-values\"", "首次提交", ">108<", "· off ·"] {
            assert!(html.contains(want), "report page lacks {want}");
        }

        // The fill-in page warns whoever corrects another unit's report, not the unit itself.
        let fill = format!("/reports/fill/institution_daily?unit=org:{home_id}&period={DAY}");
        let (_, html) = page(&t, &fill, &cookie).await;
        assert!(!html.contains("id=\"correct-other\""));
        let off_cookie = web_login(&t, "off").await;
        let (s, html) = page(&t, &fill, &off_cookie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("id=\"correct-other\""), "a warning for the official");

        // A village's report corrected by the township: the village's workers are told.
        let cw = t.user("cw.v", &["community_worker"], "130110100001").await;
        let ts = t.user("twn", &["township_staff"], "130110100").await;
        let vb = |n| json!({"template": "village_daily", "unit": "130110100001", "period": DAY, "values": village_values(n)});
        let (s, v) = submit(&t, &cw, vb(1)).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let (s, _) = submit(&t, &ts, vb(2)).await;
        assert_eq!(s, StatusCode::OK);
        let told = notes_of_kind(&t, &cw, "report_corrected").await;
        assert_eq!(told.len(), 1, "{told:?}");
        let (_, r) = t.get(&format!("/api/v1/reports/{}", v["id"]), &cw).await;
        assert_eq!(r["history"][0]["by_unit"], false);
        assert_eq!(r["history"][0]["before"]["households_screened"], 10);
        assert_eq!(audit_count(&t, "report.correct").await, 3);
    })
    .await;
}

#[tokio::test]
async fn missing_list_chases_shows_contacts_exports_and_cumulates() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let off = t.user("off", &["official"], "130110").await;
        let (s, home) = t.post("/api/v1/orgs", &off, json!({"name": "获鹿镇敬老院", "kind": "elderly_care", "region_code": "130110100",
            "contact_person": "王联系", "contact_phone": "13812345678"})).await;
        assert_eq!(s, StatusCode::CREATED, "{home}");
        let home_unit = format!("org:{}", home["id"]);
        let insp = t.user("insp", &["inspector"], "130110").await;
        let ts = t.user("twn", &["township_staff"], "130110100").await;
        let cw = t.user("cw.v", &["community_worker"], "130110100001").await;

        // Contacts: in full for the official, masked for the inspector.
        let q = format!("template=institution_daily&period={DAY}&region=130110100");
        let (_, full) = t.get(&format!("/api/v1/reports/missing?{q}"), &off).await;
        let (_, masked) = t.get(&format!("/api/v1/reports/missing?{q}"), &insp).await;
        let row = |l: &Value| l.as_array().expect("list").iter().find(|m| m["unit"] == home_unit.as_str()).cloned().expect("home missing");
        assert_eq!(row(&full)["contact_phone"], "13812345678");
        assert_eq!(row(&full)["contact_person"], "王联系");
        assert_eq!(row(&masked)["contact_phone"], "138****5678");
        assert_ne!(row(&masked)["contact_person"], "王联系");
        assert!(!masked.to_string().contains("13812345678"));

        // Chasing: refused to the inspector (nothing written), one unit twice by the county,
        // then every missing village by the township.
        let vq = format!("template=village_daily&period={DAY}&region=130110100");
        let (_, missing) = t.get(&format!("/api/v1/reports/missing?{vq}"), &off).await;
        let n_missing = missing.as_array().expect("list").len();
        // A village's contact: its community worker's account, for those who chase.
        let v1 = missing.as_array().expect("list").iter().find(|m| m["unit"] == "130110100001").cloned().expect("V1 missing");
        assert_eq!(v1["contact_person"], "cw.v", "{v1}");
        assert!(n_missing >= 2, "{missing}");
        let one = json!({"template": "village_daily", "period": DAY, "region": "130110100", "unit": "130110100001"});
        let (s, _) = t.post("/api/v1/reports/chases", &insp, one.clone()).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM report_chases").await, 0);
        for seq in [1, 2] {
            let (s, c) = t.post("/api/v1/reports/chases", &off, one.clone()).await;
            assert_eq!(s, StatusCode::CREATED, "{c}");
            assert_eq!(c[0]["seq"], seq);
            assert_eq!(c[0]["chased_by"], "off");
        }
        let (s, all) = t.post("/api/v1/reports/chases", &ts, json!({"template": "village_daily", "period": DAY, "region": "130110100"})).await;
        assert_eq!(s, StatusCode::CREATED, "{all}");
        assert_eq!(all.as_array().expect("chased").len(), n_missing);
        // The village hears of each chase.
        assert_eq!(notes_of_kind(&t, &cw, "report_chase").await.len(), 3);
        // Once it has reported it is no longer chased: a clear error, nothing written.
        let (s, _) = submit(&t, &cw, json!({"template": "village_daily", "unit": "130110100001", "period": DAY, "values": village_values(2)})).await;
        assert_eq!(s, StatusCode::CREATED);
        let before = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM report_chases").await;
        let (s, e) = t.post("/api/v1/reports/chases", &off, one.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert!(e["message"].as_str().unwrap_or("").contains("未报清单"), "{e}");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM report_chases").await, before);
        // A region outside the caller's scope is not found.
        let (s, _) = t.post("/api/v1/reports/chases", &ts, json!({"template": "village_daily", "period": DAY, "region": "130110101"})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // History through the API.
        let (s, hist) = t.get(&format!("/api/v1/reports/chases?{vq}"), &cw).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "a village worker cannot read the township's history: {hist}");
        let (s, hist) = t.get(&format!("/api/v1/reports/chases?{vq}"), &off).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(hist.as_array().expect("history").len(), 2 + n_missing);
        assert_eq!(audit_count(&t, "report.chase").await, 3);

        // The page: contacts, buttons, history; a chase from the page; the Excel export.
        let cookie = web_login(&t, "off").await;
        let (s, html) = page(&t, &format!("/reports/missing?{q}"), &cookie).await;
        assert_eq!(s, StatusCode::OK);
        for want in ["13812345678", "王联系", "id=\"chase-all\"", "催报记录", "missing.xlsx"] {
            assert!(html.contains(want), "missing page lacks {want}");
        }
        let (s, html) = page(&t, &format!("/reports/missing?{vq}"), &cookie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("第 2 次") && html.contains(">twn<"), "chase history on the page");
        let (s, h, _) = t.raw_form("POST", "/reports/missing/chase", Some(&cookie),
            &format!("template=village_daily&period={DAY}&region=130110100&unit=130110100002")).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let back = h.get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let (_, html) = page(&t, &back, &cookie).await;
        assert!(html.contains("id=\"chased\""), "{back}");
        // Chasing a unit that has reported, from the page: the list again, with the reason.
        let (s, _, body) = t.raw_form("POST", "/reports/missing/chase", Some(&cookie),
            &format!("template=village_daily&period={DAY}&region=130110100&unit=130110100001")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains("id=\"chase-error\"") && body.contains("不在未报清单中") && body.contains("催报记录"), "{body}");
        let (s, h, bytes) = t.raw_form("GET", &format!("/reports/missing.xlsx?{q}"), Some(&cookie), "").await;
        assert_eq!(s, StatusCode::OK);
        assert!(h.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").contains("spreadsheetml"));
        assert!(bytes.starts_with(b"PK"));
        assert_eq!(audit_count(&t, "report.missing_export").await, 1);
        // A masked reader's page shows the contact masked.
        let icookie = web_login(&t, "insp").await;
        let (_, html) = page(&t, &format!("/reports/missing?{q}"), &icookie).await;
        assert!(html.contains("138****5678") && !html.contains("13812345678"));
        assert!(!html.contains("id=\"chase-all\""), "no chase button for the inspector");

        // Cumulative (累计): 2026-03-01 (10 households) + the day (20) = 30.
        let (s, _) = submit(&t, &cw, json!({"template": "village_daily", "unit": "130110100001", "period": "2026-03-01", "values": village_values(1)})).await;
        assert_eq!(s, StatusCode::CREATED);
        let sq = format!("/reports/summary?template=village_daily&period={DAY}&region=130110100");
        let (s, html) = page(&t, &sq, &cookie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("id=\"total-0\">20<span class=\"cum\" id=\"cum-total-0\">累计 30</span>"), "{html}");
        assert!(html.contains("2026-03-01 至 2026-03-02"));
        let (_, html) = page(&t, &format!("{sq}&from={DAY}"), &cookie).await;
        assert!(html.contains("累计 20</span>"));
        let (s, html) = page(&t, &format!("{sq}&from=2026-03-05"), &cookie).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("累计起始日期"));
        // The same through the API (`from`), for the township and each village.
        let (s, sum) = t.get(&format!("/api/v1/reports/summary?template=village_daily&period={DAY}&region=130110100&from=2026-03-01"), &off).await;
        assert_eq!(s, StatusCode::OK, "{sum}");
        assert_eq!(sum["sums"]["households_screened"], 20);
        assert_eq!(sum["cumulative"]["from"], "2026-03-01");
        assert_eq!(sum["cumulative"]["sums"]["households_screened"], 30);
        assert_eq!(sum["cumulative"]["children"]["130110100001"]["households_screened"], 30);
        let (s, e) = t.get(&format!("/api/v1/reports/summary?template=village_daily&period={DAY}&region=130110100&from=03-01"), &off).await;
        assert_eq!((s, e["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("from")));
        let (_, plain) = t.get(&format!("/api/v1/reports/summary?template=village_daily&period={DAY}&region=130110100"), &off).await;
        assert!(plain.get("cumulative").is_none());
        // Cells carry their column's label (a card on a phone).
        let (_, html) = page(&t, &sq, &cookie).await;
        assert!(!html.contains("<td>"), "every summary cell has a data-label");
    })
    .await;
}
