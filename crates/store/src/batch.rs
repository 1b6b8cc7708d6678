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
}

pub(crate) const MAX_BATCH: usize = 256;

type RunFn = Box<
    dyn for<'c> FnOnce(&'c mut AnyConnection) -> Pin<Box<dyn Future<Output = bool> + Send + 'c>>
        + Send,
>;

pub(crate) struct Job {
    run: RunFn,
    done: oneshot::Sender<Result<(), String>>,
}

/// Where a job leaves its typed result for its caller.
pub(crate) type Slot<T, E> = Arc<std::sync::Mutex<Option<Result<T, E>>>>;

/// Wrap a typed job: its result goes to the slot; the writer only learns success or failure.
pub(crate) fn job<T, E, F>(f: F) -> (Job, oneshot::Receiver<Result<(), String>>, Slot<T, E>)
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

async fn run_batch(pool: &AnyPool, batch: &mut Vec<Job>) -> Result<(), String> {
    // IMMEDIATE: see `Db::begin_write`.
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|e| e.to_string())?;
    let jobs = std::mem::take(batch);
    let mut dones = Vec::with_capacity(jobs.len());
    for j in jobs {
        sqlx::query("SAVEPOINT job")
            .execute(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
        let ok = (j.run)(&mut tx).await;
        if !ok {
            sqlx::query("ROLLBACK TO SAVEPOINT job")
                .execute(&mut *tx)
                .await
                .map_err(|e| e.to_string())?;
        }
        sqlx::query("RELEASE SAVEPOINT job")
            .execute(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
        dones.push(Job {
            run: Box::new(|_| Box::pin(async { true })),
            done: j.done,
        });
    }
    *batch = dones;
    tx.commit().await.map_err(|e| e.to_string())
}
