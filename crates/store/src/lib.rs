//! Database access for Backstop.
//!
//! Owns the connection pool, the choice of backend (embedded SQLite or PostgreSQL), the
//! migrations, and the small set of dialect differences. Everything above this crate writes
//! one SQL text with `$1`-style placeholders that both engines accept, through sqlx's `Any`
//! driver, so the same query layer and the same tests run on both backends (ADR 0002).
//!
//! Conventions every table follows (so the SQL stays portable):
//! - integers, flags and timestamps are `BIGINT` (flags 0/1, timestamps Unix milliseconds UTC);
//! - money is `BIGINT` fen; text is `TEXT`; ciphertext is `BLOB`/`BYTEA`;
//! - aggregate results are cast back to `BIGINT` (`SUM` is `NUMERIC` on PostgreSQL).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};
use tokio::sync::{Mutex, OwnedMutexGuard};

pub use sqlx;

mod batch;
pub mod citus;
mod migrate;
pub use batch::{Arg, Deferred, JobFuture, Script, Upsert, WriteError, bind_all};
pub use migrate::{MIGRATIONS, render as render_migration};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("不支持的数据库地址 `{0}`：只支持 sqlite://路径 或 postgres://…")]
    UnsupportedUrl(String),
    #[error("无法创建数据目录 {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("数据库错误: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("迁移 {version} 失败: {source}")]
    Migration { version: i64, source: sqlx::Error },
    #[error("Citus 分布表失败（{sql}）: {source}")]
    Citus { sql: String, source: sqlx::Error },
}

/// Which engine is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// See [`Db::sql`].
    pub fn sql(self, statement: &str) -> String {
        match self {
            Backend::Sqlite => statement.to_string(),
            Backend::Postgres => number_placeholders(statement),
        }
    }

    /// The verb for a multi-row insert whose failure rolls back the enclosing transaction or
    /// savepoint anyway: `INSERT OR FAIL` on SQLite, `INSERT` on PostgreSQL.
    ///
    /// A plain multi-row `INSERT` that may fail on a constraint half-way makes SQLite undo just
    /// that statement, so it first copies every page it is about to change into a statement
    /// journal (14 % of a roster import in `perf`). `OR FAIL` stops at the failing row without
    /// undoing the rows before it — the same result when the caller rolls back on any error,
    /// which every write path here does. An immediate foreign key on the table still needs
    /// the journal, see [`Db::bulk_session`].
    pub fn bulk_insert(self) -> &'static str {
        match self {
            Backend::Sqlite => "INSERT OR FAIL",
            Backend::Postgres => "INSERT",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The shared database handle: a pool plus, on SQLite, the single-writer lock.
///
/// SQLite allows one writer at a time; a deferred transaction that reads and then writes can
/// fail with `SQLITE_BUSY` instead of waiting. All write transactions therefore go through
/// [`Db::begin_write`], which on SQLite holds a process-wide async mutex for the life of the
/// transaction (the busy timeout still covers other processes, such as the CLI).
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    writer: Arc<Mutex<()>>,
    /// Group-commit queues, one per write lane (one on SQLite; none on PostgreSQL without
    /// group commit), see `batch` and [`Db::write`].
    /// Shared, so cloning a `Db` (every write transaction holds one) allocates nothing.
    batch: Arc<[tokio::sync::mpsc::Sender<batch::Job>]>,
    /// A few connections of their own for reads that must stay fast while writers hold the
    /// main pool (PostgreSQL only), see [`Db::reader`].
    reader: Option<AnyPool>,
    /// The PostgreSQL server is a Citus coordinator (the `citus` extension is installed in
    /// this database): the migrations then distribute the tables (`citus`).
    citus: bool,
}

