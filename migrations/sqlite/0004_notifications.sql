-- App Store Server Notifications V2 as received (webhook), fetched (backfill) or recovered (gap job).
-- A project's notification URL carries `notification_token`: unguessable, shown on Step 4, replaceable.
ALTER TABLE projects ADD COLUMN notification_token TEXT;
CREATE UNIQUE INDEX projects_notification_token ON projects(notification_token);

CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    -- The same on every retry of one notification: the idempotency key.
    notification_uuid TEXT NOT NULL,
    notification_type TEXT NOT NULL,
    subtype TEXT,
    environment TEXT NOT NULL,
    signed_date BIGINT NOT NULL,
    transaction_id TEXT,
    original_transaction_id TEXT,
    product_id TEXT,
    -- 'webhook', 'backfill' or 'recovered'
    source TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    signed_payload TEXT NOT NULL,
    -- {"notification": …, "transaction": …, "renewalInfo": …} as Apple signed them, unknown fields kept.
    payload TEXT NOT NULL
);
CREATE UNIQUE INDEX notifications_uuid ON notifications(project_id, notification_uuid);
CREATE INDEX notifications_received ON notifications(project_id, received_at);
CREATE INDEX notifications_type ON notifications(project_id, notification_type, signed_date);
CREATE INDEX notifications_transaction ON notifications(project_id, transaction_id);
CREATE INDEX notifications_original ON notifications(project_id, original_transaction_id);
