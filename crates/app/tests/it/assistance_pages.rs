//! Social assistance pages (issue 16): each role's hub with what it must do now, the
//! applications list, the new-application form (refused with the reason beside the member's
//! input and everything typed kept; an ID number typed whole is never shown again), the detail
//! page with the amount line by line and the step forms by role, a step refused in Chinese,
//! the publicity list showing name, size and amount only, standards, emergency periods,
//! aid-first grants and beneficiaries; out-of-scope pages are 404 and a cross-site form is
//! refused (CSRF) with nothing written.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use backstop_app::kernel::web::encode_query_value as enc;
use serde_json::json;

use crate::support::{T, count, created_id, each_backend, page, post_page, web_login};

const A: &str = "130110";
const T1: &str = "130110100";
const V1: &str = "130110100001";
const VB: &str = "130111100003";

/// A person of the registry in `region`; its id.
async fn person(t: &T, tok: &str, name: &str, birth: &str) -> i64 {
    created_id(
        t,
        "/api/v1/persons",
        tok,
        json!({"name": name, "region_code": V1, "birth_date": birth}),
    )
    .await
}

/// The application id a redirect after a page form points to.
async fn post_redirect(t: &T, path: &str, cookie: &str, body: &str) -> String {
    let (s, h, b) = t.raw_form("POST", path, Some(cookie), body).await;
    assert_eq!(
        s,
        StatusCode::SEE_OTHER,
        "{path}: {}",
        String::from_utf8_lossy(&b)
    );
    let loc = h
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(!loc.starts_with("/login"), "{path}: signed out");
    loc
}

