-- Roster import jobs (花名册导入) and saved column mappings (导入模板), issue 4.
--
-- The uploaded file itself is never stored here: it is kept encrypted under the data
-- directory (named by the random token) only while its job is pending or running. Issues
-- hold line numbers, Chinese reasons and masked ID numbers only.

CREATE TABLE person_import_jobs (
    id {{ID}},
    -- the user who started the job; only that user sees it
    user_id BIGINT NOT NULL REFERENCES users(id),
    -- random name of the encrypted upload (not a path)
    token TEXT NOT NULL UNIQUE,
    file_name TEXT NOT NULL DEFAULT '',
    -- 'csv' | 'xlsx'
    format TEXT NOT NULL DEFAULT '',
    -- default region of the rows ('' when the file has a region column)
    region_code TEXT NOT NULL DEFAULT '',
    good_rows BIGINT NOT NULL DEFAULT 0,
    -- explicit column mapping, JSON object header → field
    mapping TEXT NOT NULL DEFAULT '{}',
    -- uploaded | running | done | rolled_back | failed | abandoned
    status TEXT NOT NULL,
    committed BIGINT NOT NULL DEFAULT 0,
    bytes_total BIGINT NOT NULL DEFAULT 0,
    bytes_done BIGINT NOT NULL DEFAULT 0,
    rows_read BIGINT NOT NULL DEFAULT 0,
    imported BIGINT NOT NULL DEFAULT 0,
    merged BIGINT NOT NULL DEFAULT 0,
    rejected BIGINT NOT NULL DEFAULT 0,
    warnings BIGINT NOT NULL DEFAULT 0,
    -- the first 1,000 rejects and warnings: JSON [{line, reason, id_masked, kind}]
    issues TEXT NOT NULL DEFAULT '[]',
    -- stable code when failed: file_too_large, xlsx_unsafe, bad_columns, ...
    error_code TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT
);
CREATE INDEX person_import_jobs_user ON person_import_jobs(user_id, id);
CREATE INDEX person_import_jobs_status ON person_import_jobs(status, created_at);

CREATE TABLE person_import_templates (
    id {{ID}},
    -- 'org:ID', or 'region:SCOPE' for users without an organisation
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    -- SHA-256 of the normalised header row the mapping was made for
    header_key TEXT NOT NULL,
    -- JSON object header → field
    mapping TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (owner, name)
);
CREATE INDEX person_import_templates_header ON person_import_templates(owner, header_key);
