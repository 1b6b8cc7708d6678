//! Issue 15, items 1–2 (delivery), on every backend, against a fake gateway the test starts (a
//! local HTTP server that deduplicates on the delivery key, as the docs ask gateways to do):
//! a notification reaches the webhook signed and keyed; a 500 then a success is sent once; a
//! timeout after the gateway took the message leaves exactly one message; a refusal fails at
//! once and is listed, and can be sent again; eight failures give up; an institution's SMS
//! goes to its contact phone, masked in every list; the lists are scoped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use backstop_app::Config;
use backstop_app::notify::{self, Gateways, SmsGateway, WebhookGateway};
use serde_json::{Value, json};

use crate::support::{T, each_backend_with};

const SECRET: &str = "test-webhook-secret";

/// What the fake gateway answers next, and what it has received.
#[derive(Default)]
pub(crate) struct Fake {
    /// Answers in order (then 200): a status, or `0` for "take the message, then answer too
    /// late" (a timeout after the gateway already has it), or `1` for "take it and never
    /// answer" (the sender is cut off by the test, not by its timeout).
    pub(crate) script: Vec<u16>,
    /// Every request: path, key header, signature header, body.
    pub(crate) seen: Vec<(String, String, String, Value)>,
    /// Messages taken, by key (a gateway that deduplicates sends each once).
    pub(crate) taken: HashMap<String, Value>,
}

pub(crate) type Shared = Arc<Mutex<Fake>>;

async fn take(
    State(f): State<Shared>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let next = {
        let mut g = f.lock().expect("fake");
        g.seen.push((
            uri.path().to_string(),
            h("idempotency-key"),
            h("x-backstop-signature"),
            v.clone(),
        ));
        let next = if g.script.is_empty() {
            200
        } else {
            g.script.remove(0)
        };
        if next <= 1 || (200..300).contains(&next) {
            g.taken.entry(h("idempotency-key")).or_insert(v);
        }
        next
    };
    if next == 0 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        return StatusCode::OK;
    }
    if next == 1 {
        // Taken, and never answered while the test runs.
        tokio::time::sleep(Duration::from_secs(600)).await;
        return StatusCode::OK;
    }
    StatusCode::from_u16(next).unwrap_or(StatusCode::OK)
}

/// Start the fake gateway on a free local port: its state and base URL.
pub(crate) async fn fake_gateway() -> (Shared, String) {
    let shared: Shared = Arc::default();
    let app = axum::Router::new()
        .route("/hook", post(take))
        .route("/sms", post(take))
        .route("/wechat", post(take))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (shared, format!("http://{addr}"))
}

/// Run `f` on every backend against one fake gateway (started here), the server configured for
/// it by `config`; `f` gets the gateway's record.
pub(crate) async fn each_backend_with_gateway<F, Fut>(config: fn(&str) -> Config, f: F)
where
    F: Fn(T, Shared) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (fake, base) = fake_gateway().await;
    each_backend_with(config(&base), move |t| f(t, fake.clone())).await
}

pub(crate) fn config(base: &str) -> Config {
    Config {
        gateways: Gateways {
            webhook: Some(WebhookGateway {
                url: format!("{base}/hook"),
                secret: SECRET.to_string(),
            }),
            sms: Some(SmsGateway {
                url: format!("{base}/sms"),
                token: Some("sms-token".to_string()),
                phone_field: "mobile".to_string(),
                text_field: "content".to_string(),
            }),
            wechat: None,
            log_only: false,
            timeout: Some(Duration::from_millis(500)),
        },
        ..Config::default()
    }
}

/// Queue one notification for `unit` as an area does (in a write transaction).
async fn queue(t: &T, region: &str, unit: &str, body: &str) -> i64 {
    let mut w = t.state.db.begin_write().await.expect("tx");
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO notifications (region_code, unit, kind, title, body, created_at) \
         VALUES ($1, $2, 'report_reminder', '催报', $3, $4) RETURNING id",
    )
    .bind(region)
    .bind(unit)
    .bind(body)
    .bind(t.clock_now_ms())
    .fetch_one(w.conn())
    .await
    .expect("notification");
    w.commit().await.expect("commit");
    id
}

async fn deliveries(t: &T, tok: &str, query: &str) -> Vec<Value> {
    let (s, b) = t
        .get(&format!("/api/v1/notifications/deliveries{query}"), tok)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b.as_array().cloned().unwrap_or_default()
}

fn reset(f: &Shared, script: &[u16]) {
    let mut g = f.lock().expect("fake");
    g.script = script.to_vec();
    g.seen.clear();
    g.taken.clear();
}

