-- Federation (issue 20, ADR 0015), first slice: the child deployments (nodes) this deployment
-- accepts data from. A node is bound to one region (a county under its province, a province
-- under the nation); its credential is a 256-bit random secret shown once at issue, of which
-- only the SHA-256 is kept (`secret_hash`). Rotation keeps the previous hash valid until
-- `prev_valid_until` so the child can switch without a gap. One active node per region.
-- Small and read-mostly (a reference table on Citus, ADR 0003): no province key.
CREATE TABLE fed_nodes (
    id {{ID}},
    region_code TEXT NOT NULL REFERENCES regions(code),
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    prev_secret_hash TEXT,
    prev_valid_until BIGINT,
    status TEXT NOT NULL,
    issued_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    rotated_at BIGINT,
    revoked_at BIGINT,
    revoked_by TEXT,
    last_seen_at BIGINT
);
CREATE UNIQUE INDEX fed_nodes_active_region ON fed_nodes(region_code) WHERE status = 'active';
