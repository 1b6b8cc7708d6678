-- Entrance checks (测温登记) at gates (卡口): a gate is a named checkpoint of a village or
-- community (org_id NULL, region_code = the 12-digit village code) or of a service institution
-- (org_id set, region_code = the institution's region). Each entry records a visitor (name
-- shown masked only; phone AES-GCM encrypted with an HMAC blind index and a stored masked
-- form, never in plain text), where they come from, why, in or out, and the temperature in
-- BIGINT tenths of a degree. A fever opens an alert that stays open until acknowledged with a
-- disposition. Dates are Beijing calendar dates 'YYYY-MM-DD'; times Unix milliseconds.

CREATE TABLE gates (
    id {{ID}},
    region_code TEXT NOT NULL REFERENCES regions(code),
    -- NULL for a community gate
    org_id BIGINT REFERENCES orgs(id),
    name TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX gates_name ON gates(region_code, (COALESCE(org_id, 0)), name);
CREATE INDEX gates_org ON gates(org_id);

CREATE TABLE gate_entries (
    id {{ID}},
    gate_id BIGINT NOT NULL REFERENCES gates(id),
    region_code TEXT NOT NULL,
    -- shown masked only
    person_name TEXT NOT NULL,
    phone_enc {{BLOB}},
    phone_index TEXT,
    phone_masked TEXT NOT NULL DEFAULT '',
    -- 来自何处
    origin TEXT NOT NULL,
    -- 事由
    reason TEXT NOT NULL,
    -- 'in' | 'out'
    direction TEXT NOT NULL,
    temp_tenths BIGINT NOT NULL,
    fever BIGINT NOT NULL,
    -- the person record found by ID number at the gate (the number itself is not kept here)
    person_id BIGINT REFERENCES persons(id),
    entered_at BIGINT NOT NULL,
    day TEXT NOT NULL,
    recorded_by TEXT NOT NULL
);
CREATE INDEX gate_entries_gate ON gate_entries(gate_id, day);
CREATE INDEX gate_entries_phone ON gate_entries(phone_index);

CREATE TABLE gate_alerts (
    id {{ID}},
    entry_id BIGINT NOT NULL UNIQUE REFERENCES gate_entries(id),
    gate_id BIGINT NOT NULL REFERENCES gates(id),
    region_code TEXT NOT NULL,
    org_id BIGINT,
    temp_tenths BIGINT NOT NULL,
    -- 'open' | 'closed'
    status TEXT NOT NULL,
    -- set when acknowledged: 'fever_clinic' | 'remeasured_normal' | ...
    disposition TEXT,
    note TEXT NOT NULL DEFAULT '',
    -- notification rows queued when the alert was raised
    notified BIGINT NOT NULL,
    acked_by TEXT,
    acked_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX gate_alerts_region ON gate_alerts(region_code, status);
CREATE INDEX gate_alerts_gate ON gate_alerts(gate_id, status);
