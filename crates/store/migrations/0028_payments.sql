-- Payments (issue 16 part B): bank accounts, payment rolls and their lines, one-off grants,
-- price indices and the provinces' price-subsidy rules. Built on assistance_beneficiaries and
-- assistance_standards (0024). Tables that grow carry the province in their keys.

-- Bank accounts (收款账户) of beneficiary persons. The account number is sealed at rest like an
-- ID number (kernel/crypto.rs) and shown masked everywhere except in the audited bank file. A
-- new or changed account is 'pending' until a second user confirms it; confirming retires the
-- person's earlier confirmed account ('replaced'). `replaces_id` names that earlier account, and
-- `first_roll_id` the first roll that paid into this one: a line paying into a replacing account
-- not yet used by any roll is highlighted (账户变更).
CREATE TABLE payment_accounts (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    person_id BIGINT NOT NULL REFERENCES persons(id),
    -- the person's region when entered (scope of the account record)
    region_code TEXT NOT NULL REFERENCES regions(code),
    bank_name TEXT NOT NULL,
    holder TEXT NOT NULL,
    account_enc {{BLOB}} NOT NULL,
    account_masked TEXT NOT NULL,
    -- 'pending' | 'confirmed' | 'replaced'
    status TEXT NOT NULL,
    replaces_id BIGINT,
    first_roll_id BIGINT,
    entered_by TEXT NOT NULL,
    confirmed_by TEXT,
    created_at BIGINT NOT NULL,
    confirmed_at BIGINT{{PROVINCE_PK}}
);
CREATE INDEX payment_accounts_person ON payment_accounts(person_id, status);
-- One confirmed account per person.
CREATE UNIQUE INDEX payment_accounts_confirmed ON payment_accounts(province, person_id)
    WHERE status = 'confirmed';

-- One-off grants (一次性生活补贴): who was active on `as_of` in the programmes listed, per
-- household or per person, `amount_fen` each.
CREATE TABLE payment_grants (
    id {{ID}},
    region_code TEXT NOT NULL REFERENCES regions(code),
    name TEXT NOT NULL,
    -- comma-separated programme keys
    programmes TEXT NOT NULL,
    -- 'household' | 'person'
    per TEXT NOT NULL,
    amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
    -- YYYY-MM-DD
    as_of TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Payment rolls (发放名册): per county, programme and month. `programme` is a programme key, or
-- 'grant' / 'price_subsidy'; `batch` tells rolls of the same county, programme and month apart:
-- '' for the month's roll, 'supp:<roll id>' for the supplementary roll (补发名册) of a roll's
-- failed lines, 'grant:<grant id>' for a grant's roll. A second roll with the same key is refused.
-- States: 'draft' → 'approved' → 'exported' → 'reconciled'.
CREATE TABLE payment_rolls (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    county_code TEXT NOT NULL REFERENCES regions(code),
    programme TEXT NOT NULL,
    -- YYYY-MM
    month TEXT NOT NULL,
    batch TEXT NOT NULL DEFAULT '',
    -- 'monthly' | 'supplementary' | 'grant' | 'price_subsidy'
    kind TEXT NOT NULL,
    parent_roll_id BIGINT,
    grant_id BIGINT,
    -- YYYY-MM-DD; may be before the month (early payment)
    pay_date TEXT NOT NULL,
    status TEXT NOT NULL,
    line_count BIGINT NOT NULL DEFAULT 0,
    total_fen BIGINT NOT NULL DEFAULT 0,
    -- lines of frozen-exit beneficiaries (held by an emergency period), paid and marked
    held_count BIGINT NOT NULL DEFAULT 0,
    -- left out, counted: suspended, exited, deceased
    left_suspended BIGINT NOT NULL DEFAULT 0,
    left_exited BIGINT NOT NULL DEFAULT 0,
    left_deceased BIGINT NOT NULL DEFAULT 0,
    -- why it was generated as it was (price subsidy: the trigger; grant: its name)
    note TEXT NOT NULL DEFAULT '',
    -- SHA-256 of the canonical lines, set at export
    checksum TEXT NOT NULL DEFAULT '',
    paid_count BIGINT NOT NULL DEFAULT 0,
    paid_fen BIGINT NOT NULL DEFAULT 0,
    failed_count BIGINT NOT NULL DEFAULT 0,
    failed_fen BIGINT NOT NULL DEFAULT 0,
    generated_by TEXT NOT NULL,
    generated_at BIGINT NOT NULL,
    approved_by TEXT,
    approved_at BIGINT,
    exported_by TEXT,
    exported_at BIGINT,
    reconciled_by TEXT,
    reconciled_at BIGINT,
    UNIQUE (province, county_code, programme, month, batch){{PROVINCE_PK}}
);
CREATE INDEX payment_rolls_county ON payment_rolls(county_code, month);

-- Lines of a roll. A person is never on two rolls of the same programme, month and batch,
-- whatever the county: the UNIQUE key says so, with the province in it.
CREATE TABLE payment_roll_lines (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    roll_id BIGINT NOT NULL,
    programme TEXT NOT NULL,
    month TEXT NOT NULL,
    batch TEXT NOT NULL,
    person_id BIGINT NOT NULL,
    household_id BIGINT,
    beneficiary_id BIGINT,
    region_code TEXT NOT NULL,
    members BIGINT NOT NULL DEFAULT 1,
    amount_fen BIGINT NOT NULL CHECK (amount_fen >= 0),
    -- the confirmed account at generation (NULL: none on file)
    account_id BIGINT,
    account_changed BIGINT NOT NULL DEFAULT 0,
    exit_held BIGINT NOT NULL DEFAULT 0,
    -- '' until reconciled, then 'paid' | 'failed'
    outcome TEXT NOT NULL DEFAULT '',
    fail_reason TEXT NOT NULL DEFAULT '',
    UNIQUE (province, programme, month, batch, person_id){{PROVINCE_PK}}
);
CREATE INDEX payment_roll_lines_roll ON payment_roll_lines(roll_id, id);

-- Monthly price indices (居民消费价格指数) per province (or city): year-on-year change in tenths of
-- a percent (35 = 3.5 %), integers, never floats. One entry per region and month.
CREATE TABLE price_indices (
    id {{ID}},
    region_code TEXT NOT NULL REFERENCES regions(code),
    -- YYYY-MM
    month TEXT NOT NULL,
    cpi_tenths BIGINT NOT NULL,
    food_cpi_tenths BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (region_code, month)
);

-- A province's price-subsidy rule (absent: the national one). Thresholds may be lower than
-- 3.5 % / 6 %, never higher; rounding 'fen' | 'jiao' | 'yuan'.
CREATE TABLE price_subsidy_rules (
    region_code TEXT PRIMARY KEY REFERENCES regions(code),
    cpi_tenths BIGINT NOT NULL,
    food_cpi_tenths BIGINT NOT NULL,
    rounding TEXT NOT NULL,
    minimum_fen BIGINT NOT NULL CHECK (minimum_fen >= 0),
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
