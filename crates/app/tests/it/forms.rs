//! Page forms never lose input (issue 14, item 2) and speak Chinese (item 3): a refused page
//! form comes back inside the normal layout (422) with what was typed and the reason beside
//! the field, counting list items from 1; nothing is stored by a refused form; a page-form post
//! sent twice with the same idempotency key is saved once.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{T, count, each_backend, org_user, page, post_page, web_login};

/// `application/x-www-form-urlencoded` of the pairs.
pub fn enc(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let e: String = v
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            format!("{k}={e}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[tokio::test]
async fn refused_page_forms_keep_the_input_and_say_why_beside_the_field() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        t.user("insp.f", &["inspector"], "130110").await;
        let c = web_login(&t, "insp.f").await;
        // Problem 2 of the page has a deadline in the past; problem 1 is left empty, so the
        // service sees it as its first problem: the page must still say 第 2 条.
        let body = enc(&[
            ("unit", "130110100001"),
            ("mode", "unannounced"),
            ("date", "2026-03-02"),
            ("findings", "入口未测温登记，值班表缺失"),
            ("p1_description", ""),
            ("p1_requirement", ""),
            ("p1_deadline", ""),
            ("p2_description", "入口无人值守"),
            ("p2_requirement", "落实 24 小时值守"),
            ("p2_deadline", "2026-03-01"),
        ]);
        let (s, html) = post_page(&t, "/inspections", &c, &body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
        assert!(html.contains("入口未测温登记，值班表缺失"), "findings kept");
        assert!(
            html.contains("落实 24 小时值守") && html.contains("value=\"2026-03-01\""),
            "problem kept"
        );
        assert!(
            html.contains("第 2 条问题的整改期限：整改期限不能早于今天"),
            "{html}"
        );
        assert!(
            html.contains("data-field=\"p2_deadline\""),
            "message beside the field"
        );
        assert!(
            html.contains("<option value=\"unannounced\" selected"),
            "choice kept"
        );
        assert!(
            html.contains("我的账户") && html.contains("id=\"inspection-form\""),
            "normal layout"
        );
        assert!(!html.contains("problems["), "no field name leaks");
        assert_eq!(
            count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM inspections").await,
            0
        );

        // A unit outside the scope: beside the unit field, write-up kept.
        let body = enc(&[
            ("unit", "130111100003"),
            ("mode", "open"),
            ("date", "2026-03-02"),
            ("findings", "记录甲"),
        ]);
        let (s, html) = post_page(&t, "/inspections", &c, &body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            html.contains("记录甲") && html.contains("data-field=\"unit\""),
            "{html}"
        );

        // Fixed, it is saved.
        let body = enc(&[
            ("unit", "130110100001"),
            ("mode", "open"),
            ("date", "2026-03-02"),
            ("findings", "记录乙"),
            ("p2_description", "入口无人值守"),
            ("p2_requirement", "落实值守"),
            ("p2_deadline", "2026-03-05"),
        ]);
        let (s, _, _) = t.raw_form("POST", "/inspections", Some(&c), &body).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert_eq!(
            count(
                &t,
                "SELECT CAST(COUNT(*) AS BIGINT) FROM inspection_problems"
            )
            .await,
            1
        );
        // A problem added to it later: the same, on the inspection's page.
        let iid = count(&t, "SELECT MAX(id) FROM inspections").await;
        let body = enc(&[
            ("description", "消毒记录缺失"),
            ("requirement", "补记"),
            ("deadline", "2026-02-01"),
        ]);
        let (s, html) = post_page(&t, &format!("/inspections/{iid}/problems"), &c, &body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
        assert!(
            html.contains("消毒记录缺失") && html.contains("整改期限：整改期限不能早于今天"),
            "{html}"
        );
        assert!(html.contains("data-field=\"deadline\"") && html.contains("督导记录："));
        assert_eq!(
            count(
                &t,
                "SELECT CAST(COUNT(*) AS BIGINT) FROM inspection_problems"
            )
            .await,
            1
        );

        // The shortage form of an institution.
        let off = t.user("off.f", &["official"], "130110").await;
        let (_, org) = t
            .post(
                "/api/v1/orgs",
                &off,
                json!({"name": "获鹿镇敬老院", "kind": "elderly_care", "region_code": "130110100"}),
            )
            .await;
        let home = org["id"].as_i64().expect("org");
        org_user(&t, "rep.f", &["institution_reporter"], "130110100", home).await;
        let c = web_login(&t, "rep.f").await;
        let path = format!("/institutions/{home}/shortages");
        let body = enc(&[
            ("item", "suits"),
            ("quantity", "abc"),
            ("note", "防护服告急，请尽快调拨"),
        ]);
        let (s, html) = post_page(&t, &path, &c, &body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
        assert!(
            html.contains("防护服告急，请尽快调拨") && html.contains("value=\"abc\""),
            "{html}"
        );
        assert!(html.contains("数量：应为正整数") && html.contains("data-field=\"quantity\""));
        assert!(html.contains("<option value=\"suits\" selected"));
        assert!(html.contains("id=\"shortage-form\"") && html.contains("获鹿镇敬老院"));
        assert!(!html.contains("quantity："));
        let body = enc(&[("item", "suits"), ("quantity", "0"), ("note", "再试")]);
        let (s, html) = post_page(&t, &path, &c, &body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("再试") && html.contains("数量："), "{html}");
        assert_eq!(
            count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM inst_shortages").await,
            0
        );
        let (s, html) = page(&t, &format!("/institutions/{home}"), &c).await;
        assert_eq!(s, StatusCode::OK);
        assert!(!html.contains("再试"), "a fresh page starts empty");
    })
    .await;
}

#[tokio::test]
async fn framework_rejections_are_chinese_with_a_stable_code() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let off = t.user("off.r", &["official"], "130110").await;
        // A missing query parameter (API): 400, bad_request, the field's Chinese label.
        let (s, b) = t
            .get("/api/v1/reports/summary?template=village_daily", &off)
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
        assert_eq!(b["code"], "bad_request");
        assert_eq!(b["message"], "查询参数缺少“报告期”");
        // A path segment that is not a number reads as not found, in the API's shape.
        let (s, b) = t.get("/api/v1/inspections/abc", &off).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(b["code"], "not_found");
        // A body that is not JSON.
        let (s, _, body) = t
            .raw(
                "POST",
                "/api/v1/inspections",
                Some(&off),
                Some("{oops".into()),
                &[],
            )
            .await;
        let b: serde_json::Value = serde_json::from_slice(&body).expect("json error body");
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(b["code"], "invalid_json");
        let latin = |m: &str| m.chars().filter(|c| c.is_ascii_alphabetic()).count();
        assert!(latin(b["message"].as_str().unwrap_or("x")) <= 4, "{b}");

        // Pages: a missing query parameter and a form sent with the wrong type are Chinese pages.
        t.make_user("off.rp", &["official"], "130110").await;
        let c = web_login(&t, "off.rp").await;
        let (s, html) = page(&t, "/reports/summary", &c).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(html.contains("查询参数缺少“报表”"), "{html}");
        assert!(!html.contains("Failed to deserialize") && !html.contains("missing field"));
        let (s, _, b) = t
            .raw(
                "POST",
                "/inspections",
                None,
                Some("{}".into()),
                &[("cookie", &c), ("origin", "http://backstop.test")],
            )
            .await;
        let html = String::from_utf8_lossy(&b);
        assert_eq!(s, StatusCode::BAD_REQUEST, "{html}");
        assert!(
            html.contains("提交的内容的格式不对") && !html.contains("Content-Type"),
            "{html}"
        );
    })
    .await;
}

