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
