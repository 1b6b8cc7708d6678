//! The bulk write of a roster (ADR 0008): a two-step pipeline. While the engine writes one
//! batch (region check, multi-row `INSERT … ON CONFLICT DO NOTHING`, merges, audit entries),
//! the next batch is read, checked and sealed, and the last batch's audit entries are hashed.
//! Its statements are in `queries`; their batching and overlap are here and must stay as they
//! are (the import's throughput depends on them). The two passes over a file and the chunks
//! the write commits in (ADR 0017) are in `passes`.

use serde_json::json;

use super::households::{Households, Placement};
use super::merge::merge;
use super::queries;
use super::regions::RegionCache;
use super::rows::*;
use super::source::*;
use super::villages::Villages;
use super::*;
use crate::kernel::access::Scoped;
use crate::people::links::{LinkKind, link_detail, write_link};
use crate::people::queries::{Stored, load_by_index, numbers};
use crate::people::{Checked, Sealed, seal_person};

/// Rows looked up, checked and written together (one `SELECT … IN`, one multi-row `INSERT`,
/// one multi-row audit `INSERT` per batch instead of four statements per row).
pub(super) const BATCH_ROWS: usize = 1000;

/// A row that passed every check that needs no database, waiting for its batch.
pub(super) struct Pending {
    pub(super) line: u64,
    pub(super) code: RegionCode,
    pub(super) fields: Checked,
    pub(super) sealed: Sealed,
    /// The ID number masked for the importer (for row reports).
    pub(super) id_masked: String,
    /// Care categories to record (`care_memberships`).
    pub(super) categories: Vec<&'static str>,
    /// The original cells (for the rejected-rows file).
    pub(super) raw: String,
    /// The household number cell, and the relationship to the head.
    pub(super) household: String,
    pub(super) relationship: Option<&'static str>,
}

impl Pending {
    pub(super) fn issue(&self, reason: String) -> RowIssue {
        RowIssue {
            line: self.line,
            reason,
            id_masked: self.id_masked.clone(),
            raw: self.raw.clone(),
        }
    }

    fn index(&self) -> &str {
        self.sealed.id_index.as_deref().unwrap_or("")
    }
}

/// One batch of rows read and checked, with the statement inserting all of them (built by the
/// reader while the engine was busy; rebuilt for fewer rows if some turn out unwritable).
#[derive(Default)]
pub(super) struct Batch {
    pub(super) rows: Vec<Pending>,
    pub(super) insert: Option<queries::Statement>,
}

/// Counts and row issues from one step of the pipeline (reading a batch, or writing one). Each
/// step keeps its own, and the import adds them to the report after both steps of a round
/// have finished, so the two can run at the same time. At most one batch's worth of issues.
#[derive(Default)]
pub(super) struct Tally {
    pub(super) imported: u64,
    pub(super) merged: u64,
    pub(super) rejects: Vec<RowIssue>,
    pub(super) warnings: Vec<RowIssue>,
}

impl Tally {
    /// Add to the report (the first [`MAX_ISSUES`] issues of each kind are kept) and pass
    /// every issue to the progress callback.
    pub(super) fn apply(self, report: &mut ImportReport, progress: &mut dyn FnMut(Progress<'_>)) {
        report.imported += self.imported;
        report.merged += self.merged;
        for issue in self.rejects {
            report.rejected += 1;
            progress(Progress::Rejected(&issue));
            if report.rejects.len() < MAX_ISSUES {
                report.rejects.push(issue);
            }
        }
        for warning in self.warnings {
            report.warnings_total += 1;
            progress(Progress::Warning(&warning));
            if report.warnings.len() < MAX_ISSUES {
                report.warnings.push(warning);
            }
        }
    }
}

/// How many rows the reader parses before letting the writer look at its statement (so the
/// writer's next statement is sent as soon as the previous one is done).
pub(super) const YIELD_ROWS: usize = 50;

/// The reading side of the pipeline: rows parsed, checked without the database and sealed
/// (encrypted, blind-indexed), a batch at a time.
pub(super) struct BatchReader<'a, S: RowSource> {
    pub(super) state: &'a AppState,
    /// The actor's whole scope: rows outside it are rejected.
    pub(super) scope: Scoped<'a>,
    pub(super) rows: RowReader<S>,
    pub(super) bound: Option<RegionCode>,
    /// The villages of the import's region, when the file has a village column.
    pub(super) villages: Option<Villages>,
    pub(super) now: i64,
    /// Seal the rows (the write); the first pass only checks them.
    pub(super) seal: bool,
    /// Data rows read so far.
    pub(super) read: u64,
    /// The end of the file was reached.
    pub(super) done: bool,
}

