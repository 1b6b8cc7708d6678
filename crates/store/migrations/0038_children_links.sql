-- Children's cases, issue 17 (brief L): the hotline call that handed a child lead to the
-- children's cases keeps the case's id (the call page shows the reference; the case itself
-- stays behind children.read).
ALTER TABLE hotline_calls ADD COLUMN child_case_id BIGINT;

-- The aid-first grant (先行救助, assistance_aid_grants) started from a child case when an
-- emergency period with aid_first covers the child's village; else the case links an
-- application (application_id).
ALTER TABLE child_cases ADD COLUMN aid_grant_id BIGINT;
