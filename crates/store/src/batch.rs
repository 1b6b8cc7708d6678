//! Group commit for SQLite: write jobs from many requests share one transaction and one
//! fsync.
//!
//! SQLite has one writer, and with `synchronous=FULL` every commit waits for the disk. When
//! hundreds of villages report at once, committing each submission alone makes the disk the
//! limit. `Db::write` hands a job to a single writer task instead; the task takes every job
//! waiting (up to `MAX_BATCH`), runs each inside its own `SAVEPOINT` (a failing job is rolled
//! back alone), commits once, and only then answers each caller. So a caller still hears
//! "done" only after its data is on disk, and a job never sees another's half-done work.
//! On PostgreSQL, `Db::write` runs the job in its own transaction (the server already groups
//! concurrent commits).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sqlx::{AnyConnection, AnyPool};
use tokio::sync::{Mutex, mpsc, oneshot};

/// A job's future, borrowing the connection it runs on.
pub type JobFuture<'c, T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>;

/// What a caller of `Db::write` gets back.
#[derive(Debug)]
pub enum WriteError<E> {
    /// The job itself failed (its changes were rolled back).
    Job(E),
    /// The database failed to begin or commit (nothing was written).
    Db(sqlx::Error),
    /// The database was held by another process past the busy timeout (see
    /// [`crate::is_busy`]); nothing was written and the caller may try again later.
    Busy,
}

/// Why a batch wrote nothing; sent to every job of it.
#[derive(Clone, Debug)]
pub(crate) struct Failed {
    pub(crate) message: String,
    pub(crate) busy: bool,
}

impl From<sqlx::Error> for Failed {
    fn from(e: sqlx::Error) -> Self {
        Failed {
            busy: crate::is_busy(&e),
            message: e.to_string(),
        }
    }
}

pub(crate) const MAX_BATCH: usize = 256;

type RunFn = Box<
    dyn for<'c> FnOnce(&'c mut AnyConnection) -> Pin<Box<dyn Future<Output = bool> + Send + 'c>>
        + Send,
>;

pub(crate) struct Job {
    run: RunFn,
    done: oneshot::Sender<Result<(), Failed>>,
}

/// Where a job leaves its typed result for its caller.
pub(crate) type Slot<T, E> = Arc<std::sync::Mutex<Option<Result<T, E>>>>;

/// Wrap a typed job: its result goes to the slot; the writer only learns success or failure.
pub(crate) fn job<T, E, F>(f: F) -> (Job, oneshot::Receiver<Result<(), Failed>>, Slot<T, E>)
where
    T: Send + 'static,
    E: Send + 'static,
    F: for<'c> FnOnce(&'c mut AnyConnection) -> JobFuture<'c, T, E> + Send + 'static,
{
    let slot = Arc::new(std::sync::Mutex::new(None));
    let out = slot.clone();
    let run: RunFn = Box::new(move |conn| {
        Box::pin(async move {
            let r = f(conn).await;
            let ok = r.is_ok();
            if let Ok(mut s) = out.lock() {
                *s = Some(r);
            }
            ok
        })
    });
    let (tx, rx) = oneshot::channel();
    (Job { run, done: tx }, rx, slot)
}

/// The writer task: batches jobs into transactions until the channel closes.
pub(crate) async fn writer(pool: AnyPool, lock: Arc<Mutex<()>>, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let _guard = lock.lock().await;
        let outcome = run_batch(&pool, &mut batch).await;
        for j in batch {
            let _ = j.done.send(outcome.clone());
        }
    }
}

async fn run_batch(pool: &AnyPool, batch: &mut Vec<Job>) -> Result<(), Failed> {
    // IMMEDIATE: see `Db::begin_write`.
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(Failed::from)?;
    let jobs = std::mem::take(batch);
    let mut dones = Vec::with_capacity(jobs.len());
    // Every statement is a round trip to sqlx's SQLite worker thread, so the savepoint of one
    // job is released and the next one opened in the same call; the last savepoint is left
    // open for the COMMIT, which keeps its changes.
    let mut open = false;
    for j in jobs {
        let boundary = if open {
            "RELEASE SAVEPOINT job; SAVEPOINT job"
        } else {
            "SAVEPOINT job"
        };
        sqlx::query(boundary)
            .execute(&mut *tx)
            .await
            .map_err(Failed::from)?;
        open = true;
        let ok = (j.run)(&mut tx).await;
        if !ok {
            sqlx::query("ROLLBACK TO SAVEPOINT job")
                .execute(&mut *tx)
                .await
                .map_err(Failed::from)?;
        }
        dones.push(Job {
            run: Box::new(|_| Box::pin(async { true })),
            done: j.done,
        });
    }
    *batch = dones;
    tx.commit().await.map_err(Failed::from)
}

/// A value bound to a [`Script`] statement.
#[derive(Debug, Clone)]
pub enum Arg {
    Int(i64),
    Text(String),
    OptInt(Option<i64>),
    OptText(Option<String>),
    /// Bytes (a sealed value).
    Blob(Vec<u8>),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(v.to_string())
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(v)
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Arg::Text(v.clone())
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::OptInt(v)
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::OptText(v)
    }
}

/// Several write statements sent as one round trip where the engine allows it.
///
/// On SQLite every statement is a message to sqlx's per-connection worker thread and a
/// wake-up back; inside the single writer that hand-off, not SQLite, is what a statement costs
/// (ADR 0006). sqlx's SQLite driver runs a text of several `;`-separated statements in one
/// call, binding anonymous `?` parameters across them in order, so a `Script` joins its
/// statements into one text there. PostgreSQL's extended protocol takes one statement per
/// prepared query, so there they run one after another (numbered `$N` each). Either way they
/// run in order on the caller's connection (inside its transaction); rows are not returned.
///
/// Statements use anonymous `?` placeholders only (see `Db::sql`).
#[derive(Debug, Default)]
pub struct Script {
    statements: Vec<(String, Vec<Arg>)>,
}

impl Script {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a statement written with `?` placeholders and its arguments, in order.
    pub fn push(&mut self, sql: impl Into<String>, args: Vec<Arg>) -> &mut Self {
        self.statements.push((sql.into(), args));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// Run every statement in order on `conn`: one call on SQLite, one per statement on
    /// PostgreSQL. Returns the rows changed in total.
    pub async fn execute(
        self,
        conn: &mut AnyConnection,
        backend: crate::Backend,
    ) -> Result<u64, sqlx::Error> {
        match backend {
            crate::Backend::Sqlite => {
                if self.statements.is_empty() {
                    return Ok(0);
                }
                let mut sql = String::new();
                let mut args = Vec::new();
                for (s, a) in self.statements {
                    if !sql.is_empty() {
                        sql.push_str(";\n");
                    }
                    sql.push_str(&s);
                    args.extend(a);
                }
                Ok(bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), args)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected())
            }
            crate::Backend::Postgres => {
                let mut n = 0;
                for (s, a) in self.statements {
                    let sql = crate::number_placeholders(&s);
                    n += bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), a)
                        .execute(&mut *conn)
                        .await?
                        .rows_affected();
                }
                Ok(n)
            }
        }
    }
}

/// Bind `args` in order to a query.
pub fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    args: Vec<Arg>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    for a in args {
        q = match a {
            Arg::Int(v) => q.bind(v),
            Arg::Text(v) => q.bind(v),
            Arg::OptInt(v) => q.bind(v),
            Arg::OptText(v) => q.bind(v),
            Arg::Blob(v) => q.bind(v),
        };
    }
    q
}
