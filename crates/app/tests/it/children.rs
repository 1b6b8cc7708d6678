//! Children without care (issue 17, item 1 and the children's part of 4): leads opened by the
//! system for each child of a person put under home observation (and each dependant whose
//! recorded carer the person is), escalating on the injected
//! clock when nobody takes them; a case from the report to closure through every placement; the
//! wrong kind of institution refused with nothing written; the classification deadline
//! escalating; hand-over between levels moving who may read the case; temporary assistance
//! started from the case; the hotline hook; confidentiality per role (404 for roles without
//! `children.read`, every view audited, sealed text never clear at rest) — on both backends.

use axum::http::StatusCode;
use backstop_app::children::{HotlineChildLead, open_from_hotline};
use backstop_app::kernel::actor::{Actor, Via};
use backstop_app::notify::escalate::tick;
use backstop_core::region::Scope;
use backstop_core::role::{Role, RoleSet};
use serde_json::{Value, json};

use crate::support::{T, audit_count, cid, count, created_id, each_backend};

const COUNTY: &str = "130110";
const TOWN: &str = "130110100";
const V1: &str = "130110100001";

pub(crate) async fn household(t: &T, token: &str, members: &[i64]) -> i64 {
    let members: Vec<Value> = members
        .iter()
        .enumerate()
        .map(
            |(i, p)| json!({"person_id": p, "relationship": if i == 0 { "head" } else { "child" }}),
        )
        .collect();
    created_id(
        t,
        "/api/v1/households",
        token,
        json!({"region_code": V1, "address": "旱码头 8 号", "members": members}),
    )
    .await
}

fn keepers() -> Vec<Value> {
    ["社区干部", "医生", "民警", "志愿者"]
        .iter()
        .enumerate()
        .map(|(i, r)| json!({"role": r, "name": format!("责任人{i}"), "phone": format!("1390000000{i}")}))
        .collect()
}

async fn notes(t: &T, kind: &str, region: &str) -> i64 {
    count(
        t,
        &format!("SELECT CAST(COUNT(*) AS BIGINT) FROM notifications WHERE kind = '{kind}' AND region_code = '{region}'"),
    )
    .await
}

fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .map(|a| a.iter().filter_map(|c| c["id"].as_i64()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn observation_opens_a_lead_per_child_that_escalates_until_taken() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let cw = t.user("c_cw", &["community_worker"], V1).await;
        let director = t.user("c_dir", &["children_director"], V1).await;
        t.make_user("c_sup", &["child_supervisor"], TOWN).await;
        let p = |name: &str, ymd: &str, seq: u32| {
            json!({"id_number": cid(COUNTY, ymd, seq), "name": name, "region_code": V1})
        };
        let parent = created_id(&t, "/api/v1/persons", &cw, p("王父", "19800101", 11)).await;
        let kid1 = created_id(&t, "/api/v1/persons", &cw, p("王一", "20150101", 12)).await;
        let kid2 = created_id(&t, "/api/v1/persons", &cw,
            json!({"name": "王二", "region_code": V1, "birth_date": "2019-06-01"})).await;
        let adult = created_id(&t, "/api/v1/persons", &cw, p("王姐", "19990101", 14)).await;
        household(&t, &cw, &[parent, kid1, kid2, adult]).await;

        // Home observation of the parent: a lead at once for each child, none for the adult.
        let (s, o) = t.post("/api/v1/observations", &cw, json!({"person_id": parent, "keepers": keepers()})).await;
        assert_eq!(s, StatusCode::CREATED, "{o}");
        let (s, leads) = t.get("/api/v1/child-cases?status=lead", &director).await;
        assert_eq!(s, StatusCode::OK, "{leads}");
        let leads_v = leads.as_array().expect("list").clone();
        assert_eq!(leads_v.len(), 2, "{leads}");
        let mut persons: Vec<i64> = leads_v.iter().filter_map(|l| l["person_id"].as_i64()).collect();
        persons.sort_unstable();
        assert_eq!(persons, vec![kid1, kid2]);
        for l in &leads_v {
            assert_eq!(l["reason_group"], "parent_health", "the reason itself is sealed");
            assert_eq!(l["source"], "observation");
            assert!(l["lead_due_at"].is_string());
            assert!(l["name_masked"].as_str().is_some_and(|n| n.contains('*')), "{l}");
        }
        // The village's director and community worker are told of each.
        assert_eq!(notes(&t, "child_lead", V1).await, 4);
        assert_eq!(audit_count(&t, "child_case.lead").await, 2);

        // Observation closed and started again: never two open leads for the same child.
        let oid = o["id"].as_i64().expect("id");
        let (s, b) = t.post(&format!("/api/v1/observations/{oid}/close"), &cw, json!({"outcome": "released"})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let (s, _) = t.post("/api/v1/observations", &cw, json!({"person_id": parent, "keepers": keepers()})).await;
        assert_eq!(s, StatusCode::CREATED);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM child_cases").await, 2);

        // Nobody takes them: the village at the due time, the township 30 min later, the
        // county 30 min after that.
        assert_eq!(tick(&t.state).await.expect("tick").reminded, 0, "not yet due");
        t.clock.advance(chrono::Duration::minutes(121));
        let r = tick(&t.state).await.expect("tick");
        assert_eq!((r.reminded, r.escalated), (2, 0));
        assert_eq!(notes(&t, "child_lead_repeat", V1).await, 2);
        t.clock.advance(chrono::Duration::minutes(30));
        let r = tick(&t.state).await.expect("tick");
        assert_eq!(r.escalated, 2, "to the township");
        assert_eq!(notes(&t, "child_lead_escalation", TOWN).await, 2);
        assert_eq!(notes(&t, "child_lead_repeat", TOWN).await, 2, "the township reminded");
        let again = tick(&t.state).await.expect("again");
        assert_eq!((again.reminded, again.escalated), (0, 0), "nothing twice");
        t.clock.advance(chrono::Duration::minutes(30));
        assert_eq!(tick(&t.state).await.expect("tick").escalated, 2, "to the county");
        assert_eq!(notes(&t, "child_lead_escalation", COUNTY).await, 2);

        // The director takes one: an open case with a worker; taking it again is refused.
        let director = t.login("c_dir").await;
        let lead = leads_v[0]["id"].as_i64().expect("id");
        let (s, c) = t.post(&format!("/api/v1/child-cases/{lead}/take"), &director, json!({})).await;
        assert_eq!(s, StatusCode::OK, "{c}");
        assert_eq!(c["status"], "open");
        assert_eq!(c["worker"], "c_dir");
        assert_eq!(c["mine"], true);
        let (s, _) = t.post(&format!("/api/v1/child-cases/{lead}/take"), &director, json!({})).await;
        assert_eq!(s, StatusCode::CONFLICT);

        // Not classified by the deadline (12 h after taking): the township, then the county.
        let before = notes(&t, "child_lead_escalation", COUNTY).await;
        t.clock.advance(chrono::Duration::hours(12) + chrono::Duration::minutes(1));
        tick(&t.state).await.expect("tick");
        let classify_reminders = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM notifications WHERE \
            kind = 'child_lead_repeat' AND region_code = '130110100' AND body LIKE '%分类安置%'").await;
        assert_eq!(classify_reminders, 1);
        t.clock.advance(chrono::Duration::minutes(31));
        tick(&t.state).await.expect("tick");
        assert_eq!(notes(&t, "child_lead_escalation", COUNTY).await, before + 1);
        let director = t.login("c_dir").await;
        let (s, list) = t.get("/api/v1/child-cases?status=open", &director).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(list[0]["classify_overdue"], true, "{list}");
    })
    .await;
}

