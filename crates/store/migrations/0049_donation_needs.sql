-- Supply–demand matching (供需对接, issue 18 item 5): needs posted by recipients (a hospital,
-- community or institution — or, by an official, a region's civil-affairs department) and the
-- matches accepted against them. region_code is the delivery region (scope). status is `open`
-- or `cancelled`; how much is met is never stored: it is the sum of the matches whose
-- allocation is not reversed (an accepted match is an ordinary `allocate` ledger entry, written
-- in the same transaction as its match row). Growing tables carry the province in their keys.
CREATE TABLE donation_needs (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    campaign_id BIGINT NOT NULL,
    recipient_org_id BIGINT NOT NULL,
    region_code TEXT NOT NULL,
    category TEXT NOT NULL,
    spec TEXT NOT NULL DEFAULT '',
    quantity BIGINT NOT NULL,
    unit TEXT NOT NULL,
    urgency TEXT NOT NULL,
    needed_by TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL{{PROVINCE_PK}}
);
CREATE INDEX donation_needs_region ON donation_needs(region_code, campaign_id);
CREATE INDEX donation_needs_recipient ON donation_needs(recipient_org_id, status);

-- A match accepted: the allocation it became and the quantity it meets.
CREATE TABLE donation_need_matches (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    need_id BIGINT NOT NULL,
    allocation_id BIGINT NOT NULL,
    quantity BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (province, allocation_id){{PROVINCE_PK}}
);
CREATE INDEX donation_need_matches_need ON donation_need_matches(province, need_id);
