-- Children without care (监护缺失儿童, issue 17 items 1, 4–5): cases from the lead or the report
-- to closure. Growing tables carry the province in their keys. Free text about a child (where
-- the child is, health, contact history, care plan, visit notes, the village carer's name) is
-- sealed (`*_enc`, never clear); the quick record's name is sealed, lists show `name_masked`.

-- A case. status: lead (opened by the system or a hotline, due by lead_due_at) | open | closed.
-- region_code is the child's village (statistics); holder_code is the level that holds the case
-- now (the village, its township, county or city), the scope every read is checked against.
CREATE TABLE child_cases (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    region_code TEXT NOT NULL REFERENCES regions(code),
    holder_code TEXT NOT NULL REFERENCES regions(code),
    status TEXT NOT NULL,
    person_id BIGINT REFERENCES persons(id),
    name_enc {{BLOB}},
    name_masked TEXT NOT NULL DEFAULT '',
    sex TEXT NOT NULL DEFAULT '',
    birth_year BIGINT,
    where_enc {{BLOB}},
    -- parent_infected | parent_suspected | parent_isolated | parent_observation |
    -- parent_frontline | parent_deceased | other
    reason TEXT NOT NULL,
    health_enc {{BLOB}},
    history_enc {{BLOB}},
    -- '' | parents | temporary (民政临时监护)
    guardianship TEXT NOT NULL DEFAULT '',
    -- '' | medical_observation | kin | village_carer | foster_family |
    -- minor_protection_institution | child_welfare_institution
    placement TEXT NOT NULL DEFAULT '',
    carer_enc {{BLOB}},
    placement_org_id BIGINT,
    classify_due_at BIGINT NOT NULL,
    classified_at BIGINT,
    worker_id BIGINT,
    supervisor_id BIGINT,
    plan_enc {{BLOB}},
    next_contact_at BIGINT,
    -- what opened it: report | observation | screening | entrance_alert | hotline
    source TEXT NOT NULL,
    source_ref TEXT NOT NULL DEFAULT '',
    lead_due_at BIGINT,
    taken_at BIGINT,
    application_id BIGINT,
    close_reason_enc {{BLOB}},
    closed_at BIGINT,
    follow_up_due_at BIGINT,
    opened_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL{{PROVINCE_PK}}
);
CREATE INDEX child_cases_holder ON child_cases(holder_code, status);
CREATE INDEX child_cases_region ON child_cases(region_code, created_at);
CREATE INDEX child_cases_lead_due ON child_cases(status, lead_due_at);
-- Never two open leads for the same child and reason.
CREATE UNIQUE INDEX child_cases_one_lead ON child_cases(province, person_id, reason) WHERE status = 'lead';

-- The history of a case: guardianship, placement, assignment, hand-over, taking, closure.
CREATE TABLE child_case_events (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    case_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    from_value TEXT NOT NULL DEFAULT '',
    to_value TEXT NOT NULL DEFAULT '',
    actor TEXT NOT NULL,
    at BIGINT NOT NULL{{PROVINCE_PK}}
);
CREATE INDEX child_case_events_case ON child_case_events(case_id);

-- Contacts and visits (个案跟踪): the note sealed, with the next contact due.
CREATE TABLE child_case_contacts (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    case_id BIGINT NOT NULL,
    -- visit | phone | follow_up
    kind TEXT NOT NULL,
    note_enc {{BLOB}},
    next_due_at BIGINT,
    by_user TEXT NOT NULL,
    at BIGINT NOT NULL{{PROVINCE_PK}}
);
CREATE INDEX child_case_contacts_case ON child_case_contacts(case_id);

-- Needs turned into tasks: food | medicine | schooling | psychological, with an owner and a
-- due date; status open | done.
CREATE TABLE child_case_tasks (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    case_id BIGINT NOT NULL,
    need TEXT NOT NULL,
    owner_id BIGINT NOT NULL,
    due_date TEXT NOT NULL,
    due_ms BIGINT NOT NULL,
    status TEXT NOT NULL,
    done_by TEXT,
    done_at BIGINT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL{{PROVINCE_PK}}
);
CREATE INDEX child_case_tasks_case ON child_case_tasks(case_id);
