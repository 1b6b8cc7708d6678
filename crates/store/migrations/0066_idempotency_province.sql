-- Idempotency records on the shards (issue 22, ADR 0003): the answer a retry gets back is
-- kept under the province of the write it answers — a report's under its unit's province,
-- every other under the user's own (their scope's prefix, '00' for national users) — so a
-- submission's look-up and write on a Citus cluster stay on its province's shard, with no
-- coordinator table in the transaction. The key of a record gains the province.
--
-- Records from before take their user's province (a report's retry across the upgrade by a
-- user of another province than the unit's is answered anew; the unique key of a submission
-- still stops a second copy).

-- postgres:begin
ALTER TABLE idempotency_keys ADD COLUMN province TEXT NOT NULL DEFAULT '00';
UPDATE idempotency_keys SET province = COALESCE((SELECT CASE
    WHEN substr(u.scope, 1, 2) ~ '^[0-9][0-9]$' AND substr(u.scope, 1, 2) <> '00'
    THEN substr(u.scope, 1, 2) ELSE '00' END FROM users u WHERE u.id = idempotency_keys.user_id), '00');
ALTER TABLE idempotency_keys ALTER COLUMN province DROP DEFAULT;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (province, user_id, idem_key);
-- postgres:end

-- sqlite:begin
CREATE TABLE idempotency_keys_p (
    province TEXT NOT NULL,
    user_id BIGINT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status BIGINT NOT NULL,
    response TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    response_enc BLOB,
    PRIMARY KEY (province, user_id, idem_key)
);
INSERT INTO idempotency_keys_p (province, user_id, idem_key, request_hash, status, response,
        created_at, response_enc)
    SELECT COALESCE((SELECT CASE
            WHEN length(u.scope) >= 2 AND substr(u.scope, 1, 2) GLOB '[0-9][0-9]'
                AND substr(u.scope, 1, 2) <> '00'
            THEN substr(u.scope, 1, 2) ELSE '00' END FROM users u WHERE u.id = k.user_id), '00'),
        k.user_id, k.idem_key, k.request_hash, k.status, k.response, k.created_at, k.response_enc
    FROM idempotency_keys k;
DROP TABLE idempotency_keys;
ALTER TABLE idempotency_keys_p RENAME TO idempotency_keys;
-- sqlite:end
