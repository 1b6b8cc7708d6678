//! People and households (issue 4, part 1): create and validation, 409/404, masking per role,
//! audited reveal, exact search through the body, scope in reads, lists and counts, roster
//! import (encodings, bad rows, merge rule, all-or-nothing, good rows), pages, and no
//! plaintext ID or phone number at rest — on both backends.

use std::time::Duration;

use axum::http::StatusCode;
use backstop_app::Config;
use backstop_app::kernel::actor::Actor;
use std::io::Cursor;

use backstop_app::people::import::{ImportOptions, ImportReport, Progress, import_csv};
use serde_json::{Value, json};
use sqlx::Row;

use crate::support::{
    T, cid, each_backend, each_backend_with, page, pg_column_texts, sqlite_bytes,
};

const V1: &str = "130110100001"; // 旱码头社区 (鹿泉区)
const V2: &str = "130110100002"; // 镇宁社区 (鹿泉区)

async fn audit_rows(t: &T, action: &str) -> Vec<(String, String, String)> {
    sqlx::query("SELECT object_id, outcome, detail FROM audit_log WHERE action = $1 ORDER BY id")
        .bind(action)
        .fetch_all(t.state.db.pool())
        .await
        .expect("audit")
        .iter()
        .map(|r| {
            (
                r.get::<String, _>("object_id"),
                r.get::<String, _>("outcome"),
                r.get::<String, _>("detail"),
            )
        })
        .collect()
}

/// An official actor scoped to `region`, for calling services directly.
fn scoped_official(region: &str) -> Actor {
    use backstop_app::kernel::actor::Via;
    use backstop_core::region::Scope;
    use backstop_core::role::{Role, RoleSet};
    Actor {
        user_id: None,
        username: "test-official".to_string(),
        roles: RoleSet::new([Role::Official]),
        scope: Scope::parse(region).expect("scope"),
        org_id: None,
        source: "test".to_string(),
        via: Via::Session(0),
    }
}

/// `POST /api/v1/persons` as `token`.
async fn post_person(t: &T, token: &str, body: Value) -> (StatusCode, Value) {
    t.post("/api/v1/persons", token, body).await
}

/// `POST /api/v1/persons/search` as `token`.
async fn search_person(t: &T, token: &str, body: Value) -> (StatusCode, Value) {
    t.post("/api/v1/persons/search", token, body).await
}

/// `PATCH /api/v1/persons/{id}` as `token`.
async fn patch_person(t: &T, token: &str, id: i64, body: Value) -> (StatusCode, Value) {
    t.patch(&format!("/api/v1/persons/{id}"), token, body).await
}

/// `POST /api/v1/households` as `token`.
async fn post_household(t: &T, token: &str, body: Value) -> (StatusCode, Value) {
    t.post("/api/v1/households", token, body).await
}

async fn person_count(t: &T) -> i64 {
    sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM persons")
        .fetch_one(t.state.db.pool())
        .await
        .expect("count")
}

