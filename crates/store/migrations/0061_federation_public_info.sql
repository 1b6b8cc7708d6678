-- Federation (issue 20 item 3): the public information pages a parent deployment publishes for
-- its region, the regions above it and those inside it come down to a child, marked
-- origin = 'parent' (not edited here); the child remembers up to when it took them
-- (fed_parent.public_since, the parent's clock in milliseconds).
ALTER TABLE public_info ADD COLUMN origin TEXT NOT NULL DEFAULT 'local';
ALTER TABLE fed_parent ADD COLUMN public_since BIGINT NOT NULL DEFAULT 0;
