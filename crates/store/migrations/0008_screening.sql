-- Screening campaigns (摸排) and home observation with four responsible people (四包一), issue 4.
-- Every row carries the region code of the household or person it is about (scope key).
-- Temperatures are tenths of a degree Celsius (365 = 36.5 °C); times are Unix milliseconds.

CREATE TABLE screening_campaigns (
    id {{ID}},
    region_code TEXT NOT NULL REFERENCES regions(code),
    name TEXT NOT NULL,
    purpose TEXT NOT NULL DEFAULT '',
    -- YYYY-MM-DD (Beijing)
    starts_on TEXT NOT NULL,
    ends_on TEXT NOT NULL,
    ask_history BIGINT NOT NULL DEFAULT 1,
    ask_symptoms BIGINT NOT NULL DEFAULT 1,
    ask_temperature BIGINT NOT NULL DEFAULT 1,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX screening_campaigns_region ON screening_campaigns(region_code);

-- One visit per campaign and household (a later visit replaces the earlier one).
CREATE TABLE screening_visits (
    id {{ID}},
    campaign_id BIGINT NOT NULL REFERENCES screening_campaigns(id),
    household_id BIGINT NOT NULL REFERENCES households(id),
    region_code TEXT NOT NULL,
    reached BIGINT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    visited_by TEXT NOT NULL,
    visited_at BIGINT NOT NULL,
    UNIQUE (campaign_id, household_id)
);
CREATE INDEX screening_visits_region ON screening_visits(campaign_id, region_code);

CREATE TABLE screening_persons (
    id {{ID}},
    visit_id BIGINT NOT NULL REFERENCES screening_visits(id),
    campaign_id BIGINT NOT NULL,
    person_id BIGINT NOT NULL REFERENCES persons(id),
    region_code TEXT NOT NULL,
    at_home BIGINT NOT NULL,
    history TEXT NOT NULL DEFAULT '',
    symptoms BIGINT NOT NULL DEFAULT 0,
    -- tenths of a degree; NULL when not measured
    temperature BIGINT,
    -- confirmed | suspected | close_contact | fever | none
    risk TEXT NOT NULL,
    -- home_observation | central_isolation | fever_clinic | none
    disposition TEXT NOT NULL,
    UNIQUE (campaign_id, person_id)
);
CREATE INDEX screening_persons_visit ON screening_persons(visit_id);

CREATE TABLE observations (
    id {{ID}},
    person_id BIGINT NOT NULL REFERENCES persons(id),
    -- the person's region when the observation started
    region_code TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    started_at BIGINT NOT NULL,
    -- last day of observation, YYYY-MM-DD (Beijing); only ever moves later
    ends_on TEXT NOT NULL,
    -- active | released | central_isolation | hospital
    status TEXT NOT NULL,
    closed_at BIGINT,
    close_note TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX observations_region ON observations(status, region_code);
CREATE INDEX observations_person ON observations(person_id);

-- The four responsible people (四包一); phones encrypted, shown masked.
CREATE TABLE observation_keepers (
    observation_id BIGINT NOT NULL REFERENCES observations(id),
    seq BIGINT NOT NULL,
    role TEXT NOT NULL,
    name TEXT NOT NULL,
    phone_enc {{BLOB}},
    phone_masked TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (observation_id, seq)
);

-- Check-ins; slot = half-day number, floor((ms + 8 h) / 12 h): even = morning, odd = evening.
CREATE TABLE observation_checkins (
    id {{ID}},
    observation_id BIGINT NOT NULL REFERENCES observations(id),
    slot BIGINT NOT NULL,
    temperature BIGINT NOT NULL,
    symptoms BIGINT NOT NULL DEFAULT 0,
    note TEXT NOT NULL DEFAULT '',
    recorded_by TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
);
CREATE INDEX observation_checkins_obs ON observation_checkins(observation_id, slot);

-- Alerts already sent for a missed slot: level 1 to the four, level 2 to the township.
CREATE TABLE observation_alerts (
    observation_id BIGINT NOT NULL REFERENCES observations(id),
    slot BIGINT NOT NULL,
    level BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (observation_id, slot, level)
);
