//! Operations endpoints: `/healthz` (the process answers), `/readyz` (the database answers),
//! and `/metrics` in the Prometheus text format. The figures are kept by the `metrics` facade
//! and rendered by `metrics-exporter-prometheus` (one recorder for the process, installed by
//! [`recorder`] when the first state is built): request latency histograms per route, method
//! and status (recorded by `kernel::web::track`), the database pools (read at each scrape), the
//! group commit's queue, batch size and batch time (`backstop_store::batch`), and the business
//! counters of the areas (submissions, imports, notifications), each labelled with the backend.
//! `/metrics` answers only a scraper presenting the configured token (`--metrics-token` /
//! `BACKSTOP_METRICS_TOKEN`, as `Authorization: Bearer …`); without one configured it is not
//! served at all (404), so request counts and pool sizes never leak to the public.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::kernel::crypto::token_hash;

use crate::state::AppState;

/// Latency buckets (seconds) of every `*_seconds` histogram: a submission's 10 ms to an
/// export's 10 s.
const BUCKETS: [f64; 12] = [
    0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Jobs per group commit.
const BATCH_BUCKETS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's recorder, installed on first use; `None` if another recorder was installed
/// first (an embedding program's own), in which case `/metrics` renders nothing of ours.
pub fn recorder() -> Option<&'static PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let built = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("backstop_write_batch_jobs".into()),
                        &BATCH_BUCKETS,
                    )
                })
                .map(|b| b.build_recorder());
            match built {
                Ok(recorder) => {
                    let handle = recorder.handle();
                    match metrics::set_global_recorder(recorder) {
                        Ok(()) => {
                            // Histograms buffer their samples until drained: drain them every
                            // few seconds whether or not anyone scrapes.
                            let upkeep = handle.clone();
                            let spawned = std::thread::Builder::new()
                                .name("metrics-upkeep".into())
                                .spawn(move || {
                                    loop {
                                        std::thread::sleep(std::time::Duration::from_secs(5));
                                        upkeep.run_upkeep();
                                    }
                                });
                            if spawned.is_err() {
                                tracing::warn!("metrics upkeep thread not started");
                            }
                            Some(handle)
                        }
                        Err(_) => {
                            tracing::warn!("a metrics recorder was already installed");
                            None
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not built");
                    None
                }
            }
        })
        .as_ref()
}

/// Count one finished request (the `track` middleware): by method, route template (never the
/// path with its codes and ids) and status.
pub fn record_request(method: &str, route: &str, status: u16, seconds: f64) {
    let labels = [
        ("method", method.to_string()),
        ("route", route.to_string()),
        ("status", status.to_string()),
    ];
    metrics::counter!("backstop_http_requests_total", &labels).increment(1);
    metrics::histogram!("backstop_http_request_duration_seconds", &labels).record(seconds);
}

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    }
}

/// Does the request carry the configured metrics token? (Compared in constant time.)
fn metrics_allowed(state: &AppState, headers: &HeaderMap) -> Result<(), StatusCode> {
    let Some(want) = state.config.metrics_token.as_deref() else {
        return Err(StatusCode::NOT_FOUND);
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .unwrap_or("");
    // Equal hashes, byte by byte without an early exit: no timing hint about the token.
    let (a, b) = (token_hash(want), token_hash(given));
    let same = a
        .bytes()
        .zip(b.bytes())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0;
    if same {
        Ok(())
    } else {
        Err(StatusCode::UNAUTHORIZED)
    }
}

pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(status) = metrics_allowed(&state, &headers) {
        return (status, "").into_response();
    }
    let backend = state.db.engine();
    for (name, pool) in [("main", state.db.pool()), ("reader", state.db.reader())] {
        let labels = [("backend", backend), ("pool", name)];
        metrics::gauge!("backstop_db_connections", &labels).set(f64::from(pool.size()));
        metrics::gauge!("backstop_db_connections_idle", &labels).set(pool.num_idle() as f64);
    }
    let body = recorder().map(|r| r.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
