//! The web shell: the layout every page shares (navigation by area, in Chinese), the error
//! page, the security headers (CSP without `unsafe-inline`, `nosniff`, `frame-ancestors
//! 'none'`, `no-store`, HSTS when the public origin is `https`), the CSRF rule (a
//! state-changing request whose `Origin`/`Referer` is not the configured public origin, or a
//! cross-site fetch, is refused with 403 and audited), the audit of out-of-scope reads for
//! every area, request metrics, and the embedded static assets.

use std::time::Instant;

use askama::Template;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use backstop_core::error::ErrorCode;
use backstop_core::role::Permission;

use crate::kernel::actor::Actor;
use crate::kernel::error::AppError;
use crate::state::AppState;

/// The filter of a day or week statistics page (region, period, date) with its Excel link.
pub struct PeriodFilter {
    pub region: String,
    pub period: String,
    pub date: String,
    pub export: String,
}

impl PeriodFilter {
    /// The filter as the page shows it; the export link is `export_path` with the same three.
    pub fn new(export_path: &str, region: String, period: String, date: String) -> PeriodFilter {
        let export = format!(
            "{export_path}?{}",
            query_string(&[("region", &region), ("period", &period), ("date", &date)])
        );
        PeriodFilter {
            region,
            period,
            date,
            export,
        }
    }
}

/// The `?done=…` a page is sent back to after a form succeeds (which notice it shows).
#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct DoneQuery {
    pub done: Option<String>,
}

/// An area's routes: `(path, handlers)` pairs. Areas return them as a list rather than a
/// built `Router` so the application knows every path it serves ([`crate::route_table`]):
/// the route-generated scope test calls each one.
pub type Routes = Vec<(&'static str, axum::routing::MethodRouter<AppState>)>;

/// One link of the navigation bar.
#[derive(Debug, Clone)]
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    pub active: bool,
}

/// What the layout needs to know about the visitor.
#[derive(Debug, Clone, Default)]
pub struct Nav {
    pub username: String,
    pub roles: String,
    pub links: Vec<NavLink>,
}

impl Nav {
    /// Navigation for an actor, `current` being the href of the area shown.
    pub fn for_actor(actor: &Actor, current: &str) -> Nav {
        let mut links = vec![("/", "首页", None)];
        links.push(("/regions", "区划与网格", Some(Permission::RegionsRead)));
        links.push(("/orgs", "机构", Some(Permission::OrgsRead)));
        links.push(("/persons", "人员", Some(Permission::PersonsRead)));
        links.push(("/screening", "摸排与观察", Some(Permission::PersonsRead)));
        links.push(("/care", "困难群众", Some(Permission::PersonsRead)));
        links.push(("/assistance", "社会救助", Some(Permission::AssistanceRead)));
        links.push((
            "/crosscheck",
            "数据比对",
            Some(Permission::CrosschecksManage),
        ));
        links.push(("/reports", "报表", Some(Permission::ReportsRead)));
        links.push(("/institutions", "机构监测", Some(Permission::ReportsRead)));
        links.push(("/gates", "卡口登记", Some(Permission::ReportsRead)));
        links.push(("/inspections", "督导", Some(Permission::ReportsRead)));
        links.push(("/bookings", "预约", Some(Permission::BookingsRead)));
        links.push(("/volunteers", "志愿者", Some(Permission::VolunteersManage)));
        links.push((
            "/notifications/deliveries",
            "消息送达",
            Some(Permission::ReportsManage),
        ));
        // The escalation rules and the message templates (one entry; the pages link each other).
        links.push((
            "/notifications/escalation",
            "通知设置",
            Some(Permission::ReportsRead),
        ));
        links.push(("/children", "困境儿童", Some(Permission::ChildrenRead)));
        links.push(("/hotline", "热线", Some(Permission::HotlineAnswer)));
        links.push(("/payments", "资金发放", Some(Permission::PaymentsRead)));
        links.push(("/donations", "慈善捐赠", Some(Permission::DonationsRead)));
        links.push(("/users", "用户", Some(Permission::UsersRead)));
        links.push(("/audit", "审计日志", Some(Permission::AuditRead)));
        links.push(("/security", "安全设置", Some(Permission::SecurityManage)));
        links.push((
            "/federation",
            "上下级部署",
            Some(Permission::SecurityManage),
        ));
        links.push(("/account", "我的账户", None));
        Nav {
            username: actor.username.clone(),
            roles: actor.roles.labels_zh(),
            links: links
                .into_iter()
                .filter(|(_, _, p)| p.is_none_or(|p| actor.can(p)))
                .map(|(href, label, _)| NavLink {
                    href,
                    label,
                    active: href == current || (href != "/" && current.starts_with(href)),
                })
                .collect(),
        }
    }
}