#[tokio::test]
async fn persons_create_mask_reveal_scope_households() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let official = t.user("p_off", &["official"], "1301").await;
        let worker = t.user("p_cw", &["community_worker"], V1).await;
        let other = t.user("p_other", &["official"], "130111").await;
        let staff = t.user("p_town", &["township_staff"], "130110100").await;

        let a = cid("130110", "19800101", 1); // male
        let (s, b) = post_person(&t, &worker, json!({"id_number": a.to_lowercase(), "name": "张三", "region_code": V1,
                       "phone": "138 1234-5678", "address": "旱码头 1 号"})).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let pid = b["id"].as_i64().expect("id");
        // The worker may not reveal: strict mask, first 1 + 16 stars + last 1.
        let strict = format!("1{}{}", "*".repeat(16), &a[17..]);
        assert_eq!(b["id_number_masked"], strict.as_str());
        assert_eq!(b["sex"], "male");
        // The birth year, never the date (with the 6+1 mask that would narrow the number).
        assert_eq!(b["birth_year"], 1980);
        assert!(b.get("birth_date").is_none(), "{b}");
        assert_eq!(b["phone_masked"], "138****5678");

        // Validation.
        let (s, b) = post_person(&t, &worker, json!({"id_number": format!("{}{}", &a[..17], if a.ends_with('0') { '1' } else { '0' }), "name": "x", "region_code": V1})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["code"], "invalid_id_number");
        assert!(b["message"].as_str().unwrap_or("").contains("身份证"), "{b}");
        let (s, b) = post_person(&t, &worker, json!({"id_number": "12345", "name": "x", "region_code": V1})).await;
        assert_eq!((s, b["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_id_number")));
        let b2 = cid("130110", "19900215", 2); // female
        let (s, b) = post_person(&t, &worker, json!({"id_number": b2, "name": "李四", "region_code": V1, "sex": "男"})).await;
        assert_eq!((s, b["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("validation")), "{b}");
        let (s, b) = post_person(&t, &worker, json!({"id_number": b2, "name": "李四", "region_code": V1, "birth_date": "1990-02-16"})).await;
        assert_eq!((s, b["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("validation")), "{b}");
        let (s, b) = post_person(&t, &official, json!({"id_number": b2, "name": "李四", "region_code": "130110100999"})).await;
        assert_eq!((s, b["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_region")), "{b}");
        // A region outside the caller's scope does not exist for it.
        let (s, _) = post_person(&t, &worker, json!({"id_number": b2, "name": "李四", "region_code": V2})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(person_count(&t).await, 1, "refused writes leave nothing");

        // Existing number: 409 with the id in scope (also given as the old 15 digits), 404 outside.
        let fifteen = format!("{}{}", &a[..6], &a[8..17]);
        for n in [a.clone(), fifteen] {
            let (s, b) = post_person(&t, &official, json!({"id_number": n, "name": "张三", "region_code": V2})).await;
            assert_eq!(s, StatusCode::CONFLICT, "{b}");
            assert_eq!(b["code"], "conflict");
            assert_eq!(b["existing_id"], pid);
        }
        // Held elsewhere: the same 201 as a new person, carrying only what this region typed
        // (a made-up name stays made up: the number is not an oracle for the real one); the
        // record stays one, with this region's registration as a link to it.
        let before_link = person_count(&t).await;
        let (s, b) = post_person(&t, &other, json!({"id_number": a, "name": "赵某", "region_code": "130111",
                       "address": "外区某街"})).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        assert!(b.get("existing_id").is_none());
        let link = b["id"].as_i64().expect("id");
        assert_ne!(link, pid);
        assert_eq!((b["name"].as_str(), b["address"].as_str(), b["link_kind"].as_str()), (Some("赵某"), Some("外区某街"), Some("residence")));
        assert_eq!(b["phone_masked"], "", "the holder's phone is not shown: {b}");
        assert!(b.get("links").is_none(), "{b}");
        assert_eq!(person_count(&t).await, before_link + 1);
        // Registering again in the same region is the usual 409 with the link's id.
        let (s, b) = post_person(&t, &other, json!({"id_number": a, "name": "赵某", "region_code": "130111"})).await;
        assert_eq!((s, b["existing_id"].as_i64()), (StatusCode::CONFLICT, Some(link)), "{b}");
        // The holder sees where else the person is registered, and was told.
        let (_, h) = t.get(&format!("/api/v1/persons/{pid}"), &official).await;
        assert_eq!(h["links"][0]["region_code"], "130111", "{h}");
        assert_eq!(h["links"][0]["kind_label"], "居住地", "{h}");
        let told: Vec<String> = sqlx::query_scalar(
            "SELECT body FROM notifications WHERE kind = 'person_linked' AND region_code = $1",
        )
        .bind(V1)
        .fetch_all(t.state.db.pool())
        .await
        .expect("notifications");
        assert!(told.len() == 1 && told[0].contains("130111"), "{told:?}");
        // The exact lookup answers with the link for the other region.
        let (s, b) = t.post("/api/v1/persons/search", &other, json!({"id_number": a})).await;
        assert_eq!((s, b["id"].as_i64()), (StatusCode::OK, Some(link)), "{b}");

        // More people: one in the other village (by the official), one without an ID number.
        let (s, b) = post_person(&t, &official, json!({"id_number": b2, "name": "李四", "region_code": V2, "phone": "13900001111"})).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let p2 = b["id"].as_i64().expect("id");
        // The official may see 6 + 11 stars + 1.
        assert_eq!(
            b["id_number_masked"],
            format!("{}{}{}", &b2[..6], "*".repeat(11), &b2[17..]).as_str()
        );
        let (s, b) = post_person(&t, &worker, json!({"name": "王小宝", "region_code": V1, "sex": "女", "birth_date": "2026-02-01"})).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let baby = b["id"].as_i64().expect("id");
        assert_eq!(b["id_number_masked"], "");

        // Reads per role and scope.
        let (s, b) = t.get(&format!("/api/v1/persons/{pid}"), &official).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            b["id_number_masked"],
            format!("{}{}{}", &a[..6], "*".repeat(11), &a[17..]).as_str()
        );
        let (s, _) = t.get(&format!("/api/v1/persons/{pid}"), &other).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = t.get(&format!("/api/v1/persons/{p2}"), &worker).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "the worker sees only its village");
        let (_, l) = t.get("/api/v1/persons", &worker).await;
        assert_eq!(l["total"], 2, "{l}");
        let (_, l) = t.get("/api/v1/persons", &official).await;
        assert_eq!(l["total"], 4, "the city sees both registrations of 张三: {l}");
        let (_, l) = t.get("/api/v1/persons", &staff).await;
        assert_eq!(l["total"], 3);
        let (_, l) = t.get("/api/v1/persons", &other).await;
        assert_eq!(l["total"], 1, "only its own registration (the link): {l}");
        assert_eq!(l["items"][0]["id"], link);
        let (s, _) = t.get("/api/v1/persons?region=130110", &other).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // Name search, masked fragments.
        let (_, l) = t.get("/api/v1/persons?name=%E5%BC%A0", &official).await; // 张
        assert_eq!(l["total"], 1);
        assert_eq!(l["items"][0]["id"], pid);
        // The last 4 characters are in no mask any more, so they find nobody (a search on
        // them would tell the hidden sequence digits).
        let last4 = &b2[14..];
        let (_, l) = t
            .get(&format!("/api/v1/persons?masked={last4}"), &official)
            .await;
        assert_eq!(l["total"], 0, "{l}");
        let (_, l) = t.get("/api/v1/persons?masked=130110", &official).await;
        assert_eq!(l["total"], 3, "the shown region part still finds (the link too): {l}");
        let (_, l) = t.get("/api/v1/persons?masked=5678", &worker).await;
        assert_eq!(l["total"], 1, "phone fragment for everyone");
        let (_, l) = t
            .get(&format!("/api/v1/persons?masked={}", &a[14..]), &worker)
            .await;
        assert_eq!(l["total"], 0, "6+4 ID fragments only for roles that may see them");
        let (s, _) = t.get("/api/v1/persons?masked=%25", &official).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

        // Exact search by number in the body.
        let (s, b) = search_person(&t, &worker, json!({"id_number": a})).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(b["id"], pid);
        // Held elsewhere and held nowhere read the same: "not found in your area".
        let v2_worker = t.user("p_cw2", &["community_worker"], V2).await;
        let (s1, b1) = search_person(&t, &v2_worker, json!({"id_number": a})).await;
        let (s2, b2_) = search_person(&t, &v2_worker, json!({"id_number": cid("130110", "19800101", 77)})).await;
        assert_eq!((s1, s2), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND));
        assert_eq!(b1, b2_, "the same answer whether the number exists elsewhere or not");
        let looked: Vec<(String, String)> = sqlx::query_as(
            "SELECT outcome, detail FROM audit_log WHERE action = 'person.lookup' AND username = 'p_cw2' ORDER BY id",
        )
        .fetch_all(t.state.db.pool())
        .await
        .expect("lookups");
        assert_eq!(looked.len(), 2, "every lookup audited: {looked:?}");
        assert!(looked[0].1.contains("\"results\":0") && looked[0].1.contains("1****************"), "{looked:?}");
        assert!(!looked[0].1.contains(&a), "never the number: {looked:?}");
        let (s, b) = search_person(&t, &worker, json!({"id_number": "1234"})).await;
        assert_eq!((s, b["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_id_number")));

        // Reveal: refused (and recorded) without the permission; needs a reason; audited.
        let (s, _) = t
            .post(&format!("/api/v1/persons/{pid}/reveal"), &worker, json!({"reason": "核对"}))
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = t
            .post(&format!("/api/v1/persons/{pid}/reveal"), &other, json!({"reason": "核对"}))
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = t
            .post(&format!("/api/v1/persons/{pid}/reveal"), &official, json!({"reason": " "}))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, b) = t
            .post(
                &format!("/api/v1/persons/{pid}/reveal"),
                &official,
                json!({"reason": "办理临时救助核对身份"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["id_number"], a.as_str());
        assert_eq!(b["phone"], "13812345678");
        let reveals = audit_rows(&t, "person.reveal").await;
        assert_eq!(reveals.len(), 2, "{reveals:?}");
        assert_eq!(reveals[0].1, "failure");
        assert_eq!(reveals[1].1, "success");
        assert_eq!(reveals[1].0, pid.to_string());
        assert!(reveals[1].2.contains("办理临时救助核对身份"));
        for (_, _, d) in &reveals {
            assert!(!d.contains(&a) && !d.contains("13812345678"), "{d}");
        }

        // PATCH: link an ID number later, change the phone; audit masked before → after.
        let c = cid("130110", "20260201", 4); // female, born on the given date
        let (s, b) = patch_person(&t, &worker, baby, json!({"id_number": c, "phone": "13700002222"})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["id_number_masked"], format!("1{}{}", "*".repeat(16), &c[17..]).as_str());
        assert_eq!(b["phone_masked"], "137****2222");
        let (s, b) = patch_person(&t, &worker, baby, json!({"id_number": a})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a recorded number is not replaced: {b}");
        let (s, _) = patch_person(&t, &worker, p2, json!({"name": "x"})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, b) = patch_person(&t, &worker, pid, json!({"region_code": V2})).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "cannot move someone out of one's scope: {b}");
        let updates = audit_rows(&t, "person.update").await;
        assert_eq!(updates.len(), 1);
        let d: Value = serde_json::from_str(&updates[0].2).expect("json");
        assert_eq!(d["phone"]["before"], "");
        assert_eq!(d["phone"]["after"], "137****2222");
        assert_eq!(d["id_number"]["after"], format!("{}{}{}", &c[..6], "*".repeat(11), &c[17..]).as_str());
        assert!(!updates[0].2.contains(&c) && !updates[0].2.contains("13700002222"));
        assert_eq!(audit_rows(&t, "person.create").await.len(), 3);

        // Households.
        let (s, h) = post_household(&t, &worker, json!({"region_code": V1, "address": "旱码头 1 号",
                       "members": [{"person_id": pid, "relationship": "户主"},
                                   {"person_id": baby, "relationship": "child"}]})).await;
        assert_eq!(s, StatusCode::CREATED, "{h}");
        let hid = h["id"].as_i64().expect("id");
        assert_eq!(h["members"].as_array().map(Vec::len), Some(2));
        assert_eq!(h["members"][0]["relationship"], "head");
        let (s, b) = post_household(&t, &worker, json!({"region_code": V1, "members": [{"person_id": pid, "relationship": "head"}]})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "already in a household: {b}");
        let (s, _) = post_household(&t, &worker, json!({"region_code": V1, "members": [{"person_id": p2, "relationship": "head"}]})).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "a member out of scope");
        let (s, b) = t.get(&format!("/api/v1/households/{hid}"), &official).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(b["members"][1]["id"], baby);
        let (s, _) = t.get(&format!("/api/v1/households/{hid}"), &other).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (_, p) = t.get(&format!("/api/v1/persons/{pid}"), &worker).await;
        assert_eq!(p["household_id"], hid);
        assert_eq!(p["relationship_label"], "户主");
        // A household of the village with a member living elsewhere: the village worker sees
        // the household, and of its members only those inside its own scope.
        let (s, h2) = post_household(&t, &official, json!({"region_code": V1, "members": [{"person_id": p2, "relationship": "other"}]})).await;
        assert_eq!(s, StatusCode::CREATED, "{h2}");
        let h2 = h2["id"].as_i64().expect("id");
        let (s, b) = t.get(&format!("/api/v1/households/{h2}"), &worker).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(b["members"].as_array().map(Vec::len), Some(0), "{b}");
        let (_, b) = t.get(&format!("/api/v1/households/{h2}"), &official).await;
        assert_eq!(b["members"][0]["id"], p2);

        // Pages: list, detail, reveal form, exact search form.
        let cookie = format!("backstop={official}");
        let (s, html) = page(&t, "/persons?name=%E6%9D%8E", &cookie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("李四") && !html.contains("张三"), "name filter");
        assert!(html.contains("href=\"/persons\""), "nav link");
        let (s, html) = page(&t, &format!("/persons/{pid}"), &cookie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains(&format!("{}{}{}", &a[..6], "*".repeat(11), &a[17..])));
        assert!(html.contains("查看完整证件号") && !html.contains(&a));
        assert!(!html.contains("style=") && !html.contains(" onclick"));
        let (s, _, body) = t
            .raw_form("POST", &format!("/persons/{pid}/reveal"), Some(&cookie), "reason=%E6%A0%B8%E5%AF%B9%E8%BA%AB%E4%BB%BD")
            .await;
        assert_eq!(s, StatusCode::OK);
        assert!(String::from_utf8_lossy(&body).contains(&a));
        assert_eq!(audit_rows(&t, "person.reveal").await.len(), 3);
        let (s, h, _) = t
            .raw_form("POST", "/persons/search", Some(&cookie), &format!("id_number={a}"))
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert_eq!(
            h.get("location").and_then(|v| v.to_str().ok()),
            Some(format!("/persons/{pid}").as_str())
        );
        let wcookie = format!("backstop={worker}");
        let (s, _, body) = t
            .raw_form("GET", &format!("/persons/{pid}"), Some(&wcookie), "")
            .await;
        assert_eq!(s, StatusCode::OK);
        let html = String::from_utf8_lossy(&body);
        assert!(html.contains(&strict) && !html.contains("reveal-form"));
        let (s, _, _) = t
            .raw_form("GET", &format!("/persons/{p2}"), Some(&wcookie), "")
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _, body) = t
            .raw_form(
                "POST",
                "/persons",
                Some(&wcookie),
                &format!("id_number={a}&name=%E5%BC%A0%E4%B8%89&region_code={V1}&phone=13812345678"),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT);
        let html = String::from_utf8_lossy(&body);
        assert!(html.contains(&format!("/persons/{pid}")) && !html.contains(&a) && !html.contains("13812345678"));
        let (s, h, _) = t
            .raw_form(
                "POST",
                "/persons",
                Some(&wcookie),
                &format!("id_number={}&name=%E8%B5%B5%E5%85%AD&region_code={V1}", cid("130110", "19700707", 9)),
            )
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert!(h.get("location").and_then(|v| v.to_str().ok()).is_some_and(|l| l.starts_with("/persons/")));
    })
    .await;
}

