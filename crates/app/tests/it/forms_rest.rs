//! The last page forms onto the one way of showing a refused form again (issue 14, item 2;
//! `kernel::form::Kept`): the user creation and edit forms of the accounts pages, and the
//! answer and close forms of a shortage request (on the county's list and on the institution's
//! page) come back inside the layout with what was typed and the reason beside the field —
//! never the password — and nothing is stored.

use axum::http::StatusCode;
use serde_json::json;

use crate::forms::{assert_kept, post_pairs};
use crate::support::{T, count, created_id, each_backend, org_user, page, web_login};

const V1: &str = "130110100001";

#[tokio::test]
async fn user_forms_keep_the_input_and_never_the_password() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        t.user("uf.off", &["official"], "130110").await;
        let c = web_login(&t, "uf.off").await;
        let users = "SELECT CAST(COUNT(*) AS BIGINT) FROM users";
        let before = count(&t, users).await;

        // A password too weak: everything else kept, the password not echoed.
        let weak = "Ab1-weak";
        let (s, html) = post_pairs(
            &t,
            "/users",
            &c,
            &[
                ("username", "uf.new"),
                ("display_name", "新用户甲"),
                ("phone", "13912345670"),
                ("password", weak),
                ("roles", "community_worker"),
                ("region_code", V1),
                ("org_id", ""),
            ],
        )
        .await;
        assert_kept(
            s,
            &html,
            &["uf.new", "新用户甲", "13912345670", V1],
            "密码",
            "password",
        );
        assert!(!html.contains(weak), "the password is never shown again");
        assert!(
            html.contains("value=\"community_worker\" id=\"role-community_worker\" checked"),
            "role kept: {html}"
        );
        // A region outside the scope: said beside the region, as 422.
        let (s, html) = post_pairs(
            &t,
            "/users",
            &c,
            &[
                ("username", "uf.new"),
                ("display_name", "新用户乙"),
                ("password", "a-Long-enough-passw0rd!"),
                ("roles", "community_worker"),
                ("region_code", "130111"),
                ("org_id", ""),
            ],
        )
        .await;
        assert_kept(
            s,
            &html,
            &["新用户乙", "130111"],
            "不在您的管辖范围内",
            "region_code",
        );
        assert_eq!(count(&t, users).await, before, "nothing stored");

        // The edit form: a name too long and a malformed phone, each beside its field.
        let uid = t.make_user("uf.cw", &["community_worker"], V1).await;
        let long = "名".repeat(51);
        let (s, html) = post_pairs(
            &t,
            &format!("/users/{uid}"),
            &c,
            &[
                ("display_name", &long),
                ("phone", ""),
                ("roles", "community_worker"),
                ("region_code", V1),
                ("org_id", ""),
                ("disabled", "1"),
            ],
        )
        .await;
        assert_kept(s, &html, &[&long], "姓名", "display_name");
        assert!(
            html.contains("id=\"user-disabled\" checked"),
            "the ticked box kept: {html}"
        );
        let (s, html) = post_pairs(
            &t,
            &format!("/users/{uid}"),
            &c,
            &[
                ("display_name", "网格员丙"),
                ("phone", "12345"),
                ("roles", "community_worker"),
                ("region_code", V1),
                ("org_id", ""),
            ],
        )
        .await;
        assert_kept(s, &html, &["网格员丙", "12345"], "手机", "phone");
        let (s, html) = post_pairs(
            &t,
            &format!("/users/{uid}"),
            &c,
            &[
                ("display_name", "网格员丙"),
                ("roles", "community_worker"),
                ("region_code", "130111"),
                ("org_id", ""),
            ],
        )
        .await;
        assert_kept(
            s,
            &html,
            &["网格员丙", "130111"],
            "不在您的管辖范围内",
            "region_code",
        );
        let (_, shown) = page(&t, &format!("/users/{uid}"), &c).await;
        assert!(
            !shown.contains("网格员丙") && !shown.contains("已停用"),
            "nothing stored"
        );
    })
    .await;
}

#[tokio::test]
async fn shortage_answer_and_close_keep_the_input() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let off = t.user("sf.off", &["official"], "130110").await;
        let home = created_id(
            &t,
            "/api/v1/orgs",
            &off,
            json!({"name": "获鹿镇敬老院", "kind": "elderly_care", "region_code": "130110100"}),
        )
        .await;
        let rep = org_user(&t, "sf.rep", &["institution_reporter"], "130110100", home).await;
        let sid = created_id(
            &t,
            &format!("/api/v1/institutions/{home}/shortages"),
            &rep,
            json!({"item": "masks", "quantity": 3000, "note": ""}),
        )
        .await;
        let c = web_login(&t, "sf.off").await;
        let answer = format!("/institutions/shortages/{sid}/answer");

        // On the county's list (its filter kept): an answer too long, kept beside the field.
        let long = "已协调".repeat(400);
        let (s, html) = post_pairs(
            &t,
            &answer,
            &c,
            &[
                ("answer", &long),
                ("back", "/institutions/shortages?status=open"),
            ],
        )
        .await;
        assert_kept(s, &html, &[&long], "答复", "answer");
        assert!(html.contains("物资短缺申请"), "the list page: {html}");
        // On the institution's page: the same, that page again.
        let (s, html) = post_pairs(
            &t,
            &answer,
            &c,
            &[
                ("answer", &long),
                ("back", &format!("/institutions/{home}")),
            ],
        )
        .await;
        assert_kept(s, &html, &[&long], "答复", "answer");
        assert!(
            html.contains("id=\"inst-title\""),
            "the institution page: {html}"
        );
        let open = "SELECT CAST(COUNT(*) AS BIGINT) FROM inst_shortages WHERE status = 'open'";
        assert_eq!(count(&t, open).await, 1, "nothing stored");

        // Sent right: back where it came from.
        let (s, h, _) = t
            .raw_form(
                "POST",
                &answer,
                Some(&c),
                &crate::forms::enc(&[
                    ("answer", "已调拨"),
                    ("back", &format!("/institutions/{home}")),
                ]),
            )
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert_eq!(
            h.get("location").and_then(|v| v.to_str().ok()),
            Some(format!("/institutions/{home}").as_str())
        );
        // Only institution pages are a way back (never an open redirect).
        let (s, h, _) = t
            .raw_form(
                "POST",
                &answer,
                Some(&c),
                &crate::forms::enc(&[
                    ("answer", "再次答复"),
                    ("back", "//evil.example/institutions"),
                ]),
            )
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert_eq!(
            h.get("location").and_then(|v| v.to_str().ok()),
            Some("/institutions/shortages")
        );
        // Closed twice: the second is a conflict said in its row, on the list.
        let close = format!("/institutions/shortages/{sid}/close");
        let (s, _, _) = t
            .raw_form("POST", &close, Some(&c), "back=%2Finstitutions%2Fshortages")
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (s, html) = post_pairs(&t, &close, &c, &[("back", "/institutions/shortages")]).await;
        assert_eq!(s, StatusCode::CONFLICT, "{html}");
        assert!(
            html.contains("该申请已关闭") && html.contains("我的账户"),
            "{html}"
        );
    })
    .await;
}
