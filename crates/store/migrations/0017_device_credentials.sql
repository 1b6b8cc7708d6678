-- Device credentials (issue 13, item 4): a field worker (community or grid worker, institution
-- reporter, …) proves the second factor (TOTP) once on a device and the browser then holds a
-- revocable credential for 30 days that stands in for the TOTP code at the password login on
-- that device. Only the SHA-256 of the credential is stored. It is listed and revoked by its
-- user, by the officials who may manage the account and by the security administrator; a reset
-- of the password by someone else, a reset of the second factor and disabling the account
-- revoke every credential of the account (and re-enabling does not bring them back).
-- Like sessions and API tokens, a small table keyed by user (not partitioned by province).
CREATE TABLE device_credentials (
    id {{ID}},
    user_id BIGINT NOT NULL REFERENCES users(id),
    token_hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT,
    revoked_by TEXT
);
CREATE INDEX device_credentials_user ON device_credentials(user_id);
