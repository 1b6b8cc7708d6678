-- The escalation engine (催报升级, issue 15 item 3): one rule table keyed by kind — `report`
-- (with optional per-form rows `report:<form key>`), `rectification`, `shortage`,
-- `care_task` — saying when a reminder repeats after the first notice (minutes after the due
-- time, comma separated) and when a thing still outstanding after them escalates to its
-- leader and the level above. A kind without a row uses the defaults in code.
CREATE TABLE escalation_rules (
    kind TEXT PRIMARY KEY,
    repeats TEXT NOT NULL,
    escalate_min BIGINT NOT NULL,
    enabled BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Where each outstanding thing is in its rule: how many reminders it has had, when it
-- escalated and to whom (the leader's phone masked). One row per (kind, subject), e.g.
-- subject `village_daily/2026-12-05/130110100001` or `problem:17`. Grows with the country:
-- the province is in the primary key (PostgreSQL) and the unique key.
CREATE TABLE escalations (
    id {{PROVINCE_ID}},
    province TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    region_code TEXT NOT NULL,
    unit TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    reminders BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    escalated_at BIGINT,
    leader_masked TEXT NOT NULL DEFAULT '',
    UNIQUE (province, kind, subject){{PROVINCE_PK}}
);
CREATE INDEX escalations_region ON escalations(region_code, kind);

-- The steps of a report rule already run for a form's period (the report kind moves all
-- missing units of a form together, so a step done is not looked at again each minute).
CREATE TABLE escalation_runs (
    run_key TEXT PRIMARY KEY,
    step BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
