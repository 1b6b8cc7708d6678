-- Social assistance, the shared ground (issue 16): the standards money is computed from, and
-- the beneficiaries that applications make and payment rolls pay. Applications and emergency
-- periods (0027) and payment rolls, bank accounts, grants and price subsidies (0028) build on
-- these two tables.

-- Standards (救助标准): fen per person per month (or per person for a one-off cap), set for a
-- county or for a city/province and inherited by the counties below it; a new standard is a
-- new row with its effective-from date, so history is kept. `component` says which part of a
-- programme the amount is: 'base' (the dibao standard, the tekun basic amount, the orphan
-- rate …), 'care_full' / 'care_partial' / 'care_self' (tekun care amount by how far the person
-- can look after themselves), 'concentrated' / 'scattered' (orphan rates), 'temporary_cap'
-- (the most one temporary grant may be).
CREATE TABLE assistance_standards (
    id {{ID}},
    region_code TEXT NOT NULL REFERENCES regions(code),
    programme TEXT NOT NULL,
    -- 'urban' | 'rural'
    area_kind TEXT NOT NULL,
    component TEXT NOT NULL,
    amount_fen BIGINT NOT NULL CHECK (amount_fen >= 0),
    -- YYYY-MM-DD
    effective_from TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (region_code, programme, area_kind, component, effective_from)
);

-- Beneficiaries (保障对象): one row per person (or household, for dibao) and programme while
-- they receive it. Rolls are generated from the active rows; `monthly_amount_fen` is the
-- amount approved, `amount_detail` how it was computed (shown to staff, never to the public).
CREATE TABLE assistance_beneficiaries (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    programme TEXT NOT NULL,
    county_code TEXT NOT NULL,
    -- the village or community the beneficiary lives in (scope)
    region_code TEXT NOT NULL REFERENCES regions(code),
    -- dibao: the household; per-person programmes: the person's household if known
    household_id BIGINT,
    -- dibao: the head of the household (申请人); otherwise the person
    person_id BIGINT NOT NULL,
    members BIGINT NOT NULL DEFAULT 1,
    -- 'urban' | 'rural'
    area_kind TEXT NOT NULL,
    monthly_amount_fen BIGINT NOT NULL CHECK (monthly_amount_fen >= 0),
    amount_detail TEXT NOT NULL DEFAULT '',
    -- 'active' | 'suspended' | 'exited'
    status TEXT NOT NULL,
    -- first month paid, YYYY-MM
    since_month TEXT NOT NULL,
    -- last month paid once exited, YYYY-MM
    until_month TEXT,
    -- 1 while an exit is held by an emergency period's freeze_exits measure
    exit_held BIGINT NOT NULL DEFAULT 0,
    application_id BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL{{PROVINCE_PK}}
);
CREATE INDEX assistance_beneficiaries_county ON assistance_beneficiaries(county_code, programme, status);
CREATE INDEX assistance_beneficiaries_person ON assistance_beneficiaries(person_id, programme);
