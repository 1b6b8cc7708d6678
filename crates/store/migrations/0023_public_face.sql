-- The public face (issue 15, item 4): pages under /public for people without an account.
--
-- public_info: what officials publish for a region (hotlines, institutions' visiting rules,
-- how to apply for assistance); a village shows the text of its nearest region that has one.
CREATE TABLE public_info (
    province TEXT NOT NULL,
    region_code TEXT NOT NULL,
    hotlines TEXT NOT NULL,
    visiting TEXT NOT NULL,
    assistance TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (province, region_code)
);

-- One-time codes sent to a phone: only the HMAC blind index of the phone and the SHA-256 of
-- the code are kept; valid 5 minutes, 5 tries.
CREATE TABLE public_codes (
    id {{ID}},
    phone_index TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    tries BIGINT NOT NULL DEFAULT 0,
    used_at BIGINT,
    source TEXT NOT NULL
);
CREATE INDEX public_codes_phone ON public_codes(phone_index, created_at);

-- Phone-verified public sessions: the hash of the token, the phone (sealed, and its blind
-- index to find the person's own requests).
CREATE TABLE public_sessions (
    id {{ID}},
    token_hash TEXT NOT NULL UNIQUE,
    phone_index TEXT NOT NULL,
    phone_enc {{BLOB}} NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);

-- A delivery whose text is itself a secret (a one-time code) keeps it sealed; `body` then
-- says only what kind of message it is.
ALTER TABLE notify_deliveries ADD COLUMN body_enc {{BLOB}};
