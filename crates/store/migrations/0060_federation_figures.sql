-- Federation (issue 20 item 2): the aggregate figures a parent needs from a child deployment
-- whose records stay at the child (assistance totals so far). At the parent, `fed_figures`
-- keeps each node's latest snapshot per kind and period as lines at the finest level the child
-- sends (a village, or the records kept at a township or the county itself: `own_level`); the
-- parent's statistics add them to their own lines, so a county that reports through a node
-- counts as one that reports directly. Province first in the key, as in every table that grows.
CREATE TABLE fed_figures (
    province TEXT NOT NULL,
    node_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    period TEXT NOT NULL,
    region_code TEXT NOT NULL,
    own_level BIGINT NOT NULL,
    body TEXT NOT NULL,
    as_of BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (province, node_id, kind, period, region_code, own_level)
);
CREATE INDEX fed_figures_region ON fed_figures(kind, period, region_code);

-- At a child: the hash of the last snapshot queued per kind and period, so an unchanged one is
-- not queued again (one row per kind and month).
CREATE TABLE fed_snapshots (
    kind TEXT NOT NULL,
    period TEXT NOT NULL,
    hash TEXT NOT NULL,
    queued_at BIGINT NOT NULL,
    PRIMARY KEY (kind, period)
);
