-- Volunteers and their tasks (志愿者、社会组织, issue 19 item 7): volunteers registered through
-- the public face with a verified phone, tasks posted by a township or community, sign-ups and
-- assignments (shifts) with the check-in and check-out times, and the hours the task's owner
-- confirmed. Growing tables carry the province (2-digit prefix of the region) in their keys.
-- Sealed columns (`*_enc`) hold AES-GCM ciphertext only (docs/PRIVACY.md); `phone_index` is the
-- public face's blind index of the phone.

-- A volunteer: where they serve (a township or village), name and phone sealed, skills (keys,
-- comma-separated), availability (short text), the date they declared themselves healthy (the
-- answers are not kept: only "declared ok on"), an optional social organisation or social-work
-- agency of the registry.
CREATE TABLE volunteers (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    region_code TEXT NOT NULL,
    phone_index TEXT NOT NULL,
    phone_enc {{BLOB}} NOT NULL,
    name_enc {{BLOB}} NOT NULL,
    skills TEXT NOT NULL,
    availability TEXT NOT NULL,
    health_ok_on TEXT NOT NULL,
    org_id BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (province, phone_index){{PROVINCE_PK}}
);
CREATE INDEX volunteers_phone ON volunteers(phone_index);
CREATE INDEX volunteers_region ON volunteers(region_code);

-- A task: kind (screening | entrance_duty | publicity | supply_transport | household_support),
-- where (a region and an address text), the time window (ms), how many are needed and how many
-- places are taken (`taken`: a sign-up or assignment takes a place with
-- `UPDATE … SET taken = taken + 1 WHERE … AND taken < needed`), the skills required, status
-- (open | cancelled), what volunteers need to know (no personal data of the people helped).
CREATE TABLE volunteer_tasks (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    region_code TEXT NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    address TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    needed BIGINT NOT NULL,
    taken BIGINT NOT NULL DEFAULT 0,
    skills TEXT NOT NULL,
    note TEXT NOT NULL,
    status TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL{{PROVINCE_PK}}
);
CREATE INDEX volunteer_tasks_region ON volunteer_tasks(region_code, starts_at);

-- A volunteer on a task (signed up or assigned): the check-in and check-out (server time, the
-- phone's coarse location text if given), the minutes between them, and the minutes the task's
-- owner confirmed (with the reason when adjusted). Only confirmed minutes count.
CREATE TABLE volunteer_shifts (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    task_id BIGINT NOT NULL,
    volunteer_id BIGINT NOT NULL,
    region_code TEXT NOT NULL,
    org_id BIGINT,
    via TEXT NOT NULL,
    status TEXT NOT NULL,
    checkin_at BIGINT,
    checkin_place TEXT NOT NULL DEFAULT '',
    checkout_at BIGINT,
    checkout_place TEXT NOT NULL DEFAULT '',
    minutes BIGINT,
    confirmed_minutes BIGINT,
    confirmed_by TEXT,
    confirmed_at BIGINT,
    adjust_reason TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (province, task_id, volunteer_id){{PROVINCE_PK}}
);
CREATE INDEX volunteer_shifts_volunteer ON volunteer_shifts(volunteer_id);
CREATE INDEX volunteer_shifts_region ON volunteer_shifts(region_code);
