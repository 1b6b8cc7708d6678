-- Supervision (督导): inspections of a unit (an organisation or a region), the problems found
-- with the rectification required and its deadline, the unit's answer, closing and reopening.
-- A rectification is overdue while it is not closed and its deadline has passed; the deadline
-- is kept both as the Beijing date entered and as the Unix millisecond it ends (the next
-- Beijing midnight), so "overdue" is one indexed comparison on both engines.

CREATE TABLE inspections (
    id {{ID}},
    -- a region code, or 'org:ID'
    unit TEXT NOT NULL,
    unit_name TEXT NOT NULL,
    -- the region of the unit (an organisation's region code)
    region_code TEXT NOT NULL,
    -- 'open' | 'unannounced' (暗访)
    mode TEXT NOT NULL,
    inspected_on TEXT NOT NULL,
    findings TEXT NOT NULL,
    inspector TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX inspections_region ON inspections(region_code, id);

CREATE TABLE inspection_problems (
    id {{ID}},
    inspection_id BIGINT NOT NULL REFERENCES inspections(id),
    region_code TEXT NOT NULL,
    description TEXT NOT NULL,
    requirement TEXT NOT NULL,
    deadline TEXT NOT NULL,
    deadline_ms BIGINT NOT NULL,
    -- 'open' | 'answered' | 'closed'
    status TEXT NOT NULL,
    response TEXT NOT NULL DEFAULT '',
    responded_by TEXT,
    responded_at BIGINT,
    closed_by TEXT,
    closed_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX inspection_problems_inspection ON inspection_problems(inspection_id);
CREATE INDEX inspection_problems_region ON inspection_problems(region_code, status, deadline_ms);
