-- Step 4's "Send test notification": each request to Apple, its token for Get Test Notification Status, and the
-- delivery attempts Apple last reported. Arrival is read from `notifications` (a TEST notification received
-- through the webhook in that environment after the request).
CREATE TABLE test_notifications (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    environment TEXT NOT NULL,
    -- Apple's testNotificationToken.
    token TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    requested_by TEXT NOT NULL,
    -- Last answer of Get Test Notification Status: the sendAttempts as JSON, or why there were none.
    apple_checked_at BIGINT,
    apple_attempts TEXT,
    apple_note TEXT
);
CREATE INDEX test_notifications_project ON test_notifications(project_id, requested_at);
-- Step 4 shows the last notification received per environment.
CREATE INDEX notifications_source_env_received ON notifications(project_id, source, environment, received_at);