impl<S: RowSource> BatchReader<'_, S> {
    /// Read up to [`BATCH_ROWS`] rows: the good ones into `out` (with their `INSERT`), the
    /// bad ones into `t`. Nothing once the end of the file has been reached.
    pub(super) async fn fill(&mut self, out: &mut Batch, t: &mut Tally) -> Result<(), ImportError> {
        if self.done {
            return Ok(());
        }
        for n in 1..=BATCH_ROWS {
            if n % YIELD_ROWS == 0 {
                tokio::task::yield_now().await;
            }
            let next = self.rows.next_row().map_err(|f| {
                FileError::new(
                    f.kind,
                    format!(
                        "读取文件时出错（已读 {} 行，未导入任何数据）：{}",
                        self.read, f.message
                    ),
                )
            })?;
            let Some(row) = next else {
                self.done = true;
                break;
            };
            self.read += 1;
            match row {
                Ok(row) => {
                    if let Some(p) = self.check(row, t) {
                        out.rows.push(p);
                    }
                }
                Err(issue) => t.rejects.push(issue),
            }
        }
        if self.seal && !out.rows.is_empty() {
            out.insert = Some(queries::insert_statement(
                self.state,
                self.now,
                &out.rows,
                0..out.rows.len(),
            ));
        }
        Ok(())
    }

    /// The row's region (its own, else the default; inside the default and the actor's
    /// scope) and its sealed ID number and phone; `None` (with the reason in `t`) when the
    /// row cannot be imported.
    fn check(&self, row: ParsedRow, t: &mut Tally) -> Option<Pending> {
        let line = row.line;
        let id_masked = row
            .fields
            .id
            .as_ref()
            .map(|c| crate::people::shown::citizen_id(c, self.rows.reveal))
            .unwrap_or_default();
        let raw = &row.raw;
        let mut refuse = |reason: String| {
            t.rejects.push(RowIssue {
                line,
                reason,
                id_masked: id_masked.clone(),
                raw: raw.clone(),
            });
            None
        };
        let village = match (
            &self.villages,
            row.region.is_empty() && !row.village.is_empty(),
        ) {
            (Some(v), true) => {
                let within = self
                    .bound
                    .as_ref()
                    .map_or("（全部管辖范围）", |b| b.as_str());
                match v.resolve(&row.village, within) {
                    Ok(c) => Some(c),
                    Err(reason) => return refuse(reason),
                }
            }
            _ => None,
        };
        let code = match (row.region.is_empty(), &self.bound) {
            (true, _) if village.is_some() => {
                match RegionCode::parse(village.as_deref().unwrap_or_default()) {
                    Ok(c) => c,
                    Err(e) => return refuse(format!("区划代码：{e}")),
                }
            }
            (true, Some(b)) => b.clone(),
            (true, None) => return refuse("缺少区划代码".to_string()),
            (false, _) => match RegionCode::parse(&row.region) {
                Ok(c) => c,
                Err(e) => return refuse(format!("区划代码：{e}")),
            },
        };
        if let Some(b) = &self.bound
            && !b.contains(&code)
        {
            return refuse(format!(
                "区划代码 {} 不在导入区划 {} 范围内",
                code.as_str(),
                b.as_str()
            ));
        }
        if !self.scope.contains(code.as_str()) {
            return refuse(format!("区划代码 {} 不在您的管辖范围内", code.as_str()));
        }
        row.fields.id.as_ref()?;
        let sealed = if self.seal {
            seal_person(self.state, &row.fields)
        } else {
            Sealed::default()
        };
        Some(Pending {
            line,
            code,
            fields: row.fields,
            sealed,
            id_masked,
            categories: row.categories,
            raw: row.raw,
            household: row.household,
            relationship: row.relationship,
        })
    }
}

