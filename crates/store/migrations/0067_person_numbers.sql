-- One person per ID number across the nation, kept by a table of its own (issue 22 item 3,
-- ADR 0003). `persons` is to be distributed by province on a Citus cluster, where a unique
-- index must contain the distribution column: its national UNIQUE (id_index) cannot stay. The
-- claim of a number moves here: `person_numbers` holds each blind-indexed number once, with
-- the province of the record holding it, and is distributed by the number itself, so a claim
-- is one row on one shard whatever the province. Registering a number claims it first
-- (`INSERT … ON CONFLICT (id_index) DO NOTHING`), in the transaction that writes the person:
-- of two registrations of one number in two provinces at once, the second waits for the
-- first and finds the number taken.
--
-- A link (a region's own registration of a person held elsewhere) holds no number, as before.
-- `persons` keeps a plain index on id_index for the look-up of the holder.
--
-- SQLite (one file, one writer, never distributed) keeps the column's inline UNIQUE as its
-- register and has no `person_numbers`: a second table of random keys, committed every chunk
-- of an import, halved the import's speed there (docs/BENCHMARKS.md).

-- postgres:begin
CREATE TABLE person_numbers (
    id_index TEXT NOT NULL PRIMARY KEY,
    province TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
INSERT INTO person_numbers (id_index, province, created_at)
    SELECT id_index, substr(region_code, 1, 2), created_at FROM persons
    WHERE id_index IS NOT NULL;
ALTER TABLE persons DROP CONSTRAINT persons_id_index_key;
CREATE INDEX persons_id_index ON persons(id_index) WHERE id_index IS NOT NULL;
-- postgres:end
