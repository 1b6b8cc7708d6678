-- The registration rules of marriage bookings (issue 19 item 3): the kind of a party's
-- identity document, the household-registration place, where a couple may register, the
-- registries designated for marriages involving foreigners or residents of Hong Kong, Macao
-- and Taiwan, the divorce cooling-off period, and the pre-check (预审) of the registration data
-- and documents entered before coming. Growing tables carry the province (2-digit prefix of
-- the registry's region) in their keys. Sealed columns (`*_enc`) hold AES-GCM ciphertext only.

-- id_type: resident (居民身份证) | hmt (港澳台居民来往内地通行证、台胞证) | foreign (护照).
-- household_region: the party's household-registration county (6 digits; for a resident,
-- defaulting to the ID number's first six), '' for a party without one on the mainland.
ALTER TABLE booking_parties ADD COLUMN id_type TEXT NOT NULL DEFAULT 'resident';
ALTER TABLE booking_parties ADD COLUMN household_region TEXT NOT NULL DEFAULT '';

-- Where a couple may register, set for a region (the setting of the nearest region above a
-- registry holds): household (一方常住户口所在地, the rule in 2020) | anywhere (全国通办).
-- Without a setting: anywhere (the current regulation).
CREATE TABLE booking_place_rules (
    id {{ID}},
    region_code TEXT NOT NULL UNIQUE,
    rule TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at BIGINT NOT NULL
);

-- A marriage registry designated for marriages involving foreigners or residents of Hong
-- Kong, Macao and Taiwan (涉外、涉港澳台婚姻登记).
CREATE TABLE booking_designations (
    id {{ID}},
    org_id BIGINT NOT NULL UNIQUE REFERENCES orgs(id),
    designated BIGINT NOT NULL,
    set_by TEXT NOT NULL,
    set_at BIGINT NOT NULL
);

-- A divorce application (离婚登记申请) received on applied_on starts the cooling-off period:
-- the certificate (离婚登记证) may be issued from earliest (day 31) to latest (day 60); a
-- certificate booking (certificate_booking_id) must fall between them; past latest without a
-- certificate the application lapses (视为撤回). status cooling | booked | done | lapsed |
-- withdrawn. reminded: the reminders sent (opens, closing).
CREATE TABLE booking_divorces (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    org_id BIGINT NOT NULL,
    region_code TEXT NOT NULL,
    application_id BIGINT NOT NULL,
    applied_on TEXT NOT NULL,
    earliest TEXT NOT NULL,
    latest TEXT NOT NULL,
    status TEXT NOT NULL,
    certificate_booking_id BIGINT,
    reminded TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (province, application_id){{PROVINCE_PK}}
);
CREATE INDEX booking_divorces_status ON booking_divorces(status, latest);

-- The pre-check of a booking: the registration data entered before coming (sealed JSON), the
-- documents the party says they will bring, and staff's answer: submitted | approved |
-- missing (with what is missing).
CREATE TABLE booking_prechecks (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    booking_id BIGINT NOT NULL,
    org_id BIGINT NOT NULL,
    region_code TEXT NOT NULL,
    data_enc {{BLOB}} NOT NULL,
    documents TEXT NOT NULL,
    status TEXT NOT NULL,
    missing TEXT NOT NULL DEFAULT '',
    answered_by TEXT,
    answered_at BIGINT,
    submitted_at BIGINT NOT NULL,
    UNIQUE (province, booking_id){{PROVINCE_PK}}
);
CREATE INDEX booking_prechecks_org ON booking_prechecks(org_id, status);
