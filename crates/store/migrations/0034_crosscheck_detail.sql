-- A cross-check conflict's facts (`crosschecks.detail`: for "互斥类别同时享受" and "已故人员仍在
-- 发放名单" the care categories a person is in, and the rule that names them; for the others
-- birth years and regions) are sealed in `detail_enc` like the categories themselves
-- (`care_memberships.category_enc`, migration 0025); new and updated rows leave `detail` as ''.
-- Rows written in clear before are sealed by the service at open, where the key is available
-- (`privacy::seal_clear_rows`, step 3).

ALTER TABLE crosschecks ADD COLUMN detail_enc {{BLOB}};
