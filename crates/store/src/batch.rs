//! Group commit for SQLite: write jobs from many requests share one transaction and one
//! fsync.
//!
//! SQLite has one writer, and with `synchronous=FULL` every commit waits for the disk. When
//! hundreds of villages report at once, committing each submission alone makes the disk the
//! limit. `Db::write` hands a job to a single writer task instead; the task takes every job
//! waiting (up to `MAX_BATCH`), runs each inside its own `SAVEPOINT` (a failing job is rolled
//! back alone), commits once, and only then answers each caller. So a caller still hears
//! "done" only after its data is on disk, and a job never sees another's half-done work.
//! On PostgreSQL the same (issue 21, ADR 0016): there each job in its own transaction held a
//! pooled connection and its province's audit-chain lock through its commit, so the jobs of
//! one province committed one after another; in one batch they share the lock and the commit.
//! (`DbOptions::pg_group_commit` turns it off.)

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
    dyn for<'c> FnOnce(
            &'c mut AnyConnection,
            &'c mut Deferred,
        ) -> Pin<Box<dyn Future<Output = bool> + Send + 'c>>
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
    F: for<'c> FnOnce(&'c mut AnyConnection, &'c mut Deferred) -> JobFuture<'c, T, E>
        + Send
        + 'static,
{
    let slot = Arc::new(std::sync::Mutex::new(None));
    let out = slot.clone();
    let run: RunFn = Box::new(move |conn, deferred| {
        Box::pin(async move {
            let r = f(conn, deferred).await;
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

/// A writer task (one per write lane): batches jobs into transactions until the channel
/// closes. `engine` names the backend in the metrics (`Db::engine`), with the lane's number.
pub(crate) async fn writer(
    pool: AnyPool,
    backend: crate::Backend,
    (engine, lane): (&'static str, usize),
    lock: Arc<Mutex<()>>,
    mut rx: mpsc::Receiver<Job>,
) {
    let lane = lane.to_string();
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        // What an operator watches in the morning (docs/OPERATIONS.md, "Metrics"): how many
        // jobs still wait, how many share a commit, and how long the batch takes.
        metrics::gauge!("backstop_write_queue_jobs", "backend" => engine, "lane" => lane.clone())
            .set(rx.len() as f64);
        metrics::histogram!("backstop_write_batch_jobs", "backend" => engine)
            .record(batch.len() as f64);
        let _guard = lock.lock().await;
        let started = std::time::Instant::now();
        let outcome = run_batch(&pool, backend, &mut batch).await;
        metrics::histogram!("backstop_write_batch_seconds", "backend" => engine,
            "outcome" => if outcome.is_ok() { "committed" } else { "failed" })
        .record(started.elapsed().as_secs_f64());
        for j in batch {
            let _ = j.done.send(outcome.clone());
        }
    }
}

async fn run_batch(
    pool: &AnyPool,
    backend: crate::Backend,
    batch: &mut Vec<Job>,
) -> Result<(), Failed> {
    // IMMEDIATE: see `Db::begin_write`.
    let begin = match backend {
        crate::Backend::Sqlite => "BEGIN IMMEDIATE",
        crate::Backend::Postgres => "BEGIN",
    };
    let mut tx = pool.begin_with(begin).await.map_err(Failed::from)?;
    let jobs = std::mem::take(batch);
    let mut dones = Vec::with_capacity(jobs.len());
    // What the jobs left to the end of the batch (only the jobs that succeeded).
    let mut deferred = Deferred::default();
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
        // Two statements in one text: PostgreSQL takes that only in the simple protocol.
        sqlx::raw_sql(sqlx::AssertSqlSafe(boundary))
            .execute(&mut *tx)
            .await
            .map_err(Failed::from)?;
        open = true;
        let mut own = Deferred::default();
        let ok = (j.run)(&mut tx, &mut own).await;
        if ok {
            deferred.absorb(own);
        } else {
            sqlx::raw_sql("ROLLBACK TO SAVEPOINT job")
                .execute(&mut *tx)
                .await
                .map_err(Failed::from)?;
        }
        dones.push(Job {
            run: Box::new(|_, _| Box::pin(async { true })),
            done: j.done,
        });
    }
    deferred
        .flush(&mut tx, backend)
        .await
        .map_err(Failed::from)?;
    *batch = dones;
    tx.commit().await.map_err(Failed::from)
}

/// An additive upsert a job leaves to the end of its batch ([`Deferred`]): `head`, then one
/// `row` per distinct key, then `tail`, which adds the amounts to a row already there.
#[derive(Debug)]
pub struct Upsert {
    /// `INSERT INTO t (k1, k2, n1) VALUES`
    pub head: &'static str,
    /// `(?,?,?)`: the keys' placeholders, then the amounts'.
    pub row: &'static str,
    /// `ON CONFLICT (k1, k2) DO UPDATE SET n1 = t.n1 + excluded.n1`
    pub tail: &'static str,
}

/// What the jobs of one batch leave to its end: additive upserts, summed per row over the
/// batch's jobs that succeeded (a failed job's go with it) and written once per row just
/// before the commit, in key order. A row every job of a batch touches — the nation's rollup of
/// the day — is then written once a batch instead of once a job: fewer writes, shorter chains
/// of row versions for its readers, and its row lock held only from the end of the batch to
/// the commit (ADR 0016). A job must not read what it leaves here.
#[derive(Debug, Default)]
pub struct Deferred {
    rows: std::collections::BTreeMap<RowKey, (&'static Upsert, Vec<i64>)>,
}

/// A deferred row: its upsert (by its head) and its keys.
type RowKey = (&'static str, Vec<String>);

impl Deferred {
    /// Add `amounts` to the row of `keys` of `upsert`.
    pub fn add(&mut self, upsert: &'static Upsert, keys: Vec<String>, amounts: &[i64]) {
        let (_, sum) = self
            .rows
            .entry((upsert.head, keys))
            .or_insert_with(|| (upsert, vec![0; amounts.len()]));
        for (s, a) in sum.iter_mut().zip(amounts) {
            *s += a;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn absorb(&mut self, other: Deferred) {
        for ((_, keys), (upsert, amounts)) in other.rows {
            self.add(upsert, keys, &amounts);
        }
    }

    /// Write every row whose amounts are not all zero: one statement per upsert and 500 rows.
    pub async fn flush(
        self,
        conn: &mut AnyConnection,
        backend: crate::Backend,
    ) -> Result<(), sqlx::Error> {
        let mut by: std::collections::BTreeMap<&'static str, Vec<_>> = Default::default();
        for ((head, keys), (upsert, amounts)) in self.rows {
            if amounts.iter().any(|a| *a != 0) {
                by.entry(head).or_default().push((upsert, keys, amounts));
            }
        }
        for rows in by.into_values() {
            for chunk in rows.chunks(500) {
                let upsert = chunk[0].0;
                let sql = format!(
                    "{} {} {}",
                    upsert.head,
                    crate::repeat_list(upsert.row, chunk.len()),
                    upsert.tail
                );
                let mut args = Vec::new();
                for (_, keys, amounts) in chunk {
                    args.extend(keys.iter().cloned().map(Arg::Text));
                    args.extend(amounts.iter().copied().map(Arg::Int));
                }
                bind_all(sqlx::query(sqlx::AssertSqlSafe(backend.sql(&sql))), args)
                    .execute(&mut *conn)
                    .await?;
            }
        }
        Ok(())
    }
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

/// Several write statements sent as one round trip.
///
/// On SQLite every statement is a message to sqlx's per-connection worker thread and a
/// wake-up back; inside the single writer that hand-off, not SQLite, is what a statement costs
/// (ADR 0006). sqlx's SQLite driver runs a text of several `;`-separated statements in one
/// call, binding anonymous `?` parameters across them in order, so a `Script` joins its
/// statements into one text there. PostgreSQL's extended protocol takes one statement per
/// query, so there the statements become one statement of data-modifying `WITH` parts (the
/// last statement is the main one; ADR 0016): one round trip instead of one per statement.
/// Either way they run on the caller's connection, inside its transaction, all or nothing;
/// rows are not returned.
///
/// **The statements must not read what another statement of the same script writes**: on
/// PostgreSQL they see one snapshot and cannot see one another's effects, nor may two of them
/// change the same row. (A submission's rollup upserts, idempotency record, outbox event and
/// audit entry are such a set.) Statements use anonymous `?` placeholders only (see `Db::sql`).
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

    /// The one text the statements are sent as, and its arguments in order.
    fn text(self, backend: crate::Backend) -> (String, Vec<Arg>) {
        let n = self.statements.len();
        let mut sql = String::new();
        let mut args = Vec::new();
        for (i, (s, a)) in self.statements.into_iter().enumerate() {
            match backend {
                crate::Backend::Sqlite => {
                    if i > 0 {
                        sql.push_str(";\n");
                    }
                    sql.push_str(&s);
                }
                crate::Backend::Postgres if i + 1 < n => {
                    sql.push_str(if i == 0 { "WITH " } else { ", " });
                    sql.push_str(&format!("s{i} AS ({s})"));
                }
                crate::Backend::Postgres => {
                    if i > 0 {
                        sql.push(' ');
                    }
                    sql.push_str(&s);
                }
            }
            args.extend(a);
        }
        (backend.sql(&sql), args)
    }

    /// Run every statement on `db`'s kind of server: in one round trip ([`Script::execute`]),
    /// or on Citus one statement at a time ([`Script::execute_each`]), where a statement whose
    /// `WITH` parts write tables of different kinds (a distributed one and one kept on the
    /// coordinator) is refused ("relation with oid 0 is not a Citus table", ADR 0003).
    pub async fn execute_on(
        self,
        conn: &mut AnyConnection,
        db: &crate::Db,
    ) -> Result<(), sqlx::Error> {
        if db.is_citus() {
            self.execute_each(conn, db.backend()).await
        } else {
            self.execute(conn, db.backend()).await
        }
    }

    /// Run the statements one by one, in order, on `conn` (one round trip each).
    pub async fn execute_each(
        self,
        conn: &mut AnyConnection,
        backend: crate::Backend,
    ) -> Result<(), sqlx::Error> {
        for (sql, args) in self.statements {
            bind_all(sqlx::query(sqlx::AssertSqlSafe(backend.sql(&sql))), args)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// Run every statement, in one round trip, on `conn`.
    pub async fn execute(
        self,
        conn: &mut AnyConnection,
        backend: crate::Backend,
    ) -> Result<(), sqlx::Error> {
        if self.statements.is_empty() {
            return Ok(());
        }
        let (sql, args) = self.text(backend);
        bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), args)
            .execute(&mut *conn)
            .await?;
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// On PostgreSQL the statements become one: the first ones as `WITH` parts, the last the
    /// main statement, placeholders numbered across all of them; on SQLite one `;` text.
    #[test]
    fn a_script_is_one_statement_on_postgres() {
        let mut s = Script::new();
        s.push("INSERT INTO a (x) VALUES (?)", vec![Arg::Int(1)]);
        s.push(
            "UPDATE b SET y = ? WHERE z = ?",
            vec![Arg::Int(2), Arg::Int(3)],
        );
        s.push("INSERT INTO c (w) VALUES (?)", vec![Arg::Int(4)]);
        let (sql, args) = std::mem::take(&mut s).text(crate::Backend::Postgres);
        assert_eq!(
            sql,
            "WITH s0 AS (INSERT INTO a (x) VALUES ($1)), s1 AS (UPDATE b SET y = $2 WHERE z = $3) \
             INSERT INTO c (w) VALUES ($4)"
        );
        assert_eq!(args.len(), 4);
        s.push("INSERT INTO a (x) VALUES (?)", vec![Arg::Int(1)]);
        s.push("INSERT INTO c (w) VALUES (?)", vec![Arg::Int(4)]);
        let (sql, _) = s.text(crate::Backend::Sqlite);
        assert_eq!(
            sql,
            "INSERT INTO a (x) VALUES (?);\nINSERT INTO c (w) VALUES (?)"
        );
    }
}
