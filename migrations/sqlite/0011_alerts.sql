-- Alerts (issue 17): where a project's alerts go (e-mail recipients, Slack-compatible incoming webhooks) and
-- which events each one gets, and one row per event and channel: the claim that makes each alert go out once.

CREATE TABLE alert_channels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    -- 'email' or 'webhook'
    kind TEXT NOT NULL,
    -- What pages show: the address, or the webhook's URL masked (its host and the last 4 characters).
    label TEXT NOT NULL,
    -- Refuses the same target twice: the address in lowercase, or the SHA-256 of the webhook's URL.
    target_key TEXT NOT NULL,
    -- A webhook's URL is a secret: sealed (AES-256-GCM under the master key, bound to the row), never shown again.
    sealed_url BLOB,
    master_key_id TEXT,
    -- Which events it gets (0/1).
    consumption_requests BIGINT NOT NULL,
    key_problems BIGINT NOT NULL,
    notification_gaps BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_sent_at BIGINT,
    last_error TEXT,
    last_error_at BIGINT
);
CREATE UNIQUE INDEX alert_channels_target ON alert_channels(project_id, kind, target_key);

CREATE TABLE alert_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id BIGINT NOT NULL REFERENCES alert_channels(id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    -- The event, e.g. 'consumption:12', 'consumption-reminder:12', 'key:3:0', 'gap:7'.
    event_key TEXT NOT NULL,
    -- The message as written when the event was claimed, so every retry sends the same words.
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    -- 'pending', 'sent', or 'failed' (given up: too many attempts, or the event no longer waits).
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    -- When the next attempt may start; an attempt in flight pushes it ahead, so a crash retries later.
    next_attempt_at BIGINT NOT NULL,
    -- After this moment the alert is not sent any more (a consumption request's deadline).
    expires_at BIGINT,
    sent_at BIGINT,
    last_error TEXT
);
CREATE UNIQUE INDEX alert_deliveries_event ON alert_deliveries(channel_id, event_key);
CREATE INDEX alert_deliveries_due ON alert_deliveries(status, next_attempt_at);
