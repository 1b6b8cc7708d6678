//! Edit and disable (issue 14, item 5) and the pickers (item 7), on both backends:
//! a correction is audited before → after with personal data masked; a disabled
//! organisation is no longer expected to report (summary and missing list) and files no
//! report; disabled persons and households leave the default lists; gates and residents are
//! corrected and disabled; a sibling county's edit is *not found* and changes nothing; the
//! pickers find places by name and pinyin initials inside the caller's scope only.

use axum::http::StatusCode;
use backstop_app::kernel::web::encode_query_value;
use serde_json::{Value, json};

use crate::support::{T, audit_count, created_id, each_backend, org_user, page, web_login};

const A: &str = "130110";
const B: &str = "130111";
const T1: &str = "130110100";
const V1: &str = "130110100001";
const DAY: &str = "2026-03-02";

/// The detail of the newest audit entry with this action.
async fn last_detail(t: &T, action: &str) -> Value {
    let d: String = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(action)
    .fetch_one(t.state.db.pool())
    .await
    .expect("audit detail");
    serde_json::from_str(&d).expect("detail json")
}

fn units(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|u| u["unit"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn values(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|u| u["value"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_disabled_org_is_not_expected_and_its_correction_is_audited() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let off = t.user("ed_off", &["official"], A).await;
        let sib = t.user("ed_sib", &["official"], B).await;
        let org = created_id(&t, "/api/v1/orgs", &off, json!({"name": "获鹿镇敬老院", "kind": "elderly_care",
            "region_code": T1, "contact_person": "张三", "contact_phone": "13812345678"})).await;
        let key = format!("org:{org}");

        // Correct it: before → after of the changed fields, the contact masked.
        let (s, b) = t
            .patch(&format!("/api/v1/orgs/{org}"), &off,
                json!({"name": "获鹿镇中心敬老院", "contact_phone": "13900001111"}))
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["name"], "获鹿镇中心敬老院");
        let d = last_detail(&t, "org.update").await;
        assert_eq!(d["name"], json!({"before": "获鹿镇敬老院", "after": "获鹿镇中心敬老院"}));
        assert_eq!(d["contact_phone"], json!({"before": "138****5678", "after": "139****1111"}));
        assert!(d.get("kind").is_none(), "unchanged fields are left out: {d}");
        let text = d.to_string();
        assert!(!text.contains("13812345678") && !text.contains("13900001111"), "{text}");
        // Bad input: a Chinese message, nothing written.
        let (s, b) = t.patch(&format!("/api/v1/orgs/{org}"), &off, json!({"name": " "})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert!(b["message"].as_str().is_some_and(|m| m.contains("不能为空")), "{b}");
        assert_eq!(audit_count(&t, "org.update").await, 1);

        // Out of scope: not found, nothing changed.
        for (m, path, body) in [
            ("PATCH", format!("/api/v1/orgs/{org}"), Some(json!({"name": "外县改名"}))),
            ("POST", format!("/api/v1/orgs/{org}/disable"), Some(json!({}))),
        ] {
            let (s, _) = t.call(m, &path, Some(&sib), body).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{m} {path}");
        }
        let (_, b) = t.get(&format!("/api/v1/orgs/{org}"), &off).await;
        assert_eq!((b["name"].as_str(), b["disabled"].as_bool()), (Some("获鹿镇中心敬老院"), Some(false)));

        // Expected while in use; disabled: neither expected nor missing, and files nothing.
        let summary = format!("/api/v1/reports/summary?template=institution_daily&period={DAY}&region={A}");
        let missing = format!("/api/v1/reports/missing?template=institution_daily&period={DAY}&region={A}");
        let (_, sum) = t.get(&summary, &off).await;
        let expected = sum["expected"].as_i64().expect("expected");
        let (_, miss) = t.get(&missing, &off).await;
        assert!(units(&miss).contains(&key), "{miss}");
        let (s, b) = t.post(&format!("/api/v1/orgs/{org}/disable"), &off, json!({})).await;
        assert_eq!((s, b["disabled"].as_bool()), (StatusCode::OK, Some(true)), "{b}");
        assert_eq!(
            last_detail(&t, "org.disable").await,
            json!({"disabled": {"before": false, "after": true}})
        );
        let (_, sum) = t.get(&summary, &off).await;
        assert_eq!(sum["expected"].as_i64(), Some(expected - 1), "{sum}");
        let (_, miss) = t.get(&missing, &off).await;
        assert!(!units(&miss).contains(&key), "{miss}");
        let report = json!({"template": "institution_daily", "unit": org, "period": DAY,
            "values": {"residents": 10, "staff_on_duty": 3, "closed_management": "是", "new_admissions": 0,
                "resident_fever": 0, "staff_fever": 0, "suspected": 0, "confirmed": 0, "isolated": 0, "mask_days": 12}});
        let (s, _, b) = t
            .raw("POST", "/api/v1/reports", Some(&off), Some(report.to_string()), &[("idempotency-key", "ed-1")])
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{}", String::from_utf8_lossy(&b));
        assert!(String::from_utf8_lossy(&b).contains("已停用"));
        // Disabling again changes nothing.
        t.post(&format!("/api/v1/orgs/{org}/disable"), &off, json!({})).await;
        assert_eq!(audit_count(&t, "org.disable").await, 1);

        // The page: marked, with an 启用 button that asks first; enabling brings it back.
        t.make_user("ed_page", &["official"], A).await;
        let cookie = web_login(&t, "ed_page").await;
        let (_, html) = page(&t, &format!("/orgs/{org}"), &cookie).await;
        assert!(html.contains("已停用") && html.contains(&format!("/orgs/{org}/enable")) && html.contains("data-confirm"), "{html}");
        let (s, _, _) = t.raw_form("POST", &format!("/orgs/{org}/enable"), Some(&cookie), "").await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (_, miss) = t.get(&missing, &off).await;
        assert!(units(&miss).contains(&key), "{miss}");
        // The edit form re-shows a refused region with the input kept.
        let (s, _, b) = t
            .raw_form("POST", &format!("/orgs/{org}/edit"), Some(&cookie),
                &format!("name={}&kind=elderly_care&region_code=130111100&contact_person=&contact_phone=&address=", encode_query_value("改名保留")))
            .await;
        let html = String::from_utf8_lossy(&b);
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("不在您的管辖范围内") && html.contains("改名保留"), "{html}");
    })
    .await;
}

