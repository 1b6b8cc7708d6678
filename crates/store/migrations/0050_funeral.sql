-- Funeral capacity and booking outcomes (issue 19 items 5 and 6).
-- Growing tables carry the province (2-digit prefix of the funeral home's region) in their
-- keys. Sealed columns (`*_enc`) hold AES-GCM ciphertext only (docs/PRIVACY.md).

-- A vehicle may be designated (专用车辆: the only ones an epidemic death may be carried in);
-- a vehicle or cremator may be out of service (maintenance), with the reason.
ALTER TABLE booking_resources ADD COLUMN designated BIGINT NOT NULL DEFAULT 0;
ALTER TABLE booking_resources ADD COLUMN out_of_service BIGINT NOT NULL DEFAULT 0;
ALTER TABLE booking_resources ADD COLUMN service_note TEXT NOT NULL DEFAULT '';

-- A body collection request (遗体接运) to a funeral home: from a hospital (from_org_id, its
-- staff) or a family on the phone (source family). The deceased: a person of the registry
-- (person_id) or a name and ID number (sealed, blind index, masked). Place of death (sealed,
-- masked), time of death, contact phone (sealed, masked). epidemic = 1: a confirmed or
-- suspected epidemic death, the strict flow (designated vehicle, immediate collection,
-- cremation the same day, no farewell, attendance 0). status requested | scheduled |
-- collected | cremated | cancelled.
CREATE TABLE funeral_requests (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    number TEXT NOT NULL,
    org_id BIGINT NOT NULL,
    region_code TEXT NOT NULL,
    source TEXT NOT NULL,
    from_org_id BIGINT,
    person_id BIGINT,
    name_enc {{BLOB}} NOT NULL,
    name_masked TEXT NOT NULL,
    id_enc {{BLOB}},
    id_index TEXT NOT NULL DEFAULT '',
    id_masked TEXT NOT NULL DEFAULT '',
    place_enc {{BLOB}} NOT NULL,
    place_masked TEXT NOT NULL,
    died_at TEXT NOT NULL,
    phone_enc {{BLOB}} NOT NULL,
    phone_masked TEXT NOT NULL,
    epidemic BIGINT NOT NULL DEFAULT 0,
    farewell BIGINT NOT NULL DEFAULT 0,
    attendance BIGINT NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    idem TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (province, number){{PROVINCE_PK}}
);
CREATE INDEX funeral_requests_org ON funeral_requests(org_id, status);
CREATE INDEX funeral_requests_region ON funeral_requests(region_code);
CREATE INDEX funeral_requests_idem ON funeral_requests(created_by, idem);

-- A job of a request on a resource: kind collection (a vehicle, `hours` from `hour`) or
-- cremation (a cremator slot); day `YYYY-MM-DD`, hour 0–23. status planned | done | cancelled.
CREATE TABLE funeral_jobs (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    request_id BIGINT NOT NULL,
    org_id BIGINT NOT NULL,
    region_code TEXT NOT NULL,
    resource_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    day TEXT NOT NULL,
    hour BIGINT NOT NULL,
    hours BIGINT NOT NULL,
    epidemic BIGINT NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL{{PROVINCE_PK}}
);
CREATE INDEX funeral_jobs_request ON funeral_jobs(request_id);
CREATE INDEX funeral_jobs_org_day ON funeral_jobs(org_id, day);
CREATE INDEX funeral_jobs_region_day ON funeral_jobs(region_code, day);

-- The claims that keep a resource from being booked twice: one row per (resource, day, hour)
-- a planned or done job holds, made with INSERT … ON CONFLICT DO NOTHING in the job's
-- transaction; fewer rows made than hours asked = taken, the transaction is rolled back
-- (docs/adr/0014, addendum). Cancelling a job deletes its claims.
CREATE TABLE funeral_claims (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    resource_id BIGINT NOT NULL,
    day TEXT NOT NULL,
    hour BIGINT NOT NULL,
    job_id BIGINT NOT NULL,
    UNIQUE (province, resource_id, day, hour){{PROVINCE_PK}}
);
CREATE INDEX funeral_claims_job ON funeral_claims(job_id);

-- Per organisation: how many hours before the slot a cancellation counts as late (default 24).
CREATE TABLE booking_org_settings (
    org_id BIGINT PRIMARY KEY,
    late_cancel_hours BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- When a booking was marked done or no-show by staff (status done | no_show).
ALTER TABLE bookings ADD COLUMN outcome_at BIGINT;
