//! Operations endpoints: `/healthz` (the process answers), `/readyz` (the database answers),
//! and `/metrics` in the Prometheus text format, from a few counters kept here. `/metrics`
//! answers only a scraper presenting the configured token (`--metrics-token` /
//! `BACKSTOP_METRICS_TOKEN`, as `Authorization: Bearer …`); without one configured it is not
//! served at all (404), so request counts and pool sizes never leak to the public.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::kernel::crypto::token_hash;

use crate::state::AppState;

#[derive(Debug, Default)]
pub struct Metrics {
    pub requests: AtomicU64,
    pub responses_2xx: AtomicU64,
    pub responses_3xx: AtomicU64,
    pub responses_4xx: AtomicU64,
    pub responses_5xx: AtomicU64,
    pub in_flight: AtomicU64,
    pub duration_ms_total: AtomicU64,
}

impl Metrics {
    pub fn record(&self, status: u16, millis: u64) {
        let c = match status {
            200..=299 => &self.responses_2xx,
            300..=399 => &self.responses_3xx,
            400..=499 => &self.responses_4xx,
            _ => &self.responses_5xx,
        };
        c.fetch_add(1, Ordering::Relaxed);
        self.duration_ms_total.fetch_add(millis, Ordering::Relaxed);
    }
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
    let m = &state.metrics;
    let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let pool = state.db.pool();
    let body = format!(
        "# HELP backstop_http_requests_total HTTP requests received.\n\
         # TYPE backstop_http_requests_total counter\n\
         backstop_http_requests_total {}\n\
         # HELP backstop_http_responses_total HTTP responses by status class.\n\
         # TYPE backstop_http_responses_total counter\n\
         backstop_http_responses_total{{class=\"2xx\"}} {}\n\
         backstop_http_responses_total{{class=\"3xx\"}} {}\n\
         backstop_http_responses_total{{class=\"4xx\"}} {}\n\
         backstop_http_responses_total{{class=\"5xx\"}} {}\n\
         # HELP backstop_http_in_flight Requests being served.\n\
         # TYPE backstop_http_in_flight gauge\n\
         backstop_http_in_flight {}\n\
         # HELP backstop_http_duration_milliseconds_total Time spent serving requests.\n\
         # TYPE backstop_http_duration_milliseconds_total counter\n\
         backstop_http_duration_milliseconds_total {}\n\
         # HELP backstop_db_connections Open database connections.\n\
         # TYPE backstop_db_connections gauge\n\
         backstop_db_connections {}\n\
         # HELP backstop_db_connections_idle Idle database connections.\n\
         # TYPE backstop_db_connections_idle gauge\n\
         backstop_db_connections_idle {}\n",
        g(&m.requests),
        g(&m.responses_2xx),
        g(&m.responses_3xx),
        g(&m.responses_4xx),
        g(&m.responses_5xx),
        g(&m.in_flight),
        g(&m.duration_ms_total),
        pool.size(),
        pool.num_idle(),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
