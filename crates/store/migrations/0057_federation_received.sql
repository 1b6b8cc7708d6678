-- Federation (issue 20, ADR 0015 §4 and §7): the parent's log of the events its child nodes
-- sent — what each became (applied with the record it wrote, or rejected with the code), the
-- child's own time as the child stated it (kept for the record, never trusted for order) beside
-- the parent's receive time. A duplicate is not logged again. Grows with the reports: the
-- province (of the node's region) in its keys (ADR 0003).
CREATE TABLE fed_received (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    node_id BIGINT NOT NULL,
    event_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    object_id BIGINT,
    code TEXT,
    child_created_at TEXT,
    received_at BIGINT NOT NULL,
    UNIQUE (province, node_id, event_key){{PROVINCE_PK}}
);
