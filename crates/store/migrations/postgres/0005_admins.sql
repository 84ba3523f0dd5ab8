-- Portal sign-in: admin accounts (an Argon2id password hash in PHC form, never the
-- password) and browser sessions (only a SHA-256 hash of the session id is kept,
-- with the session's CSRF token and its idle and absolute expiry).
CREATE TABLE admins (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE portal_sessions (
    id_hash TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX portal_sessions_expires ON portal_sessions (expires_at);