/// Import `bytes` as `actor`, not following its progress.
async fn quiet_import(
    t: &T,
    actor: &Actor,
    bytes: &[u8],
    options: ImportOptions,
) -> backstop_app::kernel::error::AppResult<ImportReport> {
    import_csv(&t.state, actor, Cursor::new(bytes), &options, &mut |_| {}).await
}

async fn run_import(
    t: &T,
    bytes: &[u8],
    region: Option<&str>,
    good_rows: bool,
) -> Result<ImportReport, String> {
    let mut issues = Vec::new();
    let r = import_csv(
        &t.state,
        &Actor::operator(),
        Cursor::new(bytes),
        &ImportOptions {
            region: region.map(str::to_string),
            good_rows,
            ..ImportOptions::default()
        },
        &mut |p| {
            if let Progress::Rejected(i) | Progress::Warning(i) = p {
                issues.push(i.clone());
            }
        },
    )
    .await
    .map_err(|e| e.message);
    if let Ok(rep) = &r {
        assert_eq!(issues.len() as u64, rep.rejected + rep.warnings_total);
    }
    r
}

#[tokio::test]
async fn roster_import_encodings_merge_and_all_or_nothing() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let p = |seq: u32| cid("130110", "19650304", seq);
        // UTF-8 with Chinese headers, a region column.
        let utf8 = format!(
            "姓名,身份证号,性别,出生日期,联系电话,区划代码,现住址,备注\n\
             赵一,{},男,1965-03-04,13811110001,{V1},一号,x\n\
             钱二,{},女,1965/3/4,,{V2},二号,\n",
            p(1),
            p(2)
        );
        let r = run_import(&t, utf8.as_bytes(), None, false).await.expect("import");
        assert_eq!((r.rows, r.imported, r.merged, r.rejected), (2, 2, 0, 0), "{r:?}");
        assert!(r.committed);
        assert_eq!(r.encoding, "utf-8");
        assert_eq!(r.ignored_columns, vec!["备注".to_string()]);
        assert_eq!(person_count(&t).await, 2);

        // UTF-8 with BOM, English headers, default region; p(2) again: merged, phone filled,
        // conflicting address warned; a duplicate inside the file merged too.
        let bom = format!(
            "\u{feff}id_number,name,phone,address\n{},钱二,13822220002,别处\n{},孙三,,\n{},孙三,13833330003,三号\n",
            p(2),
            p(3),
            p(3)
        );
        let r = run_import(&t, bom.as_bytes(), Some(V2), false).await.expect("import");
        assert_eq!((r.rows, r.imported, r.merged, r.rejected), (3, 1, 2, 0), "{r:?}");
        assert_eq!(r.warnings_total, 1, "{:?}", r.warnings);
        assert_eq!(r.warnings[0].line, 2);
        assert!(r.warnings[0].reason.contains("现住址"), "{:?}", r.warnings);
        assert_eq!(person_count(&t).await, 3);
        let official = t.user("i_off", &["official"], "130110").await;
        let (_, b) = search_person(&t, &official, json!({"id_number": p(2)})).await;
        assert_eq!(b["phone_masked"], "138****0002", "empty phone filled: {b}");
        assert_eq!(b["address"], "二号", "recorded address kept");
        let (_, b) = search_person(&t, &official, json!({"id_number": p(3)})).await;
        assert_eq!(b["phone_masked"], "138****0003", "in-file duplicate merged: {b}");

        // GBK, with bad rows: all or nothing leaves nothing, --good-rows keeps the good.
        let gbk_text = format!(
            "身份证号,姓名,性别,区划代码\n\
             {},周四,男,{V1}\n\
             {},吴五,女,{V1}\n\
             110105194912310021,郑六,女,{V1}\n\
             {},王七,女,{V1}\n\
             {},冯八,男,130111\n\
             {},陈九,男,130110100999\n\
             ,褚十,男,{V1}\n",
            p(11),
            p(12), // sequence 012: even → female, matches
            p(13), // odd → male, but says 女
            p(15),
            p(17),
        );
        let gbk = encoding_rs::GBK.encode(&gbk_text).0.into_owned();
        assert!(std::str::from_utf8(&gbk).is_err(), "really GBK");
        let before = person_count(&t).await;
        let r = run_import(&t, &gbk, Some("130110"), false).await.expect("import");
        assert_eq!(r.encoding, "gbk");
        assert_eq!((r.rows, r.rejected), (7, 5), "{r:?}");
        assert!(!r.committed);
        assert_eq!((r.imported, r.merged), (0, 0));
        assert_eq!(person_count(&t).await, before, "all or nothing");
        let lines: Vec<u64> = r.rejects.iter().map(|i| i.line).collect();
        assert_eq!(lines, vec![4, 5, 6, 7, 8], "{:?}", r.rejects);
        assert!(r.rejects[0].reason.contains("校验"), "{}", r.rejects[0].reason);
        assert!(r.rejects[1].reason.contains("性别"), "{}", r.rejects[1].reason);
        assert!(r.rejects[2].reason.contains("范围"), "{}", r.rejects[2].reason);
        assert!(r.rejects[3].reason.contains("不存在"), "{}", r.rejects[3].reason);
        assert!(r.rejects[4].reason.contains("身份证号"), "{}", r.rejects[4].reason);
        let fails = audit_rows(&t, "person.import").await;
        assert_eq!(fails.last().map(|f| f.1.as_str()), Some("failure"));

        let r = run_import(&t, &gbk, Some("130110"), true).await.expect("import");
        assert!(r.committed);
        assert_eq!((r.imported, r.rejected), (2, 5));
        assert_eq!(person_count(&t).await, before + 2);

        // A number on record outside the importer's scope: the row becomes this region's link
        // to that record, counted as imported (the file learns nothing of the other region).
        let out = cid("130111", "19700101", 21);
        let other = t.user("i_other", &["official"], "130111").await;
        let (s, _) = post_person(&t, &other, json!({"id_number": out, "name": "外区", "region_code": "130111"})).await;
        assert_eq!(s, StatusCode::CREATED);
        let text = format!("身份证号,姓名\n{out},外区\n");
        let r = quiet_import(&t, &scoped_official("130110"), text.as_bytes(), ImportOptions { region: Some("130110".into()), ..ImportOptions::default() }).await
        .expect("import");
        assert_eq!((r.imported, r.rejected), (1, 0), "{r:?}");
        let linked: i64 = sqlx::query_scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM persons WHERE link_of IS NOT NULL AND region_code >= '130110' AND region_code < '130111'",
        )
        .fetch_one(t.state.db.pool())
        .await
        .expect("links");
        assert_eq!(linked, 1);
        // An import actor's scope bounds the default region.
        let e = quiet_import(&t, &scoped_official("130110"), text.as_bytes(), ImportOptions { region: Some("130111".into()), ..ImportOptions::default() }).await
        .expect_err("out of scope");
        assert_eq!(e.code.as_str(), "not_found");

        // Whole-file problems change nothing.
        let before = person_count(&t).await;
        let e = run_import(&t, "姓名,电话\n张,1\n".as_bytes(), Some(V1), false).await.expect_err("columns");
        assert!(e.contains("身份证号"), "{e}");
        let e = quiet_import(&t, &Actor::operator(), "姓名,电话\n张,1\n".as_bytes(), ImportOptions { region: Some(V1.into()), ..ImportOptions::default() }).await
        .expect_err("columns");
        assert_eq!((e.code.as_str(), e.code.http_status()), ("bad_columns", 422));
        let e = run_import(&t, "身份证号,姓名\n".as_bytes(), None, false).await.expect_err("region");
        assert!(e.contains("区划"), "{e}");
        let long = format!("身份证号,姓名\n{},{}\n", p(31), "长".repeat(600_000));
        let e = run_import(&t, long.as_bytes(), Some(V1), true).await.expect_err("line");
        assert!(e.contains("超过"), "{e}");
        assert_eq!(person_count(&t).await, before);

        // Random bytes never panic and never import anything.
        use rand::{Rng, RngCore};
        let mut rng = rand::rng();
        for _ in 0..20 {
            let n = rng.random_range(0..3000);
            let mut bytes = vec![0u8; n];
            rng.fill_bytes(&mut bytes);
            let mut with_header = "身份证号,姓名\n".as_bytes().to_vec();
            with_header.extend_from_slice(&bytes);
            let _ = run_import(&t, &bytes, Some(V1), true).await;
            let _ = run_import(&t, &with_header, Some(V1), true).await;
        }
        assert_eq!(person_count(&t).await, before);
    })
    .await;
}

