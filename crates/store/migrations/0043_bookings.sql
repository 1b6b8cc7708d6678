-- Bookings at marriage registries and funeral homes (预约, issue 19 items 1–4): services of an
-- organisation, resources that limit capacity (windows, vehicles, cremators, rooms), special
-- dates (holidays, blocked days), the per-slot and per-day counters that enforce capacity in the
-- database, bookings with their parties, and emergency settings (疫情防控措施).
-- Growing tables carry the province (2-digit prefix of the organisation's region) in their keys.
-- Sealed columns (`*_enc`) hold AES-GCM ciphertext only (docs/PRIVACY.md).

-- A resource of an organisation: kind window | vehicle | cremator | room, how many there are.
-- A service limited by a resource never offers more places per slot than the resource count.
CREATE TABLE booking_resources (
    id {{ID}},
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    region_code TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    units BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX booking_resources_org ON booking_resources(org_id);

-- A bookable service: kind (marriage_registration | divorce_registration |
-- certificate_replacement | body_collection | cremation | farewell_room), opening days
-- (ISO weekdays as digits, e.g. '12345'), hours ('09:00'–'17:00'), slot length (minutes),
-- places per slot, how many days ahead it may be booked, the limiting resource (optional).
CREATE TABLE booking_services (
    id {{ID}},
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    region_code TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    open_days TEXT NOT NULL,
    opens TEXT NOT NULL,
    closes TEXT NOT NULL,
    slot_minutes BIGINT NOT NULL,
    per_slot BIGINT NOT NULL,
    window_days BIGINT NOT NULL,
    resource_id BIGINT REFERENCES booking_resources(id),
    active BIGINT NOT NULL DEFAULT 1,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX booking_services_org ON booking_services(org_id);

-- A special date of an organisation: kind closed (holiday) | cap (a lower daily cap) |
-- blocked (cancelled at short notice: its bookings went to rebooking), with the reason shown
-- to the public.
CREATE TABLE booking_dates (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    org_id BIGINT NOT NULL,
    region_code TEXT NOT NULL,
    day TEXT NOT NULL,
    kind TEXT NOT NULL,
    day_cap BIGINT,
    reason TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (province, org_id, day){{PROVINCE_PK}}
);

-- The capacity counters. A slot row per (lane, day, start) — the lane is the limiting
-- resource (`r<id>`: services sharing a resource share its places) or else the service
-- (`s<id>`) — and a day row per (org, day) are made when first needed (INSERT … ON CONFLICT DO NOTHING); a booking takes a place with
-- `UPDATE … SET booked = booked + 1 WHERE … AND booked < <cap>` in the same transaction as
-- its insert, so two bookings can never take the last place (docs/adr/0014).
CREATE TABLE booking_slots (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    lane TEXT NOT NULL,
    org_id BIGINT NOT NULL,
    day TEXT NOT NULL,
    starts TEXT NOT NULL,
    booked BIGINT NOT NULL DEFAULT 0,
    UNIQUE (province, lane, day, starts){{PROVINCE_PK}}
);
CREATE TABLE booking_days (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    org_id BIGINT NOT NULL,
    day TEXT NOT NULL,
    booked BIGINT NOT NULL DEFAULT 0,
    UNIQUE (province, org_id, day){{PROVINCE_PK}}
);

-- A booking. number: what the person is given (unique per province). status booked |
-- rebooking (its day was blocked or capped; see booking_rebookings) | cancelled | done.
-- phone_*: the contact phone (sealed, blind index, masked). channel staff | public;
-- idem: the Idempotency-Key (or page form key) it was made under. attendance: people
-- expected (funerals). ceremony: a certificate ceremony (颁证仪式) asked for.
CREATE TABLE bookings (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    number TEXT NOT NULL,
    org_id BIGINT NOT NULL,
    region_code TEXT NOT NULL,
    service_id BIGINT NOT NULL,
    day TEXT NOT NULL,
    starts TEXT NOT NULL,
    status TEXT NOT NULL,
    channel TEXT NOT NULL,
    phone_enc {{BLOB}} NOT NULL,
    phone_index TEXT NOT NULL,
    phone_masked TEXT NOT NULL,
    attendance BIGINT NOT NULL DEFAULT 0,
    ceremony BIGINT NOT NULL DEFAULT 0,
    idem TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (province, number){{PROVINCE_PK}}
);
CREATE INDEX bookings_org_day ON bookings(org_id, day, status);
CREATE INDEX bookings_phone ON bookings(phone_index, idem);
CREATE INDEX bookings_region ON bookings(region_code, day);

-- A party of a booking (both persons of a marriage, the applicant, the deceased): name and
-- ID number sealed, with the blind index and masked forms. active = 1 while the booking is
-- booked or being rebooked: one active booking per ID number (the unique index; across
-- provinces the service checks first).
CREATE TABLE booking_parties (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    booking_id BIGINT NOT NULL,
    position BIGINT NOT NULL,
    name_enc {{BLOB}} NOT NULL,
    name_masked TEXT NOT NULL,
    id_enc {{BLOB}} NOT NULL,
    id_index TEXT NOT NULL,
    id_masked TEXT NOT NULL,
    sex TEXT NOT NULL,
    active BIGINT NOT NULL{{PROVINCE_PK}}
);
CREATE INDEX booking_parties_booking ON booking_parties(booking_id);
CREATE INDEX booking_parties_id ON booking_parties(id_index);
CREATE UNIQUE INDEX booking_parties_active ON booking_parties(province, id_index) WHERE active = 1;

-- An emergency setting (疫情防控措施) an official puts in force for a region's registries or
-- funeral homes (org_kind) from one date to another: a lower daily cap per organisation,
-- suspended service kinds (and ceremonies), an attendance cap, health questions answered on
-- booking (JSON: [{key, text, action: refuse | defer, days}]), and the reason shown to the public.
-- The setting in force for an organisation and a date is the one of the nearest region above it.
CREATE TABLE booking_emergencies (
    id {{ID}},
    region_code TEXT NOT NULL,
    org_kind TEXT NOT NULL,
    starts_on TEXT NOT NULL,
    ends_on TEXT NOT NULL,
    daily_cap BIGINT,
    suspended TEXT NOT NULL DEFAULT '',
    no_ceremony BIGINT NOT NULL DEFAULT 0,
    attendance_cap BIGINT,
    questions TEXT NOT NULL DEFAULT '[]',
    reason TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    ended_at BIGINT
);
CREATE INDEX booking_emergencies_region ON booking_emergencies(region_code, org_kind);
