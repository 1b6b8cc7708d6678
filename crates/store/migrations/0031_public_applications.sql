-- The public application page (一次不用跑, issue 16 item 7): an application an applicant made
-- without an account, after verifying a phone with a one-time code.
--
-- channel: 'staff' (entered by a worker) or 'public'. public_no: the application number the
-- applicant was given (unique per province). phone_index / phone_enc: the verified phone, as
-- the HMAC blind index (how the applicant's own requests are found) and sealed; never clear.
-- public_flags: what staff must look at, never shown to the applicant ('duplicate': a member
-- is already on an open application or an active roll of the programme; 'registry': members
-- already on record, their household to be checked; 'deceased'). public_idem: the Idempotency-Key (or the page
-- form's key) it was submitted under, so a phone that sends it again gets the same application.
ALTER TABLE assistance_applications ADD COLUMN channel TEXT NOT NULL DEFAULT 'staff';
ALTER TABLE assistance_applications ADD COLUMN public_no TEXT;
ALTER TABLE assistance_applications ADD COLUMN phone_index TEXT;
ALTER TABLE assistance_applications ADD COLUMN phone_enc {{BLOB}};
ALTER TABLE assistance_applications ADD COLUMN public_flags TEXT NOT NULL DEFAULT '';
ALTER TABLE assistance_applications ADD COLUMN public_idem TEXT;
CREATE UNIQUE INDEX assistance_applications_public_no ON assistance_applications(province, public_no);
CREATE INDEX assistance_applications_phone ON assistance_applications(phone_index, public_idem);
