-- Roster import without traps (issue 14 item 11): the rejected rows of an import with their
-- original cells, so the rejected-rows file can be fixed and uploaded again. They hold
-- personal data (ID numbers, phones) exactly as the importer uploaded it, so they are stored
-- only sealed (AES-256-GCM, key outside the database: JSON {headers, rows}); the clear
-- `issues` column keeps only line, reason and the masked ID number.
ALTER TABLE person_import_jobs ADD COLUMN rejected_enc {{BLOB}};

-- Households from the roster (issue 14 item 1): the household number of the roster (户号)
-- kept on the household so a later file with the same number joins it, and the job's choice
-- of one household per address when the roster has no household column ('' | 'address').
ALTER TABLE households ADD COLUMN ref_no TEXT NOT NULL DEFAULT '';
CREATE INDEX households_ref ON households(region_code, ref_no);
ALTER TABLE person_import_jobs ADD COLUMN households TEXT NOT NULL DEFAULT '';
