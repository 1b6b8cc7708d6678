-- Federation (issue 20 item 3): where a report form version came from — 'local' (made here)
-- or 'parent' (sent down by the parent deployment, which owns it: it cannot be edited here).
-- The child remembers up to when it has taken the parent's forms (fed_parent.forms_since, the
-- parent's created_at in milliseconds; versions are immutable, so taking one twice is a no-op).
ALTER TABLE report_templates ADD COLUMN origin TEXT NOT NULL DEFAULT 'local';
ALTER TABLE fed_parent ADD COLUMN forms_since BIGINT NOT NULL DEFAULT 0;
