-- Hotline free text sealed like the counselling notes (issue 17 item 4, issue 13 item 5): a
-- referral's reason, decline reason and outcome, a follow-up's outcome and the reference of a
-- red flag's mandatory report (强制报告, a police or civil-affairs case number) get ciphertext
-- columns; new and updated rows write them and leave the clear columns as ''. Rows written in
-- clear before are sealed by the service at open, where the key is available
-- (`privacy::seal_clear_rows`, step 5).

ALTER TABLE hotline_referrals ADD COLUMN reason_enc {{BLOB}};
ALTER TABLE hotline_referrals ADD COLUMN decline_reason_enc {{BLOB}};
ALTER TABLE hotline_referrals ADD COLUMN outcome_enc {{BLOB}};
ALTER TABLE hotline_followups ADD COLUMN outcome_enc {{BLOB}};
ALTER TABLE hotline_calls ADD COLUMN report_ref_enc {{BLOB}};

-- Found by the at-rest scan of issue 13's "done when" (tests/it/privacy.rs): the opinion
-- written at each step of an assistance application (审核意见, e.g. why it was rejected) and
-- the rejection's reason kept on the application are notes about a household's case, sealed
-- the same way (`note_enc`, `reject_reason_enc`; the clear columns hold '').
ALTER TABLE assistance_application_steps ADD COLUMN note_enc {{BLOB}};
ALTER TABLE assistance_applications ADD COLUMN reject_reason_enc {{BLOB}};
