-- The rest of issue 13's sealing: the category of a care membership (which vulnerable group a
-- person is in: 低保, 特困, 孤儿 … — sensitive under PIPL art. 28) gets a ciphertext column
-- `category_enc`; new rows write it and leave `category` as ''. Lists and filters open it
-- and group in memory per region (no blind index: equal categories would show). Rows stored
-- in clear are sealed by the service at open, where the key is available
-- (`privacy::seal_clear_rows`, step 2). The index on the clear category goes.

ALTER TABLE care_memberships ADD COLUMN category_enc {{BLOB}};
DROP INDEX care_memberships_category;

-- Immediate reports (即报) carry free text about people (what happened to whom): the values of
-- an immediate report (`seq > 0`) are sealed in `body_enc` (its `body` is ''), the handling
-- text of its acknowledgement in `incident_acks.handling_enc`, and the answer kept for an
-- idempotent retry (which repeats the values) in `idempotency_keys.response_enc`. Rows of
-- earlier versions are sealed at open like the categories above.
ALTER TABLE report_submissions ADD COLUMN body_enc {{BLOB}};
ALTER TABLE incident_acks ADD COLUMN handling_enc {{BLOB}};
ALTER TABLE idempotency_keys ADD COLUMN response_enc {{BLOB}};

-- A user's optional registered mobile phone (the one-time password of a reset goes there):
-- sealed like persons' phones, with its masked form for display.
ALTER TABLE users ADD COLUMN phone_enc {{BLOB}};
ALTER TABLE users ADD COLUMN phone_masked TEXT NOT NULL DEFAULT '';