/// More rows than one write batch: duplicates inside a batch and across batches, records on
/// file in and out of scope, an unknown region — the merge rule and the reports hold, each
/// person created gets its own audit entry, and the chain verifies.
/// A write that meets the database held by other work outside the service — a roster import
/// run from the command line holds SQLite's write lock, or on PostgreSQL the audit chain's
/// lock, for its whole transaction. SQLite: after the busy timeout the request is answered 503
/// `busy` with `Retry-After`, nothing written, and the same request goes through once the lock
/// is gone (before: 500 `internal`). PostgreSQL: the request waits for the lock, then goes
/// through.
#[tokio::test]
async fn a_write_meeting_a_lock_held_elsewhere_is_busy_and_loses_nothing() {
    let config = Config {
        sqlite_busy_timeout: Duration::from_millis(300),
        ..Config::default()
    };
    each_backend_with(config, |t: T| async move {
        use sqlx::Connection;
        t.import_fixture().await;
        let worker = t.user("busy_cw", &["community_worker"], V1).await;
        let body = json!({"id_number": cid("130110", "19800101", 7), "name": "王五",
                          "region_code": V1})
        .to_string();
        let persons = person_count(&t).await;
        let audits = audit_rows(&t, "person.create").await.len();
        let mut other = sqlx::AnyConnection::connect(&t.url).await.expect("connect");
        let (s, _, b) = if t.backend == "sqlite" {
            sqlx::raw_sql("BEGIN IMMEDIATE")
                .execute(&mut other)
                .await
                .expect("lock");
            let (s, h, b) = t
                .raw(
                    "POST",
                    "/api/v1/persons",
                    Some(&worker),
                    Some(body.clone()),
                    &[],
                )
                .await;
            let v: Value = serde_json::from_slice(&b).expect("json");
            assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
            assert_eq!(v["code"], "busy");
            assert!(
                v["message"].as_str().is_some_and(|m| m.contains("未保存")),
                "{v}"
            );
            assert_eq!(
                h.get("retry-after").and_then(|v| v.to_str().ok()),
                Some("5")
            );
            assert_eq!(person_count(&t).await, persons);
            assert_eq!(audit_rows(&t, "person.create").await.len(), audits);
            // The same through the group commit (a village's daily report).
            let report = json!({"template": "village_daily", "unit": V1, "period": "2026-03-02",
                "values": {"households_screened": 10, "people_screened": 30, "close_contacts": 1,
                           "home_observation": 1, "released": 0, "fever_referred": 0,
                           "entrance_registrations": 5, "volunteers_on_duty": 2, "notes": ""}});
            let (s, r) = t.post("/api/v1/reports", &worker, report.clone()).await;
            assert_eq!(
                (s, r["code"].as_str()),
                (StatusCode::SERVICE_UNAVAILABLE, Some("busy")),
                "{r}"
            );
            sqlx::raw_sql("ROLLBACK")
                .execute(&mut other)
                .await
                .expect("unlock");
            let (s, r) = t.post("/api/v1/reports", &worker, report).await;
            assert_eq!(s, StatusCode::CREATED, "{r}");
            t.raw("POST", "/api/v1/persons", Some(&worker), Some(body), &[])
                .await
        } else {
            // Hebei's audit chain (issue 21: one lock per province chain).
            sqlx::raw_sql(
                "BEGIN; INSERT INTO audit_heads (chain, hash) VALUES ('13', 'x') \
                 ON CONFLICT (chain) DO UPDATE SET chain = excluded.chain",
            )
            .execute(&mut other)
            .await
            .expect("lock");
            let release = async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                // Still waiting: nothing written yet.
                assert_eq!(person_count(&t).await, persons);
                sqlx::raw_sql("ROLLBACK")
                    .execute(&mut other)
                    .await
                    .expect("unlock");
            };
            let (r, ()) = tokio::join!(
                t.raw("POST", "/api/v1/persons", Some(&worker), Some(body), &[]),
                release
            );
            r
        };
        let v: Value = serde_json::from_slice(&b).expect("json");
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(person_count(&t).await, persons + 1);
        assert_eq!(audit_rows(&t, "person.create").await.len(), audits + 1);
        other.close().await.expect("close");
    })
    .await;
}