/// The first `n` characters of `s`, trimmed (form values, list cells, titles).
pub fn clip(s: &str, n: usize) -> String {
    s.trim().chars().take(n).collect()
}

/// `k=v&…` of the non-empty pairs, percent-encoded (links that carry a page's filters).
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode_query_value(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `%XX`-encode a query-string value (everything but unreserved ASCII).
pub fn encode_query_value(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Render a template to an HTML response.
pub fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => AppError::internal("template", e).into_response(),
    }
}

/// A response with its status replaced.
pub fn with_status(mut resp: Response, status: StatusCode) -> Response {
    *resp.status_mut() = status;
    resp
}

/// Render a template with a status other than 200: a form shown again with the reason it was
/// refused (usually 422), or an error page.
pub fn render_status<T: Template>(t: &T, status: StatusCode) -> Response {
    with_status(render(t), status)
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    nav: Option<Nav>,
    title: &'a str,
    status: u16,
    message: &'a str,
}

/// An error shown as a page (in Chinese); `unauthenticated` goes to the login page.
#[derive(Debug)]
pub struct PageError(pub AppError);

impl From<AppError> for PageError {
    fn from(e: AppError) -> Self {
        PageError(e)
    }
}

impl From<sqlx::Error> for PageError {
    fn from(e: sqlx::Error) -> Self {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if self.0.code == ErrorCode::Unauthenticated {
            return Redirect::to("/login").into_response();
        }
        let status = self.0.status();
        let title = match status.as_u16() {
            404 => "未找到",
            403 => "无权访问",
            500 => "系统错误",
            503 => "系统繁忙",
            _ => "请求有误",
        };
        let page = ErrorPage {
            nav: None,
            title,
            status: status.as_u16(),
            message: &self.0.message,
        };
        render_status(&page, status)
    }
}

pub type PageResult = Result<Response, PageError>;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

/// Security headers on every response; `no-store` on everything but the static assets;
/// `Strict-Transport-Security` when the service is reached over HTTPS (an `https` public
/// origin, or `--secure-cookies`, which says the same).
pub async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let is_asset = req.uri().path().starts_with("/assets/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if serves_https(&state) {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if is_asset {
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        );
    } else {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// Is the service reached over HTTPS?
fn serves_https(state: &AppState) -> bool {
    state.config.secure_cookies
        || state
            .config
            .public_origin
            .as_deref()
            .is_some_and(|o| o.starts_with("https://"))
}

/// `scheme://host:port` of an origin or URL (`Origin` or `Referer` value, or the configured
/// public origin): scheme and host lower-cased, the port written out (80/443 by default);
/// `None` for anything that is not an absolute `http`/`https` URL without user information.
pub fn normalize_origin(url: &str) -> Option<String> {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        (format!("[{h}]"), after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    let port: u16 = match port {
        Some(p) => p.parse().ok()?,
        None => default_port,
    };
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    Some(format!("{scheme}://{}:{port}", host.to_ascii_lowercase()))
}

/// Log once, when the application is built, that the CSRF check falls back to the `Host`
/// header because no public origin is configured.
pub fn warn_without_public_origin(state: &AppState) {
    if state.config.public_origin.is_none() {
        tracing::warn!(
            "no public origin configured (--public-origin / BACKSTOP_PUBLIC_ORIGIN): the CSRF \
             check compares Origin with the Host header, which is only right for local use"
        );
    }
}

/// CSRF: refuse a state-changing request whose `Origin` (or, without one, `Referer`) is not
/// the configured public origin — scheme, host and port — or that the browser marks as
/// cross-site; without a configured origin the `Host` header stands in (local use). Requests
/// with no browser headers (API clients using bearer tokens) pass; they carry no ambient
/// credentials. A refusal is audited (the route, never the body).
pub async fn csrf_guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && !same_origin(&req, state.config.public_origin.as_deref()) {
        let who = crate::audit::Who {
            user_id: None,
            username: String::new(),
            source: crate::kernel::extract::Source::of(req.extensions()).0,
        };
        let detail = serde_json::json!({"method": req.method().as_str(), "route": route_of(&req)});
        audit_refusal(&state, &who, "request.csrf_rejected", "0", detail).await;
        let e = AppError::new(ErrorCode::CsrfRejected);
        return if req.uri().path().starts_with("/api/") {
            e.into_response()
        } else {
            PageError(e).into_response()
        };
    }
    next.run(req).await
}

/// The matched route template (`/api/v1/persons/{id}`), else the path clipped: no query.
fn route_of(req: &Request) -> String {
    req.extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().chars().take(80).collect())
}

