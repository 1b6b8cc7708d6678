-- Immediate reports (即报) are handled: who acknowledged them, when, and how they were handled.
CREATE TABLE incident_acks (
    submission_id BIGINT PRIMARY KEY REFERENCES report_submissions(id),
    region_code TEXT NOT NULL,
    acked_by TEXT NOT NULL,
    acked_at BIGINT NOT NULL,
    handling TEXT NOT NULL
);
