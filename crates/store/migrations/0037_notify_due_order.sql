-- The send step reads the due deliveries `ORDER BY next_attempt_at, id`. The index of
-- migration 0022 orders by (state, next_attempt_at) only; SQLite appends the rowid (= id) to
-- every index, PostgreSQL does not, so there a dispatch that queued a whole country's
-- reminders at one instant (1.2 million rows with the same next_attempt_at) sorted all of them
-- for every batch of 500: 20 sends a second (docs/BENCHMARKS.md, "The 10:00 deadline"). With
-- the id in the index the batch is read in index order.
CREATE INDEX notify_deliveries_due_id ON notify_deliveries(state, next_attempt_at, id);
DROP INDEX notify_deliveries_due;
