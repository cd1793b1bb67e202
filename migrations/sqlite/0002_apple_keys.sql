-- Every In-App Purchase key a project has had. The private part is sealed (AES-256-GCM under the master key,
-- bound to project and row) and set to NULL when the key is retired or revoked; the metadata stays.
CREATE TABLE apple_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    key_id TEXT NOT NULL,
    issuer_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    sealed_key BLOB,
    master_key_id TEXT NOT NULL,
    status TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at BIGINT NOT NULL,
    retired_at BIGINT,
    last_success_at BIGINT,
    last_failure_at BIGINT,
    last_failure TEXT,
    auth_failures BIGINT NOT NULL DEFAULT 0,
    verified_at BIGINT,
    verify_summary TEXT
);
CREATE INDEX apple_keys_project ON apple_keys(project_id);
-- Exactly one key in use per project; the database, not the code, guarantees it.
CREATE UNIQUE INDEX apple_keys_one_in_use ON apple_keys(project_id) WHERE status IN ('active', 'failing');
