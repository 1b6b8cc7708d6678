//! The service's shared state and configuration: database, clock, keys, policy, metrics.
//! Built once by `AppState::open` (CLI and tests) and cloned into every request.

use std::path::PathBuf;
use std::sync::Arc;

use backstop_core::clock::{Clock, SystemClock};
use backstop_core::password::PasswordPolicy;
use backstop_store::Db;

use crate::kernel::crypto::KeyRing;

/// Settings of the running service.
#[derive(Debug, Clone)]
pub struct Config {
    /// Set when the service is reached over HTTPS (directly or through a proxy): cookies get
    /// the `__Host-` prefix and `Secure`.
    pub secure_cookies: bool,
    pub policy: PasswordPolicy,
    /// Idle timeout of a web session, minutes (default 30).
    pub session_idle_minutes: i64,
    /// Absolute lifetime of a web session, minutes (default 12 h).
    pub session_absolute_minutes: i64,
    /// Largest request body accepted, bytes.
    pub max_body_bytes: usize,
    /// Largest roster upload accepted, bytes (default 200 MB).
    pub max_upload_bytes: u64,
    /// Folder for encrypted roster uploads while their import job is pending or running
    /// (default: `backstop-uploads` in the system's temporary folder).
    pub upload_dir: Option<PathBuf>,
    /// SQLite: how long a statement waits for a lock held by another process (a roster
    /// import run from the command line beside the service) before the request is answered
    /// 503 `busy` with nothing written (default 10 s).
    pub sqlite_busy_timeout: std::time::Duration,
    /// PostgreSQL: write jobs share transactions (group commit, default on;
    /// `--pg-group-commit false`; ADR 0016).
    pub pg_group_commit: bool,
    /// PostgreSQL: group-commit writers side by side, a province's reports always in the same
    /// one (`--write-lanes`; 0 = one; `DbOptions::write_lanes`, ADR 0003).
    pub write_lanes: usize,
    /// How long one write transaction of a roster import may run before it commits and lets
    /// other writers go, in ms (`--import-chunk-ms`; 0 = [`crate::people::import::CHUNK`];
    /// ADR 0017).
    pub import_chunk_ms: u64,
    /// The address people reach the service at, as `scheme://host:port` (normalised by
    /// `kernel::web::normalize_origin`; `--public-origin`). A state-changing browser request
    /// must come from it (CSRF), and `https` turns HSTS on. Unset: the `Host` header is
    /// compared instead (local use), with a warning at startup.
    pub public_origin: Option<String>,
    /// Bearer token `/metrics` requires (`--metrics-token`). Unset: `/metrics` is not served.
    pub metrics_token: Option<String>,
    /// Where notifications are sent (SMS API, webhook); none by default (`notify`).
    pub gateways: crate::notify::Gateways,
    /// How the sender batches and how many requests it has in flight per channel
    /// (`--notify-batch`, `--notify-concurrency`; `notify::SendSettings`).
    pub sender: crate::notify::SendSettings,
    /// Proxies whose `X-Forwarded-For` names the client of a public request
    /// (`--trusted-proxy`); none by default: the TCP peer is the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Public requests one address may make in a minute (`--public-requests-per-minute`,
    /// default 120); more are answered 429. A town office behind one address may need more.
    pub public_requests_per_minute: usize,
}

impl Config {
    /// [`Config::import_chunk_ms`] as the import takes it.
    pub fn import_chunk(&self) -> std::time::Duration {
        match self.import_chunk_ms {
            0 => crate::people::import::CHUNK,
            ms => std::time::Duration::from_millis(ms),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            secure_cookies: false,
            policy: PasswordPolicy::default(),
            session_idle_minutes: 30,
            session_absolute_minutes: 12 * 60,
            max_body_bytes: 2 * 1024 * 1024,
            max_upload_bytes: 200 * 1024 * 1024,
            upload_dir: None,
            sqlite_busy_timeout: std::time::Duration::from_secs(10),
            pg_group_commit: true,
            write_lanes: 0,
            import_chunk_ms: 0,
            public_origin: None,
            metrics_token: None,
            gateways: crate::notify::Gateways::default(),
            sender: crate::notify::SendSettings::default(),
            trusted_proxies: Vec::new(),
            public_requests_per_minute: 120,
        }
    }
}

pub struct Inner {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub keys: KeyRing,
    pub config: Config,
    pub caches: Caches,
    /// Latest report forms (see `reports::FormCache`).
    pub forms: crate::reports::FormCache,
    /// Resolved credentials for a few seconds (see `kernel::authcache`).
    pub auth_cache: crate::kernel::authcache::AuthCache,
    /// The login and session rules in force: `config` as changed by the security
    /// administrator (see `kernel::auth::settings`).
    pub live_rules: crate::kernel::auth::LiveRules,
    /// Per-address limits of the public pages (`public::limits`).
    pub public_limits: crate::public::PublicLimits,
    /// The disclosure key and the public donation pages' cache (`donations::disclosure`).
    pub disclosure: crate::donations::disclosure::Disclosure,
}

