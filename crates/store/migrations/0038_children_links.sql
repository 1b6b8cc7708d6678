-- Children's cases, issue 17 (brief L): the hotline call that handed a child lead to the
-- children's cases keeps the case's id (the call page shows the reference; the case itself
-- stays behind children.read).
ALTER TABLE hotline_calls ADD COLUMN child_case_id BIGINT;

-- The aid-first grant (先行救助, assistance_aid_grants) started from a child case when an
-- emergency period with aid_first covers the child's village; else the case links an
-- application (application_id).
ALTER TABLE child_cases ADD COLUMN aid_grant_id BIGINT;

-- Why care is missing is a health fact about the parent (infected, suspected, isolated): sealed
-- in reason_enc (new rows write reason = ''; rows written before are sealed at startup, step 5
-- of privacy::seal_clear_rows). Lists and the one-lead rule keep only a coarse group that does
-- not tell infected from suspected or isolated: parent_health | parent_frontline |
-- parent_deceased | other.
ALTER TABLE child_cases ADD COLUMN reason_enc {{BLOB}};
ALTER TABLE child_cases ADD COLUMN reason_group TEXT NOT NULL DEFAULT '';
UPDATE child_cases SET reason_group = CASE
    WHEN reason IN ('parent_infected', 'parent_suspected', 'parent_isolated', 'parent_observation')
        THEN 'parent_health'
    ELSE reason END;
-- Never two open leads for the same child and reason group.
DROP INDEX child_cases_one_lead;
CREATE UNIQUE INDEX child_cases_one_lead ON child_cases(province, person_id, reason_group) WHERE status = 'lead';
