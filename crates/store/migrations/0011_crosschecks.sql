-- Cross-checks (数据比对, issue 4): conflicts found between the rolls (a person on rolls in two
-- regions or recorded twice, groups that exclude each other, a deceased person still in a
-- payment group). One row per conflict, keyed by a stable fingerprint of the facts (SHA-256
-- of kind + the ids involved), so a rerun updates instead of duplicating and a resolved
-- conflict stays resolved while the same facts hold. region_code is the lowest region that
-- contains every person of the conflict ('' when they lie in different provinces): the
-- conflict is visible to a scope that contains it, i.e. that contains all its persons.

CREATE TABLE crosschecks (
    id {{ID}},
    -- observation_region | screening_region | possible_duplicate | exclusive_groups | deceased_paid
    kind TEXT NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE,
    region_code TEXT NOT NULL,
    -- open | resolved | cleared (no longer found by a run covering it)
    status TEXT NOT NULL,
    -- JSON: the facts found (categories, dates, region codes, ids; never a full ID number or phone)
    detail TEXT NOT NULL,
    first_seen_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    cleared_at BIGINT,
    resolved_by TEXT,
    resolved_at BIGINT,
    resolve_note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX crosschecks_status_region ON crosschecks(status, region_code);
CREATE INDEX crosschecks_region ON crosschecks(region_code);

CREATE TABLE crosscheck_persons (
    crosscheck_id BIGINT NOT NULL REFERENCES crosschecks(id),
    person_id BIGINT NOT NULL REFERENCES persons(id),
    PRIMARY KEY (crosscheck_id, person_id)
);
CREATE INDEX crosscheck_persons_person ON crosscheck_persons(person_id);

-- One row per run: who, over which region, what it found.
CREATE TABLE crosscheck_runs (
    id {{ID}},
    region_code TEXT NOT NULL,
    run_by TEXT NOT NULL,
    run_at BIGINT NOT NULL,
    found BIGINT NOT NULL,
    created BIGINT NOT NULL,
    reopened BIGINT NOT NULL,
    cleared BIGINT NOT NULL
);
CREATE INDEX crosscheck_runs_region ON crosscheck_runs(region_code, run_at);
