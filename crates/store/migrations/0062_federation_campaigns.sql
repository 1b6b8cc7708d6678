-- Federation (issue 20 items 2 and 3): screening campaigns a parent deployment opens for its
-- region, the regions above it or inside it come down to a child, marked origin = 'parent' with
-- the parent's id (origin_id), so the child's workers visit households against them; the
-- child then sends the campaign's coverage (households on the roll and reached, per village)
-- up as figures under the parent's id. The child remembers up to when it took the parent's
-- campaigns (fed_parent.campaigns_since, the parent's clock in milliseconds).
ALTER TABLE screening_campaigns ADD COLUMN origin TEXT NOT NULL DEFAULT 'local';
ALTER TABLE screening_campaigns ADD COLUMN origin_id BIGINT;
CREATE UNIQUE INDEX screening_campaigns_origin ON screening_campaigns(origin_id) WHERE origin_id IS NOT NULL;
ALTER TABLE fed_parent ADD COLUMN campaigns_since BIGINT NOT NULL DEFAULT 0;
