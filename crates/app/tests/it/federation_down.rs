//! Issue 20, on every backend (the province) with a county on SQLite, linked over HTTP: an
//! incident's handling at the county goes up and is recorded at the province once, however
//! often it is sent; the province's assistance standard and emergency period for the province
//! come down, take effect at the county (the standard in force, the period listed and in
//! force), cannot be changed there, and the province's later end of the period reaches it; the
//! sibling county's period does not come down. A report made at the county on a form version the
//! province has since replaced is accepted against the version it used, and marked. The
//! province's public information pages for the province and the county come down, show on the
//! county's public pages (the county's staff page shows them read-only) and cannot be edited
//! there.

use axum::http::StatusCode;
use serde_json::json;

use crate::federation::{actor, county_for, linked, lose_answers, sync};
use crate::support::{T, audit_count, count, each_backend};

#[tokio::test]
async fn incident_handling_goes_up_and_assistance_policy_comes_down() {
    each_backend(|parent: T| async move {
        let (county, issued) = county_for(&parent).await;
        let up = linked(&parent, &county, &issued).await;
        let off_c = county.user("off.c", &["official"], "130110").await;
        let off_p = parent.user("off.p", &["official"], "130110").await;

        // Up: two incidents of one village on one day and, later, the second one's handling.
        let mut incs = Vec::new();
        for (place, n) in [("村委会", 3), ("卫生室", 5)] {
            let (s, inc) = county
                .post("/api/v1/reports", &off_c, json!({"template": "incident",
                    "unit": "130110100003", "period": "2026-03-02", "values": {"event_kind": "物资短缺",
                    "occurred_at": "2026-03-02 09:00", "place": place, "people_affected": n,
                    "measures": "已联系乡镇"}}))
                .await;
            assert_eq!(s, StatusCode::CREATED, "{inc}");
            incs.push(inc);
        }
        let inc = &incs[1];
        let r = sync(&county).await;
        assert_eq!((r.applied, r.error.as_deref()), (2, None), "{r:?}");
        let (_, open) = parent.get("/api/v1/incidents?open=true", &off_p).await;
        assert_eq!(open.as_array().map(Vec::len), Some(2), "{open}");
        let (s, acked) = county
            .post(
                &format!("/api/v1/incidents/{}/ack", inc["id"]),
                &off_c,
                json!({"handling": "已调拨口罩两箱"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{acked}");
        let r = sync(&county).await;
        assert_eq!((r.applied, r.rejected, r.pending), (1, 0, 0), "{r:?}");
        let (_, open) = parent.get("/api/v1/incidents?open=true", &off_p).await;
        assert_eq!(
            open.as_array().map(Vec::len),
            Some(1),
            "the first incident of the day is still open: {open}"
        );
        assert_eq!(open[0]["values"]["place"].as_str(), Some("村委会"), "{open}");
        let (_, all) = parent.get("/api/v1/incidents", &off_p).await;
        let all: Vec<serde_json::Value> = all
            .as_array()
            .into_iter()
            .flatten()
            .filter(|i| !i["ack"].is_null())
            .cloned()
            .collect();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0]["values"]["place"].as_str(), Some("卫生室"), "the one acknowledged");
        let handling = all[0]["ack"]["handling"].as_str().unwrap_or_default();
        assert!(
            handling.contains("已调拨口罩两箱")
                && handling.contains("off.c")
                && handling.contains("鹿泉区民政局"),
            "{all:?}"
        );
        assert_eq!(
            all[0]["ack"]["by"].as_str(),
            Some(format!("node:{}", issued.node.id).as_str())
        );
        // Everything sent again: the handling is recorded once, answered duplicate.
        lose_answers(&county).await;
        let r = sync(&county).await;
        assert_eq!((r.applied, r.duplicate, r.rejected), (0, 3, 0), "{r:?}");
        assert_eq!(
            count(
                &parent,
                "SELECT CAST(COUNT(*) AS BIGINT) FROM incident_acks"
            )
            .await,
            1
        );
        assert_eq!(audit_count(&parent, "incident.acknowledge").await, 1);

        // A form version the county has not yet received: the province's own form comes down
        // (version 1), the county reports on it while the province adds a required field
        // (version 2); the sync takes version 2 first, then sends the report, which the province
        // accepts against version 1 and says so.
        let prov = parent.user("off.prov", &["official"], "13").await;
        let (_, mut form) = parent.get("/api/v1/report-templates/village_daily", &prov).await;
        form["key"] = json!("hb_daily");
        form["name"] = json!("河北省村（社区）日报");
        form["scope"] = json!("13");
        let (s, v1) = parent.post("/api/v1/report-templates", &prov, form.clone()).await;
        assert_eq!((s, v1["version"].as_i64()), (StatusCode::CREATED, Some(1)), "{v1}");
        let r = sync(&county).await;
        assert_eq!(r.forms, 1, "{r:?}");
        let (s, e) = county
            .post("/api/v1/reports", &off_c, json!({"template": "hb_daily",
                "unit": "130110100001", "period": "2026-03-02", "values": {
                "households_screened": 4, "people_screened": 12, "close_contacts": 0,
                "home_observation": 0, "released": 0, "fever_referred": 0}}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{e}");
        form["fields"]
            .as_array_mut()
            .expect("fields")
            .push(json!({"key": "masks_days", "label": "口罩可用天数", "type": "integer",
                "required": true}));
        let (s, v2) = parent.post("/api/v1/report-templates", &prov, form).await;
        assert_eq!((s, v2["version"].as_i64()), (StatusCode::CREATED, Some(2)), "{v2}");
        let r = sync(&county).await;
        assert_eq!((r.forms, r.applied, r.rejected), (1, 1, 0), "{r:?}");
        assert_eq!(
            count(&parent, "SELECT template_version FROM report_submissions WHERE template_key = 'hb_daily'").await,
            1,
            "accepted against the version the county used"
        );
        let note: Option<String> = sqlx::query_scalar(
            "SELECT result_message FROM fed_outbox WHERE event_key LIKE 'report:%' AND result_message IS NOT NULL",
        )
        .fetch_optional(county.state.db.pool())
        .await
        .expect("note");
        assert!(note.as_deref().is_some_and(|n| n.contains("第 1 版")), "{note:?}");

        // Down: the province's standard and emergency period for the whole province reach the
        // county; the sibling county's period does not.
        let off_b = parent.user("off.b", &["official"], "130111").await;
        let today = parent.state.today().format("%Y-%m-%d").to_string();
        let (s, st) = parent
            .post(
                "/api/v1/assistance/standards",
                &prov,
                json!({"region_code": "13",
                "programme": "dibao", "area_kind": "rural", "component": "base",
                "amount": "612.00", "effective_from": today}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{st}");
        let period = |name: &str, region: &str| {
            json!({"region_code": region, "name": name,
            "starts_on": today, "ends_on": "2099-12-31", "measures": ["aid_first", "freeze_exits"]})
        };
        let (s, ep) = parent
            .post(
                "/api/v1/assistance/emergencies",
                &prov,
                period("河北省疫情应急期", "13"),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{ep}");
        let (s, e) = parent
            .post(
                "/api/v1/assistance/emergencies",
                &off_b,
                period("栾城区应急期", "130111"),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{e}");
        let r = sync(&county).await;
        assert_eq!(
            (r.standards, r.emergencies, r.error.as_deref()),
            (1, 1, None),
            "{r:?}"
        );

        let (_, stds) = county
            .get("/api/v1/assistance/standards?region=130110", &off_c)
            .await;
        let std = stds
            .as_array()
            .and_then(|a| a.iter().find(|s| s["region_code"] == "13"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            (std["amount_fen"].as_i64(), std["origin"].as_str()),
            (Some(61_200), Some("parent")),
            "{stds}"
        );
        let region = backstop_core::region::RegionCode::parse("130110100003").expect("code");
        let in_force = backstop_app::assistance::standards::in_force(
            &county.state,
            &region,
            backstop_core::Programme::Dibao,
            "rural",
            "base",
            county.state.today(),
        )
        .await
        .expect("in force");
        assert_eq!(
            in_force.map(|f| f.amount.0),
            Some(61_200),
            "the county computes with the province's standard"
        );
        let (_, eps) = county.get("/api/v1/assistance/emergencies", &off_c).await;
        let names: Vec<&str> = eps
            .as_array()
            .map(|a| a.iter().filter_map(|p| p["name"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(names, vec!["河北省疫情应急期"], "{eps}");
        assert_eq!(eps[0]["origin"].as_str(), Some("parent"));
        let force = backstop_app::assistance::emergency::in_force(
            &county.state,
            &region,
            county.state.today(),
        )
        .await
        .expect("in force");
        assert_eq!(force.map(|p| p.name), Some("河北省疫情应急期".to_string()));
        // The county cannot change or end it.
        let local = eps[0]["id"].as_i64().unwrap_or_default();
        let (s, e) = county
            .call(
                "PUT",
                &format!("/api/v1/assistance/emergencies/{local}"),
                Some(&off_c),
                Some(period("县里改的", "13")),
            )
            .await;
        assert_eq!(
            (s, e["code"].as_str()),
            (StatusCode::CONFLICT, Some("conflict")),
            "{e}"
        );
        assert!(
            e["message"]
                .as_str()
                .unwrap_or_default()
                .contains("上级部署下发"),
            "{e}"
        );
        let (s, _) = county
            .post(
                &format!("/api/v1/assistance/emergencies/{local}/end"),
                &off_c,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT);
        let r = sync(&county).await;
        assert_eq!(
            (r.standards, r.emergencies),
            (0, 0),
            "taking the same again changes nothing"
        );

        // The province ends it; the end reaches the county.
        let (s, e) = parent
            .post(
                &format!("/api/v1/assistance/emergencies/{}/end", ep["id"]),
                &prov,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{e}");
        let r = sync(&county).await;
        assert_eq!(r.emergencies, 1, "{r:?}");
        let (_, eps) = county.get("/api/v1/assistance/emergencies", &off_c).await;
        assert_eq!(eps[0]["status"].as_str(), Some("ended"), "{eps}");
        assert!(
            backstop_app::assistance::emergency::in_force(
                &county.state,
                &region,
                county.state.today()
            )
            .await
            .expect("in force")
            .is_none()
        );
        assert_eq!(
            audit_count(&county, "assistance.emergency_from_parent").await,
            2
        );
        assert_eq!(
            audit_count(&county, "assistance.standard_from_parent").await,
            1
        );

        // Public information pages: the province's for the province and for the county come
        // down (the sibling county's does not); the county's villages show them; the county
        // cannot edit the one the province wrote for it, and keeps writing its towns' own.
        use backstop_app::public::{PublicInfo, info_for, staff::set_info};
        let text = |region: &str, hotlines: &str| PublicInfo {
            region_code: region.into(),
            hotlines: hotlines.into(),
            visiting: String::new(),
            assistance: String::new(),
        };
        let prov_actor = actor("off.prov", "official", "13");
        for (region, hotlines) in [("13", "河北省民政厅 0311-87654321"), ("130110", "鹿泉区民政局 0311-82012345"),
            ("130111", "栾城区民政局 0311-85000000")] {
            set_info(&parent.state, &prov_actor, &text(region, hotlines)).await.expect("set info");
        }
        let r = sync(&county).await;
        assert_eq!((r.public_pages, r.error.as_deref()), (2, None), "{r:?}");
        let shown = |code: &str| {
            let state = county.state.clone();
            let code = backstop_core::region::RegionCode::parse(code).expect("code");
            async move { info_for(&state, &code).await.expect("info").map(|i| i.hotlines) }
        };
        assert_eq!(shown("130110100001").await.as_deref(), Some("鹿泉区民政局 0311-82012345"));
        assert_eq!(shown("130111100003").await.as_deref(), Some("河北省民政厅 0311-87654321"), "not the sibling's");
        let county_actor = actor("off.c", "official", "130110");
        let e = set_info(&county.state, &county_actor, &text("130110", "县里改的"))
            .await
            .expect_err("the province's");
        assert_eq!(e.code, backstop_core::error::ErrorCode::Conflict, "{e:?}");
        set_info(&county.state, &county_actor, &text("130110100", "获鹿镇 0311-82000000"))
            .await
            .expect("the county's own town");
        assert_eq!(shown("130110100001").await.as_deref(), Some("获鹿镇 0311-82000000"));
        let r = sync(&county).await;
        assert_eq!(r.public_pages, 0, "taking the same again changes nothing");
        county.make_user("off.cp", &["official"], "130110").await;
        let cookie = crate::support::web_login(&county, "off.cp").await;
        let (s, html) = crate::support::page(&county, "/regions/130110/public-info", &cookie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            html.contains("public-info-from-parent") && !html.contains("public-info-form"),
            "read-only at the county"
        );
        let (_, html) = crate::support::page(&county, "/regions/130110100/public-info", &cookie).await;
        assert!(html.contains("public-info-form"), "its own town stays editable");
        up.abort();
        county.state.db.close().await;
    })
    .await;
}
