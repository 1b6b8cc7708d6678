-- Issue 13: the birth date leaves the clear, and one person is one record across regions.
--
-- The birth date is stored like the ID number: AES-256-GCM ciphertext (birth_enc), an HMAC
-- blind index for exact matching (birth_index: the duplicate cross-check), and a derived,
-- less identifying field for lists and filters (birth_year). The old clear column birth_date
-- stays in the table (dropping a column is not portable across the two engines' versions) but
-- is always '': rows written before this migration are sealed and blanked at startup
-- (people::privacy::seal_clear_rows), and no statement writes it again. The stored ID mask
-- becomes first 6 + 11 stars + last 1 in the same pass.
--
-- A person registered in one region and registered again in another (a worker back from
-- Wuhan) stays one record: the second region's row is a residence link (link_of = the record
-- that holds the ID number, link_kind = 'residence' 居住地 or 'hukou' 户籍地) carrying only
-- what that region entered; its id_index is NULL so the number still names one record.

ALTER TABLE persons ADD COLUMN birth_enc {{BLOB}};
ALTER TABLE persons ADD COLUMN birth_year BIGINT;
ALTER TABLE persons ADD COLUMN birth_index TEXT;
ALTER TABLE persons ADD COLUMN link_of BIGINT;
ALTER TABLE persons ADD COLUMN link_kind TEXT NOT NULL DEFAULT '';
CREATE INDEX persons_birth_index ON persons(birth_index);
CREATE INDEX persons_link_of ON persons(link_of);
