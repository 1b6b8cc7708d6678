-- Federation (issue 20 item 3): assistance standards and emergency periods that a parent
-- deployment owns come down and take effect here with their dates. `origin` says where a row
-- came from — 'local' (set here) or 'parent' (sent down: it cannot be changed here); a period
-- keeps the parent's id (`origin_id`) so its later changes and its end find it. The child
-- remembers up to when it has taken the parent's policy (fed_parent.assistance_since, the
-- parent's clock in milliseconds; taking the same row twice changes nothing).
ALTER TABLE assistance_standards ADD COLUMN origin TEXT NOT NULL DEFAULT 'local';
ALTER TABLE assistance_emergencies ADD COLUMN origin TEXT NOT NULL DEFAULT 'local';
ALTER TABLE assistance_emergencies ADD COLUMN origin_id BIGINT;
CREATE UNIQUE INDEX assistance_emergencies_origin ON assistance_emergencies(origin_id) WHERE origin_id IS NOT NULL;
ALTER TABLE fed_parent ADD COLUMN assistance_since BIGINT NOT NULL DEFAULT 0;

-- The parent's root certificate (PEM), when the parent's HTTPS certificate is issued by a CA of
-- its own rather than one of the public roots the binary carries; NULL: the public roots.
ALTER TABLE fed_parent ADD COLUMN ca_pem TEXT;
