-- Per-province audit chains (issue 21 item 4, ADR 0016). Every entry now belongs to a chain:
-- its region's province (the 2-digit prefix) or '00' for national-level actions; each chain is
-- hash-linked on its own and appended under its own lock, so the provinces never wait for one
-- another. The entries written before this migration keep chain '' — the single chain they
-- were linked in, verified as it was and never appended to again. The national chain records
-- every province chain's head periodically (action audit.chain_heads).
ALTER TABLE audit_log ADD COLUMN chain TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_log_chain ON audit_log(chain, id);