#[tokio::test]
async fn disabled_persons_and_households_leave_the_default_lists() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let cw = t.user("ed_cw", &["community_worker"], V1).await;
        let sib = t.user("ed_cwb", &["community_worker"], "130111100003").await;
        let gone = created_id(&t, "/api/v1/persons", &cw,
            json!({"name": "停用甲", "region_code": V1, "phone": "13811112222"})).await;
        let kept = created_id(&t, "/api/v1/persons", &cw, json!({"name": "在用乙", "region_code": V1})).await;
        let hh = created_id(&t, "/api/v1/households", &cw, json!({"region_code": V1, "address": "停用户 1 号",
            "members": [{"person_id": gone, "relationship": "head"}]})).await;

        // Out of scope: not found, nothing changed.
        for path in [format!("/api/v1/persons/{gone}/disable"), format!("/api/v1/households/{hh}/disable")] {
            let (s, _) = t.post(&path, &sib, json!({})).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        }
        let (s, _) = t.patch(&format!("/api/v1/persons/{gone}"), &sib, json!({"name": "外县改"})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(audit_count(&t, "person.disable").await + audit_count(&t, "person.update").await, 0);

        let (s, b) = t.post(&format!("/api/v1/persons/{gone}/disable"), &cw, json!({})).await;
        assert_eq!((s, b["disabled"].as_bool()), (StatusCode::OK, Some(true)), "{b}");
        let (s, b) = t.post(&format!("/api/v1/households/{hh}/disable"), &cw, json!({})).await;
        assert_eq!((s, b["disabled"].as_bool()), (StatusCode::OK, Some(true)), "{b}");

        // Default lists leave them out; asked for, the disabled are listed; by id still read.
        let (_, l) = t.get("/api/v1/persons?q=%E5%81%9C%E7%94%A8", &cw).await;
        assert_eq!(l["total"], 0, "{l}");
        let (_, l) = t.get("/api/v1/persons", &cw).await;
        let listed: Vec<i64> = l["items"].as_array().expect("items").iter().filter_map(|p| p["id"].as_i64()).collect();
        assert!(listed.contains(&kept) && !listed.contains(&gone), "{l}");
        let (_, l) = t.get("/api/v1/persons?disabled=true", &cw).await;
        assert_eq!(l["total"], 1, "{l}");
        assert_eq!(l["items"][0]["id"], gone);
        let (s, p) = t.get(&format!("/api/v1/persons/{gone}"), &cw).await;
        assert_eq!((s, p["disabled"].as_bool()), (StatusCode::OK, Some(true)));
        let (_, l) = t.get("/api/v1/households", &cw).await;
        assert_eq!(l["total"], 0, "{l}");
        let (_, l) = t.get("/api/v1/households?disabled=true", &cw).await;
        assert_eq!(l["items"][0]["id"], hh, "{l}");
        // Nor offered by the person picker.
        let (_, picks) = t.get(&format!("/api/v1/pick/persons?q={}", encode_query_value("停用甲")), &cw).await;
        assert_eq!(picks, json!([]), "{picks}");
        let (_, picks) = t.get(&format!("/api/v1/pick/persons?q={}", encode_query_value("在用乙")), &cw).await;
        assert_eq!(values(&picks), vec![kept.to_string()]);

        // The pages: the list without, 只看已停用 with; the person page marked with 启用.
        t.make_user("ed_cwp", &["community_worker"], V1).await;
        let cookie = web_login(&t, "ed_cwp").await;
        let (_, html) = page(&t, "/persons", &cookie).await;
        assert!(html.contains("在用乙") && !html.contains("停用甲"), "default list");
        let (_, html) = page(&t, "/persons?disabled=1", &cookie).await;
        assert!(html.contains("停用甲") && !html.contains("在用乙"), "disabled list");
        let (_, html) = page(&t, &format!("/persons/{gone}"), &cookie).await;
        assert!(html.contains(&format!("/persons/{gone}/enable")) && html.contains(&format!("/persons/{gone}/edit")));
        let (_, html) = page(&t, "/households", &cookie).await;
        assert!(!html.contains("停用户 1 号"));
        let (s, _, _) = t.raw_form("POST", &format!("/households/{hh}/enable"), Some(&cookie), "").await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (_, html) = page(&t, "/households", &cookie).await;
        assert!(html.contains("停用户 1 号"));

        // The edit page: a correction audited with the phone masked, never in clear.
        let (s, _, b) = t
            .raw_form("POST", &format!("/persons/{gone}/edit"), Some(&cookie),
                &format!("name={}&region_code={V1}&sex=&birth_date=&phone=13833334444&address={}&hukou_address=",
                    encode_query_value("停用甲改"), encode_query_value("新址")))
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER, "{}", String::from_utf8_lossy(&b));
        let d = last_detail(&t, "person.update").await;
        assert_eq!(d["name"], json!({"before": "停用甲", "after": "停用甲改"}));
        assert_eq!(d["phone"], json!({"before": "138****2222", "after": "138****4444"}));
        assert!(!d.to_string().contains("13833334444") && !d.to_string().contains("13811112222"));
        // A bad phone: the form again, the name kept, a Chinese message.
        let (s, _, b) = t
            .raw_form("POST", &format!("/persons/{gone}/edit"), Some(&cookie),
                &format!("name={}&region_code={V1}&phone=12ab", encode_query_value("保留名")))
            .await;
        let html = String::from_utf8_lossy(&b);
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("保留名") && !html.contains("12ab"), "{html}");
        // A person out of scope: the not-found page.
        let (s, _) = page(&t, &format!("/persons/{kept}/edit"), &web_login(&t, "ed_cwb").await).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let _ = sib;
    })
    .await;
}