/// How [`Db::connect_opts`] opens the pool.
#[derive(Clone, Copy, Debug)]
pub struct DbOptions {
    /// Connections in the main pool (default 16).
    pub max_connections: u32,
    /// SQLite: how long a statement waits for a lock held by another process (a CLI import
    /// beside the running service, a backup tool) before it fails with `SQLITE_BUSY`, which
    /// [`is_busy`] recognises (default 10 s). Writers of this process never wait on it: they
    /// queue on [`Db`]'s writer lock first.
    pub busy_timeout: Duration,
    /// PostgreSQL: run [`Db::write`] jobs through the group commit as on SQLite (one
    /// transaction, one commit for the jobs waiting together) rather than each in its own
    /// transaction (default on; measured in `docs/BENCHMARKS.md`, ADR 0016).
    pub pg_group_commit: bool,
    /// PostgreSQL: how many group-commit writers run side by side, each with its own queue,
    /// transaction and connection ("write lanes"); a job goes to the lane of its key (a
    /// report's province), so a province's jobs still share one lane and its chain's lock,
    /// while different provinces commit in parallel. 0 = one
    /// ([`DbOptions::lanes`]). SQLite has one writer: always one lane.
    pub write_lanes: usize,
}

impl DbOptions {
    /// The number of write lanes for `backend`: the setting, or one (ADR 0016's measurements
    /// on PostgreSQL; on Citus eight lanes measured no faster on 2 cores, where the
    /// coordinator's CPU is the limit — ADR 0003).
    pub fn lanes(&self, backend: Backend) -> usize {
        match backend {
            Backend::Sqlite => 1,
            Backend::Postgres => self.write_lanes.max(1),
        }
    }
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            max_connections: 16,
            busy_timeout: Duration::from_secs(10),
            pg_group_commit: true,
            write_lanes: 0,
        }
    }
}

/// Whether `e` means the database was too busy to do the work now, and nothing was written:
/// SQLite's `SQLITE_BUSY` / `SQLITE_LOCKED` (and their extended codes: another process held
/// the lock past the busy timeout), PostgreSQL's `lock_not_available`, `deadlock_detected`
/// and `serialization_failure`. The caller may try again later.
pub fn is_busy(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = e else {
        return false;
    };
    db.code().is_some_and(|c| busy_code(&c))
}

/// [`is_busy`] for a database error code: a PostgreSQL SQLSTATE (always five characters,
/// some all digits) or a SQLite result code (a number of at most four digits; the primary code
/// is the low byte of an extended one).
fn busy_code(code: &str) -> bool {
    if code.len() == 5 {
        return matches!(code, "55P03" | "40P01" | "40001");
    }
    code.parse::<i64>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
}

/// SQLite page cache of a [`Db::bulk_session`] connection, in KiB (a ceiling: pages are
/// allocated as they are used, so a small import never takes it). Bulk imports insert into
/// several random-keyed indexes in one transaction; with a small cache their pages are read
/// back from the OS and spilled to the WAL over and over. A 1,000,000-row roster import took
/// 79 s with 64 MB and 58 s with 256 MB (`docs/BENCHMARKS.md`). Memory stays bounded by this
/// whatever the size of the file.
pub const BULK_CACHE_KIB: i64 = 256 * 1024;

/// Rows written since its last analysis below which [`Db::analyze_grown`] leaves a table to
/// autovacuum: the plans of a small table do not matter yet.
pub const GROWN_ROWS: i64 = 1000;

