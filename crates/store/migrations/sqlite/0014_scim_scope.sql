-- API tokens may have the scim scope: roster's SCIM service only. SQLite cannot
-- change a CHECK constraint: the table is made anew.
CREATE TABLE api_tokens_scoped (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    role TEXT NOT NULL DEFAULT 'admin' CHECK (role IN ('read', 'operator', 'admin', 'scim')),
    expires_at INTEGER
);
INSERT INTO api_tokens_scoped (id, name, token_hash, created_at, last_used_at, role, expires_at)
    SELECT id, name, token_hash, created_at, last_used_at, role, expires_at FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_scoped RENAME TO api_tokens;