#[tokio::test]
async fn pages_take_an_application_through_by_role_with_refusals_kept() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let off = t.user("off.a", &["official"], A).await;
        t.make_user("off.b", &["official"], "130111").await;
        t.make_user("ts.a", &["township_staff"], T1).await;
        let cw = t.user("cw.a", &["community_worker"], V1).await;
        t.make_user("cw.b", &["community_worker"], VB).await;
        t.make_user("fin.a", &["charity_finance"], A).await;
        created_id(&t, "/api/v1/assistance/standards", &off, json!({"region_code": A, "programme": "dibao",
            "area_kind": "urban", "component": "base", "amount": "750", "effective_from": "2026-03-02"})).await;
        let p1 = person(&t, &cw, "王大", "1970-01-01").await;
        let p2 = person(&t, &cw, "李二", "1972-02-02").await;
        let hh = created_id(&t, "/api/v1/households", &cw, json!({"region_code": V1, "address": "测试户",
            "members": [{"person_id": p1, "relationship": "head"}, {"person_id": p2, "relationship": "spouse"}]})).await;

        let ccw = web_login(&t, "cw.a").await;
        let cts = web_login(&t, "ts.a").await;
        let coff = web_login(&t, "off.a").await;
        let cb = web_login(&t, "off.b").await;
        let cfin = web_login(&t, "fin.a").await;

        // The hub and the nav: the area is there for its roles, not for charity finance.
        let (s, hub) = page(&t, "/assistance", &ccw).await;
        assert_eq!(s, StatusCode::OK);
        assert!(hub.contains("id=\"due-verify\"") && hub.contains("受理新申请"), "{hub}");
        assert!(hub.contains("href=\"/assistance\""), "nav link");
        assert!(!hub.contains("id=\"due-approve\""), "a village worker does not approve");
        let (s, _) = page(&t, "/assistance", &cfin).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (_, home) = page(&t, "/", &cfin).await;
        assert!(!home.contains("href=\"/assistance\""), "no nav link without the permission");

        // The new form starts from the household: the head first.
        let (s, form) = page(&t, &format!("/assistance/applications/new?household={hh}"), &ccw).await;
        assert_eq!(s, StatusCode::OK);
        assert!(form.contains(&format!("name=\"m1_person_id\" id=\"m1-person\" value=\"{p1}\"")), "{form}");
        assert!(form.contains("电子授权书 2026 版 v1"), "the authorisation text version shown");
        let (s, _) = page(&t, &format!("/assistance/applications/new?household={hh}"), &cb).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "a household out of scope");

        // Refused: the adult spouse without the e-authorisation, beside her input; all kept.
        let body = format!("programme=dibao&area_kind=urban&household_id={hh}&m1_person_id={p1}&m1_earned_12m={}&m1_authorised=1\
            &m2_person_id={p2}&m2_other_12m=600&note={}", enc("12,000.00"), enc("因病致贫"));
        let (s, html) = post_page(&t, "/assistance/applications", &ccw, &body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
        assert!(html.contains("data-field=\"m2_authorised\""), "{html}");
        assert!(html.contains("成年家庭成员须签署电子授权"), "{html}");
        assert!(html.contains("value=\"12,000.00\"") && html.contains("因病致贫"), "input kept");
        // A bad amount sits beside its own member's field.
        let (s, html) = post_page(&t, "/assistance/applications", &ccw,
            &format!("{body}&m2_authorised=1").replace("m2_other_12m=600", "m2_other_12m=6.001")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("data-field=\"m2_other_12m\"") && html.contains("分"), "{html}");
        // An ID number typed whole that the registry does not hold: refused, never shown again.
        let (s, html) = post_page(&t, "/assistance/applications", &ccw,
            "programme=dibao&area_kind=urban&m1_person_id=110101199003070011&m1_authorised=1").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
        assert!(html.contains("data-field=\"m1_person_id\""), "{html}");
        assert!(!html.contains("110101199003070011"), "the ID number is not echoed");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM assistance_applications").await, 0);

        // A cross-site post is refused, nothing written.
        let req = Request::builder()
            .method("POST")
            .uri("/assistance/applications")
            .header(header::HOST, "backstop.test")
            .header(header::COOKIE, &ccw)
            .header(header::ORIGIN, "https://evil.example")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("{body}&m2_authorised=1")))
            .expect("request");
        let (s, _, _) = t.send(req).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM assistance_applications").await, 0);

        // Accepted: to the detail page, with the amount line by line.
        let loc = post_redirect(&t, "/assistance/applications", &ccw, &format!("{body}&m2_authorised=1")).await;
        let id: i64 = loc.rsplit('/').next().and_then(|s| s.parse().ok()).expect("id");
        let (s, show) = page(&t, &loc, &ccw).await;
        assert_eq!(s, StatusCode::OK);
        // 750 × 2 − (12,000 + 600 − 0) / 12 = 1,500 − 1,050 = 450.00
        assert!(show.contains("<strong>450.00</strong>"), "{show}");
        assert!(show.contains("id=\"amount-detail\"") && show.matches("<li>").count() >= 2, "lines");
        assert!(show.contains("王*") && !show.contains("王大"), "members masked");
        assert!(show.contains("id=\"step-verify\""), "the village worker verifies");
        assert!(!show.contains("id=\"step-review\"") && !show.contains("id=\"step-reject\""));
        let (s, _) = page(&t, &loc, &cb).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "out of scope");
        let (s, _) = page(&t, &format!("/assistance/applications/{id}"), &cfin).await;
        assert_eq!(s, StatusCode::FORBIDDEN);

        // The list, filtered and masked.
        let (_, list) = page(&t, "/assistance/applications?status=submitted&programme=dibao", &cts).await;
        assert!(list.contains(&format!("/assistance/applications/{id}\"")) && list.contains("王*"), "{list}");
        let (_, list) = page(&t, "/assistance/applications?status=approved", &cts).await;
        assert!(list.contains("id=\"applications-empty\""));
        let (_, list_b) = page(&t, "/assistance/applications", &cb).await;
        assert!(!list_b.contains(&format!("/assistance/applications/{id}\"")));

        // The steps by role: the village worker verifies; the township reviews and publicises.
        post_redirect(&t, &format!("{loc}/steps"), &ccw, "step=verify").await;
        let (_, hub_ts) = page(&t, "/assistance", &cts).await;
        assert!(hub_ts.contains("id=\"due-review\"><a href=\"/assistance/applications?status=verified\"><span class=\"todo-count\">1</span>"), "{hub_ts}");
        let (_, home_ts) = page(&t, "/", &cts).await;
        assert!(home_ts.contains("id=\"todo-assistance\""), "the home to-do line");
        // A step out of turn is refused in Chinese on the page.
        let (s, html) = post_page(&t, &format!("{loc}/steps"), &cts, "step=publicise").await;
        assert_eq!(s, StatusCode::CONFLICT, "{html}");
        assert!(html.contains("不能执行此步骤"), "{html}");
        post_redirect(&t, &format!("{loc}/steps"), &cts, "step=review").await;
        post_redirect(&t, &format!("{loc}/steps"), &cts, "step=publicise").await;
        // The publicity list: name masked, size and amount only.
        let (_, pub_page) = page(&t, "/assistance/publicity", &ccw).await;
        assert!(pub_page.contains("王*") && pub_page.contains("450.00"), "{pub_page}");
        assert!(!pub_page.contains("王大") && !pub_page.contains("12,000"), "nothing more");
        // The county may not approve before the publicity ends; rejecting needs a reason.
        let (s, html) = post_page(&t, &format!("{loc}/steps"), &coff, "step=approve").await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert!(html.contains("公示期未满"), "{html}");
        let (s, html) = post_page(&t, &format!("{loc}/steps"), &coff, "step=reject&reason=").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("data-field=\"reason\""), "{html}");
        t.clock.advance(chrono::Duration::days(8));
        let coff = web_login(&t, "off.a").await;
        post_redirect(&t, &format!("{loc}/steps"), &coff, "step=approve").await;
        let (_, show) = page(&t, &loc, &coff).await;
        assert!(show.contains("已审批") && show.contains("审批通过"), "{show}");
        let (_, bens) = page(&t, "/assistance/beneficiaries", &coff).await;
        assert!(bens.contains("450.00") && bens.contains("id=\"status-"), "{bens}");
        // A status change without a reason: refused beside the reason.
        let ben: i64 = count(&t, "SELECT CAST(MAX(id) AS BIGINT) FROM assistance_beneficiaries").await;
        let (s, html) = post_page(&t, &format!("/assistance/beneficiaries/{ben}/status"), &coff, "status=suspended&reason=").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("data-field=\"reason\""), "{html}");
    })
    .await;
}

