-- Edit and disable (issue 14, items 5 and 7).
--
-- Organisations, persons, households and gates can be disabled instead of deleted (records
-- point to them): `disabled` is 0 or 1. A disabled organisation is no longer a unit that must
-- report; disabled persons and households are left out of the default lists; a disabled gate
-- takes no entries. Users already have `disabled`; institution residents have `active`.
--
-- `regions.initials`: the pinyin initials of the region's name (南沙区 → nsq), for the
-- pickers' search; computed in Rust at region import and for older rows at start (NULL until
-- then).

ALTER TABLE orgs ADD COLUMN disabled BIGINT NOT NULL DEFAULT 0;
ALTER TABLE persons ADD COLUMN disabled BIGINT NOT NULL DEFAULT 0;
ALTER TABLE households ADD COLUMN disabled BIGINT NOT NULL DEFAULT 0;
ALTER TABLE gates ADD COLUMN disabled BIGINT NOT NULL DEFAULT 0;
ALTER TABLE regions ADD COLUMN initials TEXT;
