//! One fever rule (issue 14 item 10) and home observation from a person (item 1): a 37.9 ℃
//! check-in during home observation alerts the village's community worker the way a gate's
//! 37.3 ℃ entry does (and the four), 37.2 ℃ alerts nobody; the four keepers' phones are in
//! full for the worker responsible for the observation and masked for another role; the
//! person page offers to start an observation and `/observations/new` without a person is a
//! search, not a 404 — on both backends.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{
    T, audit_count, cid, count, created_id, each_backend, keepers, page, web_login,
};

const V1: &str = "130110100001";

/// `(region_code, unit)` of the notifications of a kind, in order.
async fn notes(t: &T, kind: &str) -> Vec<(String, String)> {
    sqlx::query_as("SELECT region_code, unit FROM notifications WHERE kind = $1 ORDER BY id")
        .bind(kind)
        .fetch_all(t.state.db.pool())
        .await
        .expect("notifications")
}

#[tokio::test]
async fn observation_fever_alerts_like_a_gate_and_keeper_phones_for_the_responsible() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let cw_id = t.make_user("f_cw", &["community_worker"], V1).await;
        let cw = t.login("f_cw").await;
        let official = t.user("f_off", &["official"], "130110").await;
        let body =
            json!({"id_number": cid("130110", "19800101", 21), "name": "王五", "region_code": V1});
        let p = created_id(&t, "/api/v1/persons", &cw, body).await;

        // A gate in the same village: 37.3 ℃ alerts the community worker.
        let (s, g) = t
            .post(
                "/api/v1/gates",
                &cw,
                json!({"name": "东门", "region_code": V1}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{g}");
        let gid = g["id"].as_i64().expect("gate");
        let (s, e) = t
            .post(
                &format!("/api/v1/gates/{gid}/entries"),
                &cw,
                json!({"name": "李四", "phone": "13900002222",
                "from": "武汉市", "reason": "返乡", "direction": "in", "temperature": 37.3}),
            )
            .await;
        assert_eq!(
            (s, e["fever"].as_bool()),
            (StatusCode::CREATED, Some(true)),
            "{e}"
        );
        let gate_units: Vec<String> = notes(&t, "entrance_fever")
            .await
            .into_iter()
            .map(|n| n.1)
            .collect();
        assert_eq!(gate_units, vec![format!("user:{cw_id}")]);

        // The official starts the observation; the worker checks in.
        let (s, o) = t
            .post(
                "/api/v1/observations",
                &official,
                json!({"person_id": p, "keepers": keepers()}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{o}");
        let oid = o["id"].as_i64().expect("id");
        // 37.2 ℃ is not a fever anywhere: no alert.
        let (s, _) = t
            .post(
                &format!("/api/v1/observations/{oid}/checkins"),
                &cw,
                json!({"temperature": 372}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert!(notes(&t, "observation_fever").await.is_empty());
        assert_eq!(audit_count(&t, "observation.fever_alert").await, 0);
        // 37.9 ℃: the same recipient the gate alerted, and the four.
        t.clock.advance(chrono::Duration::hours(12));
        let cw = t.login("f_cw").await;
        let official = t.login("f_off").await;
        let (s, c) = t
            .post(
                &format!("/api/v1/observations/{oid}/checkins"),
                &cw,
                json!({"temperature": 379}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{c}");
        let fever = notes(&t, "observation_fever").await;
        let units: Vec<&str> = fever.iter().map(|n| n.1.as_str()).collect();
        assert_eq!(units[0], gate_units[0], "the gate's recipient: {fever:?}");
        assert_eq!(fever.len(), 5, "the worker and the four: {fever:?}");
        let keeper_units = units
            .iter()
            .filter(|u| u.starts_with(&format!("observation:{oid}:keeper:")))
            .count();
        assert_eq!(keeper_units, 4, "{units:?}");
        assert!(fever.iter().all(|n| n.0 == V1));
        let (_, mine) = t.get("/api/v1/notifications", &cw).await;
        let mine: Vec<&Value> = mine
            .as_array()
            .expect("array")
            .iter()
            .filter(|n| n["kind"] == "observation_fever" && n["unit"] == format!("user:{cw_id}"))
            .collect();
        assert_eq!(mine.len(), 1, "{mine:?}");
        let text = mine[0]["body"].as_str().expect("body");
        assert!(
            // No temperature in an observation's message (docs/PRIVACY.md).
            !text.contains("37.9") && text.contains("王*") && !text.contains("王五"),
            "{text}"
        );
        assert_eq!(audit_count(&t, "observation.fever_alert").await, 1);

        // Keepers' phones: in full for the responsible (the one who started it, and the
        // village's community worker), masked for another role.
        for (who, token) in [("starter", &official), ("village worker", &cw)] {
            let (_, o) = t.get(&format!("/api/v1/observations/{oid}"), token).await;
            assert_eq!(o["keepers"][0]["phone"], "13900000000", "{who}: {o}");
            assert_eq!(o["keepers"][0]["phone_masked"], "139****0000");
        }
        let town = t.user("f_town", &["township_staff"], "130110100").await;
        let (s, o) = t.get(&format!("/api/v1/observations/{oid}"), &town).await;
        assert_eq!(s, StatusCode::OK);
        assert!(o["keepers"][0].get("phone").is_none(), "{o}");
        assert!(!o.to_string().contains("13900000000"), "{o}");
        assert_eq!(o["keepers"][0]["phone_masked"], "139****0000");
        let town_cookie = web_login(&t, "f_town").await;
        let (_, body) = page(&t, &format!("/observations/{oid}"), &town_cookie).await;
        assert!(
            body.contains("139****0000") && !body.contains("13900000000"),
            "{body}"
        );
        let cw_cookie = web_login(&t, "f_cw").await;
        let (_, body) = page(&t, &format!("/observations/{oid}"), &cw_cookie).await;
        assert!(body.contains("tel:13900000000"), "{body}");
        assert_eq!(
            count(
                &t,
                "SELECT CAST(COUNT(*) AS BIGINT) FROM observation_keepers"
            )
            .await,
            4
        );
    })
    .await;
}

#[tokio::test]
async fn observation_started_from_the_person_page() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let cw = t.user("f2_cw", &["community_worker"], V1).await;
        let body =
            json!({"id_number": cid("130110", "19800101", 22), "name": "赵六", "region_code": V1});
        let p = created_id(&t, "/api/v1/persons", &cw, body).await;
        let cookie = web_login(&t, "f2_cw").await;
        let (s, body) = page(&t, &format!("/persons/{p}"), &cookie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            body.contains(&format!("/observations/new?person={p}")),
            "{body}"
        );
        // Without a person: a search, not a 404; it finds the person in scope.
        let (s, body) = page(&t, "/observations/new", &cookie).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert!(body.contains("observation-pick"), "{body}");
        let (s, body) = page(&t, "/observations/new?q=%E8%B5%B5%E5%85%AD", &cookie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            body.contains(&format!("/observations/new?person={p}")),
            "{body}"
        );
        let (s, body) = page(&t, &format!("/observations/new?person={p}"), &cookie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(body.contains("observation-form"), "{body}");
        let mut form = format!("person_id={p}&ends_on=&reason=");
        for i in 1..=4 {
            form.push_str(&format!(
                "&role_{i}=r&name_{i}=n{i}&phone_{i}=1380000000{i}"
            ));
        }
        let (s, hd, _) = t
            .raw_form("POST", "/observations", Some(&cookie), &form)
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert!(
            hd.get("location")
                .and_then(|l| l.to_str().ok())
                .is_some_and(|l| l.starts_with("/observations/"))
        );
        assert_eq!(
            count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM observations").await,
            1
        );
    })
    .await;
}