/// Every action code the source writes, found the way a reviewer would grep for it: string
/// literals shaped `area.verb` (file names and the two non-actions excepted).
fn action_codes_in_source() -> std::collections::BTreeSet<String> {
    let files = crate::layout::app_sources();
    let not_actions = [
        "mz.example.cn",
        "persons.birth_date",
        "b.person_id",
        "crosschecks.fingerprint",
        // A federation event kind (the parent applies it through org.create/org.update).
        "org.upsert",
    ];
    let mut codes = std::collections::BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        for lit in text.split('"').skip(1).step_by(2) {
            let parts: Vec<&str> = lit.split('.').collect();
            let shaped = (2..=3).contains(&parts.len())
                && parts.iter().all(|p| {
                    !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                });
            let file = [
                "html", "rs", "sql", "js", "css", "xlsx", "csv", "json", "md", "toml", "db", "key",
                "txt", "xml", "rels", "zip",
            ]
            .contains(parts.last().unwrap_or(&""));
            if shaped && !file && !not_actions.contains(&lit) {
                codes.insert(lit.to_string());
            }
        }
    }
    codes
}

#[test]
fn every_audit_action_has_a_chinese_label() {
    let codes = action_codes_in_source();
    assert!(
        codes.contains("auth.login") && codes.contains("report.submit"),
        "{codes:?}"
    );
    let missing: Vec<&String> = codes
        .iter()
        .filter(|c| backstop_app::audit::labels::action_label(c) == c.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "action codes without a Chinese label: {missing:?}"
    );
    for (code, label) in backstop_app::audit::labels::ACTIONS {
        assert!(
            !label.chars().any(|c| c.is_ascii_alphabetic()),
            "{code}: {label}"
        );
    }
}

