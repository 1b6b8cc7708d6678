-- Social assistance applications and emergency measures (issue 16, items 1–3), on the shared
-- ground of 0024. Tables that grow carry the province in their keys.

-- Applications (救助申请): one per programme and applicant household; `content_enc` holds the
-- sealed JSON of what the applicant declared beyond the members (assets, notes), never clear.
-- status: submitted → verified → reviewed → publicised → approved | rejected; an approved
-- application makes a row in assistance_beneficiaries (which carries active/suspended/exited).
CREATE TABLE assistance_applications (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    programme TEXT NOT NULL,
    county_code TEXT NOT NULL,
    region_code TEXT NOT NULL REFERENCES regions(code),
    household_id BIGINT NOT NULL REFERENCES households(id),
    applicant_person_id BIGINT NOT NULL REFERENCES persons(id),
    -- 'urban' | 'rural'
    area_kind TEXT NOT NULL,
    members BIGINT NOT NULL,
    -- persons covered: members, or fewer for 单人保 (the covered members listed first)
    covered BIGINT NOT NULL,
    -- tekun: care_self | care_partial | care_full; '' otherwise
    self_care TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    -- YYYY-MM-DD (Beijing), the date the application was made: decides the measures in force
    applied_on TEXT NOT NULL,
    content_enc {{BLOB}},
    monthly_amount_fen BIGINT,
    amount_detail TEXT NOT NULL DEFAULT '',
    -- when the next step is due (ms); NULL once decided
    due_at BIGINT,
    -- the level that must act next: verify | review | publicity | approve | ''
    due_step TEXT NOT NULL DEFAULT '',
    publicity_ends_at BIGINT,
    reject_reason TEXT NOT NULL DEFAULT '',
    -- 近亲属备案: the staff account the applicant is a close relative of (cannot act on it)
    related_staff TEXT,
    related_marked_by TEXT,
    -- the emergency period in force on applied_on in the region, and what it switched on
    emergency_id BIGINT,
    emergency_measures TEXT NOT NULL DEFAULT '',
    -- personal commitment replaced documents (emergency 'commitment'); verified after the period
    commitment BIGINT NOT NULL DEFAULT 0,
    commitment_verified_by TEXT,
    commitment_verified_at BIGINT,
    beneficiary_id BIGINT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL{{PROVINCE_PK}}
);
CREATE INDEX assistance_applications_region ON assistance_applications(region_code, status);
CREATE INDEX assistance_applications_due ON assistance_applications(due_step, due_at);

-- Members of an application: persons of the registry; income and assets sealed (JSON);
-- e-authorisation (电子授权) per adult member with its time and the text version agreed.
CREATE TABLE assistance_application_members (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    application_id BIGINT NOT NULL,
    person_id BIGINT NOT NULL REFERENCES persons(id),
    position BIGINT NOT NULL,
    adult BIGINT NOT NULL,
    income_enc {{BLOB}},
    authorised_at BIGINT,
    authorisation_version TEXT,
    UNIQUE (province, application_id, person_id){{PROVINCE_PK}}
);
CREATE INDEX assistance_application_members_app ON assistance_application_members(application_id);

-- Every step of an application: who, when, from and to which status, with the reason/note.
CREATE TABLE assistance_application_steps (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    application_id BIGINT NOT NULL,
    step TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    actor TEXT NOT NULL,
    at BIGINT NOT NULL,
    note TEXT NOT NULL DEFAULT ''{{PROVINCE_PK}}
);
CREATE INDEX assistance_application_steps_app ON assistance_application_steps(application_id);

-- Due times per county (working days counted as plain days, see the assistance module doc).
CREATE TABLE assistance_settings (
    county_code TEXT PRIMARY KEY REFERENCES regions(code),
    verify_days BIGINT NOT NULL,
    review_days BIGINT NOT NULL,
    approve_days BIGINT NOT NULL,
    publicity_days BIGINT NOT NULL,
    aid_first_days BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Emergency periods (应急状态): a region and dates with measures (comma list of aid_first,
-- commitment, same_month, freeze_exits). status: declared | ended.
CREATE TABLE assistance_emergencies (
    id {{ID}},
    region_code TEXT NOT NULL REFERENCES regions(code),
    name TEXT NOT NULL,
    starts_on TEXT NOT NULL,
    ends_on TEXT NOT NULL,
    measures TEXT NOT NULL,
    status TEXT NOT NULL,
    declared_by TEXT NOT NULL,
    ended_by TEXT,
    ended_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX assistance_emergencies_region ON assistance_emergencies(region_code, starts_on);

-- Aid-first grants (先行救助): temporary assistance granted at once by township staff during a
-- period with aid_first, up to the county's temporary_cap; the county confirms or refuses by
-- due_at; a refused grant stays, marked recovery (追回) or write_off (核销) with a reason.
-- status: granted | confirmed | refused.
CREATE TABLE assistance_aid_grants (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    county_code TEXT NOT NULL,
    region_code TEXT NOT NULL REFERENCES regions(code),
    person_id BIGINT NOT NULL REFERENCES persons(id),
    emergency_id BIGINT NOT NULL,
    amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
    reason_enc {{BLOB}},
    status TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    granted_by TEXT NOT NULL,
    decided_by TEXT,
    decided_at BIGINT,
    refuse_reason TEXT NOT NULL DEFAULT '',
    -- refused: 'recovery' | 'write_off'
    settlement TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL{{PROVINCE_PK}}
);
CREATE INDEX assistance_aid_grants_region ON assistance_aid_grants(region_code, status);

-- An exit held by freeze_exits: which period held it and the reason asked for.
ALTER TABLE assistance_beneficiaries ADD COLUMN held_emergency_id BIGINT;
ALTER TABLE assistance_beneficiaries ADD COLUMN held_reason TEXT NOT NULL DEFAULT '';
-- What an emergency period switched on for this beneficiary (e.g. 'aid_first,commitment').
ALTER TABLE assistance_beneficiaries ADD COLUMN emergency_measures TEXT NOT NULL DEFAULT '';
-- 1 when an exit the period held came back for review at its end.
ALTER TABLE assistance_beneficiaries ADD COLUMN exit_review BIGINT NOT NULL DEFAULT 0;