/// A write transaction (plus, on SQLite, the writer lock it holds until commit or drop).
pub struct WriteTx {
    pub tx: sqlx::Transaction<'static, sqlx::Any>,
    _guard: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// The connection to run statements on: `&mut *w.conn()`.
    pub fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
    /// Roll back now, and only then release the writer lock (dropping also rolls back, but
    /// the rollback then runs later, after the lock is gone).
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

/// A connection for bulk work that commits in chunks, see [`Db::bulk_session`].
pub struct BulkSession {
    conn: sqlx::pool::PoolConnection<sqlx::Any>,
    /// SQLite's single-writer lock, taken for each transaction only.
    writer: Option<Arc<Mutex<()>>>,
}

impl BulkSession {
    /// Begin one chunk's write transaction (on SQLite, after taking the writer lock, which is
    /// fair: writers that queued while the last chunk ran go first).
    pub async fn begin(&mut self) -> Result<BulkTx<'_>, sqlx::Error> {
        let guard = match &self.writer {
            Some(w) => Some(w.clone().lock_owned().await),
            None => None,
        };
        // IMMEDIATE on SQLite: the write lock is taken at BEGIN (see `begin_write`).
        let begin = guard
            .is_some()
            .then(|| sqlx::SqlSafeStr::into_sql_str("BEGIN IMMEDIATE"));
        let tx = sqlx::Transaction::begin(&mut *self.conn, begin).await?;
        Ok(BulkTx { tx, _guard: guard })
    }
}

impl BulkSession {
    /// On SQLite, copy what the last chunks added to the WAL back into the database file
    /// (`PRAGMA wal_checkpoint(PASSIVE)`), outside any transaction and without the writer
    /// lock: other writers go on meanwhile, and their small commits do not find a WAL grown by
    /// the import that their own automatic checkpoint would then copy while they wait. Nothing
    /// on PostgreSQL.
    pub async fn checkpoint(&mut self) -> Result<(), sqlx::Error> {
        if self.writer.is_some() {
            self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").await?;
        }
        Ok(())
    }
}

/// One chunk's write transaction of a [`BulkSession`] (and, on SQLite, the writer lock until
/// it ends).
pub struct BulkTx<'c> {
    tx: sqlx::Transaction<'c, sqlx::Any>,
    _guard: Option<OwnedMutexGuard<()>>,
}

impl BulkTx<'_> {
    /// The connection to run statements on.
    pub fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
    /// Roll back now, and only then release the writer lock.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

/// Parse the scheme of a database URL, refusing anything but SQLite and PostgreSQL.
pub fn backend_of(url: &str) -> Result<Backend, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        Err(StoreError::UnsupportedUrl(redact_url(url)))
    }
}

/// The URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// The file path of a `sqlite://PATH` URL (`sqlite::memory:` has none).
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path.starts_with(":memory:") {
        None
    } else {
        Some(PathBuf::from(path))
    }
}

/// Create `dir` and its missing parents, each new folder 0700 on Unix (a folder that exists
/// keeps its mode: it may be a shared one such as `/var/lib`). Data, keys and uploads live in
/// folders made by this.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

/// Create an empty SQLite database file 0600 on Unix before SQLite opens it (SQLite would
/// create it 0644 under the usual umask; it gives its `-wal` and `-shm` files the database
/// file's mode). An existing file is left as it is, with a warning when others may read it.
fn create_private_file(file: &Path) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(file) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(file)?.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    tracing::warn!(
                        file = %file.display(),
                        mode = format!("{mode:o}"),
                        "the database file is readable by other users; run chmod 600 on it"
                    );
                }
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

impl Db {
    /// Connect (creating the SQLite file and its folder if needed). Does not migrate.
    pub async fn connect(url: &str) -> Result<Db, StoreError> {
        Self::connect_opts(url, DbOptions::default()).await
    }