#[tokio::test]
async fn the_audit_page_is_chinese_searchable_in_chinese_and_exportable() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        t.make_user("aud.z", &["auditor"], "130110").await;
        t.make_user("off.z", &["official"], "130110").await;
        web_login(&t, "off.z").await;
        let c = web_login(&t, "aud.z").await;
        let (s, html) = page(&t, "/audit", &c).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains(">登录<"), "{html}");
        // Chinese words find the entries of the actions so named, and only those.
        let (s, html) = page(&t, &format!("/audit?action={}", "%E7%99%BB%E5%BD%95"), &c).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains(">登录<") && html.contains("off.z"), "{html}");
        assert!(!html.contains(">新建用户<"));
        let (_, html) = page(&t, "/audit?action=%E6%97%A0%E6%AD%A4%E6%93%8D%E4%BD%9C", &c).await;
        assert!(html.contains("audit-empty"), "no action is so named");
        // The export: an Excel file, itself audited.
        let before = crate::support::audit_count(&t, "audit.export").await;
        let (s, h, b) = t
            .raw_form(
                "GET",
                "/audit/export?action=%E7%99%BB%E5%BD%95",
                Some(&c),
                "",
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            h["content-type"]
                .to_str()
                .unwrap_or("")
                .contains("spreadsheetml")
        );
        assert!(b.starts_with(b"PK") && b.windows(3).any(|w| w == b"xl/"));
        assert_eq!(
            crate::support::audit_count(&t, "audit.export").await,
            before + 1
        );
        let (_, html) = page(&t, "/audit", &c).await;
        assert!(html.contains(">导出审计日志<"));
    })
    .await;
}

/// POST a page form with a session cookie and an `Idempotency-Key`, as `assets/app.js` does.
async fn post_keyed(
    t: &T,
    path: &str,
    cookie: &str,
    key: &str,
    body: &str,
) -> (StatusCode, axum::http::HeaderMap) {
    let req = axum::http::Request::builder()
        .method("POST")
        .uri(path)
        .header("host", "backstop.test")
        .header("origin", "http://backstop.test")
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("idempotency-key", key)
        .body(axum::body::Body::from(body.to_string()))
        .expect("request");
    let (s, h, _) = t.send(req).await;
    (s, h)
}

