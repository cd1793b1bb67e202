-- Forwarding (issue 18): the publisher's own servers that receive Apple's notifications after storedesk verified
-- them (destinations), one row per notification and destination (deliveries, written in the same transaction as
-- the notification), and replays of a date range to one destination.

CREATE TABLE forward_destinations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    -- Which environments it gets (0/1); at least one is 1.
    production BIGINT NOT NULL,
    sandbox BIGINT NOT NULL,
    -- Which notification types it gets: '' for every type, else ',TYPE,TYPE,' (commas around each, for LIKE).
    types TEXT NOT NULL DEFAULT '',
    -- 1: delivering; 0: paused (deliveries are still recorded, and wait until it is resumed).
    enabled BIGINT NOT NULL DEFAULT 1,
    -- The signing secret (`whsec_…`), sealed (AES-256-GCM under the master key, bound to the row), never shown again.
    sealed_secret BLOB NOT NULL,
    master_key_id TEXT NOT NULL,
    -- After a rotation the previous secret signs beside the new one until previous_until.
    sealed_previous BLOB,
    previous_master_key_id TEXT,
    previous_until BIGINT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- Health: attempts that failed in a row (reset by a success), and the last of each.
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    last_success_at BIGINT,
    last_failure_at BIGINT,
    last_failure TEXT
);
CREATE INDEX forward_destinations_project ON forward_destinations(project_id);

CREATE TABLE forward_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    destination_id BIGINT NOT NULL REFERENCES forward_destinations(id) ON DELETE CASCADE,
    notification_id BIGINT NOT NULL REFERENCES notifications(id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    -- 'pending', 'delivered' or 'dead' (72 hours of failures).
    status TEXT NOT NULL,
    -- What queued it: 'webhook', 'gap', 'backfill', 'redeliver', 'replay'.
    origin TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    -- When the current round of attempts began (a redeliver or replay starts a new one): 72 hours from here.
    round_started_at BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    -- The instance holding the attempt in flight, until lease_until; a lease past its time is taken over.
    lease_owner TEXT,
    lease_until BIGINT,
    last_attempt_at BIGINT,
    delivered_at BIGINT,
    last_status BIGINT,
    last_latency_ms BIGINT,
    last_error TEXT,
    -- The first 1 KiB of the receiver's last answer.
    last_response TEXT
);
CREATE UNIQUE INDEX forward_deliveries_one ON forward_deliveries(destination_id, notification_id);
CREATE INDEX forward_deliveries_due ON forward_deliveries(status, next_attempt_at);
CREATE INDEX forward_deliveries_log ON forward_deliveries(destination_id, created_at);
CREATE INDEX forward_deliveries_notification ON forward_deliveries(notification_id);

CREATE TABLE forward_replays (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    destination_id BIGINT NOT NULL REFERENCES forward_destinations(id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    -- The range of notifications (by Apple's signedDate, ms), and the optional filters.
    from_ms BIGINT NOT NULL,
    to_ms BIGINT NOT NULL,
    environment TEXT,
    types TEXT NOT NULL DEFAULT '',
    -- 'running', 'done' or 'failed'; how many notifications it matched and has queued so far.
    status TEXT NOT NULL,
    matched BIGINT NOT NULL DEFAULT 0,
    queued BIGINT NOT NULL DEFAULT 0,
    -- The last notification id queued, so a replay taken over after a crash goes on where it stopped.
    cursor BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until BIGINT,
    error TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX forward_replays_destination ON forward_replays(destination_id, created_at);

-- Apple's request body as it arrived, kept only when it is not exactly {"signedPayload":"<signed_payload>"} (the
-- form Apple sends), so forwarding sends Apple's bytes without storing every body twice.
ALTER TABLE notifications ADD COLUMN raw_body TEXT;
