-- The audit chains on the shards (issue 22 item 3, ADR 0003): on Citus `audit_log` and
-- `audit_heads` are distributed by `chain` (a province's 2-digit prefix, '00' for national
-- actions, '' for the entries from before migration 0063), co-located with the tables
-- distributed by province, so a province's entries are appended on the shard that holds the
-- province's reports, beside the rows they record. A distributed table's primary key must
-- hold its distribution column: the log's key becomes (chain, id), which replaces the
-- (chain, id) index of migration 0063. SQLite keeps its rowid key.
-- postgres:begin
ALTER TABLE audit_log DROP CONSTRAINT audit_log_pkey;
ALTER TABLE audit_log ADD PRIMARY KEY (chain, id);
DROP INDEX audit_log_chain;
-- postgres:end
