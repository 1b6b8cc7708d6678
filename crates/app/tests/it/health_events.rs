//! Person-level health events from institutions and hospitals (issue 17 item 1, "institution
//! reports"): a hospital's staff record "确诊" for a parent and the child gets a lead at once,
//! in the same write; the status sealed at rest and left out of the audit detail; a person
//! outside the organisation's region is *not found*; an institution reporter of another
//! organisation cannot record for this one (*not found*); the list for the organisation's own
//! staff and officials in scope, the person masked; the page form refused with its input kept.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{T, audit_count, cid, count, created_id, each_backend, org_user};

const COUNTY: &str = "130110";
const V1: &str = "130110100001";
const VB: &str = "130111100003";

async fn leads(t: &T) -> i64 {
    count(
        t,
        "SELECT CAST(COUNT(*) AS BIGINT) FROM child_cases WHERE status = 'lead'",
    )
    .await
}

async fn events(t: &T) -> i64 {
    count(t, "SELECT CAST(COUNT(*) AS BIGINT) FROM health_events").await
}

#[tokio::test]
async fn a_hospital_reports_a_parent_confirmed_and_the_child_gets_a_lead() {
    use crate::support::{page, post_page, web_login};
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let off = t.user("h_off", &["official"], COUNTY).await;
        let off_b = t.user("h_off_b", &["official"], "130111").await;
        let cw = t.user("h_cw", &["community_worker"], V1).await;
        let cw_b = t.user("h_cw_b", &["community_worker"], VB).await;
        let director = t.user("h_dir", &["children_director"], V1).await;
        let org = |name: &str, kind: &str| json!({"name": name, "kind": kind, "region_code": COUNTY});
        let hospital = created_id(&t, "/api/v1/orgs", &off, org("鹿泉区人民医院", "hospital")).await;
        let home = created_id(&t, "/api/v1/orgs", &off, org("鹿泉区敬老院", "elderly_care")).await;
        let hosp = org_user(&t, "h_hosp", &["institution_reporter"], COUNTY, hospital).await;
        let rep = org_user(&t, "h_rep", &["institution_reporter"], COUNTY, home).await;

        let p = |name: &str, ymd: &str, seq: u32, region: &str| {
            json!({"id_number": cid(COUNTY, ymd, seq), "name": name, "region_code": region})
        };
        let parent = created_id(&t, "/api/v1/persons", &cw, p("赵父", "19800101", 21, V1)).await;
        let kid = created_id(&t, "/api/v1/persons", &cw, p("赵一", "20160101", 22, V1)).await;
        crate::children::household(&t, &cw, &[parent, kid]).await;
        let far = created_id(&t, "/api/v1/persons", &cw_b, p("钱某", "19810101", 23, VB)).await;
        let url = format!("/api/v1/institutions/{hospital}/health-events");

        // Bad status: 422, nothing written.
        let (s, e) = t.post(&url, &hosp, json!({"person_id": parent, "status": "cured"})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        // A person outside the hospital's region: not found, nothing written.
        let (s, _) = t.post(&url, &hosp, json!({"person_id": far, "status": "confirmed"})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // The reporter of another organisation cannot record for this one: not found.
        let (s, _) = t.post(&url, &rep, json!({"person_id": parent, "status": "confirmed"})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // Nor read its list.
        assert_eq!(t.get(&url, &rep).await.0, StatusCode::NOT_FOUND);
        assert_eq!((events(&t).await, leads(&t).await), (0, 0));

        // The hospital records 确诊 for the parent: the child gets a lead at once.
        let (s, ev) = t.post(&url, &hosp, json!({"person_id": parent, "status": "confirmed"})).await;
        assert_eq!(s, StatusCode::CREATED, "{ev}");
        assert_eq!((ev["status_label"].as_str(), ev["leads"].as_i64()), (Some("确诊"), Some(1)), "{ev}");
        assert!(ev["person_name"].as_str().is_some_and(|n| n.contains('*')), "masked: {ev}");
        let (s, list) = t.get("/api/v1/child-cases?status=lead", &director).await;
        assert_eq!(s, StatusCode::OK, "{list}");
        let found: Vec<&Value> = list.as_array().map(|a| a.iter().collect()).unwrap_or_default();
        assert_eq!(found.len(), 1, "{list}");
        assert_eq!((found[0]["person_id"].as_i64(), found[0]["source"].as_str()), (Some(kid), Some("health_event")));
        assert_eq!(found[0]["reason_group"], "parent_health");
        assert_eq!(audit_count(&t, "institution.health_event").await, 1);
        assert_eq!(audit_count(&t, "child_case.lead").await, 1);
        // The status is sealed at rest and not in the audit detail.
        let detail: String = sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = 'institution.health_event'")
            .fetch_one(t.state.db.pool())
            .await
            .expect("audit");
        assert!(!detail.contains("confirmed") && !detail.contains("确诊"), "{detail}");
        let sealed: Vec<u8> = sqlx::query_scalar("SELECT status_enc FROM health_events")
            .fetch_one(t.state.db.pool())
            .await
            .expect("row");
        assert!(!String::from_utf8_lossy(&sealed).contains("confirmed"));

        // By ID number too; a second report opens no second lead for the same child and reason.
        let (s, ev2) = t
            .post(&url, &hosp, json!({"id_number": cid(COUNTY, "19800101", 21), "status": "hospitalised"}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{ev2}");
        assert_eq!(ev2["person_id"].as_i64(), Some(parent));
        let (s, _) = t.post(&url, &hosp, json!({"person_id": parent, "status": "suspected"})).await;
        assert_eq!(s, StatusCode::CREATED);
        assert_eq!(leads(&t).await, 2, "hospitalised (other) opens one more; suspected is the same group");

        // The list: the hospital's staff and the county's official; not another county's.
        let (s, mine) = t.get(&url, &hosp).await;
        assert_eq!((s, mine.as_array().map(Vec::len)), (StatusCode::OK, Some(3)), "{mine}");
        let (s, theirs) = t.get(&url, &off).await;
        assert_eq!((s, theirs.as_array().map(Vec::len)), (StatusCode::OK, Some(3)));
        assert_eq!(t.get(&url, &off_b).await.0, StatusCode::NOT_FOUND);

        // The page: form refused with the input kept; saved, listed.
        let web = web_login(&t, "h_hosp").await;
        let path = format!("/institutions/{hospital}/health-events");
        let (s, html) = page(&t, &path, &web).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("人员健康事件") && html.contains("id=\"health-form\""), "{html}");
        let (s, html) = post_page(&t, &path, &web, &format!("person={parent}&status=cured&day=2026-01-01")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
        assert!(html.contains("data-field=\"status\"") && html.contains(&format!("value=\"{parent}\"")), "{html}");
        let (s, _) = post_page(&t, &path, &web, &format!("person={parent}&status=isolated&day=")).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert_eq!(events(&t).await, 4);
    })
    .await;
}
