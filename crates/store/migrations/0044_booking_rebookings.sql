-- The rebooking queue (改约, issue 19 item 4): a booking whose day was blocked or whose day cap
-- was lowered below what was booked gets a row here. Backstop proposes the nearest free slot
-- (held: the counters already count it), in order of booking time, and notifies the party;
-- status proposed | unplaced (no free slot in the window: staff call) | accepted | moved
-- (the party chose another slot) | cancelled. Nothing is deleted: the log shows each step.
CREATE TABLE booking_rebookings (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    booking_id BIGINT NOT NULL,
    org_id BIGINT NOT NULL,
    region_code TEXT NOT NULL,
    old_day TEXT NOT NULL,
    old_starts TEXT NOT NULL,
    new_day TEXT,
    new_starts TEXT,
    reason TEXT NOT NULL,
    status TEXT NOT NULL,
    notified_at BIGINT,
    answered_at BIGINT,
    created_at BIGINT NOT NULL{{PROVINCE_PK}}
);
CREATE INDEX booking_rebookings_booking ON booking_rebookings(booking_id, status);
CREATE INDEX booking_rebookings_org ON booking_rebookings(org_id, status);
