-- Hotlines (热线, issue 17 items 2–5): lines, shifts, call records, red flags with their
-- mandatory report (强制报告) and pending child leads, referrals, follow-ups and confidential
-- counselling notes (保密). Growing tables carry the province (2-digit prefix) in their keys.
-- Sealed columns (`*_enc`) hold AES-GCM ciphertext only (docs/PRIVACY.md).

-- A line: name, number, kind (psychological | child_protection | civil_affairs), the operating
-- organisation and the region it serves; hours as text.
CREATE TABLE hotline_lines (
    id {{ID}},
    region_code TEXT NOT NULL REFERENCES regions(code),
    name TEXT NOT NULL,
    number TEXT NOT NULL,
    kind TEXT NOT NULL,
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    hours TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX hotline_lines_region ON hotline_lines(region_code);

-- A shift on a line: who answers from when to when (Unix ms).
CREATE TABLE hotline_shifts (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    line_id BIGINT NOT NULL,
    region_code TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id),
    username TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL{{PROVINCE_PK}}
);
CREATE INDEX hotline_shifts_line ON hotline_shifts(line_id, starts_at);
CREATE INDEX hotline_shifts_user ON hotline_shifts(user_id, ends_at);

-- A call. region_code is the line's region (scope); caller_region optional. The caller's
-- phone, when given, is sealed (phone_enc) and kept masked (phone_masked). Red flag:
-- flag_kind suicide | child_danger, with the mandatory report (report_to police |
-- civil_affairs, report_at, report_ref). A child in danger: the pending lead (child_region,
-- child name / where / reason sealed), child_lead_status pending_children until handed over.
CREATE TABLE hotline_calls (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    line_id BIGINT NOT NULL,
    region_code TEXT NOT NULL,
    called_at BIGINT NOT NULL,
    caller_category TEXT NOT NULL,
    issues TEXT NOT NULL,
    risk TEXT NOT NULL,
    actions TEXT NOT NULL,
    duration_s BIGINT NOT NULL,
    caller_region TEXT,
    anonymous BIGINT NOT NULL,
    phone_enc {{BLOB}},
    phone_masked TEXT NOT NULL DEFAULT '',
    flag_kind TEXT NOT NULL DEFAULT '',
    report_to TEXT NOT NULL DEFAULT '',
    report_at BIGINT,
    report_ref TEXT NOT NULL DEFAULT '',
    child_region TEXT,
    child_name_enc {{BLOB}},
    child_where_enc {{BLOB}},
    child_reason_enc {{BLOB}},
    child_lead_status TEXT NOT NULL DEFAULT '',
    answered_by TEXT NOT NULL,
    answered_by_id BIGINT,
    created_at BIGINT NOT NULL{{PROVINCE_PK}}
);
CREATE INDEX hotline_calls_region ON hotline_calls(region_code, called_at);
CREATE INDEX hotline_calls_line ON hotline_calls(line_id, called_at);

-- A referral of a call to an organisation: status open → accepted | declined; accepted → closed
-- with an outcome. The accepting user becomes the assignee (may read the call's notes).
CREATE TABLE hotline_referrals (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    call_id BIGINT NOT NULL,
    line_id BIGINT NOT NULL,
    region_code TEXT NOT NULL,
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    org_region TEXT NOT NULL,
    urgent BIGINT NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL,
    decided_by TEXT,
    assignee_id BIGINT,
    decided_at BIGINT,
    decline_reason TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL DEFAULT '',
    outcome_at BIGINT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL{{PROVINCE_PK}}
);
CREATE INDEX hotline_referrals_region ON hotline_referrals(region_code, status);
CREATE INDEX hotline_referrals_org ON hotline_referrals(org_id, status);
CREATE INDEX hotline_referrals_call ON hotline_referrals(call_id);

-- A follow-up of a call: due_at; done with a short outcome and an effect score 1–5.
CREATE TABLE hotline_followups (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    call_id BIGINT NOT NULL,
    line_id BIGINT NOT NULL,
    region_code TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    outcome TEXT NOT NULL DEFAULT '',
    score BIGINT,
    done_at BIGINT,
    done_by TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL{{PROVINCE_PK}}
);
CREATE INDEX hotline_followups_region ON hotline_followups(region_code, status, due_at);
CREATE INDEX hotline_followups_call ON hotline_followups(call_id);

-- A counselling note (保密): the text sealed, never clear.
CREATE TABLE hotline_notes (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    call_id BIGINT NOT NULL,
    line_id BIGINT NOT NULL,
    region_code TEXT NOT NULL,
    body_enc {{BLOB}} NOT NULL,
    written_by TEXT NOT NULL,
    written_by_id BIGINT,
    created_at BIGINT NOT NULL{{PROVINCE_PK}}
);
CREATE INDEX hotline_notes_call ON hotline_notes(call_id);
