//! Issue 15, what was left: the notification pages are in the navigation for the roles that
//! may use them (the delivery page for those who manage reports, the escalation rules and the
//! message templates for those who read them), and the incident and report-correction
//! notifications are written from versioned templates like the others (recorded with the
//! template's key and version; an edited template is used by the next message).

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{T, each_backend, page, web_login};

const V1: &str = "130110100001";
const DAY: &str = "2026-03-02";

/// `(title, body, template_key, template_version)` of the notifications of a kind, oldest first.
async fn notes(t: &T, kind: &str) -> Vec<(String, String, Option<String>, Option<i64>)> {
    sqlx::query_as(
        "SELECT title, body, template_key, template_version FROM notifications WHERE kind = $1 ORDER BY id",
    )
    .bind(kind)
    .fetch_all(t.state.db.pool())
    .await
    .expect("notifications")
}

#[tokio::test]
async fn notification_pages_are_in_the_nav_for_whom_may_use_them() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        t.make_user("nav.nat", &["official"], "0").await;
        t.make_user("nav.cw", &["community_worker"], V1).await;
        t.make_user("nav.aud", &["auditor"], "0").await;
        let nat = web_login(&t, "nav.nat").await;
        let (s, home) = page(&t, "/", &nat).await;
        assert_eq!(s, StatusCode::OK);
        for href in [
            "href=\"/notifications/escalation\"",
            "href=\"/notifications/deliveries\"",
        ] {
            assert!(home.contains(href), "the official's nav lacks {href}");
        }
        // Both pages reachable, each marked in the nav, and the templates one step away.
        for p in [
            "/notifications/escalation",
            "/notifications/templates",
            "/notifications/deliveries",
        ] {
            let (s, html) = page(&t, p, &nat).await;
            assert_eq!(s, StatusCode::OK, "{p}");
            assert!(html.contains("aria-current"), "{p} marks its nav entry");
        }
        let (_, esc) = page(&t, "/notifications/escalation", &nat).await;
        assert!(esc.contains("href=\"/notifications/templates\""));
        let (_, tpl) = page(&t, "/notifications/templates", &nat).await;
        assert!(tpl.contains("href=\"/notifications/escalation\""));

        // A community worker reads reports but does not manage them: the settings, not the
        // delivery page; the auditor reads no reports: neither.
        let cw = web_login(&t, "nav.cw").await;
        let (_, home) = page(&t, "/", &cw).await;
        assert!(home.contains("href=\"/notifications/escalation\""));
        assert!(!home.contains("href=\"/notifications/deliveries\""));
        let aud = web_login(&t, "nav.aud").await;
        let (_, home) = page(&t, "/", &aud).await;
        assert!(
            !home.contains("/notifications/"),
            "no notification link for the auditor"
        );
    })
    .await;
}

#[tokio::test]
async fn incident_and_correction_notifications_use_versioned_templates() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let nat = t.user("tv.nat", &["official"], "0").await;
        let cw = t.user("tv.cw", &["community_worker"], V1).await;
        let twn = t.user("tv.twn", &["township_staff"], "130110100").await;
        let incident = |kind: &str| json!({"template": "incident", "unit": V1, "period": DAY,
            "values": {"event_kind": kind, "occurred_at": "08:10", "place": "村口", "people_affected": 1, "measures": "寻找"}});

        // Version 1, built in: the same text as before, recorded with its key and version.
        let (s, r) = t.post("/api/v1/reports", &cw, incident("走失")).await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
        let first = notes(&t, "incident").await;
        assert!(!first.is_empty());
        for (title, body, key, version) in &first {
            assert!(title.starts_with("即报：") && title.contains("（走失）"), "{title}");
            assert!(body.contains(&format!("报告编号 {}", r["id"])), "{body}");
            assert_eq!((key.as_deref(), *version), (Some("incident_report"), Some(1)));
        }

        // A national official edits it; an unknown field is refused; the next one uses v2.
        let path = "/api/v1/notifications/templates/incident_report";
        let (s, e) = t.call("PUT", path, Some(&nat), Some(json!({"title": "即报 {unit}", "body": "{measures}"}))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let (s, v) = t.call("PUT", path, Some(&nat),
            Some(json!({"title": "突发事件即报：{unit}", "body": "{event}，《{form}》编号 {id}，请及时处置。"}))).await;
        assert_eq!((s, v["current"]["version"].as_i64()), (StatusCode::OK, Some(2)), "{v}");
        let (s, r2) = t.post("/api/v1/reports", &cw, incident("物资短缺")).await;
        assert_eq!(s, StatusCode::CREATED, "{r2}");
        let all = notes(&t, "incident").await;
        let second = &all[first.len()..];
        assert_eq!(second.len(), first.len(), "every level above told again");
        for (title, body, key, version) in second {
            assert!(title.starts_with("突发事件即报："), "{title}");
            assert!(body.starts_with("物资短缺，《") && body.ends_with(&format!("编号 {}，请及时处置。", r2["id"])), "{body}");
            assert_eq!((key.as_deref(), *version), (Some("incident_report"), Some(2)));
        }

        // A report corrected by the township: the unit's notification from `report_corrected`.
        let vb = |n: i64| json!({"template": "village_daily", "unit": V1, "period": DAY, "values": {
            "households_screened": 10 * n, "people_screened": 30 * n, "close_contacts": n, "home_observation": n,
            "released": 0, "fever_referred": 1, "entrance_registrations": 5, "volunteers_on_duty": 2, "notes": "正常"}});
        let (s, _) = t.post("/api/v1/reports", &cw, vb(1)).await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, _) = t.post("/api/v1/reports", &twn, vb(2)).await;
        assert_eq!(s, StatusCode::OK);
        let told = notes(&t, "report_corrected").await;
        assert_eq!(told.len(), 1, "{told:?}");
        let (title, body, key, version) = &told[0];
        assert!(title.starts_with("报表已被上级更正："), "{title}");
        assert!(body.contains("由 tv.twn 更正") && body.contains("更正项："), "{body}");
        assert_eq!((key.as_deref(), *version), (Some("report_corrected"), Some(1)));
    })
    .await;
}