#[tokio::test]
async fn gates_and_residents_are_corrected_and_disabled() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let cw = t.user("eg_cw", &["community_worker"], V1).await;
        let sib = t.user("eg_sib", &["community_worker"], "130111100003").await;
        let gate = created_id(&t, "/api/v1/gates", &cw, json!({"name": "东门", "region_code": V1})).await;
        let (s, b) = t.patch(&format!("/api/v1/gates/{gate}"), &cw, json!({"name": "东门卡口"})).await;
        assert_eq!((s, b["name"].as_str()), (StatusCode::OK, Some("东门卡口")), "{b}");
        assert_eq!(last_detail(&t, "gate.update").await, json!({"name": {"before": "东门", "after": "东门卡口"}}));
        let (s, _) = t.patch(&format!("/api/v1/gates/{gate}"), &sib, json!({"name": "外"})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let entry = json!({"name": "来访甲", "phone": "13900004444", "from": "本村", "reason": "返乡", "direction": "in", "temperature": 36.5});
        let (s, b) = t.post(&format!("/api/v1/gates/{gate}/disable"), &cw, json!({})).await;
        assert_eq!((s, b["disabled"].as_bool()), (StatusCode::OK, Some(true)), "{b}");
        let (s, b) = t.post(&format!("/api/v1/gates/{gate}/entries"), &cw, entry.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert!(b["message"].as_str().is_some_and(|m| m.contains("已停用")), "{b}");
        t.post(&format!("/api/v1/gates/{gate}/enable"), &cw, json!({})).await;
        let (s, b) = t.post(&format!("/api/v1/gates/{gate}/entries"), &cw, entry).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");

        // Residents: corrected (name masked in the audit), disabled out of the rounds.
        let off = t.user("eg_off", &["official"], A).await;
        let home = created_id(&t, "/api/v1/orgs", &off, json!({"name": "敬老院乙", "kind": "elderly_care", "region_code": T1})).await;
        let rep = org_user(&t, "eg_rep", &["institution_reporter"], T1, home).await;
        let rid = created_id(&t, &format!("/api/v1/institutions/{home}/residents"), &rep, json!({"name": "王大明", "room": "101"})).await;
        let (s, b) = t.patch(&format!("/api/v1/institutions/{home}/residents/{rid}"), &rep, json!({"name": "王小明", "room": "102"})).await;
        assert_eq!((s, b["name"].as_str(), b["room"].as_str()), (StatusCode::OK, Some("王小明"), Some("102")), "{b}");
        let d = last_detail(&t, "institution.resident_update").await;
        assert_eq!(d["room"], json!({"before": "101", "after": "102"}));
        assert!(!d.to_string().contains("大明") && !d.to_string().contains("小明"), "{d}");
        let (s, b) = t.post(&format!("/api/v1/institutions/{home}/residents/{rid}/disable"), &rep, json!({})).await;
        assert_eq!((s, b["active"].as_bool()), (StatusCode::OK, Some(false)), "{b}");
        let (_, list) = t.get(&format!("/api/v1/institutions/{home}/residents"), &rep).await;
        assert_eq!(list, json!([]), "{list}");
        let other = t.user("eg_offb", &["official"], B).await;
        let (s, _) = t.post(&format!("/api/v1/institutions/{home}/residents/{rid}/enable"), &other, json!({})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, b) = t.post(&format!("/api/v1/institutions/{home}/residents/{rid}/enable"), &rep, json!({})).await;
        assert_eq!((s, b["active"].as_bool()), (StatusCode::OK, Some(true)), "{b}");
    })
    .await;
}

