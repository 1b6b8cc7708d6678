-- Account security (issue 13, item 4): one-time recovery codes of the TOTP second factor, for
-- a lost phone. Ten are made at a time and shown once; only their SHA-256 is stored; each
-- opens one login and is then spent. A reset of the second factor deletes them.
CREATE TABLE recovery_codes (
    id {{ID}},
    user_id BIGINT NOT NULL REFERENCES users(id),
    code_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX recovery_codes_user ON recovery_codes(user_id);