#[tokio::test]
async fn standards_periods_and_grants_pages() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        t.make_user("off.a", &["official"], A).await;
        t.make_user("off.p", &["official"], "13").await;
        t.make_user("ts.a", &["township_staff"], T1).await;
        let cw = t.user("cw.a", &["community_worker"], V1).await;
        let coff = web_login(&t, "off.a").await;
        let cprov = web_login(&t, "off.p").await;
        let cts = web_login(&t, "ts.a").await;
        let ccw = web_login(&t, "cw.a").await;

        // Standards: refused with the reason beside the field and the input kept; set; the
        // province's standard shown as inherited to the county.
        let (s, html) = post_page(&t, "/assistance/standards", &coff, &format!("region_code={A}&programme=dibao&area_kind=urban&component=base&amount=-1&effective_from=2026-03-02")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("data-field=\"amount\"") && html.contains("value=\"-1\""), "{html}");
        post_redirect(&t, "/assistance/standards", &coff, &format!("region_code={A}&programme=dibao&area_kind=urban&component=base&amount=750&effective_from=2026-03-02")).await;
        post_redirect(&t, "/assistance/standards", &coff, &format!("region_code={A}&programme=temporary&area_kind=urban&component=temporary_cap&amount=1000&effective_from=2026-03-02")).await;
        post_redirect(&t, "/assistance/standards", &cprov, "region_code=13&programme=dibao&area_kind=rural&component=base&amount=500&effective_from=2026-03-02").await;
        let (s, html) = post_page(&t, "/assistance/standards", &coff, "region_code=130111&programme=dibao&area_kind=urban&component=base&amount=750&effective_from=2026-03-02").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "another county's region");
        assert!(html.contains("不在您的管辖范围内"), "{html}");
        let (_, std_page) = page(&t, "/assistance/standards", &coff).await;
        assert!(std_page.contains("750.00") && std_page.contains("500.00") && std_page.contains("上级设定，本级沿用"), "{std_page}");
        let (_, std_cw) = page(&t, "/assistance/standards", &ccw).await;
        assert!(!std_cw.contains("id=\"standard-form\""), "a village worker does not set standards");

        // Emergency periods: the dates refused in Chinese, kept; declared; shown on the hub.
        let (s, html) = post_page(&t, "/assistance/emergencies", &coff, &format!("region_code={T1}&name={}&starts_on=2026-03-10&ends_on=2026-03-01&measures=aid_first", enc("疫情应急"))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("data-field=\"ends_on\"") && html.contains("疫情应急"), "{html}");
        post_redirect(&t, "/assistance/emergencies", &coff, &format!("region_code={T1}&name={}&starts_on=2026-03-01&ends_on=2026-04-30&measures=aid_first&measures=commitment&measures=freeze_exits", enc("疫情应急"))).await;
        let (_, hub) = page(&t, "/assistance", &cts).await;
        assert!(hub.contains("疫情应急") && hub.contains("先行救助"), "{hub}");
        let (_, newp) = page(&t, "/assistance/applications/new", &ccw).await;
        assert!(newp.contains("id=\"measures-in-force\"") && newp.contains("id=\"app-commitment\""), "{newp}");

        // Aid first: the township grants at once (over the cap refused, kept), the county decides.
        let p = person(&t, &cw, "赵三", "1960-01-01").await;
        let (s, html) = post_page(&t, "/assistance/aid-grants", &cts, &format!("person_id={p}&amount=1000.01&reason={}", enc("急难"))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
        assert!(html.contains("value=\"1000.01\""), "{html}");
        let (s, html) = post_page(&t, "/assistance/aid-grants", &cts, &format!("person_id=abc&amount=100&reason={}", enc("急难"))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("data-field=\"person_id\""), "{html}");
        post_redirect(&t, "/assistance/aid-grants", &cts, &format!("person_id={p}&amount=800&reason={}", enc("急难"))).await;
        let (_, hub_off) = page(&t, "/assistance", &coff).await;
        assert!(hub_off.contains("id=\"due-grants\"><a href=\"/assistance/aid-grants?pending=1\"><span class=\"todo-count\">1</span>"), "{hub_off}");
        let grant: i64 = count(&t, "SELECT CAST(MAX(id) AS BIGINT) FROM assistance_aid_grants").await;
        let (s, html) = post_page(&t, &format!("/assistance/aid-grants/{grant}/decision"), &coff, "decision=refuse&reason=&settlement=").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("data-field=\"reason\""), "{html}");
        post_redirect(&t, &format!("/assistance/aid-grants/{grant}/decision"), &coff, &format!("decision=refuse&reason={}&settlement=recovery", enc("不符合条件"))).await;
        let (_, grants) = page(&t, "/assistance/aid-grants", &cts).await;
        assert!(grants.contains("不予确认（追回：不符合条件）"), "{grants}");

        // Ending the period.
        let period: i64 = count(&t, "SELECT CAST(MAX(id) AS BIGINT) FROM assistance_emergencies").await;
        post_redirect(&t, &format!("/assistance/emergencies/{period}/end"), &coff, "").await;
        let (_, list) = page(&t, "/assistance/emergencies", &coff).await;
        assert!(list.contains("已结束"), "{list}");
    })
    .await;
}
