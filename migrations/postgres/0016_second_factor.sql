-- Second factors (issue 20). One row per user and method; `totp` now, other methods (passkeys) later get their own
-- kind. The TOTP secret is sealed under the master key like the Apple keys (bound to the user and kind). A row with
-- no confirmed_at is an enrolment still waiting for its first code and protects nothing.
CREATE TABLE second_factors (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    sealed_secret BYTEA NOT NULL,
    master_key_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    confirmed_at BIGINT,
    -- The last 30-second step whose code was accepted: a code of that step or an earlier one is refused (replay).
    last_step BIGINT NOT NULL DEFAULT -1,
    UNIQUE (user_id, kind)
);

-- One-time recovery codes: only SHA-256 of each (a code is 80 random bits, so a fast hash is enough).
CREATE TABLE recovery_codes (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at BIGINT
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);

-- A right password waiting for its second factor: no session yet. Only the token's hash is stored; single use.
CREATE TABLE pending_sign_ins (
    id BIGSERIAL PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    next_path TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