#[tokio::test]
async fn a_page_form_sent_twice_with_one_key_is_saved_once() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        t.user("insp.k", &["inspector"], "130110").await;
        let c = web_login(&t, "insp.k").await;
        let body = enc(&[
            ("unit", "130110100001"),
            ("mode", "open"),
            ("date", "2026-03-02"),
            ("findings", "重发测试"),
        ]);
        let key = "0f3c9a52-5b7e-4d0e-9d61-2a7b8c9d0e1f";
        let (s1, h1) = post_keyed(&t, "/inspections", &c, key, &body).await;
        assert_eq!(s1, StatusCode::SEE_OTHER);
        let (s2, h2) = post_keyed(&t, "/inspections", &c, key, &body).await;
        assert_eq!(
            s2,
            StatusCode::SEE_OTHER,
            "the resend is answered like the first"
        );
        assert_eq!(h1["location"], h2["location"]);
        assert_eq!(h2["idempotent-replay"], "true");
        assert_eq!(
            count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM inspections").await,
            1,
            "saved once"
        );
        // The same key with other content is refused, nothing saved.
        let other = enc(&[
            ("unit", "130110100001"),
            ("mode", "open"),
            ("date", "2026-03-02"),
            ("findings", "另一份"),
        ]);
        let (s, _) = post_keyed(&t, "/inspections", &c, key, &other).await;
        assert_eq!(s, StatusCode::CONFLICT);
        // A refused form is not remembered: corrected, the same key saves it.
        let bad = enc(&[
            ("unit", "130110100001"),
            ("mode", "open"),
            ("date", "2026-03-02"),
            ("findings", ""),
        ]);
        let key2 = "a1b2c3d4e5f6a7b8";
        assert_eq!(
            post_keyed(&t, "/inspections", &c, key2, &bad).await.0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            post_keyed(&t, "/inspections", &c, key2, &other).await.0,
            StatusCode::SEE_OTHER
        );
        assert_eq!(
            count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM inspections").await,
            2
        );
        // Another user's identical key is theirs alone.
        t.user("insp.k2", &["inspector"], "130110").await;
        let c2 = web_login(&t, "insp.k2").await;
        assert_eq!(
            post_keyed(&t, "/inspections", &c2, key, &body).await.0,
            StatusCode::SEE_OTHER
        );
        assert_eq!(
            count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM inspections").await,
            3
        );
    })
    .await;
}

