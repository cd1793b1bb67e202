-- Work around notifications: answers to CONSUMPTION_REQUEST, backfills from Apple's notification history,
-- gaps the gap job found (notifications Apple sent that never arrived), and leases that keep scheduled
-- work to one instance when several share the database.

CREATE TABLE consumption_answers (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    -- The CONSUMPTION_REQUEST this answers.
    notification_id BIGINT NOT NULL REFERENCES notifications(id) ON DELETE CASCADE,
    transaction_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    sent_by_user_id BIGINT,
    sent_by TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    -- The JSON body sent to Apple.
    request TEXT NOT NULL,
    -- 'accepted' (Apple answered 202) or 'refused'.
    outcome TEXT NOT NULL,
    error_code BIGINT,
    error TEXT
);
CREATE INDEX consumption_answers_notification ON consumption_answers(notification_id);
CREATE INDEX consumption_answers_transaction ON consumption_answers(project_id, transaction_id);

CREATE TABLE notification_backfills (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    environment TEXT NOT NULL,
    start_ms BIGINT NOT NULL,
    end_ms BIGINT NOT NULL,
    -- 'running', 'done' or 'failed'; a running job whose updated_at stops moving is shown as stalled.
    status TEXT NOT NULL,
    pages_done BIGINT NOT NULL DEFAULT 0,
    fetched BIGINT NOT NULL DEFAULT 0,
    new_count BIGINT NOT NULL DEFAULT 0,
    already_present BIGINT NOT NULL DEFAULT 0,
    rejected BIGINT NOT NULL DEFAULT 0,
    error TEXT,
    started_by TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX notification_backfills_project ON notification_backfills(project_id, id);

CREATE TABLE notification_gaps (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    environment TEXT NOT NULL,
    detected_at BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    window_end BIGINT NOT NULL,
    -- In Apple's history for the window.
    sent BIGINT NOT NULL,
    -- Of those, already stored here.
    arrived BIGINT NOT NULL,
    -- Stored by this check.
    recovered BIGINT NOT NULL,
    -- Of the recovered, those signed after the project existed: Apple should have delivered them here.
    missed BIGINT NOT NULL,
    -- JSON [{"type", "sent", "arrived", "recovered", "missed"}]
    type_counts TEXT NOT NULL,
    acknowledged_at BIGINT,
    acknowledged_by TEXT
);
CREATE INDEX notification_gaps_project ON notification_gaps(project_id, detected_at);

CREATE TABLE job_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    acquired_at BIGINT NOT NULL
);