    /// [`Db::connect`] with options of the caller's own.
    pub async fn connect_opts(url: &str, o: DbOptions) -> Result<Db, StoreError> {
        let max_connections = o.max_connections;
        let busy_ms = o.busy_timeout.as_millis();
        sqlx::any::install_default_drivers();
        let backend = backend_of(url)?;
        let url = match backend {
            Backend::Sqlite => {
                let path = sqlite_path(url);
                if let Some(dir) = path
                    .as_deref()
                    .and_then(Path::parent)
                    .filter(|d| !d.as_os_str().is_empty())
                {
                    create_private_dir(dir).map_err(|source| StoreError::DataDir {
                        path: dir.to_path_buf(),
                        source,
                    })?;
                }
                if let Some(file) = path.as_deref() {
                    create_private_file(file).map_err(|source| StoreError::DataDir {
                        path: file.to_path_buf(),
                        source,
                    })?;
                }
                if url.contains('?') {
                    url.to_string()
                } else {
                    format!("{url}?mode=rwc")
                }
            }
            Backend::Postgres => url.to_string(),
        };
        let opts = AnyConnectOptions::from_str(&url)?.disable_statement_logging();
        if backend == Backend::Sqlite {
            // WAL is a property of the database file: switch it once, on one connection,
            // before the pool opens several (switching concurrently can fail to open).
            let mut first = opts.connect().await?;
            first
                .execute(sqlx::AssertSqlSafe(format!(
                    "PRAGMA busy_timeout={busy_ms}; PRAGMA journal_mode=WAL;"
                )))
                .await?;
            sqlx::Connection::close(first).await?;
        }
        let citus = match backend {
            Backend::Postgres => {
                let mut first = opts.connect().await?;
                let citus = sqlx::query_scalar::<_, bool>(
                    "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')",
                )
                .fetch_one(&mut first)
                .await?;
                sqlx::Connection::close(first).await?;
                citus
            }
            Backend::Sqlite => false,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute(sqlx::AssertSqlSafe(format!(
                            "PRAGMA busy_timeout={busy_ms}; PRAGMA synchronous=FULL; \
                             PRAGMA foreign_keys=ON;"
                        )))
                        .await?;
                    }
                    if citus {
                        // A transaction that wrote several shards may then write a reference
                        // table (users, orgs) or a table on the coordinator only over one
                        // connection per node; without this Citus refuses the later write.
                        conn.execute("SET citus.multi_shard_modify_mode TO 'sequential'")
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(opts)
            .await?;
        let reader = match backend {
            Backend::Postgres => Some(
                AnyPoolOptions::new()
                    .max_connections(4)
                    .min_connections(0)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(AnyConnectOptions::from_str(&url)?.disable_statement_logging())
                    .await?,
            ),
            Backend::Sqlite => None,
        };
        let writer = Arc::new(Mutex::new(()));
        let lanes = match backend {
            Backend::Postgres if !o.pg_group_commit => 0,
            _ => o.lanes(backend),
        };
        let engine = if citus { "citus" } else { backend.as_str() };
        let batch = (0..lanes)
            .map(|lane| {
                let (tx, rx) = tokio::sync::mpsc::channel(4096);
                // SQLite's one writer shares the lock of `begin_write`; PostgreSQL's lanes
                // need none between them.
                let lock = match backend {
                    Backend::Sqlite => writer.clone(),
                    Backend::Postgres => Arc::new(Mutex::new(())),
                };
                tokio::spawn(batch::writer(
                    pool.clone(),
                    backend,
                    (engine, lane),
                    lock,
                    rx,
                ));
                tx
            })
            .collect();
        Ok(Db {
            pool,
            backend,
            writer,
            batch,
            reader,
            citus,
        })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The pool for dashboard and summary reads. On PostgreSQL it is a small pool of its own:
    /// without group commit every write transaction holds a main-pool connection, and in a
    /// reporting burst the summaries would queue behind them (measured: 447 ms p99). On SQLite
    /// it is the main pool (readers do not wait for the writer in WAL mode).
    pub fn reader(&self) -> &AnyPool {
        self.reader.as_ref().unwrap_or(&self.pool)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether this is a Citus coordinator (a PostgreSQL backend with the `citus` extension):
    /// the same SQL, with the large tables distributed by province (`citus`, ADR 0003).
    pub fn is_citus(&self) -> bool {
        self.citus
    }

    /// The engine's name for metrics and health: `sqlite`, `postgres` or `citus`.
    pub fn engine(&self) -> &'static str {
        if self.citus {
            "citus"
        } else {
            self.backend.as_str()
        }
    }

    /// The queue of the write lane named `key` (FNV-1a of its bytes modulo the lanes), if
    /// writes go through the group commit.
    fn lane(&self, key: &str) -> Option<&tokio::sync::mpsc::Sender<batch::Job>> {
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let n = self.batch.len() as u64;
        (n > 0).then(|| &self.batch[(hash % n) as usize])
    }

    /// Begin a write transaction (serialised on SQLite, see the type's docs).
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        let guard = match self.backend {
            Backend::Sqlite => Some(self.writer.clone().lock_owned().await),
            Backend::Postgres => None,
        };
        // IMMEDIATE on SQLite: the write lock is taken at BEGIN, where the busy timeout applies.
        // A dropped (not committed) transaction releases the in-process lock at once but its
        // rollback runs a moment later on its connection; a deferred BEGIN that then tried to
        // upgrade would fail with SQLITE_BUSY instead of waiting for it.
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(WriteTx { tx, _guard: guard })
    }

    /// A connection kept for bulk work that commits in chunks (a roster import, ADR 0017):
    /// [`BulkSession::begin`] opens one short write transaction at a time on it, and between
    /// two of them other writers take their turn. On PostgreSQL it is a pooled connection. On
    /// SQLite the connection is set up with a larger page cache ([`BULK_CACHE_KIB`], kept
    /// warm from chunk to chunk because the connection is) and statement journals in memory
    /// (`temp_store = MEMORY`), and it is closed afterwards instead of going back to the pool,
    /// so none of its settings reaches other work.
    ///
    /// Foreign keys are **not enforced by SQLite on this connection**: a foreign key declared
    /// immediate (as all of ours are) makes SQLite keep a statement journal for every
    /// multi-row insert — a copy of each page the statement touches, 14 % of a roster import
    /// in `perf` — even when the check itself is deferred (see [`Backend::bulk_insert`]). The
    /// caller must therefore check every reference itself inside the transaction that writes
    /// it, as the roster import does for region codes (the only reference its rows carry).
    /// PostgreSQL enforces them as always.
    ///
    /// These settings only take effect outside a transaction, hence the set-up here.
    pub async fn bulk_session(&self) -> Result<BulkSession, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        let writer = match self.backend {
            Backend::Sqlite => {
                conn.close_on_drop();
                // No checkpoint inside a chunk's commit (while the writer lock is held, so
                // that others would wait for it): [`BulkSession::checkpoint`] runs it after.
                conn.execute(sqlx::AssertSqlSafe(format!(
                    "PRAGMA cache_size = -{BULK_CACHE_KIB}; PRAGMA temp_store = MEMORY; \
                     PRAGMA foreign_keys = OFF; PRAGMA wal_autocheckpoint = 0"
                )))
                .await?;
                Some(self.writer.clone())
            }
            Backend::Postgres => None,
        };
        Ok(BulkSession { conn, writer })
    }

