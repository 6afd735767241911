-- Accounts, their sessions (one per signed-in device) and password resets.
-- Tokens are never stored, only their SHA-256 hashes.

CREATE TABLE users (
    id                  UUID PRIMARY KEY,
    email               TEXT NOT NULL,
    email_key           TEXT NOT NULL UNIQUE,      -- lower-cased e-mail, for look-ups
    password_hash       TEXT NOT NULL,             -- argon2id, PHC string
    display_name        TEXT NOT NULL DEFAULT '',
    base_currency       TEXT NOT NULL DEFAULT 'EUR',
    locale              TEXT NOT NULL DEFAULT 'en',
    created_at          TIMESTAMPTZ NOT NULL,
    password_changed_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE sessions (
    id                  UUID PRIMARY KEY,
    user_id             UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_name         TEXT NOT NULL,
    access_hash         BYTEA NOT NULL UNIQUE,
    access_expires_at   TIMESTAMPTZ NOT NULL,
    refresh_hash        BYTEA NOT NULL UNIQUE,
    refresh_expires_at  TIMESTAMPTZ NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL,
    last_seen_at        TIMESTAMPTZ NOT NULL,
    revoked_at          TIMESTAMPTZ
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Every refresh token a session has replaced: presenting one again means it leaked.
CREATE TABLE replaced_refresh_tokens (
    token_hash  BYTEA PRIMARY KEY,
    session_id  UUID NOT NULL REFERENCES sessions (id) ON DELETE CASCADE
);
CREATE INDEX replaced_refresh_tokens_session ON replaced_refresh_tokens (session_id);

CREATE TABLE password_resets (
    token_hash  BYTEA PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ
);
CREATE INDEX password_resets_user ON password_resets (user_id);
