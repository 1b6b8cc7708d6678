-- Issue 17 to completion. (1) A hotline call may refer to an existing child case
-- (关联个案编号): `related_case_id` on the call (the call keeps its province in its keys).
-- (2) Person-level health events recorded by the staff of an institution or a hospital
-- (机构/医院报告): the person, the day and the status (confirmed 确诊, suspected 疑似, isolated
-- 隔离, hospitalised 住院, deceased 死亡). The status is a health fact: sealed (`status_enc`,
-- AES-GCM ciphertext only, docs/PRIVACY.md), never in clear. `org_region` is the recording
-- organisation's region (scope of the list); `region_code` the person's.

ALTER TABLE hotline_calls ADD COLUMN related_case_id BIGINT;

CREATE TABLE health_events (
    province TEXT NOT NULL,
    id {{PROVINCE_ID}},
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    org_region TEXT NOT NULL,
    person_id BIGINT NOT NULL,
    region_code TEXT NOT NULL,
    day TEXT NOT NULL,
    status_enc {{BLOB}} NOT NULL,
    leads BIGINT NOT NULL,
    recorded_by TEXT NOT NULL,
    created_at BIGINT NOT NULL{{PROVINCE_PK}}
);
CREATE INDEX health_events_org ON health_events(org_id, day);
CREATE INDEX health_events_person ON health_events(person_id);
