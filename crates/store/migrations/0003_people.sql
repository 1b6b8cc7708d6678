-- People and households (issue 4): one person record per citizen ID number.
--
-- Personal data at rest: the ID number and the phone are stored only encrypted
-- (AES-256-GCM, key outside the database: id_enc, phone_enc) with an HMAC blind index for
-- exact lookup (id_index, phone_index) and a display form that is already masked
-- (id_masked = first 6 + 8 stars + last 4; phone_masked = 3 + 4 stars + 4). No column ever
-- holds a full plaintext number. Every row carries its region code (scope key, Citus-ready).

CREATE TABLE households (
    id {{ID}},
    region_code TEXT NOT NULL REFERENCES regions(code),
    address TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX households_region ON households(region_code);

CREATE TABLE persons (
    id {{ID}},
    -- current region, down to village or grid
    region_code TEXT NOT NULL REFERENCES regions(code),
    name TEXT NOT NULL,
    -- 'male' | 'female' | '' (unknown)
    sex TEXT NOT NULL DEFAULT '',
    -- YYYY-MM-DD or '' (unknown)
    birth_date TEXT NOT NULL DEFAULT '',
    -- NULL for a person without an ID number (newborn, homeless), to be linked later
    id_enc {{BLOB}},
    id_index TEXT UNIQUE,
    id_masked TEXT NOT NULL DEFAULT '',
    phone_enc {{BLOB}},
    phone_index TEXT,
    phone_masked TEXT NOT NULL DEFAULT '',
    hukou_address TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    household_id BIGINT REFERENCES households(id),
    -- relationship to the household's head: head, spouse, child, parent, ...
    relationship TEXT NOT NULL DEFAULT '',
    deceased BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX persons_region_name ON persons(region_code, name);
CREATE INDEX persons_name ON persons(name);
CREATE INDEX persons_phone_index ON persons(phone_index);
CREATE INDEX persons_household ON persons(household_id);
