-- Reports follow-up (issue 14, items 6 and 8): what a correction replaced, and the chasing of
-- units that have not reported (催报). Both grow with every report day, so their keys start
-- with the province (the first two digits of the unit's region code).

-- One row per correction of a report: the values and author before it and after it. The
-- first row's "before" is the unit's own first submission, which stays visible on the page.
CREATE TABLE report_corrections (
    province TEXT NOT NULL,
    report_id BIGINT NOT NULL,
    -- 1 for the first correction of the report, 2 for the second, …
    n BIGINT NOT NULL,
    region_code TEXT NOT NULL,
    unit TEXT NOT NULL,
    before_body TEXT NOT NULL,
    before_by TEXT NOT NULL,
    before_at BIGINT NOT NULL,
    after_body TEXT NOT NULL,
    corrected_by TEXT NOT NULL,
    corrected_at BIGINT NOT NULL,
    -- 1 when the unit's own staff corrected it, 0 when someone above it did
    by_unit BIGINT NOT NULL,
    PRIMARY KEY (province, report_id, n)
);

-- One row per unit chased: who chased which unit for which form and period, and when.
CREATE TABLE report_chases (
    province TEXT NOT NULL,
    template_key TEXT NOT NULL,
    period TEXT NOT NULL,
    unit TEXT NOT NULL,
    -- 1 for the first chase of the unit for this form and period, 2 for the next, …
    seq BIGINT NOT NULL,
    region_code TEXT NOT NULL,
    unit_name TEXT NOT NULL,
    chased_by TEXT NOT NULL,
    chased_at BIGINT NOT NULL,
    PRIMARY KEY (province, template_key, period, unit, seq)
);
CREATE INDEX report_chases_region ON report_chases(template_key, period, region_code);
