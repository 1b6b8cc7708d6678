-- Children's cases, issue 17 (brief L): the hotline call that handed a child lead to the
-- children's cases keeps the case's id (the call page shows the reference; the case itself
-- stays behind children.read).
ALTER TABLE hotline_calls ADD COLUMN child_case_id BIGINT;
