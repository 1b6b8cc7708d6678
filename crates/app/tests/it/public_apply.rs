//! Issue 16 item 7 (the public application page, 一次不用跑) and issue 15 item 5 (the public
//! API), on every backend: an applicant without an account verifies a phone with a one-time
//! code (read from the fake SMS gateway), submits an application that enters the normal path
//! and is seen — flagged, never refused — by the village's township staff; the same answer
//! for a member already on a roll as for a stranger; bad input refused in Chinese with nothing
//! written; the public limits; a public OpenAPI document with the public routes only; the
//! pages keep refused input and follow an application up with its number and a new code.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::notify::{config, each_backend_with_gateway};
use crate::public::last_code;
use crate::support::{T, audit_count, cid, count, enc, form_text};

/// A change made to a good body, for the bad-input cases.
type Edit = Box<dyn Fn(&mut Value)>;

const A: &str = "130110";
const V1: &str = "130110100001";
const P1: &str = "13912345678";
const P2: &str = "13700001111";

/// A public session token for `phone` through the API (code from the fake gateway).
async fn session(t: &T, fake: &crate::notify::Shared, phone: &str) -> String {
    t.clock.advance(chrono::Duration::seconds(61));
    let (s, b) = t
        .call(
            "POST",
            "/public/api/code",
            None,
            Some(json!({"phone": phone})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    backstop_app::notify::step(&t.state).await.expect("step");
    let code = last_code(fake, phone);
    let (s, b) = t
        .call(
            "POST",
            "/public/api/session",
            None,
            Some(json!({"phone": phone, "code": code})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b["token"].as_str().expect("token").to_string()
}

fn member(name: &str, id: &str, rel: &str, earned: &str) -> Value {
    json!({"name": name, "id_number": id, "relationship": rel, "earned_12m": earned})
}

fn body(members: Vec<Value>) -> Value {
    json!({"programme": "dibao", "region_code": V1, "area_kind": "rural", "address": "一组 3 号",
        "members": members, "authorised": true, "authorisation_version": "电子授权书 2026 版 v1",
        "note": "因病致贫"})
}

async fn submit(t: &T, tok: &str, key: &str, b: &Value) -> (StatusCode, Value) {
    let (s, _, bytes) = t
        .raw(
            "POST",
            "/public/api/applications",
            Some(tok),
            Some(b.to_string()),
            &[("idempotency-key", key)],
        )
        .await;
    (s, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// (applications, persons, households) on record.
async fn written(t: &T) -> (i64, i64, i64) {
    (
        count(
            t,
            "SELECT CAST(COUNT(*) AS BIGINT) FROM assistance_applications",
        )
        .await,
        count(t, "SELECT CAST(COUNT(*) AS BIGINT) FROM persons").await,
        count(t, "SELECT CAST(COUNT(*) AS BIGINT) FROM households").await,
    )
}

/// The staff view of the application with public number `no`, as `tok` lists them.
async fn staff_view(t: &T, tok: &str, no: &str) -> Option<Value> {
    let (s, list) = t.get("/api/v1/assistance/applications", tok).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    list.as_array()
        .expect("list")
        .iter()
        .find(|a| a["public_no"] == no)
        .cloned()
}

#[tokio::test]
async fn applying_without_an_account_through_the_public_api() {
    each_backend_with_gateway(config, |t, fake| async move {
            t.import_fixture().await;
            let off = t.user("off.a", &["official"], A).await;
            let ts = t.user("ts.a", &["township_staff"], "130110100").await;
            let ts_b = t.user("ts.b", &["township_staff"], "130111100").await;
            let cw = t.user("cw.a", &["community_worker"], V1).await;
            let (s, b) = t.post("/api/v1/assistance/standards", &off, json!({"region_code": A,
                "programme": "dibao", "area_kind": "rural", "component": "base", "amount": "500",
                "effective_from": "2026-03-02"})).await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
            let applicant = cid(A, "19700101", 11);
            let child = cid(A, "20150505", 12);
            let good = body(vec![
                member("赵大", &applicant, "", "6,000.00"),
                member("赵小", &child, "child", ""),
            ]);

            // A code is required: no token, a staff token, a wrong code.
            let before = written(&t).await;
            let (s, e) = t
                .call("POST", "/public/api/applications", None, Some(good.clone()))
                .await;
            assert_eq!((s, e["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")), "{e}");
            assert!(e["message"].as_str().unwrap_or("").contains("验证手机"), "{e}");
            let (s, _) = submit(&t, &cw, "key-staff-0001", &good).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED);
            t.clock.advance(chrono::Duration::seconds(61));
            t.call("POST", "/public/api/code", None, Some(json!({"phone": P1}))).await;
            let (s, e) = t
                .call("POST", "/public/api/session", None, Some(json!({"phone": P1, "code": "12345x"})))
                .await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
            assert!(e["message"].as_str().unwrap_or("").contains("验证码错误"), "{e}");
            assert_eq!(written(&t).await, before);

            let tok = session(&t, &fake, P1).await;

            // Bad input: a Chinese error on the field, nothing written.
            let mut bad_id = applicant.clone();
            let last = if bad_id.ends_with('0') { "1" } else { "0" };
            bad_id.replace_range(17.., last);
            let cases: Vec<(Edit, &str, &str)> = vec![
                (Box::new(move |b: &mut Value| b["members"][0]["id_number"] = json!(bad_id.clone())), "members[0].id_number", "身份证号"),
                (Box::new(|b: &mut Value| b["members"][0]["earned_12m"] = json!("-5")), "members[0].earned_12m", "负数"),
                (Box::new(|b: &mut Value| b["members"][1]["earned_12m"] = json!("1.001")), "members[1].earned_12m", "分"),
                (Box::new(|b: &mut Value| b["members"][0]["assets"] = json!("很多")), "members[0].assets", ""),
                (Box::new(|b: &mut Value| b["members"][1]["relationship"] = json!("")), "members[1].relationship", "关系"),
                (Box::new(|b: &mut Value| b["authorised"] = json!(false)), "authorised", "电子授权"),
                (Box::new(|b: &mut Value| b["authorisation_version"] = json!("旧版")), "authorisation_version", "重新阅读"),
                (Box::new(|b: &mut Value| b["region_code"] = json!("130110100")), "region_code", "村（社区）"),
                (Box::new(|b: &mut Value| b["programme"] = json!("temporary")), "programme", "临时救助"),
                (Box::new(|b: &mut Value| b["members"] = json!([])), "members", "家庭成员"),
            ];
            for (i, (change, field, want)) in cases.iter().enumerate() {
                let mut b = good.clone();
                change(&mut b);
                let (s, e) = submit(&t, &tok, &format!("key-bad-{i:04}"), &b).await;
                assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {e}");
                assert_eq!(e["fields"][0]["field"], *field, "{e}");
                let m = e["message"].as_str().unwrap_or("");
                assert!(m.contains(want) && m.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{field}: {e}");
                assert!(!m.contains(&applicant), "no ID number in the message: {e}");
            }
            assert_eq!(written(&t).await, before, "nothing half-written");

            // The happy path: a number, the normal path's first state; sent again, the same.
            let (s, a) = submit(&t, &tok, "key-good-0001", &good).await;
            assert_eq!(s, StatusCode::CREATED, "{a}");
            let no = a["number"].as_str().expect("number").to_string();
            assert!(no.len() == 16 && no.starts_with("13"), "{no}");
            assert_eq!((a["status"].as_str(), a["status_label"].as_str()), (Some("submitted"), Some("已受理")));
            let (s, again) = submit(&t, &tok, "key-good-0001", &good).await;
            assert_eq!((s, &again), (StatusCode::CREATED, &a));
            assert_eq!(written(&t).await, (before.0 + 1, before.1 + 2, before.2 + 1));
            assert_eq!(audit_count(&t, "assistance.application_public").await, 1);
            // The members' ID numbers are sealed: no column holds one in clear.
            let clear: i64 = sqlx::query_scalar(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM persons WHERE id_masked = $1 OR name = $1 OR address = $1",
            )
            .bind(applicant.clone())
            .fetch_one(t.state.db.pool())
            .await
            .expect("count");
            assert_eq!(clear, 0);

            // Visible to the village's township (channel, number, amount), not to another county.
            let v = staff_view(&t, &ts, &no).await.expect("the township sees it");
            assert_eq!((v["channel"].as_str(), v["members"].as_i64(), v["status"].as_str()),
                (Some("public"), Some(2), Some("submitted")), "{v}");
            assert_eq!(v["public_flags"], "", "{v}");
            // Independent: 2 × 500 yuan minus 6,000 yuan a year / 12.
            assert_eq!(v["monthly_amount_fen"].as_i64(), Some(2 * 50_000 - 600_000 / 12), "{v}");
            assert!(staff_view(&t, &ts_b, &no).await.is_none());
            let id = v["id"].as_i64().expect("id");
            let (s, _) = t.get(&format!("/api/v1/assistance/applications/{id}"), &ts_b).await;
            assert_eq!(s, StatusCode::NOT_FOUND);
            let (s, full) = t.get(&format!("/api/v1/assistance/applications/{id}"), &ts).await;
            assert_eq!(s, StatusCode::OK);
            assert!(full["member_list"].as_array().expect("members").iter()
                .all(|m| m["authorisation_version"] == "电子授权书 2026 版 v1" || m["adult"] == false), "{full}");
            // The worker verifies; the applicant sees it move.
            let (s, b) = t.post(&format!("/api/v1/assistance/applications/{id}/steps"), &cw,
                json!({"step": "verify", "reason": "入户核查属实"})).await;
            assert_eq!(s, StatusCode::OK, "{b}");
            let (s, st) = t.get(&format!("/public/api/applications/{no}"), &tok).await;
            assert_eq!((s, st["status"].as_str()), (StatusCode::OK, Some("verified")), "{st}");
            let (_, mine) = t.get("/public/api/applications", &tok).await;
            assert_eq!(mine.as_array().map(Vec::len), Some(1), "{mine}");

            // Another phone: the application is not found, exactly like an unknown number.
            let tok2 = session(&t, &fake, P2).await;
            let (s1, e1) = t.get(&format!("/public/api/applications/{no}"), &tok2).await;
            let (s2, e2) = t.get("/public/api/applications/1326010199999999", &tok2).await;
            assert_eq!((s1, s2), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND));
            assert_eq!(e1, e2);

            // The same answer for a person already on the roll as for a stranger; staff see a flag.
            let known = cid(A, "19600303", 21);
            let (s, p) = t.post("/api/v1/persons", &cw, json!({"name": "钱老", "region_code": V1, "id_number": known})).await;
            assert_eq!(s, StatusCode::CREATED, "{p}");
            sqlx::query(
                "INSERT INTO assistance_beneficiaries (province, programme, county_code, region_code, person_id, \
                 members, area_kind, monthly_amount_fen, status, since_month, created_at, updated_at) \
                 VALUES ('13', 'dibao', $1, $2, $3, 1, 'rural', 50000, 'active', '2026-01', 0, 0)",
            )
            .bind(A)
            .bind(V1)
            .bind(p["id"].as_i64().expect("id"))
            .execute(t.state.db.pool())
            .await
            .expect("beneficiary");
            let stranger = cid(A, "19600404", 22);
            let persons = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM persons").await;
            let (sk, ak) = submit(&t, &tok2, "key-known-0001", &body(vec![member("钱老", &known, "", "")])).await;
            let (su, au) = submit(&t, &tok2, "key-strange-001", &body(vec![member("孙新", &stranger, "", "")])).await;
            assert_eq!((sk, su), (StatusCode::CREATED, StatusCode::CREATED), "{ak} {au}");
            let strip = |mut v: Value| {
                v["number"] = json!("");
                v
            };
            assert_eq!(strip(ak.clone()), strip(au.clone()), "the same answer");
            assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM persons").await, persons + 1,
                "the known person is not recorded twice");
            let vk = staff_view(&t, &ts, ak["number"].as_str().expect("no")).await.expect("seen");
            let vu = staff_view(&t, &ts, au["number"].as_str().expect("no")).await.expect("seen");
            assert!(vk["public_flags"].as_str().unwrap_or("").contains("duplicate"), "{vk}");
            assert!(vk["public_flags_label"].as_str().unwrap_or("").contains("重复"), "{vk}");
            assert_eq!(vu["public_flags"], "", "{vu}");

            // The public OpenAPI document: the public routes, none of the staff ones; and the
            // staff document none of the public ones.
            let (s, doc) = t.call("GET", "/public/api/openapi.json", None, None).await;
            assert_eq!(s, StatusCode::OK);
            let paths: Vec<String> = doc["paths"].as_object().expect("paths").keys().cloned().collect();
            for p in ["/public/api/code", "/public/api/session", "/public/api/applications",
                "/public/api/applications/{number}", "/public/api/regions", "/public/api/authorisation"] {
                assert!(paths.iter().any(|x| x == p), "{p} in {paths:?}");
            }
            assert!(paths.iter().all(|p| p.starts_with("/public/api/")), "{paths:?}");
            let (_, staff_doc) = t.get("/api/v1/openapi.json", &off).await;
            let staff_paths = staff_doc["paths"].as_object().expect("paths");
            assert!(staff_paths.keys().all(|p| !p.starts_with("/public")));
            assert!(staff_paths.contains_key("/api/v1/assistance/applications"));

            // Limits: a flood from one address is refused with the API's error shape, while
            // the staff API keeps answering.
            t.clock.advance(chrono::Duration::seconds(61));
            let mut refused = None;
            for _ in 0..130 {
                let (s, b) = t.call("GET", "/public/api/programmes", None, None).await;
                if s == StatusCode::TOO_MANY_REQUESTS {
                    refused = Some(b);
                    break;
                }
            }
            let b = refused.expect("limited");
            assert_eq!(b["code"], "rate_limited", "{b}");
            let (s, _) = submit(&t, &tok2, "key-flood-0001", &good).await;
            assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
            let (s, _) = t.get("/api/v1/assistance/applications", &ts).await;
            assert_eq!(s, StatusCode::OK);
    })
    .await;
}

fn location(h: &axum::http::HeaderMap) -> String {
    h.get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Verify `phone` on the page; the cookie pair and where the verify step sent the browser.
async fn page_verify(
    t: &T,
    fake: &crate::notify::Shared,
    phone: &str,
    next: &str,
    via: &str,
    extra: &str,
) -> (String, String) {
    t.clock.advance(chrono::Duration::seconds(61));
    let ask = format!("phone={phone}&{extra}");
    let then = format!("&next={}", enc(next));
    let h = crate::bookings_pages::code_login(t, fake, phone, (via, &ask), &then).await;
    (crate::support::set_cookie_pair(&h), location(&h))
}

#[tokio::test]
async fn the_application_page_keeps_input_and_follows_up() {
    each_backend_with_gateway(config, |t, fake| async move {
            t.import_fixture().await;
            // Without a session: to the phone check, coming back to the page.
            let (s, h, _) = form_text(&t, "GET", "/public/apply", None, "").await;
            assert_eq!((s, location(&h).as_str()), (StatusCode::SEE_OTHER, "/public/login?next=%2Fpublic%2Fapply"));
            let (s, _, html) = form_text(&t, "GET", "/public/login?next=%2Fpublic%2Fapply", None, "").await;
            assert_eq!(s, StatusCode::OK);
            assert!(html.contains("value=\"/public/apply\""), "{html}");
            let (cookie, to) = page_verify(&t, &fake, P1, "/public/apply", "/public/login", "next=%2Fpublic%2Fapply").await;
            assert_eq!(to, "/public/apply");
            // A foreign `next` is not followed.
            let (s, _, html) = form_text(&t, "GET", "/public/login?next=https%3A%2F%2Fevil.example", None, "").await;
            assert_eq!(s, StatusCode::OK);
            assert!(!html.contains("evil.example"), "{html}");

            // The picker, down to the village; then the form.
            let (s, _, html) = form_text(&t, "GET", "/public/apply", Some(&cookie), "").await;
            assert_eq!(s, StatusCode::OK);
            assert!(html.contains("/public/apply?region=13"), "{html}");
            let (s, _, html) = form_text(&t, "GET", "/public/apply?region=130110100", Some(&cookie), "").await;
            assert_eq!(s, StatusCode::OK);
            assert!(html.contains(&format!("/public/apply?region={V1}")), "{html}");
            let (s, _, html) = form_text(&t, "GET", &format!("/public/apply?region={V1}"), Some(&cookie), "").await;
            assert_eq!(s, StatusCode::OK);
            assert!(html.contains("apply-form") && html.contains("电子授权书 2026 版 v1") && html.contains("139****5678"), "{html}");
            let idem = html.split("name=\"idem\" value=\"").nth(1).and_then(|r| r.split('"').next()).expect("key").to_string();

            // Row 1 left empty, row 2 with a bad ID number: refused beside row 2, input kept.
            let applicant = cid(A, "19800808", 31);
            let mut bad = cid(A, "19820909", 32);
            let last = if bad.ends_with('0') { "1" } else { "0" };
            bad.replace_range(17.., last);
            let base_form = format!(
                "region_code={V1}&idem={idem}&programme=dibao&area_kind=rural&address={}&m0_name={}&m0_id_number={applicant}&m0_earned_12m=1200&authorised=1&authorisation_version={}&note=",
                enc("二组 5 号"), enc("周大"), enc("电子授权书 2026 版 v1"));
            let before = written(&t).await;
            let (s, _, html) = form_text(&t, "POST", "/public/apply", Some(&cookie),
                &format!("{base_form}&m2_name={}&m2_id_number={bad}&m2_relationship=spouse", enc("吴二"))).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
            assert!(html.contains("data-field=\"m2_id_number\"") && html.contains("吴二") && html.contains("二组 5 号"), "{html}");
            assert!(html.contains("身份证号"), "{html}");
            assert_eq!(written(&t).await, before);
            // Corrected: the application's page with its number.
            let spouse = cid(A, "19820909", 32);
            let (s, h, _) = form_text(&t, "POST", "/public/apply", Some(&cookie),
                &format!("{base_form}&m2_name={}&m2_id_number={spouse}&m2_relationship=spouse", enc("吴二"))).await;
            assert_eq!(s, StatusCode::SEE_OTHER);
            let to = location(&h);
            let no = to.strip_prefix("/public/applications/").expect("number").to_string();
            // The form sent twice (a phone retrying): the same application.
            let (s, h, _) = form_text(&t, "POST", "/public/apply", Some(&cookie),
                &format!("{base_form}&m2_name={}&m2_id_number={spouse}&m2_relationship=spouse", enc("吴二"))).await;
            assert_eq!((s, location(&h)), (StatusCode::SEE_OTHER, to.clone()));
            assert_eq!(written(&t).await.0, before.0 + 1);
            let (s, _, html) = form_text(&t, "GET", &to, Some(&cookie), "").await;
            assert_eq!(s, StatusCode::OK);
            assert!(html.contains(&no) && html.contains("已受理") && html.contains("最低生活保障"), "{html}");
            let (_, _, html) = form_text(&t, "GET", "/public/me", Some(&cookie), "").await;
            assert!(html.contains(&no) && !html.contains("public-me-empty"), "{html}");

            // Following it up later: the number and a new code to the same phone.
            let (s, _, html) = form_text(&t, "GET", "/public/track", None, "").await;
            assert_eq!(s, StatusCode::OK);
            assert!(html.contains("track-form"));
            let next = format!("/public/applications/{no}");
            let (c2, to2) = page_verify(&t, &fake, P1, &next, "/public/track", &format!("number={no}")).await;
            assert_eq!(to2, next);
            let (s, _, html) = form_text(&t, "GET", &next, Some(&c2), "").await;
            assert_eq!(s, StatusCode::OK);
            assert!(html.contains("已受理"), "{html}");
            // Another phone with the same number: the code step looks the same; the page is
            // not found.
            let (c3, _) = page_verify(&t, &fake, P2, &next, "/public/track", &format!("number={no}")).await;
            let (s, _, _) = form_text(&t, "GET", &next, Some(&c3), "").await;
            assert_eq!(s, StatusCode::NOT_FOUND);
            // A staff cookie is no public session.
            t.make_user("cw.a", &["community_worker"], V1).await;
            let staff = crate::support::web_login(&t, "cw.a").await;
            let (s, h, _) = form_text(&t, "GET", &next, Some(&staff), "").await;
            assert_eq!((s, location(&h).as_str()), (StatusCode::SEE_OTHER, "/public/track"));
    })
    .await;
}
