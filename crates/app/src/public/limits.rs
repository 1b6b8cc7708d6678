//! Per-address limits of the public face, in memory (one process; a second node keeps its
//! own): every public request (120 a minute by default, `Config::public_requests_per_minute`), code requests (10 an hour) and code tries (30 an
//! hour). The staff pages are not counted here, so a flood of public requests is answered 429
//! on the public side while the staff keep working. Also where the client address of a
//! public request comes from: the TCP peer, or `X-Forwarded-For` when the peer is a proxy the
//! operator named (`--trusted-proxy`).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use backstop_core::error::ErrorCode;

use crate::kernel::error::AppError;
use crate::state::AppState;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
/// Addresses remembered at most (the oldest are forgotten first).
const MAX_ADDRESSES: usize = 100_000;

/// Sliding-window counts per address.
#[derive(Default)]
pub struct PublicLimits {
    requests: Mutex<HashMap<String, VecDeque<i64>>>,
    codes: Mutex<HashMap<String, VecDeque<i64>>>,
    tries: Mutex<HashMap<String, VecDeque<i64>>>,
}

fn take(
    map: &Mutex<HashMap<String, VecDeque<i64>>>,
    key: &str,
    now: i64,
    window: i64,
    max: usize,
) -> bool {
    let Ok(mut m) = map.lock() else {
        return false;
    };
    if m.len() >= MAX_ADDRESSES && !m.contains_key(key) {
        m.retain(|_, q| q.back().is_some_and(|t| now - t < window));
        if m.len() >= MAX_ADDRESSES {
            m.clear();
        }
    }
    let q = m.entry(key.to_string()).or_default();
    while q.front().is_some_and(|t| now - t >= window) {
        q.pop_front();
    }
    if q.len() >= max {
        return false;
    }
    q.push_back(now);
    true
}

impl PublicLimits {
    /// One more public request from `addr`; false when over `per_minute`.
    pub fn request(&self, addr: &str, now: i64, per_minute: usize) -> bool {
        take(&self.requests, addr, now, MINUTE_MS, per_minute)
    }
    /// One more code request from `addr`.
    pub fn code_request(&self, addr: &str, now: i64) -> bool {
        take(&self.codes, addr, now, HOUR_MS, 10)
    }
    /// One more code try from `addr`.
    pub fn code_try(&self, addr: &str, now: i64) -> bool {
        take(&self.tries, addr, now, HOUR_MS, 30)
    }
}

/// The client address of a request: the peer, or the right-most `X-Forwarded-For` entry that
/// is not itself a trusted proxy when the peer is one.
pub fn client_addr(headers: &HeaderMap, peer: Option<IpAddr>, trusted: &[IpAddr]) -> String {
    let Some(peer) = peer else {
        return "local".to_string();
    };
    if !trusted.contains(&peer) {
        return peer.to_string();
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    forwarded
        .iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(&peer)
        .to_string()
}

/// The client address of a request's parts.
pub fn addr_of(state: &AppState, headers: &HeaderMap, ext: &axum::http::Extensions) -> String {
    let peer = ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    client_addr(headers, peer, &state.config.trusted_proxies)
}

/// Middleware: count every `/public` request against its address; over the limit, 429.
pub async fn limit_public(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/public") {
        return next.run(req).await;
    }
    let addr = addr_of(&state, req.headers(), req.extensions());
    if !state.public_limits.request(
        &addr,
        state.now_ms(),
        state.config.public_requests_per_minute,
    ) {
        let e = AppError::new(ErrorCode::RateLimited);
        return if req.uri().path().starts_with("/public/api/") {
            e.into_response()
        } else {
            crate::kernel::web::PageError(e).into_response()
        };
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_only_behind_a_trusted_proxy() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "1.2.3.4, 10.0.0.9".parse().expect("h"));
        let proxy: IpAddr = "10.0.0.9".parse().expect("ip");
        let other: IpAddr = "10.0.0.7".parse().expect("ip");
        // The peer is no proxy: the header is ignored.
        assert_eq!(client_addr(&h, Some(other), &[proxy]), "10.0.0.7");
        // Behind the proxy: the right-most address that is not a proxy.
        assert_eq!(client_addr(&h, Some(proxy), &[proxy]), "1.2.3.4");
    }

    #[test]
    fn windows_slide() {
        let l = PublicLimits::default();
        for _ in 0..10 {
            assert!(l.code_request("a", 0));
        }
        assert!(!l.code_request("a", 1));
        assert!(l.code_request("b", 1), "per address");
        assert!(l.code_request("a", HOUR_MS + 1), "an hour later");
    }
}
