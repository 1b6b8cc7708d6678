//! Issue 15, the batched sender, on every backend: a service that dies in the middle of a
//! batch's sends (the step's task aborted while the gateway holds the requests) leaves its
//! deliveries claimed — not sent again before the lease runs out, at most the configured
//! number in flight per channel — and after the lease the next step sends each again with the
//! same key, so the deduplicating fake gateway has exactly one message per delivery.

use std::time::Duration;

use backstop_app::notify;

use crate::notify::{config, fake_gateway};
use crate::support::{T, each_backend_with};

/// Queue one village reminder (webhook only: a village has no phone).
async fn queue(t: &T, village: &str, body: &str) {
    let mut w = t.state.db.begin_write().await.expect("tx");
    sqlx::query(
        "INSERT INTO notifications (region_code, unit, kind, title, body, created_at) \
         VALUES ($1, $1, 'report_reminder', '催报', $2, $3)",
    )
    .bind(village)
    .bind(body)
    .bind(t.clock_now_ms())
    .execute(w.conn())
    .await
    .expect("notification");
    w.commit().await.expect("commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_cut_off_mid_send_is_sent_once_after_its_lease() {
    let (fake, base) = fake_gateway().await;
    let f2 = fake.clone();
    // The gateway never answers the first sends, and the client would wait for it: the cut is
    // the test's to make, not a timeout's (a loaded machine must not change what is in flight).
    let mut cfg = config(&base);
    cfg.gateways.timeout = Some(Duration::from_secs(300));
    each_backend_with(cfg, move |t| {
        let fake = f2.clone();
        async move {
            t.import_fixture().await;
            {
                let mut g = fake.lock().expect("fake");
                g.seen.clear();
                g.taken.clear();
                // Every request is taken by the gateway, then never answered.
                g.script = vec![1; 40];
            }
            // Twenty villages: twenty recipients, sent in parallel up to the bound.
            let csv = std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/fixtures/regions/villages.csv"),
            )
            .expect("villages");
            let villages: Vec<&str> = csv
                .lines()
                .skip(1)
                .filter_map(|l| l.split(',').next())
                .take(20)
                .collect();
            assert_eq!(villages.len(), 20);
            for v in &villages {
                queue(&t, v, "尚未报送").await;
            }
            let r = notify::dispatch(&t.state).await.expect("dispatch");
            assert_eq!(r, 20);
            // The service dies while the first requests are at the gateway.
            let state = t.state.clone();
            let step = tokio::spawn(async move { notify::send_due(&state).await });
            // Wait until the sender has filled its bound, then a little more: no request can
            // finish, so none beyond the bound may start.
            let bound = backstop_app::notify::SendSettings::default().concurrency;
            let seen = || fake.lock().expect("fake").seen.len();
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while seen() < bound && std::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            step.abort();
            let _ = step.await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            let in_flight = seen();
            assert_eq!(
                in_flight, bound,
                "requests in flight, at most {bound} per channel"
            );
            // Claimed: the next step (the restarted service) leaves them alone for now.
            let r = notify::send_due(&t.state).await.expect("step");
            assert_eq!(r.sent + r.retried + r.failed, 0, "{r:?}");
            // After the lease every one goes out again with its key: one message each.
            fake.lock().expect("fake").script.clear();
            // The lease covers every wave of the batch timing out: 300 s × (20/8 waves + 1).
            t.clock.advance(chrono::Duration::hours(1));
            let r = notify::send_due(&t.state).await.expect("step");
            assert_eq!((r.sent, r.retried, r.failed), (20, 0, 0), "{r:?}");
            {
                let g = fake.lock().expect("fake");
                assert_eq!(g.seen.len(), in_flight + 20, "the cut-off ones sent twice");
                assert_eq!(g.taken.len(), 20, "but one message each");
            }
            let sent: i64 = sqlx::query_scalar(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM notify_deliveries \
                 WHERE state = 'sent' AND attempts = 1",
            )
            .fetch_one(t.state.db.pool())
            .await
            .expect("count");
            assert_eq!(sent, 20);
        }
    })
    .await;
}