/// Migration 0013 cuts blind indexes written before it (64 hex characters) to the 32 the
/// service now computes: numbers and phones recorded earlier are still found exactly.
#[tokio::test]
async fn blind_indexes_from_before_migration_0013_are_still_found() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let official = t.user("m_off", &["official"], "130110").await;
        let id = cid("130110", "19700101", 7);
        let (s, b) = post_person(
            &t,
            &official,
            json!({"id_number": id, "name": "旧档", "phone": "13800000007", "region_code": V1}),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        // The row as the service wrote it before 0013: the full 256-bit HMAC, whose first half
        // is what it computes now (kernel::crypto tests pin that).
        let tail = "0123456789abcdef0123456789abcdef";
        let pool = t.state.db.pool();
        sqlx::query(
            "UPDATE persons SET id_index = id_index || $1, phone_index = phone_index || $1",
        )
        .bind(tail)
        .execute(pool)
        .await
        .expect("old form");
        let (s, _) = search_person(&t, &official, json!({"id_number": id})).await;
        assert_eq!(
            s,
            StatusCode::NOT_FOUND,
            "a 64-character index must not match"
        );
        if t.backend == "citus" {
            // No Citus deployment predates 0013 (Citus came with 0063), and statement scripts
            // cannot be sent to a Citus local table's placement as one prepared statement.
            return;
        }
        let (_, _, sql) = backstop_store::MIGRATIONS
            .iter()
            .find(|(n, _, _)| *n == 13)
            .expect("migration 13");
        let sql =
            backstop_store::render_migration(sql, t.state.db.backend(), t.state.db.is_citus());
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(pool)
            .await
            .expect("migration 13");
        let (s, b) = search_person(&t, &official, json!({"id_number": id})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["name"], "旧档");
        let len: i64 =
            sqlx::query_scalar("SELECT CAST(MAX(LENGTH(phone_index)) AS BIGINT) FROM persons")
                .fetch_one(pool)
                .await
                .expect("length");
        assert_eq!(len, 32);
    })
    .await;
}