#[tokio::test]
async fn a_child_whose_recorded_carer_enters_observation_gets_a_lead() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let off = t.user("d_off", &["official"], COUNTY).await;
        let cw = t.user("d_cw", &["community_worker"], V1).await;
        let director = t.user("d_dir", &["children_director"], V1).await;
        // The carer: a registry person with a phone, in no household with the child.
        let carer = created_id(&t, "/api/v1/persons", &cw, json!({"id_number": cid(COUNTY, "19700101", 21),
            "name": "赵婶", "region_code": V1, "phone": "13912345678"})).await;
        let other = created_id(&t, "/api/v1/persons", &cw, json!({"id_number": cid(COUNTY, "19710101", 22),
            "name": "钱叔", "region_code": V1, "phone": "13987654321"})).await;
        let kid = created_id(&t, "/api/v1/persons", &cw, json!({"id_number": cid(COUNTY, "20160101", 23),
            "name": "孙小", "region_code": V1})).await;
        let head = created_id(&t, "/api/v1/persons", &cw, json!({"id_number": cid(COUNTY, "19500101", 24),
            "name": "孙爷", "region_code": V1})).await;
        household(&t, &cw, &[head, kid]).await;
        // A dispersed 特困 child with its carer recorded by name and phone.
        let (s, b) = t.post(&format!("/api/v1/care/persons/{kid}/memberships"), &off,
            json!({"category": "tekun_dispersed", "start_date": "2020-01-01", "deciding_body": "鹿泉区民政局"})).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let (s, b) = t.call("PUT", &format!("/api/v1/care/persons/{kid}/carer"), Some(&cw),
            Some(json!({"name": "赵婶", "phone": "139 1234 5678", "relationship": "邻居"}))).await;
        assert!(s.is_success(), "{s} {b}");

        // Someone else under observation: no lead for the child.
        let (s, o) = t.post("/api/v1/observations", &cw, json!({"person_id": other, "keepers": keepers()})).await;
        assert_eq!(s, StatusCode::CREATED, "{o}");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM child_cases").await, 0);

        // The recorded carer under observation: a lead for the child at once, in its village.
        let (s, o) = t.post("/api/v1/observations", &cw, json!({"person_id": carer, "keepers": keepers()})).await;
        assert_eq!(s, StatusCode::CREATED, "{o}");
        let (s, leads) = t.get("/api/v1/child-cases?status=lead", &director).await;
        assert_eq!(s, StatusCode::OK, "{leads}");
        let persons: Vec<i64> = leads.as_array().expect("list").iter().filter_map(|l| l["person_id"].as_i64()).collect();
        assert_eq!(persons, vec![kid], "{leads}");
        assert_eq!(leads[0]["source"], "observation");
        assert_eq!(audit_count(&t, "child_case.lead").await, 1);
        assert_eq!(notes(&t, "child_lead", V1).await, 2, "director and community worker");
    })
    .await;
}

