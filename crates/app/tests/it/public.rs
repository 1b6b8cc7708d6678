//! Issue 15, item 4 (the public face), on every backend: region information pages without an
//! account, texts kept by officials in their scope; a phone session by one-time code sent
//! through the SMS gateway (a local fake), with one answer for every number and every wrong
//! code, limits per phone and per address, and a flood of public requests refused while the
//! staff pages keep answering; staff and public cookies never stand in for each other.

use axum::http::StatusCode;
use serde_json::Value;

use crate::notify::{config, each_backend_with_gateway};
use crate::support::{T, audit_count, deliveries_containing, enc, form_text, page, web_login};

/// Send `code` for `phone` to the public login's verify step.
async fn verify(t: &T, phone: &str, code: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    form_text(
        t,
        "POST",
        "/public/login/verify",
        None,
        &format!("phone={phone}&code={code}"),
    )
    .await
}

/// The code the fake gateway received in the last SMS to `phone`.
pub(crate) fn last_code(fake: &crate::notify::Shared, phone: &str) -> String {
    let g = fake.lock().expect("fake");
    let sms: &Value = &g
        .seen
        .iter()
        .rev()
        .find(|s| s.0 == "/sms" && s.3["mobile"] == phone)
        .expect("an SMS")
        .3;
    let text = sms["content"].as_str().expect("text");
    text.chars().filter(char::is_ascii_digit).take(6).collect()
}

#[tokio::test]
async fn the_public_face_without_an_account() {
    each_backend_with_gateway(config, |t, fake| async move {
        t.import_fixture().await;
        fake.lock().expect("fake").seen.clear();
        t.make_user("off.a", &["official"], "130110").await;
        t.make_user("off.b", &["official"], "130111").await;
        t.make_user("cw.a", &["community_worker"], "130110100001")
            .await;

        // Region pages: provinces, then down to a village; nothing published yet.
        let (s, _, html) = form_text(&t, "GET", "/public", None, "").await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("/public/regions/13"), "{html}");
        assert!(
            !html.contains("退出") || !html.contains("/logout"),
            "no staff navigation"
        );
        let (s, _, html) = form_text(&t, "GET", "/public/regions/130110100001", None, "").await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("public-no-info"));
        let (s, _, _) = form_text(&t, "GET", "/public/regions/1301109", None, "").await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        // The county official publishes for the county; a village shows it.
        let off = web_login(&t, "off.a").await;
        let form = format!(
            "hotlines={}&visiting={}&assistance={}",
            enc("民政服务热线 0311-12345678"),
            enc("养老机构暂停探视，可视频探望"),
            enc("低保申请可在线提交，一次不用跑")
        );
        let (s, h, _) =
            form_text(&t, "POST", "/regions/130110/public-info", Some(&off), &form).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert!(
            h.get("location")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|l| l.contains("saved"))
        );
        assert_eq!(audit_count(&t, "public.info").await, 1);
        let (_, _, html) = form_text(&t, "GET", "/public/regions/130110100001", None, "").await;
        assert!(
            html.contains("0311-12345678") && html.contains("以下信息由"),
            "{html}"
        );
        // Another county's official, a community worker: refused.
        let off_b = web_login(&t, "off.b").await;
        let (s, _, _) = form_text(
            &t,
            "POST",
            "/regions/130110/public-info",
            Some(&off_b),
            &form,
        )
        .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let cw = web_login(&t, "cw.a").await;
        let (s, _) = page(&t, "/regions/130110100001/public-info", &cw).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        // Script in the texts is shown as text.
        let evil = format!(
            "hotlines={}&visiting=&assistance=",
            enc("<script>alert(1)</script>")
        );
        let (s, _, b) = form_text(
            &t,
            "POST",
            "/regions/130110100/public-info",
            Some(&off),
            &evil,
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER, "{b}");
        let (_, _, html) = form_text(&t, "GET", "/public/regions/130110100", None, "").await;
        assert!(
            !html.contains("<script>alert") && html.contains("script&#62;"),
            "{html}"
        );

        // A staff session is not a public one, and the other way round.
        let (s, h, _) = form_text(&t, "GET", "/public/me", Some(&off), "").await;
        assert_eq!(
            (s, h.get("location").and_then(|v| v.to_str().ok())),
            (StatusCode::SEE_OTHER, Some("/public/login"))
        );

        // A bad number: said so.
        let (s, _, html) = form_text(&t, "POST", "/public/login", None, "phone=12345").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("请输入 11 位手机号码"));
        // Any number gets the same answer (Backstop never looks it up).
        let (s1, _, a) = form_text(&t, "POST", "/public/login", None, "phone=13912345678").await;
        let (s2, _, b) = form_text(&t, "POST", "/public/login", None, "phone=13700001111").await;
        assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
        assert_eq!(
            a.replace("139****5678", "X").replace("13912345678", "Y"),
            b.replace("137****1111", "X").replace("13700001111", "Y")
        );
        // Sent through the SMS gateway; the code is not in the database in clear.
        backstop_app::notify::step(&t.state).await.expect("step");
        let code = last_code(&fake, "13912345678");
        assert_eq!(code.len(), 6);
        assert_eq!(deliveries_containing(&t, &code).await, 0);
        // Another code within the minute: limited, the same for any number.
        let (s, _, _) = form_text(&t, "POST", "/public/login", None, "phone=13912345678").await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);

        // Wrong code: one answer; the right one opens a public session.
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let (s, _, html) = verify(&t, "13912345678", wrong).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("验证码错误或已失效"));
        let (s, h, _) = verify(&t, "13912345678", &code).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let set = h
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .expect("cookie")
            .to_string();
        assert!(
            set.starts_with("backstop_pub=")
                && set.contains("Path=/public")
                && set.contains("HttpOnly"),
            "{set}"
        );
        let cookie = set.split(';').next().expect("pair").to_string();
        let (s, _, html) = form_text(&t, "GET", "/public/me", Some(&cookie), "").await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            html.contains("139****5678") && html.contains("public-me-empty"),
            "{html}"
        );
        // The public cookie opens no staff page.
        let (s, h, _) = form_text(&t, "GET", "/persons", Some(&cookie), "").await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert!(
            h.get("location")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|l| l.starts_with("/login"))
        );
        // The code is spent.
        let (s, _, _) = verify(&t, "13912345678", &code).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

        // Five wrong tries spend a code: then even the right one fails.
        t.clock.advance(chrono::Duration::minutes(2));
        form_text(&t, "POST", "/public/login", None, "phone=13700001111").await;
        backstop_app::notify::step(&t.state).await.expect("step");
        let code = last_code(&fake, "13700001111");
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for _ in 0..5 {
            verify(&t, "13700001111", wrong).await;
        }
        let (s, _, _) = verify(&t, "13700001111", &code).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "over-tried");

        // A flood from one address: the public side answers 429, staff pages keep working.
        let mut limited = 0;
        for _ in 0..130 {
            let (s, _, _) = t.raw_form("GET", "/public", None, "").await;
            if s == StatusCode::TOO_MANY_REQUESTS {
                limited += 1;
            }
        }
        assert!(limited >= 10, "limited {limited}");
        let (s, _) = page(&t, "/", &off).await;
        assert_eq!(s, StatusCode::OK, "staff unaffected");
        // A minute later the public side answers again.
        t.clock.advance(chrono::Duration::seconds(61));
        let (s, _, _) = t.raw_form("GET", "/public", None, "").await;
        assert_eq!(s, StatusCode::OK);
    })
    .await;
}
