-- Reports: forms (versioned), submissions, live rollups, locks, reminders, idempotency.

CREATE TABLE report_templates (
    template_key TEXT NOT NULL,
    version BIGINT NOT NULL,
    name TEXT NOT NULL,
    period TEXT NOT NULL,
    -- minutes after midnight, Beijing time (600 = 10:00); NULL for immediate reports
    deadline_minutes BIGINT,
    -- 'village' (every village/community), 'org' (organisations of org_kinds), 'any'
    unit_type TEXT NOT NULL,
    org_kinds TEXT NOT NULL DEFAULT '',
    -- who must report: '0' nation, else a region code
    scope TEXT NOT NULL,
    spec TEXT NOT NULL,
    builtin BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (template_key, version)
);

CREATE TABLE report_submissions (
    id {{ID}},
    template_key TEXT NOT NULL,
    template_version BIGINT NOT NULL,
    -- a region code, or 'org:ID'
    unit TEXT NOT NULL,
    -- the region the unit belongs to (an organisation's region code)
    region_code TEXT NOT NULL,
    period TEXT NOT NULL,
    body TEXT NOT NULL,
    late BIGINT NOT NULL DEFAULT 0,
    submitted_at BIGINT NOT NULL,
    submitted_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    corrections BIGINT NOT NULL DEFAULT 0,
    -- immediate reports may be many per unit and day: a per-report sequence keeps them apart
    seq BIGINT NOT NULL DEFAULT 0,
    UNIQUE (template_key, unit, period, seq)
);
CREATE INDEX report_submissions_region ON report_submissions(template_key, period, region_code);

-- Live rollups: one row per (form, period, region at every level above a unit).
CREATE TABLE report_rollup_counts (
    template_key TEXT NOT NULL,
    period TEXT NOT NULL,
    code TEXT NOT NULL,
    received BIGINT NOT NULL,
    on_time BIGINT NOT NULL,
    PRIMARY KEY (template_key, period, code)
);

CREATE TABLE report_rollup_sums (
    template_key TEXT NOT NULL,
    period TEXT NOT NULL,
    code TEXT NOT NULL,
    field TEXT NOT NULL,
    total BIGINT NOT NULL,
    PRIMARY KEY (template_key, period, code, field)
);

CREATE TABLE report_locks (
    template_key TEXT NOT NULL,
    period TEXT NOT NULL,
    region_code TEXT NOT NULL,
    locked_by TEXT NOT NULL,
    locked_at BIGINT NOT NULL,
    PRIMARY KEY (template_key, period, region_code)
);

CREATE TABLE report_reminder_runs (
    template_key TEXT NOT NULL,
    period TEXT NOT NULL,
    ran_at BIGINT NOT NULL,
    reminded BIGINT NOT NULL,
    PRIMARY KEY (template_key, period)
);

-- Outbox of notifications: shown on the unit's home page, deliverable by a gateway.
CREATE TABLE notifications (
    id {{ID}},
    region_code TEXT NOT NULL,
    unit TEXT NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    read_at BIGINT,
    delivered_at BIGINT
);
CREATE INDEX notifications_region ON notifications(region_code, created_at);

-- Idempotency keys of field writes: a retry returns the first answer.
CREATE TABLE idempotency_keys (
    user_id BIGINT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status BIGINT NOT NULL,
    response TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, idem_key)
);
