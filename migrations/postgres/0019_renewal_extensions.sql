-- Renewal-date extensions (issue 21): each is stored with its requestIdentifier before it is sent to Apple, so
-- that a person who tries again after an unknown outcome (no answer, a broken connection, a 5xx) sends the same
-- request, which Apple applies only once. `state`: `sending` (sent, no outcome recorded yet), `extended`,
-- `refused`, `unknown`.
CREATE TABLE renewal_extensions (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    original_transaction_id TEXT NOT NULL,
    request_identifier TEXT NOT NULL UNIQUE,
    days BIGINT NOT NULL,
    reason_code BIGINT NOT NULL,
    note TEXT NOT NULL,
    state TEXT NOT NULL,
    sentence TEXT NOT NULL DEFAULT '',
    requested_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX renewal_extensions_subscription ON renewal_extensions (project_id, original_transaction_id, id);
-- At most one extension of a subscription whose outcome is not known: two people extending at once cannot send
-- two requests under two identifiers (the second insert fails and is refused).
CREATE UNIQUE INDEX renewal_extensions_one_unsettled ON renewal_extensions (project_id, original_transaction_id)
    WHERE state IN ('sending', 'unknown');
