-- Reports on a Citus cluster (issue 22, ADR 0003): submissions and their rollups carry the
-- province (the unit's 2-digit prefix, '00' for a national unit — the same as its audit
-- chain) in every key, so a province's morning is written and read on its own shard.
--
-- The nation's rollup row becomes one row per province (the province of the submitting
-- unit): no single row that every province's submission must lock; a national summary adds
-- them up when it reads. Every other rollup row has exactly one province (its code's prefix).
-- Rows from before keep the nation's total under '00'; reads add it to the others.

ALTER TABLE report_submissions ADD COLUMN province TEXT NOT NULL DEFAULT '';
UPDATE report_submissions SET province = CASE
    WHEN substr(region_code, 1, 2) IN ('', '0', '00') OR length(region_code) < 2 THEN '00'
    ELSE substr(region_code, 1, 2) END;
ALTER TABLE incident_acks ADD COLUMN province TEXT NOT NULL DEFAULT '';
UPDATE incident_acks SET province = COALESCE(
    (SELECT s.province FROM report_submissions s WHERE s.id = incident_acks.submission_id), '00');

-- postgres:begin
ALTER TABLE report_submissions ALTER COLUMN province DROP DEFAULT;
ALTER TABLE incident_acks ALTER COLUMN province DROP DEFAULT;
ALTER TABLE incident_acks DROP CONSTRAINT incident_acks_submission_id_fkey;
ALTER TABLE incident_acks DROP CONSTRAINT incident_acks_pkey;
ALTER TABLE report_submissions DROP CONSTRAINT report_submissions_pkey;
ALTER TABLE report_submissions ADD PRIMARY KEY (province, id);
ALTER TABLE report_submissions DROP CONSTRAINT report_submissions_template_key_unit_period_seq_key;
ALTER TABLE report_submissions ADD CONSTRAINT report_submissions_unit_period
    UNIQUE (province, template_key, unit, period, seq);
ALTER TABLE incident_acks ADD PRIMARY KEY (province, submission_id);
ALTER TABLE incident_acks ADD CONSTRAINT incident_acks_submission
    FOREIGN KEY (province, submission_id) REFERENCES report_submissions (province, id);

ALTER TABLE report_rollup_counts ADD COLUMN province TEXT NOT NULL DEFAULT '';
UPDATE report_rollup_counts SET province = CASE WHEN code = '0' THEN '00' ELSE substr(code, 1, 2) END;
ALTER TABLE report_rollup_counts ALTER COLUMN province DROP DEFAULT;
ALTER TABLE report_rollup_counts DROP CONSTRAINT report_rollup_counts_pkey;
ALTER TABLE report_rollup_counts ADD PRIMARY KEY (template_key, period, code, province);

ALTER TABLE report_rollup_sums ADD COLUMN province TEXT NOT NULL DEFAULT '';
UPDATE report_rollup_sums SET province = CASE WHEN code = '0' THEN '00' ELSE substr(code, 1, 2) END;
ALTER TABLE report_rollup_sums ALTER COLUMN province DROP DEFAULT;
ALTER TABLE report_rollup_sums DROP CONSTRAINT report_rollup_sums_pkey;
ALTER TABLE report_rollup_sums ADD PRIMARY KEY (template_key, period, code, field, province);
-- postgres:end

-- sqlite:begin
-- SQLite keeps a submission's rowid key (one node needs nothing more); the rollup tables are
-- rebuilt, because the upserts name the widened key as their conflict target.
CREATE TABLE report_rollup_counts_p (
    template_key TEXT NOT NULL,
    period TEXT NOT NULL,
    code TEXT NOT NULL,
    province TEXT NOT NULL,
    received BIGINT NOT NULL,
    on_time BIGINT NOT NULL,
    PRIMARY KEY (template_key, period, code, province)
);
INSERT INTO report_rollup_counts_p (template_key, period, code, province, received, on_time)
    SELECT template_key, period, code, CASE WHEN code = '0' THEN '00' ELSE substr(code, 1, 2) END,
        received, on_time FROM report_rollup_counts;
DROP TABLE report_rollup_counts;
ALTER TABLE report_rollup_counts_p RENAME TO report_rollup_counts;

CREATE TABLE report_rollup_sums_p (
    template_key TEXT NOT NULL,
    period TEXT NOT NULL,
    code TEXT NOT NULL,
    field TEXT NOT NULL,
    province TEXT NOT NULL,
    total BIGINT NOT NULL,
    PRIMARY KEY (template_key, period, code, field, province)
);
INSERT INTO report_rollup_sums_p (template_key, period, code, field, province, total)
    SELECT template_key, period, code, field, CASE WHEN code = '0' THEN '00' ELSE substr(code, 1, 2) END,
        total FROM report_rollup_sums;
DROP TABLE report_rollup_sums;
ALTER TABLE report_rollup_sums_p RENAME TO report_rollup_sums;
-- sqlite:end
