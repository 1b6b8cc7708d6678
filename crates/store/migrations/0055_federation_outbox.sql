-- Federation (issue 20, ADR 0015), the child's side. fed_parent: the deployment this one
-- reports up to — at most one row (id = 1): the parent's URL, the node credential it issued
-- (sealed with the master key, never shown again), the node's region, and the state of the
-- link (last attempt, last success, last error) that `backstop node status` and the node page
-- show. fed_outbox: what goes up, appended in the same transaction as the local change it
-- describes (a report submitted or corrected), only while a parent is registered — the outbox
-- cannot disagree with the data. A row is marked sent (a flag, not a cursor: ADR 0011) or
-- rejected with the parent's code and message; it is never deleted by sending. Body sealed (an
-- immediate report's values are sealed at rest too, migration 0047). Grows with the reports:
-- the province in its keys (ADR 0003).
CREATE TABLE fed_parent (
    id BIGINT PRIMARY KEY,
    parent_url TEXT NOT NULL,
    node_id BIGINT NOT NULL,
    credential_enc {{BLOB}} NOT NULL,
    region_code TEXT NOT NULL,
    node_name TEXT NOT NULL,
    registered_by TEXT NOT NULL,
    registered_at BIGINT NOT NULL,
    last_attempt_at BIGINT,
    last_success_at BIGINT,
    last_error TEXT,
    last_error_at BIGINT
);

CREATE TABLE fed_outbox (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    event_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    body_enc {{BLOB}} NOT NULL,
    created_at BIGINT NOT NULL,
    -- pending | sent | rejected
    status TEXT NOT NULL,
    sent_at BIGINT,
    result_code TEXT,
    result_message TEXT,
    UNIQUE (province, event_key){{PROVINCE_PK}}
);
CREATE INDEX fed_outbox_status ON fed_outbox(status, id);