/// The writing side of the pipeline: the state of one import's write transaction.
pub(super) struct Batcher<'a> {
    pub(super) state: &'a AppState,
    /// The actor's whole scope: a number on record outside it rejects the row.
    pub(super) scope: Scoped<'a>,
    pub(super) who: Who,
    pub(super) now: i64,
    /// Region codes already checked against the region table.
    pub(super) known_regions: RegionCache,
    /// The import's region (the `--region` bound, else the actor's scope) as a code range.
    pub(super) region_bounds: (String, String),
    /// The first person id this import created (to tell in-file duplicates from old records).
    pub(super) first_new_id: Option<i64>,
    /// The audit chain's head, read once for the whole transaction.
    pub(super) chain: audit::Chain,
    /// Creation entries of the last batch, appended while the engine inserts the next one.
    pub(super) deferred: Vec<Entry<'static>>,
    /// Care memberships of this batch's new persons: `(person, category)`.
    pub(super) memberships: Vec<(i64, &'static str)>,
    /// Today (Beijing), the start of a membership recorded from the roster.
    pub(super) today: String,
    /// The households this import places its new persons in.
    pub(super) households: Households,
}

impl Batcher<'_> {
    /// Check, write and merge one batch: the batch's numbers are claimed in one statement
    /// (a number already held, or earlier in the batch, is not claimed), the rows whose number
    /// was claimed are inserted in one statement, and the others are then merged into the
    /// records holding their numbers, in file order.
    ///
    /// The engine is kept busy: while it claims this batch's numbers, the audit entries of the
    /// last one are chained and hashed; while it writes those, this batch's ids are matched to
    /// its rows (its own entries wait for the next batch, or for the end of the import).
    pub(super) async fn flush(
        &mut self,
        conn: &mut sqlx::AnyConnection,
        batch: &mut Batch,
        t: &mut Tally,
    ) -> AppResult<()> {
        if batch.rows.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut batch.rows);
        let prebuilt = batch.insert.take();
        self.check_regions(conn, &rows).await?;
        let mut candidates = Vec::with_capacity(rows.len());
        for (pos, row) in rows.iter().enumerate() {
            if self.known_regions.exists(row.code.as_str()) {
                candidates.push(pos);
            } else {
                t.rejects
                    .push(row.issue(format!("区划代码 {} 不存在", row.code.as_str())));
            }
        }
        if candidates.is_empty() {
            return Ok(());
        }
        // The batch's numbers are claimed in the national register first (`person_numbers`,
        // which keeps one person per number across provinces); a number already held, or
        // earlier in the batch, is not claimed, and its row is merged below.
        let numbers: Vec<(&str, &str)> = candidates
            .iter()
            .map(|&p| &rows[p])
            .filter(|r| !r.index().is_empty())
            .map(|r| (r.index(), r.code.as_str()))
            .collect();
        let (state, backend) = (self.state, self.state.db.backend());
        let deferred = std::mem::take(&mut self.deferred);
        let (chain, who, now) = (&mut self.chain, &self.who, self.now);
        let (claimed, audit) = tokio::join!(biased; numbers::claim_many(state, &mut *conn, &numbers, now), async {
            chain.prepare(backend, now, who, &deferred)
        });
        let (claimed, audit) = (claimed?, audit?);
        let mut first = std::collections::HashSet::with_capacity(claimed.len());
        let (fresh, held): (Vec<usize>, Vec<usize>) = candidates.iter().partition(|&&p| {
            let idx = rows[p].index();
            idx.is_empty() || (claimed.contains(idx) && first.insert(idx))
        });
        let inserted = match prebuilt {
            Some(q) if fresh.len() == rows.len() => queries::insert_rows(&mut *conn, q).await?,
            _ if fresh.is_empty() => Vec::new(),
            _ => {
                let q = queries::insert_statement(self.state, now, &rows, fresh.iter().copied());
                queries::insert_rows(&mut *conn, q).await?
            }
        };
        let (written, matched) = tokio::join!(
            biased;
            queries::append_prepared(&mut *conn, audit),
            async { self.match_ids(&rows, &fresh, &inserted) }
        );
        written?;
        let entries = matched?;
        let skipped = held;
        let memberships = std::mem::take(&mut self.memberships);
        queries::insert_memberships(
            self.state,
            conn,
            &memberships,
            &self.today,
            &self.who.username,
            self.now,
        )
        .await?;
        t.imported += entries.len() as u64;
        self.deferred = entries;
        let (household_entries, household_warnings) =
            self.households.flush(self.state, conn, self.now).await?;
        self.deferred.extend(household_entries);
        t.warnings.extend(household_warnings);
        if skipped.is_empty() {
            return Ok(());
        }
        // A merge's entry must follow the creation it may merge into.
        self.append_deferred(conn).await?;
        let mut known = self
            .load_indexed(conn, skipped.iter().map(|&p| rows[p].index()))
            .await?;
        for pos in skipped {
            let row = &rows[pos];
            let idx = row.index();
            let Some(existing) = known.get(idx) else {
                return Err(AppError::internal(
                    "person import",
                    "a row skipped as a duplicate has no record holding its number",
                ));
            };
            if !self.scope.contains(&existing.region_code) {
                // Held elsewhere: this region's own registration becomes a link, counted and
                // worded as any new person (the file learns nothing of the other region).
                self.link(conn, row, existing, t).await?;
                continue;
            }
            let in_file = existing.created_at == self.now
                && self.first_new_id.is_some_and(|f| existing.id >= f);
            let existing_id = existing.id;
            if existing.household_id.is_none()
                && let Some(key) =
                    self.households
                        .key(&existing.region_code, &row.household, &existing.address)
            {
                // A person on file without a household joins the row's (placed with the next
                // batch's, or at the end).
                self.households.pending.push(Placement {
                    person: existing_id,
                    key,
                    relationship: row.relationship,
                    address: existing.address.clone(),
                    line: row.line,
                    id_masked: row.id_masked.clone(),
                });
            }
            let (notes, changed) = merge(
                self.state,
                conn,
                &mut self.chain,
                &self.who,
                self.now,
                existing,
                &row.fields,
                row.code.as_str(),
            )
            .await?;
            if changed && let Some(s) = load_by_index(conn, idx).await? {
                known.insert(idx.to_string(), s);
            }
            t.merged += 1;
            self.merge_categories(conn, existing_id, &row.categories, &row.code)
                .await?;
            if !notes.is_empty() {
                let whence = if in_file {
                    "与文件中前面的行身份证号相同"
                } else {
                    "该身份证号已登记"
                };
                t.warnings.push(row.issue(format!(
                    "{whence}，已合并到人员 {existing_id}；{}",
                    notes.join("；")
                )));
            }
        }
        Ok(())
    }

    /// Register a row whose number another region holds as this region's link to that record
    /// (or count it into the link already made), audited in the import's chain.
    async fn link(
        &mut self,
        conn: &mut sqlx::AnyConnection,
        row: &Pending,
        holder: &Stored,
        t: &mut Tally,
    ) -> AppResult<()> {
        let code = row.code.as_str();
        if crate::people::queries::link_here(conn, &self.scope, holder.id)
            .await?
            .is_some()
        {
            t.merged += 1;
            return Ok(());
        }
        let id = write_link(
            conn,
            self.now,
            code,
            "",
            &row.fields,
            &row.sealed,
            holder,
            LinkKind::Residence,
        )
        .await?;
        let entry = Entry {
            action: "person.link",
            object_type: "person",
            object_id: id.to_string(),
            region_code: code.to_string(),
            outcome: "success",
            detail: link_detail(code, &row.fields, &row.sealed, holder.id, "import"),
        };
        self.append(conn, std::slice::from_ref(&entry)).await?;
        t.imported += 1;
        Ok(())
    }

    /// Look up the batch's region codes not seen before, in one query; at the first full
    /// batch (a file of more than one batch), load every code under the import's region once
    /// instead.
    pub(super) async fn check_regions(
        &mut self,
        conn: &mut sqlx::AnyConnection,
        rows: &[Pending],
    ) -> AppResult<()> {
        if rows.len() >= BATCH_ROWS && !self.known_regions.is_complete() {
            let (lo, hi) = &self.region_bounds;
            let codes = queries::region_codes_in(conn, lo, hi).await?;
            self.known_regions
                .complete(codes.iter().map(String::as_str));
        }
        let unknown = self
            .known_regions
            .unknown_of(rows.iter().map(|r| r.code.as_str()));
        if unknown.is_empty() {
            return Ok(());
        }
        let found = queries::existing_regions(self.state, conn, &unknown).await?;
        for c in unknown {
            self.known_regions.record(c, found.contains(c));
        }
        Ok(())
    }

    /// The persons on record holding any of these numbers, by blind index.
    async fn load_indexed<'i>(
        &self,
        conn: &mut sqlx::AnyConnection,
        indexes: impl Iterator<Item = &'i str>,
    ) -> AppResult<std::collections::HashMap<String, Stored>> {
        let mut idx: Vec<&str> = indexes.collect();
        idx.sort_unstable();
        idx.dedup();
        queries::holders(self.state, conn, &idx).await
    }

    /// The creation entries of the rows at `positions`, which the `INSERT` wrote (its rows give
    /// each written number its new id).
    fn match_ids(
        &mut self,
        rows: &[Pending],
        positions: &[usize],
        inserted: &[sqlx::any::AnyRow],
    ) -> AppResult<Vec<Entry<'static>>> {
        let mut ids = std::collections::HashMap::with_capacity(inserted.len());
        for r in inserted {
            let id: i64 = sqlx::Row::try_get(r, "id")?;
            let idx: Option<String> = sqlx::Row::try_get(r, "id_index")?;
            ids.insert(idx.unwrap_or_default(), id);
        }
        let mut entries = Vec::with_capacity(ids.len());
        for &p in positions {
            let r = &rows[p];
            let Some(id) = ids.remove(r.index()) else {
                return Err(AppError::internal(
                    "person import",
                    "a row inserted with its claimed number came back without an id",
                ));
            };
            self.first_new_id = Some(self.first_new_id.map_or(id, |f| f.min(id)));
            let mut entry =
                crate::people::created_entry(id, r.code.as_str(), &r.fields, &r.sealed, "import");
            if let Some(key) = self
                .households
                .key(r.code.as_str(), &r.household, &r.fields.address)
            {
                self.households.pending.push(Placement {
                    person: id,
                    key,
                    relationship: r.relationship,
                    address: r.fields.address.clone(),
                    line: r.line,
                    id_masked: r.id_masked.clone(),
                });
            }
            if !r.categories.is_empty() {
                self.memberships
                    .extend(r.categories.iter().map(|c| (id, *c)));
                if let Some(d) = entry.detail.as_object_mut() {
                    d.insert("care_categories".into(), json!(r.categories));
                }
            }
            entries.push(entry);
        }
        if !ids.is_empty() {
            return Err(AppError::internal(
                "person import",
                "an inserted row came back with a number not in its batch",
            ));
        }
        Ok(entries)
    }

    /// Append the creation entries still waiting.
    pub(super) async fn append_deferred(
        &mut self,
        conn: &mut sqlx::AnyConnection,
    ) -> AppResult<()> {
        let deferred = std::mem::take(&mut self.deferred);
        self.append(conn, &deferred).await
    }

    /// Append `entries` to the import's audit chain, at the import's time, by its actor.
    pub(super) async fn append(
        &mut self,
        conn: &mut sqlx::AnyConnection,
        entries: &[Entry<'_>],
    ) -> AppResult<()> {
        self.chain
            .append(conn, &self.state.db, self.now, &self.who, entries)
            .await?;
        Ok(())
    }
}
