-- Roster import without traps (issue 14 item 11): the rejected rows of an import with their
-- original cells, so the rejected-rows file can be fixed and uploaded again. They hold
-- personal data (ID numbers, phones) exactly as the importer uploaded it, so they are stored
-- only sealed (AES-256-GCM, key outside the database: JSON {headers, rows}); the clear
-- `issues` column keeps only line, reason and the masked ID number.
ALTER TABLE person_import_jobs ADD COLUMN rejected_enc {{BLOB}};
