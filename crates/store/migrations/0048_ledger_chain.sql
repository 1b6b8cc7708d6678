-- The public disclosure of the donation ledger (issue 18 item 6; docs/DISCLOSURE.md). Every
-- ledger entry is published as a canonical text (stable JSON: sorted keys, integers only) and
-- hash-chained per campaign and province: hash = SHA-256(prev_hash ‖ canonical). The row is
-- appended in the same transaction as the entry (`donations::disclosure::append`), with the
-- campaign's running totals after it (sums of the entries' lines, re-derived by every
-- verification), so the public page never scans the ledger. Rows are never updated.
CREATE TABLE ledger_chain (
    province TEXT NOT NULL,
    campaign_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    entry_id BIGINT NOT NULL,
    -- The entry's kind and charity, for the public lists (receipts, allocations, deliveries).
    kind TEXT NOT NULL,
    org_id BIGINT NOT NULL,
    -- Beijing date of the entry, YYYY-MM-DD (the day a signed head covers).
    day TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    canonical TEXT NOT NULL,
    -- Running totals (fen) after this entry: received, allocated (including dispatched and
    -- delivered), delivered, fee, in stock.
    received_fen BIGINT NOT NULL,
    allocated_fen BIGINT NOT NULL,
    delivered_fen BIGINT NOT NULL,
    fee_fen BIGINT NOT NULL,
    in_stock_fen BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (province, campaign_id, seq)
);
CREATE INDEX ledger_chain_day ON ledger_chain(province, campaign_id, day);
CREATE INDEX ledger_chain_kind ON ledger_chain(province, campaign_id, kind, seq);
CREATE INDEX ledger_chain_org ON ledger_chain(org_id, seq);

-- A signed head (签名链头): the chain's head at a moment, with the totals since the previous
-- head and cumulative, signed with the deployment's disclosure key (Ed25519). payload is the
-- canonical JSON that was signed; signature is its Ed25519 signature, hex.
CREATE TABLE ledger_heads (
    province TEXT NOT NULL,
    campaign_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    day TEXT NOT NULL,
    hash TEXT NOT NULL,
    payload TEXT NOT NULL,
    signature TEXT NOT NULL,
    key_id TEXT NOT NULL,
    signed_at BIGINT NOT NULL,
    PRIMARY KEY (province, campaign_id, seq)
);
