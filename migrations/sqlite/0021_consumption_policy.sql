-- Automatic consumption answers (issue 21). One policy per project: `mode` is `off` (a person answers each
-- request), `dry_run` (storedesk shows what it would send) or `automatic` (storedesk sends it). The policy's
-- values apply unless the publisher's backend supplied its own for a request (consumption_auto.backend).
CREATE TABLE consumption_policies (
    project_id INTEGER PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
    mode TEXT NOT NULL,
    -- The project declares that its app obtains the customer's consent; without it nothing is sent.
    consent_declared INTEGER NOT NULL,
    delivery_status TEXT NOT NULL,
    -- '' for no preference.
    refund_preference TEXT NOT NULL,
    sample_content_provided INTEGER NOT NULL,
    -- How long to wait for the backend's data after the request arrived, always ending before Apple's deadline.
    wait_minutes INTEGER NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
-- What the policy did with one CONSUMPTION_REQUEST. `state`: `waiting` (backend data in, or nothing done yet),
-- `dry_run` (computed, not sent), `claimed` (being sent), `sent`, `failed`, `skipped` (not sent, `sentence` says
-- why), `person` (a person answered: the policy stays out).
CREATE TABLE consumption_auto (
    notification_id INTEGER PRIMARY KEY REFERENCES notifications(id) ON DELETE CASCADE,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    backend TEXT,
    backend_at INTEGER,
    state TEXT NOT NULL,
    body TEXT,
    sentence TEXT NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL
);
CREATE INDEX consumption_auto_project ON consumption_auto (project_id, state);
