-- Institution monitoring (机构监测): closed management with history, entrance log, residents
-- and their temperature rounds, supplies stock, shortage requests that rise to the county.
-- Temperatures are BIGINT tenths of a degree Celsius (365 = 36.5 ℃); dates are Beijing
-- calendar dates as 'YYYY-MM-DD' text; times are Unix milliseconds.

CREATE TABLE inst_closures (
    id {{ID}},
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    region_code TEXT NOT NULL,
    start_date TEXT NOT NULL,
    -- NULL while closed management is in force
    end_date TEXT,
    note TEXT NOT NULL,
    started_by TEXT NOT NULL,
    ended_by TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX inst_closures_org ON inst_closures(org_id, id);

CREATE TABLE inst_entries (
    id {{ID}},
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    region_code TEXT NOT NULL,
    -- shown masked only
    person_name TEXT NOT NULL,
    -- AES-GCM ciphertext of the phone number (never stored in plain text)
    phone_enc {{BLOB}},
    reason TEXT NOT NULL,
    temp_tenths BIGINT NOT NULL,
    fever BIGINT NOT NULL,
    entered_at BIGINT NOT NULL,
    day TEXT NOT NULL,
    recorded_by TEXT NOT NULL
);
CREATE INDEX inst_entries_org ON inst_entries(org_id, day);

CREATE TABLE inst_residents (
    id {{ID}},
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    room TEXT NOT NULL,
    active BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);
CREATE INDEX inst_residents_org ON inst_residents(org_id, active);

CREATE TABLE inst_temps (
    resident_id BIGINT NOT NULL REFERENCES inst_residents(id),
    org_id BIGINT NOT NULL,
    day TEXT NOT NULL,
    -- 'morning' | 'noon' | 'evening'
    round TEXT NOT NULL,
    temp_tenths BIGINT NOT NULL,
    fever BIGINT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (resident_id, day, round)
);
CREATE INDEX inst_temps_org ON inst_temps(org_id, day);

CREATE TABLE inst_supplies (
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    -- 'masks' | 'suits' | 'disinfectant' | 'food'
    item TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    days_left BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, item)
);

CREATE TABLE inst_shortages (
    id {{ID}},
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    region_code TEXT NOT NULL,
    item TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    note TEXT NOT NULL,
    -- 'open' | 'answered' | 'closed'
    status TEXT NOT NULL,
    answer TEXT NOT NULL DEFAULT '',
    answered_by TEXT,
    answered_at BIGINT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX inst_shortages_region ON inst_shortages(region_code, status);
CREATE INDEX inst_shortages_org ON inst_shortages(org_id);
