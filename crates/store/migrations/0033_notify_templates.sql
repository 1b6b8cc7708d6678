-- Notification templates and users' channels (issue 15, items 1 and 5).
-- Templates: Chinese text with named fields ({form}, {period} …), one row per version an
-- administrator saved; version 1 of every template is built into the code and not stored, so a
-- template nobody edited has no row. A notification records the version it was written with.
CREATE TABLE notify_templates (
    template_key TEXT NOT NULL,
    version BIGINT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (template_key, version)
);
ALTER TABLE notifications ADD COLUMN template_key TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN template_version BIGINT NOT NULL DEFAULT 0;

-- The channels a user accepts (comma separated: in_app, sms, wechat, webhook). A user without
-- a row accepts every channel; in-app messages are always kept.
CREATE TABLE user_channels (
    user_id BIGINT PRIMARY KEY,
    channels TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