#[tokio::test]
async fn a_case_from_report_to_closure_through_each_placement() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let official = t.user("r_off", &["official"], COUNTY).await;
        let director = t.user("r_dir", &["children_director"], V1).await;
        let sup = t.user("r_sup", &["child_supervisor"], TOWN).await;
        let dir_id = t.user_id("r_dir").await;
        let sup_id = t.user_id("r_sup").await;
        let org = |name: &str, kind: &str| json!({"name": name, "kind": kind, "region_code": TOWN});
        let welfare = created_id(&t, "/api/v1/orgs", &official, org("县儿童福利院", "child_welfare")).await;
        let protect = created_id(&t, "/api/v1/orgs", &official, org("未保中心", "minor_protection")).await;
        let elderly = created_id(&t, "/api/v1/orgs", &official, org("敬老院", "elderly_care")).await;

        // Bad reports: nothing written.
        let good = json!({"name": "李小明", "sex": "男", "birth_year": 2016, "region_code": V1,
            "where_now": "邻居张家", "reason": "parent_frontline", "health": "healthy",
            "contact_history": "与父亲同住至 2 月 28 日"});
        let mut no_reason = good.clone();
        no_reason["reason"] = json!("");
        let (s, e) = t.post("/api/v1/child-cases", &director, no_reason).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let mut no_child = good.clone();
        no_child["name"] = json!("");
        let (s, _) = t.post("/api/v1/child-cases", &director, no_child).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM child_cases").await, 0);

        // The report, sent twice with one Idempotency-Key: one case.
        let headers = [("idempotency-key", "child-report-0001")];
        let mut first = None;
        for _ in 0..2 {
            let (s, _, b) = t.raw("POST", "/api/v1/child-cases", Some(&director), Some(good.to_string()), &headers).await;
            assert_eq!(s, StatusCode::CREATED, "{}", String::from_utf8_lossy(&b));
            let v: Value = serde_json::from_slice(&b).expect("json");
            first.get_or_insert(v["id"].as_i64().expect("id"));
            assert_eq!(v["id"].as_i64(), first);
        }
        let id = first.expect("id");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM child_cases").await, 1);
        // Sealed at rest: the name and free text are nowhere in clear.
        let enc: Vec<u8> = sqlx::query_scalar("SELECT where_enc FROM child_cases WHERE id = $1")
            .bind(id).fetch_one(t.state.db.pool()).await.expect("row");
        assert!(!String::from_utf8_lossy(&enc).contains("邻居"));
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM child_cases WHERE name_masked = '李小明'").await, 0);

        let url = |what: &str| format!("/api/v1/child-cases/{id}/{what}");
        // A director may not classify; the wrong kind of institution is 422 with nothing written.
        let (s, _) = t.post(&url("classify"), &director, json!({"guardianship": "parents", "placement": "kin"})).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let events = || count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM child_case_events WHERE kind = 'placement'");
        for (placement, bad_org) in [("child_welfare_institution", elderly), ("minor_protection_institution", welfare)] {
            let (s, e) = t.post(&url("classify"), &sup, json!({"guardianship": "temporary", "placement": placement, "org_id": bad_org})).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
            assert_eq!(e["fields"][0]["field"], "org_id", "{e}");
        }
        let (s, _) = t.post(&url("classify"), &sup, json!({"guardianship": "parents", "placement": "village_carer"})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a village carer is named");
        let (s, _) = t.post(&url("classify"), &sup, json!({"guardianship": "parents", "placement": "orphanage"})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(events().await, 0);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM child_cases WHERE classified_at IS NOT NULL").await, 0);

        // Every placement in turn, each kept in the history.
        let steps = [
            json!({"guardianship": "parents", "placement": "medical_observation"}),
            json!({"guardianship": "parents", "placement": "kin", "carer_name": "李姨"}),
            json!({"guardianship": "temporary", "placement": "village_carer", "carer_name": "赵奶奶"}),
            json!({"guardianship": "temporary", "placement": "foster_family"}),
            json!({"guardianship": "temporary", "placement": "minor_protection_institution", "org_id": protect}),
            json!({"guardianship": "temporary", "placement": "child_welfare_institution", "org_id": welfare}),
        ];
        for b in &steps {
            let (s, c) = t.post(&url("classify"), &sup, b.clone()).await;
            assert_eq!(s, StatusCode::OK, "{b} {c}");
            assert_eq!(c["placement"], b["placement"]);
        }
        assert_eq!(events().await, 6);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM child_case_events WHERE kind = 'guardianship'").await, 2);

        // Assign, plan, contacts, a need as a task, closure, follow-up.
        let (s, e) = t.post(&url("assign"), &sup, json!({"worker_id": sup_id + 1000})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let (s, c) = t.post(&url("assign"), &sup, json!({"worker_id": dir_id, "supervisor_id": sup_id})).await;
        assert_eq!(s, StatusCode::OK, "{c}");
        assert_eq!((c["worker"].as_str(), c["supervisor"].as_str()), (Some("r_dir"), Some("r_sup")));
        let (s, _) = t.post(&url("plan"), &director, json!({"care_plan": "每日电话一次，每周探访"})).await;
        assert_eq!(s, StatusCode::OK);
        let (s, c) = t.post(&url("contacts"), &director, json!({"kind": "visit", "note": "孩子情绪稳定", "next_due": "2026-03-04"})).await;
        assert_eq!(s, StatusCode::OK, "{c}");
        assert!(c["next_contact_at"].is_string());
        let (s, c) = t.post(&url("tasks"), &director, json!({"need": "schooling", "owner_id": dir_id, "due_date": "2026-03-05"})).await;
        assert_eq!(s, StatusCode::OK, "{c}");
        let task = c["tasks"][0]["id"].as_i64().expect("task");
        let (s, c) = t.post(&format!("/api/v1/child-cases/{id}/tasks/{task}/done"), &director, json!({})).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(c["tasks"][0]["status"], "done");
        let (s, _) = t.post(&url("close"), &director, json!({"reason": "父亲返家"})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "closing is the supervisor's");
        let (s, c) = t.post(&url("close"), &sup, json!({"reason": "父亲结束一线任务返家，恢复监护", "follow_up_days": 7})).await;
        assert_eq!(s, StatusCode::OK, "{c}");
        assert_eq!(c["status"], "closed");
        assert!(c["follow_up_due_at"].is_string());
        let (s, _) = t.post(&url("contacts"), &director, json!({"kind": "visit", "note": "x"})).await;
        assert_eq!(s, StatusCode::CONFLICT);
        let (s, c) = t.post(&url("contacts"), &director, json!({"kind": "follow_up", "note": "回访：一切正常"})).await;
        assert_eq!(s, StatusCode::OK, "{c}");
        assert!(c["follow_up_due_at"].is_null());
        // The worker reads without a reason; the history is complete.
        let (s, c) = t.get(&format!("/api/v1/child-cases/{id}"), &director).await;
        assert_eq!(s, StatusCode::OK, "{c}");
        assert_eq!(c["where_now"], "邻居张家");
        assert_eq!(c["name"], "李小明");
        assert_eq!(c["care_plan"], "每日电话一次，每周探访");
        assert_eq!(c["contacts"].as_array().map(Vec::len), Some(2));
        for a in ["child_case.open", "child_case.classify", "child_case.close", "child_case.task_done", "children.view"] {
            assert!(audit_count(&t, a).await >= 1, "{a}");
        }
    })
    .await;
}

