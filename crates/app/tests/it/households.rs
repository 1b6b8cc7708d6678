//! Households from the pages and the API (issue 14, item 1): a worker creates a household from
//! a person's page with that person as head, adds the village's people who are in no household
//! yet, changes a relationship, moves a person from another household only when asked, keeps
//! one head and one region, corrects the address and takes a member out — each audited, each
//! refusal a Chinese message with the input kept — on both backends.

use axum::http::StatusCode;
use backstop_app::kernel::web::encode_query_value;
use serde_json::json;

use crate::support::{T, audit_count, created_id, each_backend, page, web_login};

const V1: &str = "130110100001";
const V2: &str = "130110100002";

#[tokio::test]
async fn a_worker_builds_households_from_the_pages() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let cw = t.user("h_cw", &["community_worker"], "130110100").await;
        let mut ids = Vec::new();
        for (name, region) in [
            ("户主甲", V1),
            ("配偶乙", V1),
            ("孩子丙", V1),
            ("外村丁", V2),
        ] {
            ids.push(
                created_id(
                    &t,
                    "/api/v1/persons",
                    &cw,
                    json!({"name": name, "region_code": region}),
                )
                .await,
            );
        }
        let (head, spouse, child, other_village) = (ids[0], ids[1], ids[2], ids[3]);
        let cookie = web_login(&t, "h_cw").await;

        // From the person's page: "新建家庭户（本人为户主）".
        let (_, html) = page(&t, &format!("/persons/{head}"), &cookie).await;
        assert!(
            html.contains(&format!("/households/new?person={head}")),
            "{html}"
        );
        let (s, html) = page(&t, &format!("/households/new?person={head}"), &cookie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            html.contains("户主甲") && html.contains(V1),
            "region taken from the person"
        );
        // A bad region re-renders the form with the address kept.
        let (s, _, body) = t
            .raw_form(
                "POST",
                "/households",
                Some(&cookie),
                &format!(
                    "region_code=12x&address={}&person={head}",
                    encode_query_value("三组 12 号")
                ),
            )
            .await;
        let html = String::from_utf8_lossy(&body);
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
        assert!(
            html.contains("三组 12 号") && html.contains("区划代码"),
            "{html}"
        );
        let (s, h, _) = t
            .raw_form(
                "POST",
                "/households",
                Some(&cookie),
                &format!(
                    "region_code={V1}&address={}&person={head}",
                    encode_query_value("三组 12 号")
                ),
            )
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let at = h
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("location")
            .to_string();
        let hid: i64 = at
            .trim_start_matches("/households/")
            .parse()
            .expect("household id");

        // The household's page offers the village's people in no household (not the other
        // village's, not the head).
        let (_, html) = page(&t, &at, &cookie).await;
        assert!(
            html.contains(&format!("candidate-add-{spouse}"))
                && html.contains(&format!("candidate-add-{child}")),
            "{html}"
        );
        assert!(
            !html.contains(&format!("candidate-add-{other_village}"))
                && !html.contains(&format!("candidate-add-{head}"))
        );
        for (pid, rel) in [(spouse, "spouse"), (child, "child")] {
            let (s, _, _) = t
                .raw_form(
                    "POST",
                    &format!("{at}/members"),
                    Some(&cookie),
                    &format!("person_id={pid}&relationship={rel}"),
                )
                .await;
            assert_eq!(s, StatusCode::SEE_OTHER);
        }
        let (_, hh) = t.get(&format!("/api/v1/households/{hid}"), &cw).await;
        let rels: Vec<(&str, &str)> = hh["members"]
            .as_array()
            .expect("members")
            .iter()
            .map(|m| {
                (
                    m["name"].as_str().unwrap_or(""),
                    m["relationship"].as_str().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(
            rels,
            [
                ("户主甲", "head"),
                ("配偶乙", "spouse"),
                ("孩子丙", "child")
            ]
        );

        // One head; refusals keep the choice and say why in Chinese.
        let (s, _, body) = t
            .raw_form(
                "POST",
                &format!("{at}/members"),
                Some(&cookie),
                &format!("person_id={child}&relationship=head"),
            )
            .await;
        let html = String::from_utf8_lossy(&body);
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            html.contains("只能有一个户主") && html.contains(&format!("value=\"{child}\"")),
            "{html}"
        );
        let (s, b) = t
            .post(
                &format!("/api/v1/households/{hid}/members"),
                &cw,
                json!({"person_id": head, "relationship": "妻子"}),
            )
            .await;
        assert_eq!(
            (s, b["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("validation")),
            "{b}"
        );
        assert!(
            b["message"].as_str().unwrap_or("").contains("与户主关系"),
            "{b}"
        );

        // A second household: taking the child needs "从原户移出"; then it is moved.
        let h2 = created_id(
            &t,
            "/api/v1/households",
            &cw,
            json!({"region_code": V1, "address": "四组"}),
        )
        .await;
        let (s, b) = t
            .post(
                &format!("/api/v1/households/{h2}/members"),
                &cw,
                json!({"person_id": child, "relationship": "head"}),
            )
            .await;
        assert_eq!(
            (s, b["code"].as_str()),
            (StatusCode::CONFLICT, Some("conflict")),
            "{b}"
        );
        let (s, b) = t
            .post(
                &format!("/api/v1/households/{h2}/members"),
                &cw,
                json!({"person_id": child, "relationship": "head", "move_from_other": true}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let (_, first) = t.get(&format!("/api/v1/households/{hid}"), &cw).await;
        assert_eq!(first["members"].as_array().map(Vec::len), Some(2));

        // Address corrected; a member taken out (still on record, in no household).
        let (s, _, _) = t
            .raw_form(
                "POST",
                &at,
                Some(&cookie),
                &format!("address={}", encode_query_value("三组 14 号")),
            )
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (s, b) = t
            .call(
                "DELETE",
                &format!("/api/v1/households/{hid}/members/{spouse}"),
                Some(&cw),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(
            (b["address"].as_str(), b["members"].as_array().map(Vec::len)),
            (Some("三组 14 号"), Some(1))
        );
        let (_, p) = t.get(&format!("/api/v1/persons/{spouse}"), &cw).await;
        assert!(p["household_id"].is_null(), "{p}");
        let (_, list) = t.get("/api/v1/households", &cw).await;
        assert_eq!(list["total"], 2, "{list}");

        for (action, n) in [
            ("household.create", 2),
            ("household.add_member", 3),
            ("household.remove_member", 2),
            ("household.update", 1),
        ] {
            assert_eq!(audit_count(&t, action).await, n, "{action}");
        }
        // Out of scope: another village's worker reads nothing.
        let v2 = t.user("h_v2", &["community_worker"], V2).await;
        let (s, _) = t.get(&format!("/api/v1/households/{hid}"), &v2).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    })
    .await;
}