#[tokio::test]
async fn pickers_find_by_name_and_initials_within_scope() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let off = t.user("pk_off", &["official"], A).await;
        let sib = t.user("pk_sib", &["official"], B).await;
        // Pinyin initials: 获鹿镇 → hlz; 旱码头社区 → hmtsq.
        let (s, r) = t.get("/api/v1/pick/regions?q=hlz", &off).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(values(&r).first().map(String::as_str), Some(T1), "{r}");
        assert!(
            r[0]["label"].as_str().is_some_and(|l| l.contains("获鹿")),
            "{r}"
        );
        let (_, r) = t.get("/api/v1/pick/regions?q=HMT", &off).await;
        assert!(values(&r).contains(&V1.to_string()), "{r}");
        // By name: only the caller's county, never the sibling's villages; at most 20.
        let (_, r) = t
            .get(
                &format!("/api/v1/pick/regions?q={}", encode_query_value("社区")),
                &off,
            )
            .await;
        let got = values(&r);
        assert!(!got.is_empty() && got.len() <= 20, "{r}");
        assert!(got.iter().all(|c| c.starts_with(A)), "{got:?}");
        let (_, r) = t.get("/api/v1/pick/regions?q=hlz", &sib).await;
        assert!(values(&r).iter().all(|c| c.starts_with(B)), "{r}");
        let (_, r) = t
            .get(
                &format!(
                    "/api/v1/pick/units?q={}&template=village_daily",
                    encode_query_value("社区")
                ),
                &sib,
            )
            .await;
        let got = values(&r);
        assert!(
            !got.is_empty() && got.iter().all(|c| c.starts_with(B) && c.len() == 12),
            "{got:?}"
        );
        // By code prefix.
        let (_, r) = t.get("/api/v1/pick/regions?q=1301101000", &off).await;
        assert!(
            values(&r).iter().all(|c| c.starts_with("1301101000")) && !values(&r).is_empty(),
            "{r}"
        );
        // Organisations by initials and as units (org:ID); not another county's; not disabled.
        let org = created_id(
            &t,
            "/api/v1/orgs",
            &off,
            json!({"name": "获鹿镇敬老院", "kind": "elderly_care", "region_code": T1}),
        )
        .await;
        let (_, r) = t.get("/api/v1/pick/orgs?q=hlzjly", &off).await;
        assert_eq!(values(&r), vec![org.to_string()], "{r}");
        let (_, r) = t.get("/api/v1/pick/orgs?q=hlzjly", &sib).await;
        assert_eq!(r, json!([]));
        let (_, r) = t
            .get(
                &format!(
                    "/api/v1/pick/units?q={}&template=institution_daily",
                    encode_query_value("敬老院")
                ),
                &off,
            )
            .await;
        assert_eq!(values(&r), vec![format!("org:{org}")], "{r}");
        t.post(&format!("/api/v1/orgs/{org}/disable"), &off, json!({}))
            .await;
        let (_, r) = t.get("/api/v1/pick/orgs?q=hlzjly", &off).await;
        assert_eq!(r, json!([]));
        // Wildcards are text: nothing matches "%".
        let (_, r) = t.get("/api/v1/pick/regions?q=%25", &off).await;
        assert_eq!(r, json!([]));
    })
    .await;
}
