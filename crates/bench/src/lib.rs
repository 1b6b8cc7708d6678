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

/// A flag's number (`--villages 40_000`: underscores allowed); anything else ends the run.
pub fn number<T: std::str::FromStr>(flag: &str, v: &str) -> T {
    v.replace('_', "")
        .parse()
        .unwrap_or_else(|_| die(format!("{flag}: not a number: {v}")))
}

/// The release `backstop` binary beside this benchmark's own (`--bin` overrides it).
pub fn backstop_bin() -> std::path::PathBuf {
    sibling_bin("backstop")
}

/// The binary `name` beside this benchmark's own (`target/release/NAME` if that is unknown).
pub fn sibling_bin(name: &str) -> std::path::PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join(name)))
        .unwrap_or_else(|| std::path::PathBuf::from("target/release").join(name))
}

/// The working folder of a benchmark that runs the release `backstop` binary at `bin`: `work`
/// if given (created), else a temporary folder removed when the returned guard is dropped.
pub fn work_dir(
    bin: &std::path::Path,
    work: Option<&std::path::PathBuf>,
) -> (tempfile::TempDir, std::path::PathBuf) {
    if !bin.exists() {
        die(format!(
            "no backstop binary at {} (cargo build --release -p backstop, or --bin)",
            bin.display()
        ));
    }
    let tmp = tempfile::tempdir_in(std::env::temp_dir()).unwrap_or_else(|e| die(e));
    let dir = match work {
        Some(w) => {
            std::fs::create_dir_all(w).unwrap_or_else(|e| die(format!("{}: {e}", w.display())));
            w.clone()
        }
        None => tmp.path().to_path_buf(),
    };
    (tmp, dir)
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
    ready_user(state, name, "official", region, None).await
}

/// Make the account `name` with `role` in `region` (tied to `org`, if given) unless it exists,
/// with [`PASSWORD`] and the bench's TOTP secret, its password change done, as the console
/// operator.
pub async fn ready_user(
    state: &AppState,
    name: &str,
    role: &str,
    region: &str,
    org: Option<i64>,
) -> Result<(), String> {
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
                roles: vec![role.into()],
                region_code: region.into(),
                org_id: org,
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

/// What [`burst`] measured: the wall time of the whole burst and, per job, its latency in
/// milliseconds with its outcome (in no particular order).
pub struct Burst<T> {
    pub wall: Duration,
    pub results: Vec<(u32, T)>,
}

/// Run `n` jobs from `clients` threads, each thread with its own keep-alive HTTP client
/// (timeout `timeout`); a job is given the client and its index and returns its outcome.
pub fn burst<T, F>(clients: usize, n: usize, timeout: Duration, job: F) -> Burst<T>
where
    T: Send + 'static,
    F: Fn(&ureq::Agent, usize) -> T + Send + Sync + 'static,
{
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
    let job = Arc::new(job);
    let next = Arc::new(AtomicUsize::new(0));
    let start = std::time::Instant::now();
    let mut handles = Vec::new();
    for _ in 0..clients.max(1) {
        let (job, next) = (job.clone(), next.clone());
        handles.push(std::thread::spawn(move || {
            let agent = agent(timeout);
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, AtomicOrdering::Relaxed);
                if i >= n {
                    break;
                }
                let t = std::time::Instant::now();
                let r = job(&agent, i);
                out.push((t.elapsed().as_millis().min(u32::MAX as u128) as u32, r));
            }
            out
        }));
    }
    let mut results = Vec::with_capacity(n);
    for h in handles {
        if let Ok(v) = h.join() {
            results.extend(v);
        }
    }
    Burst {
        wall: start.elapsed(),
        results,
    }
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
    Ok(serve_on(state, 0).await?.0)
}

/// [`serve`] on a given port of 127.0.0.1 (0: any), with the server's task (aborting it takes
/// the deployment off the network, as the federation bench's outage does).
pub async fn serve_on(
    state: &AppState,
    port: u16,
) -> std::io::Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let app = backstop_app::router(state.clone());
    // As `backstop serve` does (PostgreSQL only).
    state
        .db
        .spawn_analyze_grown(std::time::Duration::from_secs(10));
    let task = tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await;
    });
    Ok((addr, task))
}