    /// Run a write job and commit it. Jobs from concurrent callers share one transaction and
    /// one commit (group commit, see `batch`), each inside its own savepoint — on PostgreSQL
    /// too unless [`DbOptions::pg_group_commit`] is off, when the job has its own transaction.
    /// A job may leave additive upserts to the end of its batch ([`Deferred`]): written once
    /// per row for the whole batch, just before the commit, if the job succeeded. Returns only after the commit: `Ok` means
    /// durable. A job that returns `Err` is rolled back alone.
    ///
    /// `lane` names the job's write lane ([`DbOptions::write_lanes`]): jobs with the same
    /// name always share one; those that lock the same rows (a province's audit chain and
    /// rollup rows) must name the same lane, or two lanes' batches could wait on each other.
    pub async fn write<T, E, F>(&self, lane: &str, f: F) -> Result<T, WriteError<E>>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: for<'c> FnOnce(&'c mut sqlx::AnyConnection, &'c mut Deferred) -> JobFuture<'c, T, E>
            + Send
            + 'static,
    {
        let Some(queue) = self.lane(lane) else {
            let mut tx = self.pool.begin().await.map_err(WriteError::Db)?;
            let mut deferred = Deferred::default();
            let r = f(&mut tx, &mut deferred).await;
            return match r {
                Ok(v) => {
                    deferred
                        .flush(&mut tx, self.backend)
                        .await
                        .map_err(WriteError::Db)?;
                    tx.commit().await.map_err(WriteError::Db)?;
                    Ok(v)
                }
                Err(e) => Err(WriteError::Job(e)),
            };
        };
        let (job, done, slot) = batch::job(f);
        queue
            .send(job)
            .await
            .map_err(|_| WriteError::Db(sqlx::Error::PoolClosed))?;
        let committed = done
            .await
            .map_err(|_| WriteError::Db(sqlx::Error::PoolClosed))?;
        let result = slot.lock().ok().and_then(|mut s| s.take());
        match (committed, result) {
            (Ok(()), Some(Ok(v))) => Ok(v),
            (_, Some(Err(e))) => Err(WriteError::Job(e)),
            (Err(f), _) if f.busy => Err(WriteError::Busy),
            (Err(f), _) => Err(WriteError::Db(sqlx::Error::Protocol(f.message))),
            (Ok(()), None) => Err(WriteError::Db(sqlx::Error::Protocol("job lost".into()))),
        }
    }

