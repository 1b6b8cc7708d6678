-- Sensitive personal data sealed at rest (issue 13 item 5, PIPL art. 28): health facts
-- (temperatures, symptoms, risk classes, dispositions, observation outcomes), epidemic history
-- (where a visitor comes from), free-text notes about people and the names of institution
-- residents (children among them) get an AES-256-GCM ciphertext column `<column>_enc` beside
-- the clear one. New rows write the ciphertext and a blank clear value ('' / 0 / NULL; an
-- observation's status keeps only 'active' or 'closed'). Rows stored in clear before this
-- step are sealed by the service at open, after the migrations, where the key is available
-- (`privacy::seal_clear_rows`), which then records its pass in `privacy_sealing`.
-- What stays readable without the key, and why, is docs/PRIVACY.md.

CREATE TABLE privacy_sealing (
    step BIGINT PRIMARY KEY,
    done_at BIGINT NOT NULL
);

ALTER TABLE screening_visits ADD COLUMN note_enc {{BLOB}};
ALTER TABLE screening_persons ADD COLUMN history_enc {{BLOB}};
ALTER TABLE screening_persons ADD COLUMN symptoms_enc {{BLOB}};
ALTER TABLE screening_persons ADD COLUMN temperature_enc {{BLOB}};
ALTER TABLE screening_persons ADD COLUMN risk_enc {{BLOB}};
ALTER TABLE screening_persons ADD COLUMN disposition_enc {{BLOB}};
ALTER TABLE observations ADD COLUMN reason_enc {{BLOB}};
ALTER TABLE observations ADD COLUMN close_note_enc {{BLOB}};
ALTER TABLE observations ADD COLUMN status_enc {{BLOB}};
ALTER TABLE observation_checkins ADD COLUMN temperature_enc {{BLOB}};
ALTER TABLE observation_checkins ADD COLUMN symptoms_enc {{BLOB}};
ALTER TABLE observation_checkins ADD COLUMN note_enc {{BLOB}};
ALTER TABLE gate_entries ADD COLUMN origin_enc {{BLOB}};
ALTER TABLE gate_entries ADD COLUMN reason_enc {{BLOB}};
ALTER TABLE gate_entries ADD COLUMN temp_tenths_enc {{BLOB}};
ALTER TABLE gate_alerts ADD COLUMN temp_tenths_enc {{BLOB}};
ALTER TABLE gate_alerts ADD COLUMN disposition_enc {{BLOB}};
ALTER TABLE gate_alerts ADD COLUMN note_enc {{BLOB}};
ALTER TABLE inst_entries ADD COLUMN reason_enc {{BLOB}};
ALTER TABLE inst_entries ADD COLUMN temp_tenths_enc {{BLOB}};
ALTER TABLE inst_residents ADD COLUMN name_enc {{BLOB}};
ALTER TABLE inst_temps ADD COLUMN temp_tenths_enc {{BLOB}};
ALTER TABLE care_daily_checks ADD COLUMN status_enc {{BLOB}};
ALTER TABLE care_daily_checks ADD COLUMN note_enc {{BLOB}};
ALTER TABLE care_visits ADD COLUMN findings_enc {{BLOB}};
ALTER TABLE care_visits ADD COLUMN needs_enc {{BLOB}};
ALTER TABLE care_visits ADD COLUMN help_given_enc {{BLOB}};
ALTER TABLE care_tasks ADD COLUMN need_enc {{BLOB}};
ALTER TABLE care_tasks ADD COLUMN close_note_enc {{BLOB}};