/// Append a refusal to the audit log in its own transaction; a failure to do so is logged
/// and does not change the answer.
async fn audit_refusal(
    state: &AppState,
    who: &crate::audit::Who,
    action: &str,
    region: &str,
    detail: serde_json::Value,
) {
    let entry = crate::audit::Entry {
        action,
        object_type: "request",
        object_id: String::new(),
        region_code: region.to_string(),
        outcome: "failure",
        detail,
    };
    if let Err(e) = crate::audit::append_alone(state, who, entry).await {
        tracing::warn!(action, code = e.code.as_str(), "auditing a refusal failed");
    }
}

/// Audit every out-of-scope read refused by the access layer (`Actor::within`,
/// `Scoped::admit`, `Scoped::admit_org`) whose request ends refused (403/404), for every area
/// at once: who, the route, the kind of refusal and the region code asked for — no record
/// content. The entry is filed under the actor's own scope, where its auditor looks.
pub async fn audit_denials(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_string();
    let route = route_of(&req);
    let (resp, denial) = crate::kernel::access::recording_denials(next.run(req)).await;
    if let Some(d) =
        denial.filter(|_| matches!(resp.status(), StatusCode::NOT_FOUND | StatusCode::FORBIDDEN))
    {
        let detail = serde_json::json!({
            "method": method, "route": route, "kind": d.kind, "region": d.region,
        });
        audit_refusal(&state, &d.who, "access.denied", &d.scope, detail).await;
    }
    resp
}

fn same_origin(req: &Request, public: Option<&str>) -> bool {
    let headers = req.headers();
    // A browser sends `Origin: null` for a same-origin form POST from a page under a strict
    // referrer policy (we send `same-origin`, older pages or proxies may send `no-referrer`):
    // then Sec-Fetch-Site, which pages cannot forge, decides (and without it, refuse).
    let origin = headers
        .get(header::ORIGIN)
        .filter(|o| o.as_bytes() != b"null");
    if origin.is_none() && headers.contains_key(header::ORIGIN) {
        return headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|site| site == "same-origin");
    }
    if let Some(public) = public {
        // Configured: the Origin, else the Referer, must be the public origin exactly.
        let claimed = origin.or_else(|| headers.get(header::REFERER));
        if let Some(claimed) = claimed {
            return claimed
                .to_str()
                .ok()
                .and_then(normalize_origin)
                .is_some_and(|o| o == public);
        }
    } else if let Some(origin) = origin {
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let origin_host = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"))
            .unwrap_or("\u{0}");
        return !host.is_empty() && origin_host.eq_ignore_ascii_case(host);
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(site) => site == "same-origin" || site == "none",
        None => true,
    }
}

