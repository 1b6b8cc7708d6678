-- Why an exit is held during an emergency (暂缓退出的原因, issue 13 item 5): a note about a
-- household's case, sealed like an application's rejection reason (migration 0039). New holds
-- write `held_reason_enc` and leave the clear column ''; holds written in clear before are
-- sealed by the service at open, where the key is available (`privacy::seal_clear_rows`,
-- step 7).

ALTER TABLE assistance_beneficiaries ADD COLUMN held_reason_enc {{BLOB}};
