-- Vulnerable groups and visits (困难群众与走访): a person's group memberships with start/end
-- dates and the deciding body, the named carer of a dispersed 特困 person (phone encrypted,
-- shown masked) and the carer's daily check (one per person per Beijing date), visits (phone
-- or at home) with what was found, the needs and the help given, and the follow-up tasks a
-- need becomes (owner, due date; overdue = open and due_ms passed). Dates are Beijing
-- `YYYY-MM-DD` text (compare as strings); an empty end_date means still a member.

CREATE TABLE care_memberships (
    id {{ID}},
    person_id BIGINT NOT NULL REFERENCES persons(id),
    category TEXT NOT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT NOT NULL DEFAULT '',
    deciding_body TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX care_memberships_person ON care_memberships(person_id);
CREATE INDEX care_memberships_category ON care_memberships(category, start_date);

CREATE TABLE care_carers (
    id {{ID}},
    person_id BIGINT NOT NULL UNIQUE REFERENCES persons(id),
    name TEXT NOT NULL,
    phone_enc {{BLOB}},
    phone_index TEXT,
    phone_masked TEXT NOT NULL DEFAULT '',
    relationship TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE care_daily_checks (
    id {{ID}},
    person_id BIGINT NOT NULL REFERENCES persons(id),
    check_date TEXT NOT NULL,
    -- 'ok' | 'needs_help'
    status TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    carer_name TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (person_id, check_date)
);

CREATE TABLE care_visits (
    id {{ID}},
    person_id BIGINT NOT NULL REFERENCES persons(id),
    visited_by TEXT NOT NULL,
    visited_on TEXT NOT NULL,
    -- 'phone' | 'home'
    method TEXT NOT NULL,
    findings TEXT NOT NULL,
    -- JSON array of strings
    needs TEXT NOT NULL,
    help_given TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX care_visits_person ON care_visits(person_id, visited_on);

CREATE TABLE care_tasks (
    id {{ID}},
    visit_id BIGINT NOT NULL REFERENCES care_visits(id),
    person_id BIGINT NOT NULL REFERENCES persons(id),
    need TEXT NOT NULL,
    owner TEXT NOT NULL,
    due_date TEXT NOT NULL,
    due_ms BIGINT NOT NULL,
    -- 'open' | 'closed'
    status TEXT NOT NULL,
    close_note TEXT NOT NULL DEFAULT '',
    closed_by TEXT,
    closed_at BIGINT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX care_tasks_status ON care_tasks(status, due_ms);
CREATE INDEX care_tasks_person ON care_tasks(person_id);