#[tokio::test]
async fn roster_import_in_batches_keeps_the_merge_rule_and_the_audit_chain() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let official = t.user("b_off", &["official"], "130110").await;
        let other = t.user("b_other", &["official"], "130111").await;
        let base = chrono::NaiveDate::from_ymd_opt(1960, 1, 1).expect("date");
        let p = |i: u32| {
            let d = base + chrono::Days::new(u64::from(i / 900));
            cid("130110", &d.format("%Y%m%d").to_string(), i % 900 + 1)
        };
        // On file before: one in scope without a phone, one outside the importer's scope.
        let x = cid("130110", "19500101", 1);
        let (s, _) = post_person(
            &t,
            &official,
            json!({"id_number": x, "name": "老户", "region_code": V1}),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
        let y = cid("130111", "19500101", 2);
        let (s, _) = post_person(
            &t,
            &other,
            json!({"id_number": y, "name": "外区", "region_code": "130111"}),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
        let before = person_count(&t).await;

        const N: u32 = 2300;
        let mut lines: Vec<String> = (0..N).map(|i| format!("{},人员{i},,{V1}", p(i))).collect();
        // Inserted back to front so each lands at the stated data-row position.
        let specials = [
            (1800, format!("{},无区,,130110100999", p(2000))), // unknown village
            (1500, format!("{},人员3,13800000003,{V1}", p(3))), // duplicate of batch 1, later batch
            (1200, format!("{y},外区,,{V1}")),                 // on file outside scope: a link
            (700, format!("{x},老户,13800000009,{V1}")),       // on file in scope
            (10, format!("{},别名,13800000005,{V1}", p(5))),   // duplicate in the same batch
        ];
        for (at, row) in &specials {
            lines.insert(*at, row.clone());
        }
        let text = format!("身份证号,姓名,联系电话,区划代码\n{}\n", lines.join("\n"));
        let line_of = |needle: &str| {
            lines
                .iter()
                .position(|l| l.as_str() == needle)
                .map(|i| i as u64 + 2)
                .expect("row")
        };
        let import_as_township = |bytes: Vec<u8>| {
            let state = t.state.clone();
            async move {
                import_csv(
                    &state,
                    &scoped_official("130110"),
                    Cursor::new(bytes.as_slice()),
                    &ImportOptions {
                        good_rows: true,
                        ..ImportOptions::default()
                    },
                    &mut |_| {},
                )
                .await
                .expect("import")
            }
        };
        let r = import_as_township(text.clone().into_bytes()).await;
        // p(2000)'s own row is still imported; its second row (unknown village) is rejected.
        assert_eq!(r.rows, u64::from(N) + 5);
        assert_eq!(
            (r.imported, r.merged, r.rejected),
            (u64::from(N) + 1, 3, 1),
            "{r:?}"
        );
        assert!(r.committed);
        // The import ran on a connection without foreign-key enforcement (SQLite, see
        // `Db::bulk_session`), which was closed, not pooled: every open connection still
        // refuses a person in a region that does not exist.
        let pool = t.state.db.pool();
        let mut held = Vec::new();
        for _ in 0..pool.size().max(1) {
            held.push(pool.acquire().await.expect("connection"));
        }
        for c in &mut held {
            let e = sqlx::query(
                "INSERT INTO persons (region_code, name, created_at, updated_at) \
                 VALUES ('130110100999', '无区', 0, 0)",
            )
            .execute(&mut **c)
            .await;
            assert!(e.is_err(), "foreign key not enforced after an import");
        }
        drop(held);
        let rejected: Vec<u64> = r.rejects.iter().map(|i| i.line).collect();
        assert_eq!(rejected, vec![line_of(&specials[0].1)]);
        assert!(r.rejects[0].reason.contains("不存在"), "{:?}", r.rejects);
        assert_eq!(r.warnings_total, 1, "{:?}", r.warnings);
        assert_eq!(r.warnings[0].line, line_of(&specials[4].1));
        assert!(
            r.warnings[0].reason.contains("文件中前面的行"),
            "{:?}",
            r.warnings
        );
        assert_eq!(person_count(&t).await, before + i64::from(N) + 1);

        // Merges filled the empty phones, across batches and against the record on file.
        for (id, phone) in [
            (p(3), "138****0003"),
            (p(5), "138****0005"),
            (x.clone(), "138****0009"),
        ] {
            let (s, b) = search_person(&t, &official, json!({"id_number": id})).await;
            assert_eq!(s, StatusCode::OK, "{b}");
            assert_eq!(b["phone_masked"], phone, "{b}");
        }
        let (_, b) = search_person(&t, &official, json!({"id_number": p(5)})).await;
        assert_eq!(b["name"], "人员5", "the recorded name is kept");
        let (_, b) = search_person(&t, &official, json!({"id_number": p(2299)})).await;
        assert_eq!(b["name"], "人员2299");

        // One creation entry per person, each naming its own id, and an intact chain.
        let created: Vec<_> = audit_rows(&t, "person.create")
            .await
            .into_iter()
            .filter(|(_, _, d)| d.contains("\"import\""))
            .collect();
        assert_eq!(created.len(), N as usize);
        let ids: std::collections::HashSet<&String> = created.iter().map(|c| &c.0).collect();
        assert_eq!(ids.len(), N as usize);
        assert!(
            created.iter().all(|c| !c.2.contains(&p(7))),
            "no plaintext number"
        );
        assert_eq!(audit_rows(&t, "person.merge").await.len(), 3);
        let report = backstop_app::audit::verify(&t.state.db)
            .await
            .expect("verify");
        assert!(report.first_broken.is_none(), "{report:?}");
        // Creation entries are written a batch late, but never after a merge into the same
        // person, nor after the import's summary.
        let merge_before_create: i64 = sqlx::query_scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log m JOIN audit_log c \
             ON c.chain = m.chain AND c.object_id = m.object_id AND c.action = 'person.create' \
             WHERE m.action = 'person.merge' AND m.id < c.id",
        )
        .fetch_one(t.state.db.pool())
        .await
        .expect("order");
        assert_eq!(
            merge_before_create, 0,
            "a merge entry precedes its creation"
        );
        let (last_create, summary): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT MAX(id) FROM audit_log WHERE action = 'person.create'), \
             (SELECT MAX(id) FROM audit_log WHERE action = 'person.import')",
        )
        .fetch_one(t.state.db.pool())
        .await
        .expect("summary");
        assert!(last_create < summary, "{last_create} !< {summary}");

        // A file that breaks after a batch has been written: nothing of it stays.
        let mut broken: Vec<String> = (0..1500)
            .map(|i| format!("{},新人{i},,{V1}", p(N + i)))
            .collect();
        broken.push(format!("{},{},,{V1}", p(N + 1500), "长".repeat(600_000)));
        let text_broken = format!("身份证号,姓名,联系电话,区划代码\n{}\n", broken.join("\n"));
        let e = quiet_import(
            &t,
            &Actor::operator(),
            text_broken.as_bytes(),
            ImportOptions {
                good_rows: true,
                ..ImportOptions::default()
            },
        )
        .await
        .expect_err("broken file");
        assert!(e.message.contains("超过"), "{}", e.message);
        assert_eq!(
            person_count(&t).await,
            before + i64::from(N) + 1,
            "nothing half-imported"
        );

        // The same file again: nothing new, every good row merged, the chain still whole.
        let r = import_as_township(text.into_bytes()).await;
        assert_eq!(
            (r.imported, r.merged, r.rejected),
            (0, u64::from(N) + 4, 1),
            "{r:?}"
        );
        assert_eq!(person_count(&t).await, before + i64::from(N) + 1);
        let report = backstop_app::audit::verify(&t.state.db)
            .await
            .expect("verify");
        assert!(report.first_broken.is_none(), "{report:?}");
    })
    .await;
}

