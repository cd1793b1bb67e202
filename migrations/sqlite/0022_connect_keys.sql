-- Every App Store Connect API key (AuthKey_<KEYID>.p8, Step 1) a project has had: a table of its own beside
-- apple_keys (In-App Purchase keys, Step 3), so that no query on the In-App Purchase key can pick the other kind.
-- The private part is sealed like apple_keys' (AES-256-GCM under the master key, bound to project and row) and set
-- to NULL when the key is retired or revoked; the metadata stays.
CREATE TABLE connect_keys (
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
    verified_at BIGINT,
    verify_summary TEXT
);
CREATE INDEX connect_keys_project ON connect_keys(project_id);
-- Exactly one App Store Connect API key in use per project.
CREATE UNIQUE INDEX connect_keys_one_in_use ON connect_keys(project_id) WHERE status IN ('active', 'failing');