#[tokio::test]
async fn handover_assistance_hotline_and_confidentiality() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let official = t.user("h_off", &["official"], COUNTY).await;
        let cw = t.user("h_cw", &["community_worker"], V1).await;
        let director = t.user("h_dir", &["children_director"], V1).await;
        let ts = t.user("h_ts", &["township_staff"], TOWN).await;
        let sw = t.user("h_sw", &["social_worker"], COUNTY).await;
        let parent = created_id(
            &t,
            "/api/v1/persons",
            &cw,
            json!({"id_number": cid(COUNTY, "19850101", 21), "name": "陈父", "region_code": V1}),
        )
        .await;
        let kid = created_id(
            &t,
            "/api/v1/persons",
            &cw,
            json!({"id_number": cid(COUNTY, "20170101", 22), "name": "陈小", "region_code": V1}),
        )
        .await;
        household(&t, &cw, &[parent, kid]).await;
        let (s, c) = t
            .post(
                "/api/v1/child-cases",
                &director,
                json!({"person_id": kid, "where_now": "家中",
            "reason": "parent_infected", "health": "close_contact"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        let id = c["id"].as_i64().expect("id");
        assert_eq!(c["region_code"], V1);
        let detail = format!("/api/v1/child-cases/{id}");

        // Roles with no business with children's cases: 404 for everything.
        for (name, role) in [
            ("h_fin", "charity_finance"),
            ("h_insp", "inspector"),
            ("h_hot", "hotline_worker"),
        ] {
            let tok = t.user(name, &[role], COUNTY).await;
            let (s, _) = t.get("/api/v1/child-cases", &tok).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{role} list");
            let (s, _) = t.get(&format!("{detail}?reason=x"), &tok).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{role} detail");
            let (s, _) = t
                .post(&format!("{detail}/close"), &tok, json!({"reason": "x"}))
                .await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{role} write");
        }
        // A social worker not named on the case does not see it.
        let (s, l) = t.get("/api/v1/child-cases", &sw).await;
        assert_eq!((s, ids(&l)), (StatusCode::OK, vec![]));
        let (s, _) = t.get(&format!("{detail}?reason=x"), &sw).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // Another viewer gives a reason, and every view is audited.
        let views = audit_count(&t, "children.view").await;
        let (s, e) = t.get(&detail, &official).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert_eq!(e["code"], "reason_required");
        let (s, c) = t
            .get(&format!("{detail}?reason=%E7%9D%A3%E5%AF%BC"), &official)
            .await;
        assert_eq!(s, StatusCode::OK, "{c}");
        assert_eq!(c["health"], "close_contact");
        assert_eq!(audit_count(&t, "children.view").await, views + 1);

        // Hand-over to the county: the township no longer reads it; back to the township.
        let (s, c) = t
            .post(
                &format!("{detail}/handover"),
                &ts,
                json!({"to": COUNTY, "note": "需县级统筹"}),
            )
            .await;
        assert_eq!(
            s,
            StatusCode::NOT_FOUND,
            "handed out of the township's reach: {c}"
        );
        let (s, _) = t.get(&format!("{detail}?reason=x"), &ts).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, c) = t.get(&format!("{detail}?reason=x"), &official).await;
        assert_eq!(
            (s, c["holder_code"].as_str()),
            (StatusCode::OK, Some(COUNTY))
        );
        let (s, _) = t
            .post(
                &format!("{detail}/handover"),
                &official,
                json!({"to": "130111"}),
            )
            .await;
        assert_eq!(
            s,
            StatusCode::UNPROCESSABLE_ENTITY,
            "not on the child's path"
        );
        let (s, c) = t
            .post(
                &format!("{detail}/handover"),
                &official,
                json!({"to": TOWN}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{c}");
        assert_eq!(
            count(
                &t,
                "SELECT CAST(COUNT(*) AS BIGINT) FROM child_case_events WHERE kind = 'handover'"
            )
            .await,
            2
        );
        let (s, _) = t.get(&format!("{detail}?reason=x"), &ts).await;
        assert_eq!(s, StatusCode::OK);

        // Assistance from the case (needs assistance.apply: not the director). A monthly
        // temporary application is refused by the assistance service itself; the child
        // allowance is the default.
        let (s, b) = t
            .post(
                "/api/v1/assistance/standards",
                &official,
                json!({"region_code": COUNTY,
            "programme": "de_facto_orphan_allowance", "area_kind": "rural", "component": "base",
            "amount": "1200", "effective_from": "2026-03-02"}),
            )
            .await;
        assert!(s.is_success(), "{b}");
        let (s, e) = t
            .post(
                &format!("{detail}/assistance"),
                &ts,
                json!({"programme": "temporary", "area_kind": "rural"}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert_eq!(
            count(
                &t,
                "SELECT CAST(COUNT(*) AS BIGINT) FROM assistance_applications"
            )
            .await,
            0
        );
        let body = json!({"area_kind": "rural", "authorised": true});
        let (s, _) = t
            .post(&format!("{detail}/assistance"), &director, body.clone())
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, c) = t
            .post(&format!("{detail}/assistance"), &ts, body.clone())
            .await;
        assert_eq!(s, StatusCode::OK, "{c}");
        assert_eq!(c["application"]["programme"], "de_facto_orphan_allowance");
        assert_eq!(c["application"]["status"], "submitted");
        let app = c["application"]["id"].as_i64().expect("app");
        let (s, a) = t
            .get(&format!("/api/v1/assistance/applications/{app}"), &ts)
            .await;
        assert_eq!(s, StatusCode::OK, "{a}");
        assert_eq!(a["applicant_person_id"].as_i64(), Some(kid));
        let (s, _) = t.post(&format!("{detail}/assistance"), &ts, body).await;
        assert_eq!(s, StatusCode::CONFLICT);

        // The hotline's hook: an urgent lead in the village, due in one hour, the village told.
        let hotline = Actor {
            user_id: Some(t.user_id("h_hot").await),
            username: "h_hot".into(),
            roles: RoleSet::new([Role::HotlineWorker]),
            scope: Scope::parse(COUNTY).expect("scope"),
            org_id: None,
            source: "test".into(),
            via: Via::Session(0),
        };
        let lead = |region: &str, reason: &str| HotlineChildLead {
            region_code: region.into(),
            child_name: "周小红".into(),
            where_now: "独自在家".into(),
            reason: reason.into(),
            urgent: true,
            call_ref: "CALL-0001".into(),
            ..Default::default()
        };
        let before = notes(&t, "child_lead", V1).await;
        let lid = open_from_hotline(&t.state, &hotline, lead(V1, "parent_isolated"))
            .await
            .expect("lead");
        assert_eq!(
            notes(&t, "child_lead", V1).await,
            before + 2,
            "director and community worker"
        );
        let due: i64 = sqlx::query_scalar("SELECT lead_due_at FROM child_cases WHERE id = $1")
            .bind(lid)
            .fetch_one(t.state.db.pool())
            .await
            .expect("due");
        assert_eq!(due - t.clock_now_ms(), 3_600_000);
        let out = open_from_hotline(&t.state, &hotline, lead("130111100003", "other")).await;
        assert_eq!(out.map_err(|e| e.status()), Err(StatusCode::NOT_FOUND));
        let bad = open_from_hotline(&t.state, &hotline, lead(V1, "lost")).await;
        assert_eq!(
            bad.map_err(|e| e.status()),
            Err(StatusCode::UNPROCESSABLE_ENTITY)
        );
        let (s, l) = t.get("/api/v1/child-cases?status=lead", &director).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(ids(&l), vec![lid]);
        assert_eq!(l[0]["source"], "hotline");
    })
    .await;
}

#[tokio::test]
async fn statistics_equal_an_independent_count_and_mask_small_counts() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let official = t.user("st_off", &["official"], COUNTY).await;
        let d1 = t.user("st_d1", &["children_director"], V1).await;
        let v2 = "130110100002";
        let d2 = t.user("st_d2", &["children_director"], v2).await;
        let sup = t.user("st_sup", &["child_supervisor"], TOWN).await;
        let mut first = 0;
        for (tok, region, n) in [(&d1, V1, 6), (&d2, v2, 2)] {
            for i in 0..n {
                let (s, c) = t
                    .post(
                        "/api/v1/child-cases",
                        tok,
                        json!({"name": format!("统计{i}"), "region_code": region,
                    "where_now": "家中", "reason": "parent_isolated"}),
                    )
                    .await;
                assert_eq!(s, StatusCode::CREATED, "{c}");
                if first == 0 {
                    first = c["id"].as_i64().expect("id");
                }
            }
        }
        let (s, _) = t
            .post(
                &format!("/api/v1/child-cases/{first}/classify"),
                &sup,
                json!({"guardianship": "parents", "placement": "kin"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);

        // The township's lines are below county level: 1–4 shown as "<5".
        let (s, st) = t
            .get(
                &format!("/api/v1/child-cases/statistics?region={TOWN}"),
                &official,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{st}");
        let line = |st: &Value, code: &str| {
            st["lines"]
                .as_array()
                .and_then(|l| l.iter().find(|x| x["region_code"] == code).cloned())
                .expect("line")
        };
        let l1 = line(&st, V1);
        assert_eq!(l1["shown"][0], "6");
        assert_eq!(l1["shown"][1], "<5", "one classified on time");
        assert_eq!(
            l1["figures"]["opened"], 0,
            "no exact figures below county level"
        );
        assert_eq!(line(&st, v2)["shown"][0], "<5");
        assert_eq!(st["total"]["shown"][0], "8");
        // The county's total is exact and equals an independent count.
        let (s, st) = t
            .get(
                &format!("/api/v1/child-cases/statistics?region={COUNTY}&period=week"),
                &official,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{st}");
        let independent = count(
            &t,
            "SELECT CAST(COUNT(*) AS BIGINT) FROM child_cases WHERE region_code LIKE '130110%'",
        )
        .await;
        assert_eq!(st["total"]["figures"]["opened"].as_i64(), Some(independent));
        assert_eq!(st["total"]["figures"]["classified_on_time"], 1);
        assert_eq!(st["total"]["figures"]["by_placement"][1], 1, "kin");
        assert_eq!(line(&st, TOWN)["shown"][0], "8");
        assert_eq!(line(&st, TOWN)["masked"], true);
        // Yesterday: nothing.
        let (_, st) = t
            .get(
                &format!("/api/v1/child-cases/statistics?region={COUNTY}&date=2026-03-01"),
                &official,
            )
            .await;
        assert_eq!(st["total"]["figures"]["opened"], 0);
        let (s, _) = t
            .get("/api/v1/child-cases/statistics?period=month", &official)
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        // Excel, and nothing for roles without children.read.
        let (s, _, b) = t
            .raw(
                "GET",
                &format!("/api/v1/child-cases/statistics/export?region={TOWN}"),
                Some(&official),
                None,
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert!(b.starts_with(b"PK"));
        let insp = t.user("st_insp", &["inspector"], COUNTY).await;
        let (s, _) = t.get("/api/v1/child-cases/statistics", &insp).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test]
async fn the_hub_page_lists_leads_and_takes_a_report() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        t.make_user("pg_dir", &["children_director"], V1).await;
        let c = crate::support::web_login(&t, "pg_dir").await;
        let (s, html) = crate::support::page(&t, "/children", &c).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("报告一名儿童") && html.contains("困境儿童"), "{html}");
        // Refused: the input is kept and the reason shown beside the field; nothing written.
        let body = format!("name=%E5%BC%A0%E5%B0%8F%E8%8A%B1&region_code={V1}&where_now=%E5%A5%B6%E5%A5%B6%E5%AE%B6&reason=");
        let (s, html) = crate::support::post_page(&t, "/children", &c, &body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
        assert!(html.contains("张小花") && html.contains("奶奶家"), "input kept");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM child_cases").await, 0);
        let body = format!("name=%E5%BC%A0%E5%B0%8F%E8%8A%B1&region_code={V1}&where_now=%E5%A5%B6%E5%A5%B6%E5%AE%B6&reason=parent_infected");
        let (s, _) = crate::support::post_page(&t, "/children", &c, &body).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM child_cases").await, 1);
        let (_, html) = crate::support::page(&t, "/children", &c).await;
        assert!(html.contains("张*"), "the list masks the name");
        // The home page's to-do line: nothing waits yet (the report's worker is the reporter,
        // classification due in 12 h); a lead from the hotline does.
        let op = backstop_app::kernel::actor::Actor::operator();
        let lead = HotlineChildLead { region_code: V1.into(), child_name: "周小红".into(), where_now: "家".into(),
            reason: "other".into(), urgent: false, call_ref: String::new(), ..Default::default() };
        open_from_hotline(&t.state, &op, lead).await.expect("lead");
        let (_, home) = crate::support::page(&t, "/", &c).await;
        assert!(home.contains("todo-children") && home.contains("/children"), "{home}");
        assert!(!html.contains("奶奶家"), "no sealed text on the list");
        // No children.read: the page does not exist.
        t.make_user("pg_insp", &["inspector"], COUNTY).await;
        let ci = crate::support::web_login(&t, "pg_insp").await;
        let (s, _) = crate::support::page(&t, "/children", &ci).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    })
    .await;
}

/// A hotline red flag about a child in a village outside the line's region scope still opens
/// the lead there, notifies that village, and shows the case reference on the call; the
/// hotline worker cannot read the case. A failure in the lead write rolls back the call.
#[tokio::test]
async fn hotline_red_flag_opens_the_lead_in_any_village_with_the_call() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        const VB: &str = "130111100003";
        let off = t.user("hl_off", &["official"], COUNTY).await;
        let hw = t.user("hl_hw", &["hotline_worker"], COUNTY).await;
        let dir_b = t.user("hl_dir_b", &["children_director"], VB).await;
        let org = created_id(&t, "/api/v1/orgs", &off,
            json!({"name": "鹿泉区社工站", "kind": "social_work", "region_code": TOWN})).await;
        let line = created_id(&t, "/api/v1/hotline/lines", &off,
            json!({"region_code": COUNTY, "name": "鹿泉区儿童热线", "number": "0311-1", "kind": "child_protection", "org_id": org})).await;
        let call = |name: &str| json!({"line_id": line, "caller_category": "child", "issues": ["anxiety"],
            "risk": "red_flag", "actions": ["referral"], "duration_s": 300, "flag_kind": "child_danger",
            "report_to": "civil_affairs", "report_ref": "MZ-9",
            "child": {"region_code": VB, "child_name": name, "where_now": "家中独自一人", "reason": "父母均在隔离点"}});
        let before = notes(&t, "child_lead", VB).await;
        let (s, c) = t.post("/api/v1/hotline/calls", &hw, call("赵小明")).await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        assert_eq!(c["child_lead"]["status"], "handed");
        let case_id = c["child_lead"]["case_id"].as_i64().expect("case reference");
        assert!(notes(&t, "child_lead", VB).await > before, "the child's village is told");
        // The case: a lead in that village, urgent, the caller's words sealed in its history.
        let (s, l) = t.get("/api/v1/child-cases?status=lead", &dir_b).await;
        assert_eq!(s, StatusCode::OK, "{l}");
        assert_eq!(ids(&l), vec![case_id]);
        assert_eq!(l[0]["reason_group"], "other");
        assert_eq!(l[0]["source"], "hotline");
        let (s, full) = t.get(&format!("/api/v1/child-cases/{case_id}?reason=核实"), &dir_b).await;
        assert_eq!(s, StatusCode::OK, "{full}");
        assert!(full["contact_history"].as_str().is_some_and(|h| h.contains("隔离点")), "{full}");
        // The hotline worker: the reference on the call page, the case itself not found.
        let call_id = c["id"].as_i64().expect("call id");
        let page = crate::support::web_login(&t, "hl_hw").await;
        let (s, html) = crate::support::page(&t, &format!("/hotline/calls/{call_id}"), &page).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains(&format!("<span id=\"child-case-ref\">{case_id}</span>")), "{html}");
        let (s, _) = t.get(&format!("/api/v1/child-cases/{case_id}?reason=看看"), &hw).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // The lead write fails (its history table gone): the call is not written either.
        let calls = "SELECT CAST(COUNT(*) AS BIGINT) FROM hotline_calls";
        let (n_calls, n_cases) = (count(&t, calls).await, count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM child_cases").await);
        sqlx::query("DROP TABLE child_case_events").execute(t.state.db.pool()).await.expect("drop");
        let (s, _) = t.post("/api/v1/hotline/calls", &hw, call("钱小红")).await;
        assert!(s.is_server_error(), "{s}");
        assert_eq!(count(&t, calls).await, n_calls, "the call rolled back with the lead");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM child_cases").await, n_cases);
    })
    .await;
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", backstop_app::kernel::web::encode_query_value(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The case page: the reason form first for a reader who is neither worker nor supervisor
/// (each view audited), then the supervisor's forms — classify and place with the institution
/// picker (a refusal keeps the input, 422), assign from the user pickers, care plan, contact,
/// task and done — and the list (filters, masked names) and statistics pages.
#[tokio::test]
async fn the_case_page_forms_list_and_statistics() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let off = t.user("cp_off", &["official"], COUNTY).await;
        let dir = t.user("cp_dir", &["children_director"], V1).await;
        t.make_user("cp_sup", &["child_supervisor"], TOWN).await;
        let org = created_id(&t, "/api/v1/orgs", &off,
            json!({"name": "鹿泉区未成年人救助保护中心", "kind": "minor_protection", "region_code": TOWN})).await;
        let id = created_id(&t, "/api/v1/child-cases", &dir, json!({"name": "孙小雨", "region_code": V1,
            "where_now": "邻居家", "reason": "parent_infected"})).await;
        let sup = crate::support::web_login(&t, "cp_sup").await;
        let path = format!("/children/cases/{id}");
        // Not the worker: the reason form, no case text, nothing audited.
        let views = audit_count(&t, "children.view").await;
        let (s, html) = crate::support::page(&t, &path, &sup).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("case-reason-form") && !html.contains("邻居家"), "{html}");
        assert_eq!(audit_count(&t, "children.view").await, views);
        let (s, html) = crate::support::page(&t, &format!("{path}?reason=%E6%A0%B8%E5%AE%9E"), &sup).await;
        assert_eq!(s, StatusCode::OK, "{html}");
        assert_eq!(audit_count(&t, "children.view").await, views + 1);
        assert!(html.contains("邻居家") && html.contains("孙小雨"), "the case in full");
        assert!(html.contains("鹿泉区未成年人救助保护中心"), "the institution picker");
        assert!(html.contains("cp_dir") && html.contains("cp_sup"), "the user pickers");
        // An institution placement without its institution: refused beside the field, kept.
        let body = form(&[("view_reason", "核实"), ("guardianship", "temporary"),
            ("placement", "minor_protection_institution"), ("carer_name", "李照料")]);
        let (s, html) = crate::support::post_page(&t, &format!("{path}/classify"), &sup, &body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
        assert!(html.contains("data-field=\"org_id\"") && html.contains("李照料"), "{html}");
        let body = form(&[("view_reason", "核实"), ("guardianship", "temporary"),
            ("placement", "minor_protection_institution"), ("org_id", &org.to_string())]);
        let (s, _) = crate::support::post_page(&t, &format!("{path}/classify"), &sup, &body).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        // Assign from the pickers: the director works it, the supervisor supervises it.
        let (dir_id, sup_id) = (t.user_id("cp_dir").await, t.user_id("cp_sup").await);
        let body = form(&[("view_reason", "核实"), ("worker_id", &dir_id.to_string()), ("supervisor_id", &sup_id.to_string())]);
        let (s, _) = crate::support::post_page(&t, &format!("{path}/assign"), &sup, &body).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        // Now the supervisor's own case: no reason needed.
        let (s, html) = crate::support::page(&t, &path, &sup).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("未成年人救助保护机构") && html.contains("民政部门临时监护"), "{html}");
        assert!(html.contains("case-events") && html.contains("指派"), "the timeline");
        for (what, body) in [
            ("plan", form(&[("care_plan", "每日电话，周末探访")])),
            ("contacts", form(&[("kind", "phone"), ("note", "孩子情绪稳定"), ("next_due", "2026-12-31")])),
            ("tasks", form(&[("need", "food"), ("owner_id", &dir_id.to_string()), ("due_date", "2026-12-31")])),
        ] {
            let (s, html) = crate::support::post_page(&t, &format!("{path}/{what}"), &sup, &body).await;
            assert_eq!(s, StatusCode::SEE_OTHER, "{what}: {html}");
        }
        let task: i64 = sqlx::query_scalar("SELECT id FROM child_case_tasks WHERE case_id = $1")
            .bind(id).fetch_one(t.state.db.pool()).await.expect("task");
        let (s, _) = crate::support::post_page(&t, &format!("{path}/tasks/{task}/done"), &sup, "").await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (_, html) = crate::support::page(&t, &path, &sup).await;
        assert!(html.contains("每日电话") && html.contains("孩子情绪稳定") && html.contains("已完成"), "{html}");
        // A bad task: kept, 422.
        let body = form(&[("need", "toys"), ("owner_id", &dir_id.to_string()), ("due_date", "2026-12-31")]);
        let (s, _) = crate::support::post_page(&t, &format!("{path}/tasks"), &sup, &body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

        // The list: filters, masked names, links to the case.
        let (s, html) = crate::support::page(&t, "/children/cases?reason=parent_health&mine=1", &sup).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("孙*") && !html.contains("孙小雨") && html.contains(&format!("/children/cases/{id}")), "{html}");
        let (_, html) = crate::support::page(&t, "/children/cases?reason=parent_deceased", &sup).await;
        assert!(!html.contains("孙*"), "filtered out");
        let (s, _) = crate::support::page(&t, "/children/cases?reason=lost", &sup).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        // The statistics: the chart and the Excel link.
        let (s, html) = crate::support::page(&t, "/children/stats", &sup).await;
        assert_eq!(s, StatusCode::OK, "{html}");
        assert!(html.contains("chart-opened") && html.contains("/api/v1/child-cases/statistics/export"), "{html}");
        // No children.read: none of it exists.
        t.make_user("cp_insp", &["inspector"], COUNTY).await;
        let ci = crate::support::web_login(&t, "cp_insp").await;
        for p in [path.clone(), "/children/cases".into(), "/children/stats".into()] {
            assert_eq!(crate::support::page(&t, &p, &ci).await.0, StatusCode::NOT_FOUND, "{p}");
        }
    })
    .await;
}

