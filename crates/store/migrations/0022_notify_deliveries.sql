-- Delivery of notifications (issue 15, items 1–2): each notification queued by an area (a
-- reminder, a chase, a fever alert, a missed check-in) is handed to every gateway configured
-- for its recipient — an SMS HTTP API, a webhook — as one row per (notification, channel,
-- recipient), with its state (queued → sent → delivered | failed), attempts, the last error
-- and the time of the next try (exponential back-off). The row is written in the transaction
-- that queues the notification, so nothing is lost in a crash; the hand-off is at-least-once
-- with `dedup_key`, stable per row, which the gateway receives and deduplicates on.
-- The phone is sealed (AES-GCM, the service key) and stored masked for the lists. The text
-- carries no health, case or amount detail, only a reference (docs/PRIVACY.md).
-- Grows with the country: the province is in the primary key (PostgreSQL) and the unique key.
CREATE TABLE notify_deliveries (
    id {{PROVINCE_ID}},
    province TEXT NOT NULL,
    notification_id BIGINT NOT NULL,
    region_code TEXT NOT NULL,
    kind TEXT NOT NULL,
    channel TEXT NOT NULL,
    recipient TEXT NOT NULL,
    phone_enc {{BLOB}},
    phone_masked TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    next_attempt_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at BIGINT,
    delivered_at BIGINT,
    UNIQUE (province, dedup_key){{PROVINCE_PK}}
);
CREATE INDEX notify_deliveries_due ON notify_deliveries(state, next_attempt_at);
CREATE INDEX notify_deliveries_region ON notify_deliveries(region_code, created_at);

-- Which notifications have been dispatched (their delivery rows written). A flag rather than
-- a cursor over ids: on PostgreSQL two transactions can commit their ids out of order, and a
-- cursor would step over the later-committed smaller id. Notifications older than this
-- migration count as dispatched (they are not sent again on upgrade).
ALTER TABLE notifications ADD COLUMN dispatched_at BIGINT;
UPDATE notifications SET dispatched_at = created_at;
CREATE INDEX notifications_undispatched ON notifications(id) WHERE dispatched_at IS NULL;