    /// Adapt a statement written with anonymous `?` placeholders to the backend: unchanged on
    /// SQLite, numbered `$1, $2, …` on PostgreSQL (`?` inside quoted literals is left alone).
    ///
    /// Use it for statements with many parameters (multi-row `VALUES` lists): sqlx looks each
    /// `$N` up by name on SQLite, and SQLite finds names by a linear scan, so binding a
    /// statement with thousands of `$N` costs time quadratic in their number (measured: 82 % of
    /// a region import). Do not mix `?` and `$N` in one statement.
    pub fn sql(&self, statement: &str) -> String {
        self.backend.sql(statement)
    }

    /// Apply pending migrations; returns the names applied now.
    pub async fn migrate(&self) -> Result<Vec<String>, StoreError> {
        migrate::run(self).await
    }

    /// Cheap liveness probe of the database.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// Gather planner statistics now for every table that has more than doubled (by rows
    /// written, at least [`GROWN_ROWS`]) since it was last analysed; the names analysed.
    /// PostgreSQL only (SQLite: nothing, its planner does without).
    ///
    /// Autovacuum would, but only at its next round (`autovacuum_naptime`, 60 s by default):
    /// until then the plans of a table that was empty at dawn are the plans of an empty table.
    /// On a new deployment's first morning that halves the report burst (570 against 1,029
    /// submissions/s, ADR 0016), and it happens again after every restore or major upgrade,
    /// which carry no statistics. The service calls this every few seconds; a table that
    /// grows by its ordinary daily share never qualifies, so on an ordinary day it reads
    /// `pg_stat_user_tables` and does nothing else.
    pub async fn analyze_grown(&self) -> Result<Vec<String>, sqlx::Error> {
        if self.backend != Backend::Postgres {
            return Ok(Vec::new());
        }
        let grown: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT CAST(s.relname AS TEXT) FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
             WHERE s.schemaname = current_schema() AND s.n_mod_since_analyze >= {GROWN_ROWS} \
             AND s.n_mod_since_analyze > GREATEST(c.reltuples, 0) ORDER BY s.relname"
        )))
        .fetch_all(&self.pool)
        .await?;
        let mut done = Vec::new();
        for table in grown {
            // Names come from the catalogue; only the migrations' plain names are analysed.
            if !table
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                continue;
            }
            sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE {table}")))
                .execute(&self.pool)
                .await?;
            done.push(table);
        }
        Ok(done)
    }

    /// Run [`Db::analyze_grown`] every `every` for as long as the runtime runs (PostgreSQL;
    /// on SQLite nothing is started). Failures are logged and the loop goes on.
    pub fn spawn_analyze_grown(&self, every: std::time::Duration) {
        if self.backend != Backend::Postgres {
            return;
        }
        let db = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                match db.analyze_grown().await {
                    Ok(t) if t.is_empty() => {}
                    Ok(t) => tracing::info!(tables = %t.join(","), "statistics gathered"),
                    Err(e) => tracing::warn!(error = %e, "gathering statistics failed"),
                }
            }
        });
    }

    /// Online backup of a SQLite database into `dest` (VACUUM INTO: a consistent snapshot
    /// taken while the service runs). PostgreSQL has pg_dump for this.
    pub async fn backup_sqlite(&self, dest: &Path) -> Result<(), StoreError> {
        if self.backend != Backend::Sqlite {
            return Err(StoreError::UnsupportedUrl(
                "PostgreSQL 请使用 pg_dump 备份".to_string(),
            ));
        }
        let dest = dest.to_string_lossy().replace('\'', "''");
        let sql = format!("VACUUM INTO '{dest}'");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn close(&self) {
        if let Some(r) = &self.reader {
            r.close().await;
        }
        self.pool.close().await;
    }
}

