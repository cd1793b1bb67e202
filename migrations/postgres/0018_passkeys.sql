-- Passkeys (WebAuthn) as a second factor (issue 20). A user may have several, each with the name they typed. The
-- credential is webauthn-rs's `Passkey` as JSON: its id, public key and signature counter, nothing secret. `rp_id`
-- is the host it was made for (STOREDESK_PUBLIC_URL's); a passkey made for another host cannot sign in here.
CREATE TABLE passkeys (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    credential_id TEXT NOT NULL UNIQUE,
    credential TEXT NOT NULL,
    rp_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- A passkey ceremony between its two requests: the challenge webauthn-rs made, kept here (never in the browser),
-- tied to the session that enrols or to the pending sign-in, single use, expiring. One per owner: starting again
-- replaces it.
CREATE TABLE passkey_ceremonies (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_id BIGINT UNIQUE REFERENCES sessions(id) ON DELETE CASCADE,
    pending_sign_in_id BIGINT UNIQUE REFERENCES pending_sign_ins(id) ON DELETE CASCADE,
    -- The name typed for a new passkey (enrolment only).
    name TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
