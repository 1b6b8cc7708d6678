-- The rest of issue 13's sealing: the category of a care membership (which vulnerable group a
-- person is in: 低保, 特困, 孤儿 … — sensitive under PIPL art. 28) gets a ciphertext column
-- `category_enc`; new rows write it and leave `category` as ''. Lists and filters open it
-- and group in memory per region (no blind index: equal categories would show). Rows stored
-- in clear are sealed by the service at open, where the key is available
-- (`privacy::seal_clear_rows`, step 2). The index on the clear category goes.

ALTER TABLE care_memberships ADD COLUMN category_enc {{BLOB}};
DROP INDEX care_memberships_category;
