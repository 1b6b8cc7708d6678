-- Periodic reports' values and their corrections sealed (issue 13 item 5): a daily report's
-- remarks (情况说明, 存在问题和困难, …) are free text about the people of a village or an
-- institution, and a correction's before/after bodies repeat them. Every report's `body`
-- is now written to `report_submissions.body_enc` (added by migration 0025 for immediate
-- reports) with the clear column ''; a correction writes `before_body_enc` and
-- `after_body_enc` and leaves `before_body` and `after_body` ''. The figures rollups need
-- stay readable where they always were read, in `report_rollup_counts` and
-- `report_rollup_sums`. Rows written in clear before are sealed by the service at open, where
-- the key is available (`privacy::seal_clear_rows`, step 8).

ALTER TABLE report_corrections ADD COLUMN before_body_enc {{BLOB}};
ALTER TABLE report_corrections ADD COLUMN after_body_enc {{BLOB}};