/// Small in-process caches of slowly changing derived values (how many villages must report
/// under a region, a region's children and name, the federation nodes). Entries expire after a
/// minute, and writers that change what they count (region import, new organisations) call
/// `invalidate`, so a cached value is never more than a minute behind a change made by another
/// process (the CLI); a writer of one kind of value forgets just its keys (`forget`).
#[derive(Default)]
pub struct Caches {
    generation: std::sync::atomic::AtomicU64,
    entries: std::sync::Mutex<std::collections::HashMap<String, (u64, std::time::Instant, Cached)>>,
}

type Cached = Arc<dyn std::any::Any + Send + Sync>;

/// A total and per-child counts.
pub type CachedCounts = (i64, Vec<(String, i64)>);

impl Caches {
    const TTL: std::time::Duration = std::time::Duration::from_secs(60);

    /// The value kept under `key`, if fresh and of type `T`.
    pub fn get<T: Clone + Send + Sync + 'static>(&self, key: &str) -> Option<T> {
        self.get_aged(key).and_then(|(v, fresh)| fresh.then_some(v))
    }

    /// The value kept under `key`, else `load`'s, kept for the next caller.
    pub async fn get_or_load<T: Clone + Send + Sync + 'static>(
        &self,
        key: &str,
        load: impl AsyncFnOnce() -> crate::kernel::error::AppResult<T>,
    ) -> crate::kernel::error::AppResult<T> {
        if let Some(v) = self.get(key) {
            return Ok(v);
        }
        let v = load().await?;
        self.put(key.to_string(), v.clone());
        Ok(v)
    }

    /// The value kept under `key` even past its minute (`false`: stale), unless invalidated
    /// since — for a value worth answering at once while it is recounted in the background.
    pub fn get_aged<T: Clone + Send + Sync + 'static>(&self, key: &str) -> Option<(T, bool)> {
        let generation = self.generation.load(std::sync::atomic::Ordering::Acquire);
        let map = self.entries.lock().ok()?;
        let (g, at, v) = map.get(key)?;
        (*g == generation)
            .then(|| {
                v.downcast_ref::<T>()
                    .cloned()
                    .map(|v| (v, at.elapsed() < Self::TTL))
            })
            .flatten()
    }

    pub fn put<T: Send + Sync + 'static>(&self, key: String, value: T) {
        let generation = self.generation.load(std::sync::atomic::Ordering::Acquire);
        if let Ok(mut map) = self.entries.lock() {
            if map.len() > 10_000 {
                map.clear();
            }
            map.insert(
                key,
                (generation, std::time::Instant::now(), Arc::new(value)),
            );
        }
    }

    /// Forget everything (call after changing regions or organisations).
    pub fn invalidate(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Forget the entries whose key starts with `prefix`.
    pub fn forget(&self, prefix: &str) {
        if let Ok(mut map) = self.entries.lock() {
            map.retain(|k, _| !k.starts_with(prefix));
        }
    }
}

#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Where the service keeps its files (database, keys) unless told otherwise.
pub fn default_data_dir() -> PathBuf {
    PathBuf::from("backstop-data")
}

impl AppState {
    pub fn new(db: Db, clock: Arc<dyn Clock>, keys: KeyRing, config: Config) -> Self {
        // The process's metrics recorder, before anything records (kernel::ops).
        let _ = crate::kernel::ops::recorder();
        AppState(Arc::new(Inner {
            db,
            clock,
            keys,
            caches: Caches::default(),
            forms: crate::reports::FormCache::default(),
            auth_cache: Default::default(),
            live_rules: crate::kernel::auth::LiveRules::new(&config),
            public_limits: Default::default(),
            disclosure: Default::default(),
            config,
        }))
    }

    pub fn with_system_clock(db: Db, keys: KeyRing, config: Config) -> Self {
        Self::new(db, Arc::new(SystemClock), keys, config)
    }

    /// Today's date in Beijing, from the injected clock.
    pub fn today(&self) -> chrono::NaiveDate {
        backstop_core::clock::beijing_date(self.clock.now())
    }

    /// The password, lockout and session rules in force (the configuration as changed by the
    /// security administrator's settings).
    pub fn rules(&self) -> crate::kernel::auth::Rules {
        self.live_rules.get()
    }

    /// Current time in Unix milliseconds, from the injected clock.
    pub fn now_ms(&self) -> i64 {
        backstop_core::clock::to_millis(self.clock.now())
    }
}
