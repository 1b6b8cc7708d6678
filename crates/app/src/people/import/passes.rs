//! The two passes of a roster import (ADR 0017): the whole file checked without writing (all
//! or nothing), then written with the pipeline of `write` in chunks, each its own short
//! transaction committed after [`ImportOptions::chunk`], so other writers are never held for
//! the length of the file.

use serde_json::json;

use super::households::Households;
use super::queries;
use super::regions::RegionCache;
use super::rows::*;
use super::source::*;
use super::villages::Villages;
use super::write::{BATCH_ROWS, Batch, BatchReader, Batcher, Tally};
use super::*;

/// One import between opening its file and its end: the checks and caches both passes share
/// (ADR 0017). [`Import::check`] reads the whole file once without writing (all or nothing:
/// a file with a bad row changes nothing); [`Import::write`] then reads it again and writes it
/// in chunks, each its own short transaction, so other users' saves go in between.
pub(super) struct Import<'a> {
    state: &'a AppState,
    actor: &'a Actor,
    bound: Option<RegionCode>,
    opts: &'a ImportOptions,
    report: ImportReport,
    batcher: Batcher<'a>,
    /// The villages of the import's region, when the file has a village column.
    villages: Option<Villages>,
}

impl<'a> Import<'a> {
    /// Set up for the file `rows` opened (its header decides whether rows can find their
    /// region at all).
    pub(super) async fn new<S: RowSource>(
        state: &'a AppState,
        actor: &'a Actor,
        rows: &RowReader<S>,
        bound: Option<RegionCode>,
        opts: &'a ImportOptions,
    ) -> Result<Import<'a>, ImportError> {
        if bound.is_none() && !rows.has_region_column() && !rows.has_village_column() {
            return Err(FileError::new(
                FileErrorKind::Columns,
                "文件没有“区划代码”或“村（社区）”列：请指定导入区划（--region）",
            )
            .into());
        }
        let report = ImportReport {
            encoding: rows.encoding.to_string(),
            ignored_columns: rows.ignored.clone(),
            headers: rows.headers.clone(),
            ..ImportReport::default()
        };
        let now = state.now_ms();
        let batcher = Batcher {
            state,
            scope: actor.everywhere(),
            who: Who::from(actor),
            now,
            known_regions: RegionCache::new(100_000),
            region_bounds: {
                let import_scope = actor.within_opt(bound.as_ref())?;
                let (lo, hi) = import_scope.range();
                (lo.to_string(), hi.to_string())
            },
            first_new_id: None,
            // The whole import is one action of the region it was run for: its entries go to
            // that region's chain (a national import's to the national chain).
            chain: audit::Chain::pinned(
                &bound
                    .as_ref()
                    .or(actor.scope.region())
                    .map_or_else(|| "0".to_string(), |r| r.to_string()),
            ),
            deferred: Vec::new(),
            memberships: Vec::new(),
            today: state.today().format("%Y-%m-%d").to_string(),
            households: Households::new(opts.households_by_address),
        };
        let villages = if rows.has_village_column() {
            let (lo, hi) = &batcher.region_bounds;
            Some(Villages::new(queries::villages_in(state, lo, hi).await?))
        } else {
            None
        };
        Ok(Import {
            state,
            actor,
            bound,
            opts,
            report,
            batcher,
            villages,
        })
    }

    fn reader<S: RowSource>(&mut self, rows: RowReader<S>, seal: bool) -> BatchReader<'a, S> {
        BatchReader {
            state: self.state,
            scope: self.actor.everywhere(),
            rows,
            bound: self.bound.clone(),
            villages: self.villages.take(),
            now: self.batcher.now,
            seal,
            read: 0,
            done: false,
        }
    }

    /// The first pass: every row read and checked as the write would (fields, region inside
    /// the import's and the actor's, region on record), nothing sealed and nothing written.
    /// Returns the refused import's report when a row is rejected, else `None` (the counts
    /// are reset for the second pass).
    pub(super) async fn check<S: RowSource>(
        &mut self,
        rows: RowReader<S>,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Option<ImportReport>, ImportError> {
        let mut reader = self.reader(rows, false);
        let mut conn = self.state.db.pool().acquire().await?;
        while !reader.done {
            let mut batch = Batch::default();
            let mut t = Tally::default();
            reader.fill(&mut batch, &mut t).await?;
            self.batcher.check_regions(&mut conn, &batch.rows).await?;
            for row in &batch.rows {
                if !self.batcher.known_regions.exists(row.code.as_str()) {
                    t.rejects
                        .push(row.issue(format!("区划代码 {} 不存在", row.code.as_str())));
                }
            }
            t.apply(&mut self.report, progress);
            self.report.rows = reader.read;
            progress(Progress::Checking {
                rows: reader.read,
                bytes: reader.rows.bytes(),
                rejected: self.report.rejected,
            });
        }
        self.villages = reader.villages.take();
        if self.report.rejected == 0 {
            self.report.rows = 0;
            return Ok(None);
        }
        self.report.rejects.sort_by_key(|i| i.line);
        let entry = summary(
            self.actor,
            self.bound.as_ref(),
            self.opts,
            "failure",
            &self.report,
        );
        audit::append_alone(self.state, &self.batcher.who, entry).await?;
        Ok(Some(std::mem::take(&mut self.report)))
    }

    /// The second pass, a two-step pipeline: while one batch of [`BATCH_ROWS`] rows is written
    /// (looked up, inserted, merged, audited — the database's work, on its own thread or
    /// server), the next is read, checked without the database and sealed. The two steps take
    /// turns on this task (the reader yields every `write::YIELD_ROWS` rows), so the engine's time
    /// and ours overlap instead of adding.
    ///
    /// The batches are written in chunks: a transaction is committed once it has run for
    /// [`ImportOptions::chunk`] (with its rows' households, audit entries and the job's counts
    /// so far), and the next begins after the writers that queued meanwhile. A failure rolls
    /// back its chunk only; the chunks before it stay, each whole and audited, and the error
    /// says how far the import got ([`ImportError::Interrupted`]).
    pub(super) async fn write<S: RowSource>(
        mut self,
        rows: RowReader<S>,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<ImportReport, ImportError> {
        let mut reader = self.reader(rows, true);
        let mut session = self.state.db.bulk_session().await?;
        let mut batch = Batch::default();
        let mut chunks = 0u64;
        loop {
            let outcome = self
                .chunk(&mut session, &mut reader, &mut batch, progress)
                .await;
            match outcome {
                Ok(true) => break,
                Ok(false) => {
                    chunks += 1;
                    session.checkpoint().await?;
                    progress(Progress::Committed {
                        rows: self.report.rows,
                        imported: self.report.imported,
                        merged: self.report.merged,
                    });
                }
                Err(e) if chunks > 0 => {
                    return Err(ImportError::Interrupted {
                        error: e.into_app(),
                        rows: self.report.rows,
                        imported: self.report.imported,
                        merged: self.report.merged,
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Ok(self.report)
    }

    /// One chunk: batches written in one transaction until [`ImportOptions::chunk`] has passed
    /// or the file ends, then committed. `Ok(true)` when the import is done (its summary and
    /// the job's result went with the last chunk). The report counts only what is committed.
    async fn chunk<S: RowSource>(
        &mut self,
        session: &mut backstop_store::BulkSession,
        reader: &mut BatchReader<'a, S>,
        batch: &mut Batch,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<bool, ImportError> {
        let mut w = session.begin().await?;
        match self.write_chunk(w.conn(), reader, batch, progress).await {
            Ok((last, report)) => {
                w.commit().await?;
                self.report = report;
                Ok(last)
            }
            Err(e) => {
                // Rolled back before the writer lock goes (a dropped transaction would roll
                // back only at the connection's next use, while the next writer waits).
                let _ = w.rollback().await;
                Err(e)
            }
        }
    }

    /// The work of one chunk inside its transaction: `(last, the report with it)`.
    async fn write_chunk<S: RowSource>(
        &mut self,
        conn: &mut sqlx::AnyConnection,
        reader: &mut BatchReader<'a, S>,
        batch: &mut Batch,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<(bool, ImportReport), ImportError> {
        self.batcher.chain.release();
        self.batcher.chain.start(conn, audit::NATIONAL).await?;
        let began = std::time::Instant::now();
        let mut report = self.report.clone();
        let last = loop {
            let mut next = Batch {
                rows: Vec::with_capacity(BATCH_ROWS),
                insert: None,
            };
            // Every row of the batch written now was read by here: once it is committed, the
            // file is saved up to this row.
            let through = reader.read;
            let wrote = !batch.rows.is_empty();
            let (mut written, mut read) = (Tally::default(), Tally::default());
            let (w_result, r_result) = tokio::join!(
                biased;
                self.batcher.flush(&mut *conn, batch, &mut written),
                reader.fill(&mut next, &mut read)
            );
            written.apply(&mut report, progress);
            read.apply(&mut report, progress);
            w_result?;
            r_result?;
            report.rows = through;
            progress(Progress::Rows {
                rows: reader.read,
                bytes: reader.rows.bytes(),
                imported: report.imported,
                merged: report.merged,
                rejected: report.rejected,
            });
            *batch = next;
            if batch.rows.is_empty() && reader.done {
                report.rows = reader.read;
                break true;
            }
            if wrote && began.elapsed() >= self.opts.chunk {
                break false;
            }
        };
        // The households of this chunk's merged rows, and every entry still waiting: a
        // committed chunk is whole.
        let (entries, warnings) = self
            .batcher
            .households
            .flush(self.state, &mut *conn, self.batcher.now)
            .await?;
        self.batcher.deferred.extend(entries);
        Tally {
            warnings,
            ..Tally::default()
        }
        .apply(&mut report, progress);
        self.batcher.append_deferred(&mut *conn).await?;
        if last {
            // Rows are rejected when read or when their batch is written: report them in
            // file order.
            report.rejects.sort_by_key(|i| i.line);
            report.warnings.sort_by_key(|i| i.line);
            report.committed = true;
            let entry = summary(
                self.actor,
                self.bound.as_ref(),
                self.opts,
                "success",
                &report,
            );
            self.batcher
                .append(&mut *conn, std::slice::from_ref(&entry))
                .await?;
            if let Some(job) = self.opts.job_id {
                let finished = self.state.now_ms();
                super::jobs::record_report(&mut *conn, &self.state.keys, job, &report, finished)
                    .await?;
            }
        } else if let Some(job) = self.opts.job_id {
            queries::record_committed(&mut *conn, job, &report, reader.rows.bytes()).await?;
        }
        Ok((last, report))
    }
}

/// The import's summary audit entry.
fn summary(
    actor: &Actor,
    bound: Option<&RegionCode>,
    opts: &ImportOptions,
    outcome: &'static str,
    r: &ImportReport,
) -> Entry<'static> {
    Entry {
        action: "person.import",
        object_type: "person",
        object_id: opts.job_id.map(|j| format!("job:{j}")).unwrap_or_default(),
        region_code: bound
            .map(|b| b.to_string())
            .unwrap_or_else(|| actor.scope.as_str().to_string()),
        outcome,
        detail: json!({
            "rows": r.rows, "imported": r.imported, "merged": r.merged, "rejected": r.rejected,
            "good_rows": opts.good_rows, "encoding": r.encoding, "job": opts.job_id,
        }),
    }
}