/// `item` repeated `n` times, comma-separated: the `VALUES` rows or `IN` list of a statement
/// with `?` placeholders (`repeat_list("(?,?)", 2)` = `(?,?),(?,?)`; see [`Db::sql`]).
pub fn repeat_list(item: &str, n: usize) -> String {
    let mut out = String::with_capacity((item.len() + 1) * n);
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item);
    }
    out
}

/// Replace each `?` outside single-quoted literals with `$1`, `$2`, ….
pub fn number_placeholders(statement: &str) -> String {
    let mut out = String::with_capacity(statement.len() + statement.len() / 2);
    let mut n = 0usize;
    let mut in_literal = false;
    for c in statement.chars() {
        match c {
            '\'' => {
                in_literal = !in_literal;
                out.push(c);
            }
            '?' if !in_literal => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_codes() {
        // SQLite: BUSY, LOCKED, BUSY_RECOVERY (261), BUSY_SNAPSHOT (517), BUSY_TIMEOUT (773),
        // LOCKED_SHAREDCACHE (262); not CONSTRAINT (19) or CONSTRAINT_UNIQUE (2067).
        for c in [
            "5", "6", "261", "517", "773", "262", "55P03", "40P01", "40001",
        ] {
            assert!(busy_code(c), "{c}");
        }
        for c in ["19", "2067", "1", "23505", "23503", "XX000", ""] {
            assert!(!busy_code(c), "{c}");
        }
    }

    #[test]
    fn refuses_other_schemes() {
        assert!(matches!(
            backend_of("mysql://x"),
            Err(StoreError::UnsupportedUrl(_))
        ));
        assert_eq!(backend_of("sqlite://a.db").ok(), Some(Backend::Sqlite));
        assert_eq!(
            backend_of("postgres://u@h/db").ok(),
            Some(Backend::Postgres)
        );
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }

    #[test]
    fn numbers_placeholders_outside_literals() {
        assert_eq!(
            number_placeholders("INSERT INTO t VALUES (?, '?', ?),(?,'a''?',?)"),
            "INSERT INTO t VALUES ($1, '?', $2),($3,'a''?',$4)"
        );
    }

    #[test]
    fn repeats_lists() {
        assert_eq!(repeat_list("(?,?)", 2), "(?,?),(?,?)");
        assert_eq!(repeat_list("?", 1), "?");
        assert_eq!(repeat_list("?", 0), "");
    }

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            sqlite_path("sqlite://backstop-data/b.db"),
            Some(PathBuf::from("backstop-data/b.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
    }
}