#[tokio::test]
async fn no_plaintext_id_or_phone_at_rest() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let official = t.user("n_off", &["official"], "1301").await;
        let mut secrets = Vec::new();
        for i in 0..5u32 {
            let id = cid("130110", "19751230", 100 + i);
            let phone = format!("1390000{:04}", 1000 + i);
            let (s, b) = post_person(&t, &official, json!({"id_number": id, "name": format!("测试{i}"), "region_code": V1, "phone": phone})).await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
            let pid = b["id"].as_i64().expect("id");
            let (s, _) = t
                .post(&format!("/api/v1/persons/{pid}/reveal"), &official, json!({"reason": "核对身份"}))
                .await;
            assert_eq!(s, StatusCode::OK);
            secrets.push(id);
            secrets.push(phone);
        }
        let roster = format!(
            "身份证号,姓名,联系电话\n{},导入,13911112222\n{},{}\n",
            cid("130110", "19751231", 201),
            secrets[0],
            "测试0"
        );
        run_import(&t, roster.as_bytes(), Some(V1), false).await.expect("import");
        secrets.push(cid("130110", "19751231", 201));
        secrets.push("13911112222".to_string());
        // Nor a birth date (issue 13): it and the masks would give the number back.
        for d in ["1975-12-30", "19751230", "1975-12-31", "19751231"] {
            secrets.push(d.to_string());
        }

        if t.backend == "sqlite" {
            let bytes = sqlite_bytes(&t).await;
            assert!(bytes.len() > 10_000);
            let hay = String::from_utf8_lossy(&bytes);
            for s in &secrets {
                assert!(!hay.contains(s.as_str()), "plaintext {s} in the SQLite file");
                // UTF-16 text encoding would hide it from a byte search: check that too.
                let wide: Vec<u8> = s.bytes().flat_map(|b| [b, 0]).collect();
                assert!(!bytes.windows(wide.len()).any(|w| w == wide.as_slice()));
            }
            // And the masked display forms are there, so the search above looked at data.
            assert!(hay.contains("139****1000"));
        } else {
            for (col, v) in pg_column_texts(&t, &["persons", "households", "audit_log"]).await {
                for s in &secrets {
                    assert!(!v.contains(s.as_str()), "plaintext in {col}");
                }
            }
        }
    })
    .await;
}

// ------------------------------------------------------------------ pinyin search and export

const V3: &str = "130111100003"; // 赵李庄社区 (栾城区)

async fn new_person(t: &T, token: &str, body: Value) -> i64 {
    crate::support::created_id(t, "/api/v1/persons", token, body).await
}

/// Ids found by `GET /api/v1/persons?{query}`.
async fn found(t: &T, token: &str, query: &str) -> Vec<i64> {
    let (s, b) = t.get(&format!("/api/v1/persons?{query}"), token).await;
    assert_eq!(s, StatusCode::OK, "{query}: {b}");
    let ids: Vec<i64> = b["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| p["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(b["total"].as_i64(), Some(ids.len() as i64), "{query}");
    ids
}

#[tokio::test]
async fn persons_pinyin_and_initials_search() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let official = t.user("py_off", &["official"], "130110").await;
        let worker = t.user("py_cw", &["community_worker"], V1).await;
        let other = t.user("py_other", &["official"], "130111").await;

        let zhang = new_person(
            &t,
            &worker,
            json!({"name": "张三", "region_code": V1, "phone": "13812345678"}),
        )
        .await;
        let shan = new_person(&t, &worker, json!({"name": "单雄信", "region_code": V1})).await;
        let lv = new_person(&t, &worker, json!({"name": "吕布", "region_code": V1})).await;
        let zeng = new_person(&t, &official, json!({"name": "曾小明", "region_code": V2})).await;
        let luan = new_person(&t, &other, json!({"name": "张珊", "region_code": V3})).await;
        let stored: (String, String) = {
            let r = sqlx::query("SELECT name_pinyin, name_initials FROM persons WHERE id = $1")
                .bind(zhang)
                .fetch_one(t.state.db.pool())
                .await
                .expect("keys");
            (r.get("name_pinyin"), r.get("name_initials"))
        };
        assert_eq!(stored, ("zhangsan".to_string(), "zs".to_string()));

        // Full pinyin, with spaces and capitals, a prefix of it; initials.
        assert_eq!(found(&t, &official, "q=zhangsan").await, vec![zhang]);
        assert_eq!(found(&t, &official, "q=Zhang%20San").await, vec![zhang]);
        assert_eq!(found(&t, &official, "q=zhangs").await, vec![zhang]);
        assert_eq!(
            found(&t, &official, "q=zs").await,
            vec![zhang],
            "张珊 (zs too) is out of scope"
        );
        assert_eq!(found(&t, &official, "q=ZS").await, vec![zhang]);
        // Polyphonic surnames in their surname reading, not the common one.
        assert_eq!(found(&t, &official, "q=shanxiongxin").await, vec![shan]);
        assert_eq!(found(&t, &official, "q=sxx").await, vec![shan]);
        assert!(found(&t, &official, "q=danxiongxin").await.is_empty());
        assert_eq!(found(&t, &official, "q=zeng").await, vec![zeng]);
        assert!(found(&t, &official, "q=cengxiaoming").await.is_empty());
        assert_eq!(found(&t, &official, "q=lvbu").await, vec![lv]);
        // Chinese characters are a name part; digits a masked fragment.
        assert_eq!(found(&t, &official, "q=%E5%BC%A0").await, vec![zhang]); // 张
        assert_eq!(found(&t, &official, "q=5678").await, vec![zhang]);
        // z: 张三, 曾小明 (one prefix each), not 吕布 or 单雄信.
        let mut z = found(&t, &official, "q=z").await;
        z.sort_unstable();
        assert_eq!(z, vec![zhang, zeng]);
        // Scope: the worker sees only its village, the other county only its own 张珊.
        assert!(found(&t, &worker, "q=zeng").await.is_empty());
        assert!(found(&t, &worker, "q=zxm").await.is_empty());
        assert_eq!(found(&t, &other, "q=zs").await, vec![luan]);
        assert_eq!(found(&t, &other, "q=zhangs").await, vec![luan]);
        assert!(found(&t, &other, "q=zhangsan").await.is_empty());
        let (s, _) = t.get("/api/v1/persons?q=zs&region=130110", &other).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // A wildcard typed is not a wildcard.
        assert!(found(&t, &official, "q=z%25").await.is_empty());

        // A name change changes the keys.
        let (s, b) = patch_person(&t, &worker, zhang, json!({"name": "王五"})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert!(found(&t, &official, "q=zs").await.is_empty());
        assert_eq!(found(&t, &official, "q=ww").await, vec![zhang]);
        assert_eq!(found(&t, &official, "q=wang%20wu").await, vec![zhang]);

        // Rows written before the keys existed are filled by the backfill (idempotent).
        let mut w = t.state.db.begin_write().await.expect("tx");
        sqlx::query("UPDATE persons SET name_pinyin = NULL, name_initials = NULL WHERE id <> $1")
            .bind(luan)
            .execute(w.conn())
            .await
            .expect("clear");
        w.commit().await.expect("commit");
        assert!(found(&t, &official, "q=sxx").await.is_empty());
        let filled = backstop_app::people::pinyin::backfill(&t.state.db)
            .await
            .expect("backfill");
        assert_eq!(filled, 4);
        assert_eq!(
            backstop_app::people::pinyin::backfill(&t.state.db)
                .await
                .expect("again"),
            0
        );
        assert_eq!(found(&t, &official, "q=sxx").await, vec![shan]);
        assert_eq!(found(&t, &official, "q=ww").await, vec![zhang]);

        // The list page takes the same box.
        let cookie = format!("backstop={official}");
        let (s, _, body) = t.raw_form("GET", "/persons?q=sxx", Some(&cookie), "").await;
        assert_eq!(s, StatusCode::OK);
        let html = String::from_utf8_lossy(&body);
        assert!(
            html.contains("单雄信") && !html.contains("吕布"),
            "pinyin filter on the page"
        );
        assert!(html.contains("id=\"filter-q\"") && html.contains("value=\"sxx\""));
        assert!(
            html.contains("href=\"/persons/export?q=sxx\""),
            "export link carries the filter"
        );
    })
    .await;
}

