//! What the benchmark programs share (the generated roster in `roster`, running and
//! measuring in `run`): the benchmark account's password, a ready official
//! account, logging in through the API, the HTTP client they measure with, and percentiles of
//! latencies. One copy, so the two programs measure the same way.

pub mod roster;
pub mod run;

use std::cmp::Ordering;
use std::time::Duration;

use backstop_app::kernel::actor::Actor;
use backstop_app::{AppState, accounts};
use serde_json::{Value, json};

/// Print `bench: MSG` and exit with status 1 (a benchmark cannot go on).
pub fn die(msg: impl std::fmt::Display) -> ! {
    eprintln!("bench: {msg}");
    std::process::exit(1)
}

/// The password of every benchmark account.
pub const PASSWORD: &str = "Bench#Rp7!qZ2x";

/// An HTTP client that reports every status as an answer (not an error), without a proxy.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

/// The value at fraction `p` (0.5: the median) of `v`, which is sorted by `cmp` in place; 0
/// (the default) for no values.
pub fn percentile<T: Copy + Default>(
    v: &mut [T],
    p: f64,
    cmp: impl FnMut(&T, &T) -> Ordering,
) -> T {
    if v.is_empty() {
        return T::default();
    }
    v.sort_by(cmp);
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

/// Make the official `name` of `region` (unless it exists) with [`PASSWORD`], its password
/// change done, as the console operator.
pub async fn ready_official(state: &AppState, name: &str, region: &str) -> Result<(), String> {
    let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(name)
        .fetch_optional(state.db.pool())
        .await
        .map_err(|e| e.to_string())?;
    let id = match exists {
        Some(id) => id,
        None => {
            let user = accounts::NewUser {
                username: name.into(),
                password: PASSWORD.into(),
                roles: vec!["official".into()],
                region_code: region.into(),
                org_id: None,
                display_name: String::new(),
                phone: String::new(),
            };
            accounts::create_user(state, &Actor::operator(), &user)
                .await
                .map_err(|e| format!("user {name}: {e}"))?
                .id
        }
    };
    let mut w = state.db.begin_write().await.map_err(|e| e.to_string())?;
    // Every account gives a second factor (issue 13): the bench's known TOTP secret.
    sqlx::query(
        "UPDATE users SET must_change_password = 0, totp_secret = $1, totp_enabled = 1 WHERE id = $2",
    )
    .bind(state.keys.encrypt(TOTP_SECRET))
        .bind(id)
        .execute(w.conn())
        .await
        .map_err(|e| e.to_string())?;
    w.commit().await.map_err(|e| e.to_string())
}

/// Log `user` in through the API at `base` with [`PASSWORD`]; its token, `None` if refused.
pub fn login(agent: &ureq::Agent, base: &str, user: &str) -> Option<String> {
    let r = agent
        .post(&format!("{base}/api/v1/auth/login"))
        .send_json(json!({"username": user, "password": PASSWORD, "totp": totp_now()}));
    match r {
        Ok(mut r) => r
            .body_mut()
            .read_json::<Value>()
            .ok()
            .and_then(|v| v["token"].as_str().map(str::to_string)),
        Err(_) => None,
    }
}

/// The TOTP secret of the bench accounts.
pub const TOTP_SECRET: &[u8; 20] = b"bench-totp-secret-20";

/// The current TOTP code of the bench accounts.
pub fn totp_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    backstop_app::kernel::auth::totp_code(TOTP_SECRET, now).unwrap_or_default()
}

/// Serve the application of `state` over HTTP on a free port of 127.0.0.1 (in the background
/// of the current Tokio runtime); the address it listens on.
pub async fn serve(state: &AppState) -> std::io::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = backstop_app::router(state.clone());
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await;
    });
    Ok(addr)
}