/// Money today: with an emergency period with aid_first over the child's village, starting
/// assistance from the case grants temporary assistance at once (within the cap, township
/// staff) and links the grant; without one the page says an application will be started.
#[tokio::test]
async fn money_today_is_an_aid_first_grant_in_an_emergency() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let off = t.user("m_off", &["official"], COUNTY).await;
        let ts = t.user("m_ts", &["township_staff"], TOWN).await;
        let cw = t.user("m_cw", &["community_worker"], V1).await;
        let kid = created_id(&t, "/api/v1/persons", &cw,
            json!({"id_number": cid(COUNTY, "20160301", 21), "name": "吴小宝", "region_code": V1})).await;
        let id = created_id(&t, "/api/v1/child-cases", &ts, json!({"person_id": kid,
            "where_now": "村委会", "reason": "parent_isolated"})).await;
        let detail = format!("/api/v1/child-cases/{id}");
        let page = crate::support::web_login(&t, "m_ts").await;
        let (_, html) = crate::support::page(&t, &format!("/children/cases/{id}"), &page).await;
        assert!(html.contains("id=\"assist-route\"") && html.contains("不在“先行救助”应急期内"), "{html}");
        // The period and the county's cap.
        let (s, b) = t.post("/api/v1/assistance/standards", &off, json!({"region_code": COUNTY, "programme": "temporary",
            "area_kind": "urban", "component": "temporary_cap", "amount": "1000", "effective_from": "2026-03-02"})).await;
        assert!(s.is_success(), "{b}");
        let (s, b) = t.post("/api/v1/assistance/emergencies", &off, json!({"region_code": COUNTY, "name": "疫情应急期",
            "starts_on": "2026-03-01", "ends_on": "2026-04-30", "measures": ["aid_first"]})).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let (_, html) = crate::support::page(&t, &format!("/children/cases/{id}"), &page).await;
        assert!(html.contains("在启用“先行救助”的应急期内") && html.contains("assist-amount"), "{html}");
        // No amount, or over the cap: refused, nothing granted.
        let (s, e) = t.post(&format!("{detail}/assistance"), &ts, json!({})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let (s, e) = t.post(&format!("{detail}/assistance"), &ts, json!({"amount": "1000.01"})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let grants = "SELECT CAST(COUNT(*) AS BIGINT) FROM assistance_aid_grants";
        assert_eq!(count(&t, grants).await, 0);
        // Granted at once, the case linked; no application.
        let (s, c) = t.post(&format!("{detail}/assistance"), &ts, json!({"amount": "600", "note": "生活费"})).await;
        assert_eq!(s, StatusCode::OK, "{c}");
        assert_eq!(c["grant"]["amount_fen"], 60_000);
        assert_eq!(c["grant"]["status"], "granted");
        assert!(c["application"].is_null());
        assert_eq!(count(&t, grants).await, 1);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM assistance_applications").await, 0);
        let (s, _) = t.post(&format!("{detail}/assistance"), &ts, json!({"amount": "100"})).await;
        assert_eq!(s, StatusCode::CONFLICT, "once per case");
        let (_, html) = crate::support::page(&t, &format!("/children/cases/{id}"), &page).await;
        assert!(html.contains("先行救助") && html.contains("600.00 元"), "{html}");
    })
    .await;
}
