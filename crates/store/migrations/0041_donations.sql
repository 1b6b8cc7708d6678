-- Charity donations (issue 18, first slice): campaigns, receivers, receipts with their money and
-- goods lines, the double-entry ledger (entries and lines), allocations, dispatches and
-- deliveries. Growing tables carry the province (2-digit prefix) in their keys. The donor's
-- name is sealed (`donor_name_enc`, AES-GCM) and committed to by a salted hash
-- (`donor_name_hash` = SHA-256 of salt ‖ name), so the disclosure chain (issue 18 item 6) can
-- commit to the hash and a withdrawn consent can drop name and salt without breaking it.
-- Balances are never stored: they are sums of `ledger_lines` (docs/adr/0013-donation-ledger.md).

-- A campaign (募捐活动): dates, region, rules. no_fee: no entry to the fee account is accepted;
-- directed_only: directed gifts go only to their target (always enforced, recorded as the rule).
CREATE TABLE donation_campaigns (
    id {{ID}},
    region_code TEXT NOT NULL REFERENCES regions(code),
    name TEXT NOT NULL,
    starts_on TEXT NOT NULL,
    ends_on TEXT NOT NULL,
    no_fee BIGINT NOT NULL,
    directed_only BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX donation_campaigns_region ON donation_campaigns(region_code);

-- A receiving organisation (a charity of the registry): designated for tax-free imported
-- supplies (flag and licence number); the unified social credit code and the public-fundraising
-- filing number the disclosure will show.
CREATE TABLE donation_receivers (
    org_id BIGINT PRIMARY KEY REFERENCES orgs(id),
    region_code TEXT NOT NULL,
    tax_free_imports BIGINT NOT NULL,
    licence_no TEXT NOT NULL DEFAULT '',
    credit_code TEXT NOT NULL DEFAULT '',
    filing_no TEXT NOT NULL DEFAULT '',
    updated_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX donation_receivers_region ON donation_receivers(region_code);

-- A receipt (接收): region_code is the receiving charity's region (scope). Donor kind person |
-- org | anonymous; directed_kind '' (undirected) | org | region | purpose. Money as received
-- (currency, amount in the currency's cents, rate × 10^6) and converted (money_fen).
CREATE TABLE donation_receipts (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    campaign_id BIGINT NOT NULL,
    org_id BIGINT NOT NULL,
    region_code TEXT NOT NULL,
    receipt_no TEXT NOT NULL,
    bill_no TEXT NOT NULL DEFAULT '',
    received_on TEXT NOT NULL,
    donor_kind TEXT NOT NULL,
    donor_name_enc {{BLOB}},
    donor_name_hash TEXT NOT NULL DEFAULT '',
    donor_salt TEXT NOT NULL DEFAULT '',
    publish_consent BIGINT NOT NULL,
    directed_kind TEXT NOT NULL DEFAULT '',
    directed_org_id BIGINT,
    directed_region TEXT,
    directed_purpose TEXT NOT NULL DEFAULT '',
    currency TEXT NOT NULL DEFAULT 'CNY',
    amount_minor BIGINT NOT NULL DEFAULT 0,
    rate_micro BIGINT NOT NULL DEFAULT 1000000,
    money_fen BIGINT NOT NULL DEFAULT 0,
    goods_value_fen BIGINT NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (province, org_id, receipt_no){{PROVINCE_PK}}
);
CREATE INDEX donation_receipts_region ON donation_receipts(region_code, campaign_id);

-- A line of a receipt: kind money (quantity in fen, unit 'fen') or goods (catalogue category,
-- specification, quantity, unit, unit value, valuation 折款, expiry, tax-free import,
-- warehouse). lock_n is touched by every ledger write on the line (a row lock on PostgreSQL).
CREATE TABLE donation_lines (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    receipt_id BIGINT NOT NULL,
    campaign_id BIGINT NOT NULL,
    org_id BIGINT NOT NULL,
    region_code TEXT NOT NULL,
    kind TEXT NOT NULL,
    category TEXT NOT NULL,
    spec TEXT NOT NULL DEFAULT '',
    quantity BIGINT NOT NULL,
    unit TEXT NOT NULL,
    unit_value_fen BIGINT NOT NULL,
    value_fen BIGINT NOT NULL,
    expiry_on TEXT,
    tax_free_import BIGINT NOT NULL DEFAULT 0,
    warehouse TEXT NOT NULL DEFAULT '',
    lock_n BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL{{PROVINCE_PK}}
);
CREATE INDEX donation_lines_receipt ON donation_lines(province, receipt_id);
CREATE INDEX donation_lines_region ON donation_lines(region_code, campaign_id);

-- The next sequence number of a campaign's entries in a province (stable, gap-free); taking it
-- locks the row, which serialises a campaign's ledger writes in a province on PostgreSQL.
CREATE TABLE ledger_seqs (
    province TEXT NOT NULL,
    campaign_id BIGINT NOT NULL,
    last_seq BIGINT NOT NULL,
    PRIMARY KEY (province, campaign_id)
);

-- An immutable journal entry: kind receive | allocate | dispatch | deliver | fee | reverse.
CREATE TABLE ledger_entries (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    campaign_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    org_id BIGINT NOT NULL,
    region_code TEXT NOT NULL,
    kind TEXT NOT NULL,
    receipt_id BIGINT,
    allocation_id BIGINT,
    reverses_id BIGINT,
    memo TEXT NOT NULL DEFAULT '',
    entered_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (province, campaign_id, seq){{PROVINCE_PK}}
);
CREATE INDEX ledger_entries_region ON ledger_entries(region_code, campaign_id);

-- A line of an entry: a signed quantity (units; fen for money) and value (fen) on one account
-- of one receipt line; party_org_id is the recipient for allocated / in_transit / delivered /
-- discrepancy. Every entry sums to zero per receipt line, in quantity and in value.
CREATE TABLE ledger_lines (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    entry_id BIGINT NOT NULL,
    line_id BIGINT NOT NULL,
    account TEXT NOT NULL,
    party_org_id BIGINT,
    quantity BIGINT NOT NULL,
    value_fen BIGINT NOT NULL{{PROVINCE_PK}}
);
CREATE INDEX ledger_lines_entry ON ledger_lines(province, entry_id);
CREATE INDEX ledger_lines_line ON ledger_lines(province, line_id, account);

-- An allocation (拨付) of a quantity of one receipt line to a recipient organisation; status
-- allocated → dispatched → delivered, or reversed.
CREATE TABLE donation_allocations (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    campaign_id BIGINT NOT NULL,
    org_id BIGINT NOT NULL,
    region_code TEXT NOT NULL,
    receipt_id BIGINT NOT NULL,
    line_id BIGINT NOT NULL,
    recipient_org_id BIGINT NOT NULL,
    recipient_region TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    value_fen BIGINT NOT NULL,
    purpose TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    entry_id BIGINT NOT NULL,
    allocated_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL{{PROVINCE_PK}}
);
CREATE INDEX donation_allocations_region ON donation_allocations(region_code, campaign_id);
CREATE INDEX donation_allocations_recipient ON donation_allocations(recipient_org_id, status);

-- A dispatch (发运) of an allocation: vehicle and time.
CREATE TABLE donation_dispatches (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    allocation_id BIGINT NOT NULL,
    region_code TEXT NOT NULL,
    vehicle TEXT NOT NULL,
    dispatched_at BIGINT NOT NULL,
    entry_id BIGINT NOT NULL,
    dispatched_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (province, allocation_id){{PROVINCE_PK}}
);

-- A delivery (签收): confirmed by a user of the recipient (by_note 0) or a signed delivery note
-- recorded by the dispatcher (by_note 1, note_ref its number); received quantity, discrepancy,
-- and the time from the receipt's entry to this delivery (ms).
CREATE TABLE donation_deliveries (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    allocation_id BIGINT NOT NULL,
    region_code TEXT NOT NULL,
    recipient_org_id BIGINT NOT NULL,
    received_qty BIGINT NOT NULL,
    discrepancy TEXT NOT NULL DEFAULT '',
    by_note BIGINT NOT NULL,
    note_ref TEXT NOT NULL DEFAULT '',
    confirmed_by TEXT NOT NULL,
    confirmed_at BIGINT NOT NULL,
    receipt_to_delivery_ms BIGINT NOT NULL,
    entry_id BIGINT NOT NULL,
    UNIQUE (province, allocation_id){{PROVINCE_PK}}
);