#[tokio::test]
async fn notifications_reach_the_gateways_once_and_failures_are_listed() {
    each_backend_with_gateway(config, |t, fake| async move {
            t.import_fixture().await;
            t.make_user("off.a", &["official"], "130110").await;
            let off_b = t.user("off.b", &["official"], "130111").await;
            // Nothing queued: a step does nothing.
            reset(&fake, &[]);
            let r = notify::step(&t.state).await.expect("step");
            assert_eq!((r.dispatched, r.sent), (0, 0));

            // A notification queued two days ago (while no gateway was set up) is not sent now.
            t.clock.advance(chrono::Duration::days(-2));
            queue(&t, "130110100001", "130110100001", "两天前").await;
            t.clock.advance(chrono::Duration::days(2));
            let r = notify::step(&t.state).await.expect("step");
            assert_eq!((r.dispatched, r.sent), (0, 0), "stale: {r:?}");
            assert!(fake.lock().expect("fake").seen.is_empty());
            let mut off = t.login("off.a").await;

            // 1. A village's reminder: the webhook, signed and keyed; no SMS (no phone).
            let n1 = queue(&t, "130110100001", "130110100001", "旱码头社区尚未报送").await;
            let r = notify::step(&t.state).await.expect("step");
            assert_eq!((r.dispatched, r.sent, r.failed), (1, 1, 0), "{r:?}");
            {
                let g = fake.lock().expect("fake");
                assert_eq!(g.seen.len(), 1);
                let (path, key, sig, body) = &g.seen[0];
                assert_eq!(path, "/hook");
                assert_eq!(key, &format!("n{n1}-webhook"));
                assert_eq!(body["key"], key.as_str());
                assert_eq!(body["text"], "【催报】旱码头社区尚未报送");
                let raw = serde_json::to_string(body).expect("json");
                assert_eq!(sig, &backstop_app::notify::sign(SECRET, &raw));
            }
            let list = deliveries(&t, &off, "").await;
            assert_eq!(list.len(), 1);
            assert_eq!(list[0]["state"], "sent");
            // A second step sends nothing again.
            let r = notify::step(&t.state).await.expect("step");
            assert_eq!((r.dispatched, r.sent), (0, 0));

            // 2. 500, then success: retried after the back-off with the same key; sent once.
            reset(&fake, &[500]);
            let n2 = queue(&t, "130110100001", "130110100001", "第二次").await;
            let r = notify::step(&t.state).await.expect("step");
            assert_eq!((r.sent, r.retried), (0, 1), "{r:?}");
            let d = deliveries(&t, &off, "?state=queued").await;
            assert_eq!(d.len(), 1);
            assert_eq!((d[0]["attempts"].as_i64(), d[0]["last_error"].as_str()), (Some(1), Some("网关返回 500")));
            let r = notify::step(&t.state).await.expect("step");
            assert_eq!(r.sent + r.retried, 0, "not due before the back-off");
            t.clock.advance(chrono::Duration::seconds(31));
            let r = notify::step(&t.state).await.expect("step");
            assert_eq!(r.sent, 1, "{r:?}");
            {
                let g = fake.lock().expect("fake");
                assert_eq!(g.seen.len(), 2);
                assert!(g.seen.iter().all(|s| s.1 == format!("n{n2}-webhook")));
                assert_eq!(g.taken.len(), 1, "one message");
            }

            // 3. The gateway takes the message but answers too late (as if the service died
            // during the send): resent with the same key, and the gateway still has one.
            reset(&fake, &[0]);
            queue(&t, "130110100001", "130110100001", "第三次").await;
            let r = notify::step(&t.state).await.expect("step");
            assert_eq!(r.retried, 1, "{r:?}");
            let d = deliveries(&t, &off, "?state=queued").await;
            assert_eq!(d[0]["last_error"], "网关超时");
            t.clock.advance(chrono::Duration::seconds(31));
            notify::step(&t.state).await.expect("step");
            {
                let g = fake.lock().expect("fake");
                assert_eq!(g.seen.len(), 2, "sent twice");
                assert_eq!(g.taken.len(), 1, "but one message");
            }

            // 4. A refusal (400) fails at once, is listed as failed, and can be sent again.
            reset(&fake, &[400]);
            queue(&t, "130110100001", "130110100001", "第四次").await;
            let r = notify::step(&t.state).await.expect("step");
            assert_eq!(r.failed, 1, "{r:?}");
            let failed = deliveries(&t, &off, "?state=failed").await;
            assert_eq!(failed.len(), 1);
            assert_eq!(failed[0]["last_error"], "网关拒绝（400）");
            let id = failed[0]["id"].as_i64().expect("id");
            // Another county cannot see or touch it.
            assert!(deliveries(&t, &off_b, "?state=failed").await.is_empty());
            let (s, _) = t
                .post(&format!("/api/v1/notifications/deliveries/{id}/retry"), &off_b, json!({}))
                .await;
            assert_eq!(s, StatusCode::NOT_FOUND);
            let (s, b) = t
                .post(&format!("/api/v1/notifications/deliveries/{id}/retry"), &off, json!({}))
                .await;
            assert_eq!((s, b["state"].as_str()), (StatusCode::OK, Some("queued")), "{b}");
            let r = notify::step(&t.state).await.expect("step");
            assert_eq!(r.sent, 1);
            // The gateway's receipt: sent → delivered.
            let (s, b) = t
                .post(&format!("/api/v1/notifications/deliveries/{id}/delivered"), &off, json!({}))
                .await;
            assert_eq!((s, b["state"].as_str()), (StatusCode::OK, Some("delivered")), "{b}");

            // 5. A gateway that keeps failing: given up after the last attempt.
            reset(&fake, &[503; 20]);
            queue(&t, "130110100001", "130110100001", "第五次").await;
            for _ in 0..notify::MAX_ATTEMPTS {
                notify::step(&t.state).await.expect("step");
                t.clock.advance(chrono::Duration::hours(1));
            }
            off = t.login("off.a").await; // eight hours later
            let failed = deliveries(&t, &off, "?state=failed").await;
            assert_eq!(failed[0]["attempts"].as_i64(), Some(notify::MAX_ATTEMPTS), "{failed:?}");
            assert_eq!(
                fake.lock().expect("fake").seen.len(),
                usize::try_from(notify::MAX_ATTEMPTS).expect("n")
            );

            // 6. An institution's reminder: also an SMS to its contact phone, masked in lists.
            reset(&fake, &[]);
            let (s, org) = t
                .post("/api/v1/orgs", &off, json!({"name": "获鹿镇敬老院", "kind": "elderly_care",
                    "region_code": "130110100", "contact_person": "王院长", "contact_phone": "13912345678"}))
                .await;
            assert_eq!(s, StatusCode::CREATED, "{org}");
            let org_id = org["id"].as_i64().expect("org id");
            let n6 = queue(&t, "130110100", &format!("org:{org_id}"), "敬老院尚未报送").await;
            let r = notify::step(&t.state).await.expect("step");
            assert_eq!((r.dispatched, r.sent), (2, 2), "{r:?}");
            {
                let g = fake.lock().expect("fake");
                let sms = g.seen.iter().find(|s| s.0 == "/sms").expect("an SMS");
                assert_eq!(sms.3["mobile"], "13912345678");
                assert_eq!(sms.3["content"], "【催报】敬老院尚未报送");
                assert_eq!(sms.1, format!("n{n6}-sms-org{org_id}"));
            }
            let list = deliveries(&t, &off, "").await;
            let sms = list.iter().find(|d| d["channel"] == "sms").expect("sms row");
            assert_eq!(sms["phone_masked"], "139****5678");
            assert!(!list.iter().any(|d| d.to_string().contains("13912345678")));
            // Stored sealed: the phone is not in the row in clear.
            let clear: i64 = sqlx::query_scalar(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM notify_deliveries WHERE body LIKE '%13912345678%' \
                 OR phone_masked LIKE '%12345678%'",
            )
            .fetch_one(t.state.db.pool())
            .await
            .expect("count");
            assert_eq!(clear, 0);

            // The summary adds up to the rows.
            let (s, sum) = t.get("/api/v1/notifications/deliveries/summary", &off).await;
            assert_eq!(s, StatusCode::OK);
            let total: i64 = sum.as_array().expect("rows").iter().filter_map(|r| r["count"].as_i64()).sum();
            let rows: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM notify_deliveries")
                .fetch_one(t.state.db.pool())
                .await
                .expect("count");
            assert_eq!(total, rows);
            // The staff page: counts by kind and channel, the failed one listed to phone.
            let (s, html) = crate::support::page(&t, "/notifications/deliveries", &crate::support::web_login(&t, "off.a").await).await;
            assert_eq!(s, StatusCode::OK);
            assert!(html.contains("报表催报（到期）") && html.contains("发送失败"), "{html}");
            assert!(html.contains("delivery-retry-"), "the failed delivery is listed: {html}");
            assert!(!html.contains("13912345678"));
            // A community worker may not read deliveries.
            let cw = t.user("cw.a", &["community_worker"], "130110100001").await;
            let (s, _) = t.get("/api/v1/notifications/deliveries", &cw).await;
            assert_eq!(s, StatusCode::FORBIDDEN);
    })
    .await;
}
