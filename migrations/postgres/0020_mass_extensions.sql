-- Extend for all customers (issue 21): Apple's mass renewal-date extension of a product's active subscribers.
-- Stored with its requestIdentifier before it is sent, like a single extension, so that a person who sends it
-- again after an unknown outcome sends the same request (Apple starts one identifier's work only once).
-- `state`: `sending` (sent, no outcome recorded yet), `accepted` (Apple took it and works on it), `refused`,
-- `unknown`, `complete` (Apple's status or its summary notification says it is done).
CREATE TABLE mass_extensions (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    environment TEXT NOT NULL,
    request_identifier TEXT NOT NULL UNIQUE,
    product_id TEXT NOT NULL,
    days BIGINT NOT NULL,
    reason_code BIGINT NOT NULL,
    -- Comma-separated ISO 3166-1 alpha-3 codes; empty for every storefront.
    storefronts TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    sentence TEXT NOT NULL DEFAULT '',
    requested_by TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 1,
    succeeded_count BIGINT,
    failed_count BIGINT,
    complete_date BIGINT,
    last_checked_at BIGINT,
    summary_notification_uuid TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX mass_extensions_project ON mass_extensions (project_id, id);