/// The worksheet XML of an exported file (constant-memory sheets keep strings inline).
fn sheet_xml(bytes: &[u8]) -> String {
    use std::io::Read;
    assert_eq!(&bytes[..2], b"PK", "an xlsx is a zip");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("zip");
    let mut f = zip.by_name("xl/worksheets/sheet1.xml").expect("sheet1");
    let mut s = String::new();
    f.read_to_string(&mut s).expect("read sheet");
    s
}

async fn export_call(
    t: &T,
    token: &str,
    body: Value,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    t.raw(
        "POST",
        "/api/v1/persons/export",
        Some(token),
        Some(body.to_string()),
        &[],
    )
    .await
}

#[tokio::test]
async fn persons_export_reason_masking_permission_audit() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let official = t.user("ex_off", &["official"], "1301").await;
        let worker = t.user("ex_cw", &["community_worker"], V1).await;
        let a = cid("130110", "19800101", 11);
        let b = cid("130110", "19820303", 12);
        let zhang = new_person(&t, &worker, json!({"id_number": a, "name": "张三", "region_code": V1, "phone": "13812345678"})).await;
        new_person(&t, &worker, json!({"id_number": b, "name": "李四", "region_code": V1, "phone": "13987654321"})).await;
        new_person(&t, &official, json!({"name": "王五", "region_code": V2})).await;
        let (s, _) = t
            .post(&format!("/api/v1/care/persons/{zhang}/memberships"), &worker,
                  json!({"category": "dibao", "start_date": "2025-01-01", "deciding_body": "鹿泉区民政局"}))
            .await;
        assert_eq!(s, StatusCode::CREATED);

        // A reason is required.
        for reason in [json!(""), json!("  "), json!("x")] {
            let (s, _, body) = export_call(&t, &worker, json!({"reason": reason})).await;
            let e: Value = serde_json::from_slice(&body).expect("json");
            assert_eq!((s, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("reason_required")), "{e}");
        }
        let (s, _, body) = export_call(&t, &worker, json!({})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{}", String::from_utf8_lossy(&body));
        assert!(audit_rows(&t, "person.export").await.is_empty(), "nothing exported, nothing recorded");

        // Masked by default, the exporting user and the reason in the header.
        let (s, h, body) = export_call(&t, &worker, json!({"reason": "春节慰问名单核对"})).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            h.get("content-type").and_then(|v| v.to_str().ok()),
            Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        );
        assert!(h.get("content-disposition").and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains(".xlsx")));
        let xml = sheet_xml(&body);
        assert!(xml.contains("人员名单") && xml.contains("导出人：ex_cw"), "header");
        assert!(xml.contains("导出事由：春节慰问名单核对"));
        assert!(xml.contains("已脱敏"));
        assert!(xml.contains("张三") && xml.contains("李四") && !xml.contains("王五"), "scope");
        assert!(xml.contains(&format!("1{}{}", "*".repeat(16), &a[17..])), "strict mask for the worker");
        assert!(xml.contains("138****5678") && xml.contains("139****4321"));
        for secret in [&a, &b, &"13812345678".to_string(), &"13987654321".to_string()] {
            assert!(!xml.contains(secret.as_str()), "no full number in a masked export");
        }
        let ex = audit_rows(&t, "person.export").await;
        assert_eq!(ex.len(), 1);
        assert_eq!(ex[0].1, "success");
        let d: Value = serde_json::from_str(&ex[0].2).expect("json");
        assert_eq!(d["rows"], 2);
        assert_eq!(d["numbers"], "masked");
        assert_eq!(d["reason"], "春节慰问名单核对");

        // Full numbers: refused (and recorded) without the permission.
        let (s, _, _) = export_call(&t, &worker, json!({"reason": "核对身份", "full": true})).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let ex = audit_rows(&t, "person.export").await;
        assert_eq!((ex.len(), ex[1].1.as_str()), (2, "failure"));

        // The official: 6+1 masking by default; full numbers only when asked; filters apply.
        let (s, _, body) = export_call(&t, &official, json!({"reason": "核对", "q": "zs"})).await;
        assert_eq!(s, StatusCode::OK);
        let xml = sheet_xml(&body);
        assert!(xml.contains(&format!("{}{}{}", &a[..6], "*".repeat(11), &a[17..])) && !xml.contains(&a));
        assert!(xml.contains("张三") && !xml.contains("李四"), "filtered by initials");
        assert!(xml.contains("姓名/拼音/首字母：zs"), "the filter in the header");
        let (s, _, body) = export_call(&t, &official, json!({"reason": "发放临时救助需核对身份", "group": "dibao", "full": true})).await;
        assert_eq!(s, StatusCode::OK);
        let xml = sheet_xml(&body);
        assert!(xml.contains(&a) && xml.contains("13812345678"), "full numbers in the file");
        assert!(!xml.contains("李四") && !xml.contains(&b), "group filter");
        assert!(xml.contains("类别：低保") && xml.contains("完整号码"));
        let ex = audit_rows(&t, "person.export").await;
        assert_eq!(ex.len(), 4);
        let d: Value = serde_json::from_str(&ex[3].2).expect("json");
        assert_eq!((d["numbers"].as_str(), d["rows"].as_i64()), (Some("full"), Some(1)));
        assert_eq!(d["filter"]["group"], "dibao");
        assert!(!ex[3].2.contains(&a) && !ex[3].2.contains("13812345678"), "no number in the audit");

        // Out of scope: 404.
        let (s, _, _) = export_call(&t, &worker, json!({"reason": "核对", "region": "130111"})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        // Pages: the form shows the count first; a missing reason re-shows it; then the file.
        let cookie = format!("backstop={official}");
        let (s, _, body) = t.raw_form("GET", "/persons/export?q=zs", Some(&cookie), "").await;
        assert_eq!(s, StatusCode::OK);
        let html = String::from_utf8_lossy(&body);
        assert!(html.contains("id=\"export-count\">1<"), "count first");
        assert!(html.contains("显示完整号码") && !html.contains("style="));
        let (s, _, body) = t.raw_form("POST", "/persons/export", Some(&cookie), "q=zs&reason=").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(String::from_utf8_lossy(&body).contains("请填写导出事由"));
        let (s, h, body) = t
            .raw_form("POST", "/persons/export", Some(&cookie), "q=zs&reason=%E6%A0%B8%E5%AF%B9%E5%90%8D%E5%8D%95")
            .await;
        assert_eq!(s, StatusCode::OK);
        assert!(h.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("spreadsheetml")));
        let xml = sheet_xml(&body);
        assert!(xml.contains("张三") && xml.contains("导出人：ex_off") && !xml.contains(&a));
        let wcookie = format!("backstop={worker}");
        let (s, _, body) = t.raw_form("GET", "/persons/export", Some(&wcookie), "").await;
        assert_eq!(s, StatusCode::OK);
        assert!(!String::from_utf8_lossy(&body).contains("export-full"), "no full-number box without the permission");
        assert_eq!(audit_rows(&t, "person.export").await.len(), 5);
    })
    .await;
}
