-- Federation (issue 20 item 2): which of the parent's organisations each organisation of a
-- child deployment became. Organisation ids are each deployment's own; a child sends its
-- organisations up (`org.upsert`) and its institutions' reports name them by the child's id,
-- which the parent turns into its own through this table. Province first in the key (the
-- node's region prefix), as in every table that grows.
CREATE TABLE fed_org_map (
    province TEXT NOT NULL,
    node_id BIGINT NOT NULL,
    child_org_id BIGINT NOT NULL,
    org_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (province, node_id, child_org_id)
);
CREATE INDEX fed_org_map_org ON fed_org_map(org_id);
