-- Bearer tokens for the JSON API, each scoped to one project and to `read` or `sign`.
-- Only a SHA-256 of the token is stored. The secret part is 32 random bytes (256 bits), so there is nothing to
-- guess or brute-force: a slow password hash (argon2) would protect nothing more and only slow every API call down.
-- `prefix` is the public part of the token (`sd_` + 12 hex digits): it identifies the token in lists and logs and
-- finds the row, whose hash is then compared in constant time.
CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    scope TEXT NOT NULL CHECK (scope IN ('read', 'sign')),
    prefix TEXT NOT NULL UNIQUE,
    token_hash TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT,
    revoked_by TEXT
);
CREATE INDEX api_tokens_project ON api_tokens(project_id);