#[tokio::test]
async fn the_observation_form_keeps_the_four_keepers_when_one_is_refused() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let cw = t.user("cw.o", &["community_worker"], "130110100001").await;
        let (s, p) = t
            .post(
                "/api/v1/persons",
                &cw,
                json!({"name": "王观察", "region_code": "130110100001"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{p}");
        let pid = p["id"].as_i64().expect("id").to_string();
        let c = web_login(&t, "cw.o").await;
        let body = enc(&[
            ("person_id", &pid),
            ("ends_on", "2026-03-16"),
            ("reason", "密切接触者"),
            ("role_1", "社区干部"),
            ("name_1", "甲责任人"),
            ("phone_1", "13800000001"),
            ("role_2", "医生"),
            ("name_2", ""),
            ("phone_2", "13800000002"),
            ("role_3", "民警"),
            ("name_3", "丙责任人"),
            ("phone_3", "13800000003"),
            ("role_4", "志愿者"),
            ("name_4", "丁责任人"),
            ("phone_4", "13800000004"),
        ]);
        let (s, html) = post_page(&t, "/observations", &c, &body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
        assert!(html.contains("第 2 条责任人的姓名：不能为空"), "{html}");
        assert!(html.contains("data-field=\"name_2\""));
        assert!(
            html.contains("丁责任人")
                && html.contains("13800000003")
                && html.contains("密切接触者")
        );
        assert!(!html.contains("keeper_name"));
        // A care visit's write-up survives a refusal too (an unknown way of visiting).
        let body = enc(&[
            ("method", "letter"),
            ("visited_on", "2026-03-02"),
            ("findings", "老人独居，行动不便"),
            ("needs", "送药上门\n代购"),
            ("help_given", ""),
        ]);
        let (s, html) = post_page(&t, &format!("/care/persons/{pid}/visits"), &c, &body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
        assert!(
            html.contains("老人独居，行动不便") && html.contains("送药上门"),
            "{html}"
        );
        assert!(html.contains("走访方式："), "{html}");
        assert_eq!(
            count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM observations").await,
            0
        );
    })
    .await;
}

/// Post the pairs as a page form; the status and the page.
pub async fn post_pairs(
    t: &T,
    path: &str,
    cookie: &str,
    pairs: &[(&str, &str)],
) -> (StatusCode, String) {
    let (s, _, b) = t.raw_form("POST", path, Some(cookie), &enc(pairs)).await;
    (s, String::from_utf8_lossy(&b).into_owned())
}

/// A refused page form: 422 inside the normal layout, what was typed shown again, the Chinese
/// reason present and beside the field `field`, no English field name.
pub fn assert_kept(s: StatusCode, html: &str, typed: &[&str], reason: &str, field: &str) {
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(
        html.contains("我的账户"),
        "inside the normal layout: {html}"
    );
    for v in typed {
        assert!(html.contains(v), "{v} kept: {html}");
    }
    assert!(html.contains(reason), "reason {reason}: {html}");
    assert!(
        html.contains(&format!("data-field=\"{field}\"")),
        "reason beside {field}: {html}"
    );
}

#[tokio::test]
async fn every_area_form_keeps_the_input_when_refused() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let v1 = "130110100001";
        let cw = t.user("cw.a", &["community_worker"], v1).await;
        let c = web_login(&t, "cw.a").await;
        let pid = crate::support::created_id(
            &t,
            "/api/v1/persons",
            &cw,
            json!({"name": "李照护", "region_code": v1}),
        )
        .await;

        // Care: a membership with an unknown category, its deciding body kept.
        let (s, html) = post_pairs(
            &t,
            &format!("/care/persons/{pid}/memberships"),
            &c,
            &[
                ("category", "dibao"),
                ("start_date", "2026-13-40"),
                ("end_date", ""),
                ("deciding_body", "获鹿镇民政办公室"),
            ],
        )
        .await;
        assert_kept(s, &html, &["获鹿镇民政办公室", "2026-13-40"], "开始日期", "start_date");
        assert_eq!(
            count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM care_memberships").await,
            0
        );

        // Screening: an observation's check-in with a temperature that is not a number.
        let keepers: Vec<serde_json::Value> = ["社区干部", "医生", "民警", "志愿者"]
            .iter()
            .enumerate()
            .map(|(i, r)| json!({"role": r, "name": format!("责任人{i}"), "phone": format!("1390000000{i}")}))
            .collect();
        let oid = crate::support::created_id(
            &t,
            "/api/v1/observations",
            &cw,
            json!({"person_id": pid, "keepers": keepers, "reason": "密切接触者"}),
        )
        .await;
        let (s, html) = post_pairs(
            &t,
            &format!("/observations/{oid}/checkin"),
            &c,
            &[("temperature", "三十七"), ("symptoms", "1"), ("note", "咳嗽两天")],
        )
        .await;
        assert_kept(s, &html, &["三十七", "咳嗽两天"], "体温应为数字", "temperature");
        assert!(html.contains("value=\"1\" checked"), "symptoms kept: {html}");
        // Extend to a day in the past.
        let (s, html) = post_pairs(
            &t,
            &format!("/observations/{oid}/extend"),
            &c,
            &[("ends_on", "2020-01-01")],
        )
        .await;
        assert_kept(s, &html, &["2020-01-01"], "延长", "ends_on");
        assert_eq!(
            count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM observation_checkins").await,
            0
        );

        // Entrance: a gate entry with a fever-range typo; the ID number never comes back.
        let gate = crate::support::created_id(
            &t,
            "/api/v1/gates",
            &cw,
            json!({"name": "东门卡口", "region_code": v1}),
        )
        .await;
        let (s, html) = post_pairs(
            &t,
            &format!("/gates/{gate}/entries"),
            &c,
            &[
                ("name", "访客甲"),
                ("phone", "13912345678"),
                ("from", "石家庄市裕华区"),
                ("reason", "探亲"),
                ("direction", "out"),
                ("temperature", "99"),
                ("id_number", "130110198001010011"),
            ],
        )
        .await;
        assert_kept(s, &html, &["访客甲", "石家庄市裕华区", "探亲"], "体温", "temperature");
        assert!(!html.contains("130110198001010011"), "no ID number echoed");
        assert!(html.contains("value=\"out\" checked"), "direction kept");
        // A gate with an empty name: the place stays chosen.
        let (s, html) = post_pairs(&t, "/gates", &c, &[("name", " "), ("place", &format!("region:{v1}"))]).await;
        assert_kept(s, &html, &[], "卡口名称", "name");
        // Rename refused: the gate page, the name as typed.
        let long = "门".repeat(60);
        let (s, html) = post_pairs(&t, &format!("/gates/{gate}/edit"), &c, &[("name", &long)]).await;
        assert_kept(s, &html, &[&long], "名称", "name");

        // People: a person with a malformed birth date; a household member that is no number.
        let (s, html) = post_pairs(
            &t,
            "/persons",
            &c,
            &[("name", "赵新人"), ("region_code", v1), ("birth_date", "1990-02-31"), ("address", "旱码头村 3 组")],
        )
        .await;
        assert_kept(s, &html, &["赵新人", "旱码头村 3 组"], "出生日期", "birth_date");
        let hid = crate::support::created_id(
            &t,
            "/api/v1/households",
            &cw,
            json!({"region_code": v1, "address": "旱码头村 1 号", "members": [{"person_id": pid, "relationship": "head"}]}),
        )
        .await;
        let (s, html) = post_pairs(
            &t,
            &format!("/households/{hid}/members"),
            &c,
            &[("person_id", "张三丰"), ("relationship", "child")],
        )
        .await;
        assert_kept(s, &html, &["张三丰"], "人员编号", "person_id");

        // Organisations: a name too long, the contact kept.
        let off = t.user("off.a", &["official"], "130110").await;
        let oc = web_login(&t, "off.a").await;
        let (s, html) = post_pairs(
            &t,
            "/orgs",
            &oc,
            &[
                ("name", ""),
                ("kind", "elderly_care"),
                ("region_code", "130110100"),
                ("contact_person", "钱院长"),
                ("contact_phone", "13800001111"),
                ("address", "获鹿镇北街 8 号"),
            ],
        )
        .await;
        assert_kept(s, &html, &["钱院长", "获鹿镇北街 8 号"], "名称", "name");

        // Cross-check: a run over a region outside the scope, the region kept.
        let (s, html) = post_pairs(&t, "/crosscheck/run", &oc, &[("region", "130111")]).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{html}");
        assert!(html.contains("value=\"130111\"") && html.contains("data-field=\"region\""), "{html}");

        // Institutions: a round with a temperature out of range; a resident without a name.
        let home = crate::support::created_id(
            &t,
            "/api/v1/orgs",
            &off,
            json!({"name": "获鹿镇敬老院", "kind": "elderly_care", "region_code": "130110100"}),
        )
        .await;
        let rep = org_user(&t, "rep.a", &["institution_reporter"], "130110100", home).await;
        let rid = crate::support::created_id(
            &t,
            &format!("/api/v1/institutions/{home}/residents"),
            &rep,
            json!({"name": "王大明", "room": "101"}),
        )
        .await;
        let rc = web_login(&t, "rep.a").await;
        let field = format!("t_{rid}");
        let (s, html) = post_pairs(
            &t,
            &format!("/institutions/{home}/rounds"),
            &rc,
            &[("day", ""), ("round", "morning"), (&field, "52.5")],
        )
        .await;
        assert_kept(s, &html, &["value=\"52.5\""], "体温", &field);
        let (s, html) = post_pairs(
            &t,
            &format!("/institutions/{home}/residents"),
            &rc,
            &[("name", ""), ("room", "203 室")],
        )
        .await;
        assert_kept(s, &html, &["203 室"], "姓名", "name");
        let (s, html) = post_pairs(
            &t,
            &format!("/institutions/{home}/residents/{rid}"),
            &rc,
            &[("name", ""), ("room", "305")],
        )
        .await;
        assert_kept(s, &html, &["value=\"305\""], "姓名", "name");
        assert_eq!(
            count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM inst_residents").await,
            1
        );
    })
    .await;
}
