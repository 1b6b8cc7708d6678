-- Per-province audit chains (issue 21 item 4, ADR 0016). Every entry now belongs to a chain:
-- its region's province (the 2-digit prefix) or '00' for national-level actions; each chain is
-- hash-linked on its own and appended under its own lock, so the provinces never wait for one
-- another. The entries written before this migration keep chain '' — the single chain they
-- were linked in, verified as it was and never appended to again. The national chain records
-- every province chain's head periodically (action audit.chain_heads).
ALTER TABLE audit_log ADD COLUMN chain TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_log_chain ON audit_log(chain, id);

-- Each chain's head (the hash of its last entry), moved in the same statement batch as the
-- append. Taking a chain's head is an upsert of its row: the row lock is the chain's append
-- lock (released at commit), and after waiting for it the upsert returns the head as the
-- previous appender committed it — one round trip for the lock and the read.
CREATE TABLE audit_heads (
    chain TEXT PRIMARY KEY,
    hash TEXT NOT NULL
);