/// Count requests (`kernel::ops`: per route, method and status, with their latency) and log one
/// line per request (method, route, status, time; never the query).
pub async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    // The route's template, never the path itself (its codes and ids would make a series per
    // village); a path no route matched is counted as one.
    let matched = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|m| m.as_str().to_string());
    let in_flight = metrics::gauge!("backstop_http_in_flight");
    in_flight.increment(1.0);
    let path: String = req.uri().path().chars().take(80).collect();
    let resp = next.run(req).await;
    in_flight.decrement(1.0);
    let elapsed = start.elapsed();
    let status = resp.status().as_u16();
    crate::kernel::ops::record_request(
        method.as_str(),
        matched.as_deref().unwrap_or("(unmatched)"),
        status,
        elapsed.as_secs_f64(),
    );
    let ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    let route = matched.as_deref().unwrap_or(&path);
    tracing::info!(%method, route, status, ms, "request");
    resp
}

/// Static files compiled into the binary.
pub async fn asset(axum::extract::Path(path): axum::extract::Path<String>) -> Response {
    let (body, ctype): (&'static [u8], &str) = match path.as_str() {
        "app.css" => (
            include_bytes!("../../../../assets/app.css"),
            "text/css; charset=utf-8",
        ),
        "app.js" => (
            include_bytes!("../../../../assets/app.js"),
            "text/javascript; charset=utf-8",
        ),
        "picker.js" => (
            include_bytes!("../../../../assets/picker.js"),
            "text/javascript; charset=utf-8",
        ),
        "htmx.min.js" => (
            include_bytes!("../../../../assets/vendor/htmx/htmx.min.js"),
            "text/javascript; charset=utf-8",
        ),
        "swagger/swagger-ui-bundle.js" => (
            include_bytes!("../../../../assets/vendor/swagger-ui/swagger-ui-bundle.js"),
            "text/javascript; charset=utf-8",
        ),
        "swagger/swagger-ui.css" => (
            include_bytes!("../../../../assets/vendor/swagger-ui/swagger-ui.css"),
            "text/css; charset=utf-8",
        ),
        "echarts.min.js" => (
            include_bytes!("../../../../assets/vendor/echarts/echarts.min.js"),
            "text/javascript; charset=utf-8",
        ),
        "dashboard.js" => (
            include_bytes!("../../../../assets/dashboard.js"),
            "text/javascript; charset=utf-8",
        ),
        "swagger/init.js" => (
            include_bytes!("../../../../assets/vendor/swagger-ui/init.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => return (StatusCode::NOT_FOUND, "not found").into_response(),
    };
    Response::builder()
        .header(header::CONTENT_TYPE, ctype)
        .body(Body::from(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A page's fallback for unknown paths.
pub async fn not_found_page(req: Request) -> Response {
    if req.uri().path().starts_with("/api/") {
        AppError::not_found().into_response()
    } else {
        PageError(AppError::not_found()).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_are_encoded() {
        assert_eq!(
            query_string(&[("username", "a b"), ("action", ""), ("to", "审计&x")]),
            "username=a%20b&to=%E5%AE%A1%E8%AE%A1%26x"
        );
    }

    #[test]
    fn origins_are_normalised_with_scheme_host_and_port() {
        let n = |s| normalize_origin(s);
        assert_eq!(
            n("https://MZ.example.cn"),
            Some("https://mz.example.cn:443".into())
        );
        assert_eq!(
            n("https://mz.example.cn:443/persons?x=1"),
            n("https://mz.example.cn")
        );
        assert_eq!(
            n("http://mz.example.cn"),
            Some("http://mz.example.cn:80".into())
        );
        assert_eq!(n("http://[::1]:8080/x"), Some("http://[::1]:8080".into()));
        assert_ne!(n("http://mz.example.cn"), n("https://mz.example.cn"));
        assert_ne!(n("https://mz.example.cn:8443"), n("https://mz.example.cn"));
        for bad in [
            "mz.example.cn",
            "ftp://x",
            "https://",
            "https://u@x",
            "https://x:99999",
        ] {
            assert_eq!(n(bad), None, "{bad}");
        }
    }
}
