//! Issue 20, on every backend (the province) with a county on SQLite: the county's
//! organisations go up (those kept before registration first, then each one made, corrected or
//! disabled), become the province's own — the one the province already keeps with the same
//! region, name and kind, else a new one made as the node — and the county's institutions'
//! daily reports then count at the province exactly as at the county: received, expected and
//! sums. Everything sent again changes nothing; a report of an organisation the province has
//! not received is rejected with the reason.

use axum::http::StatusCode;
use backstop_app::federation;
use serde_json::{Value, json};

use crate::federation::{actor, county_for, linked, lose_answers, send, sync};
use crate::support::{T, audit_count, count, each_backend};

/// (received, expected, residents) of the institutions' daily report for 鹿泉区.
async fn institutions(t: &T, tok: &str) -> (i64, i64, i64) {
    let (s, sm) = t
        .get(
            "/api/v1/reports/summary?template=institution_daily&period=2026-03-02&region=130110",
            tok,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{sm}");
    (
        sm["received"].as_i64().unwrap_or(-1),
        sm["expected"].as_i64().unwrap_or(-1),
        sm["sums"]["residents"].as_i64().unwrap_or(-1),
    )
}

fn org(name: &str, kind: &str, region: &str) -> Value {
    json!({"name": name, "kind": kind, "region_code": region, "contact_person": "李四",
        "contact_phone": "0311-82012345", "address": "获鹿镇"})
}

#[tokio::test]
async fn organisations_go_up_and_their_institutions_report_as_if_direct() {
    each_backend(|parent: T| async move {
        let (county, issued) = county_for(&parent).await;
        let off_p = parent.user("off.p", &["official"], "130110").await;
        let off_c = county.user("off.c", &["official"], "130110").await;
        // The province already keeps the town's old people's home.
        let (s, e) = parent
            .post(
                "/api/v1/orgs",
                &off_p,
                org("获鹿镇敬老院", "elderly_care", "130110100"),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{e}");
        // The county keeps it too, and a children's home, before it has a parent.
        let mut ids = Vec::new();
        for (name, kind, region) in [
            ("获鹿镇敬老院", "elderly_care", "130110100"),
            ("鹿泉区儿童福利院", "child_welfare", "130110"),
        ] {
            let (s, o) = county
                .post("/api/v1/orgs", &off_c, org(name, kind, region))
                .await;
            assert_eq!(s, StatusCode::CREATED, "{o}");
            ids.push(o["id"].as_i64().expect("id"));
        }
        let up = linked(&parent, &county, &issued).await;
        let sec_c = actor("sec.c", "secadmin", "130110");
        let link = federation::child::status(&county.state, &sec_c)
            .await
            .expect("status");
        assert_eq!(link.pending, 2, "the organisations kept so far are queued");
        let (s, o) = county
            .post(
                "/api/v1/orgs",
                &off_c,
                org("获鹿镇光荣院", "elderly_care", "130110100"),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{o}");
        ids.push(o["id"].as_i64().expect("id"));

        let vals = |residents: i64| {
            json!({"residents": residents, "staff_on_duty": 9,
            "closed_management": "是", "new_admissions": 0, "resident_fever": 0, "staff_fever": 0,
            "suspected": 0, "confirmed": 0, "isolated": 0, "mask_days": 5})
        };
        for (id, residents) in [(ids[0], 108), (ids[1], 40)] {
            let (s, r) = county
                .post(
                    "/api/v1/reports",
                    &off_c,
                    json!({"template": "institution_daily",
                    "unit": id, "period": "2026-03-02", "values": vals(residents)}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{r}");
        }
        let r = sync(&county).await;
        assert_eq!(
            (r.applied, r.rejected, r.error.as_deref()),
            (5, 0, None),
            "{r:?}"
        );
        let at_county = institutions(&county, &off_c).await;
        assert_eq!(at_county, (2, 3, 148));
        assert_eq!(
            institutions(&parent, &off_p).await,
            at_county,
            "as if reported directly"
        );
        assert_eq!(
            count(
                &parent,
                "SELECT CAST(COUNT(*) AS BIGINT) FROM orgs WHERE name = '获鹿镇敬老院'"
            )
            .await,
            1,
            "the province's own home is matched, not doubled"
        );
        assert_eq!(
            audit_count(&parent, "org.create").await,
            3,
            "one by the province, two by the node"
        );

        // Corrected and disabled at the county: the same at the province.
        let (s, e) = county
            .call(
                "PATCH",
                &format!("/api/v1/orgs/{}", ids[2]),
                Some(&off_c),
                Some(json!({"name": "获鹿镇光荣院（新址）"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{e}");
        let (s, e) = county
            .post(
                &format!("/api/v1/orgs/{}/disable", ids[1]),
                &off_c,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{e}");
        let r = sync(&county).await;
        assert_eq!((r.applied, r.rejected), (2, 0), "{r:?}");
        assert_eq!(
            count(
                &parent,
                "SELECT CAST(COUNT(*) AS BIGINT) FROM orgs WHERE name = '获鹿镇光荣院（新址）'"
            )
            .await,
            1
        );
        let at_county = institutions(&county, &off_c).await;
        assert_eq!(
            at_county.1, 2,
            "a disabled institution is no longer expected"
        );
        assert_eq!(institutions(&parent, &off_p).await, at_county);

        // Everything sent again: nothing changes.
        lose_answers(&county).await;
        let orgs_before = count(&parent, "SELECT CAST(COUNT(*) AS BIGINT) FROM orgs").await;
        let r = sync(&county).await;
        assert_eq!(r.rejected, 0, "{r:?}");
        assert_eq!(
            count(&parent, "SELECT CAST(COUNT(*) AS BIGINT) FROM orgs").await,
            orgs_before
        );
        assert_eq!(institutions(&parent, &off_p).await, at_county);

        // A report of an organisation the province never received is rejected, with why.
        let (s, a) = send(
            &parent,
            &issued.credential,
            json!([{"key": "stray", "kind": "report.submit",
            "body": {"template": "institution_daily", "unit": "org:999999", "period": "2026-03-02",
                "values": vals(1)}}]),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{a}");
        assert_eq!(a["results"][0]["status"].as_str(), Some("rejected"), "{a}");
        assert!(
            a["results"][0]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("尚未同步"),
            "{a}"
        );
        up.abort();
        county.state.db.close().await;
    })
    .await;
}
