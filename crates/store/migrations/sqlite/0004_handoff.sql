-- App connectors: roles imported from an app (and why a role cannot provision),
-- the pending Authorize requests of OAuth apps, and the hand-offs of manual mode.
ALTER TABLE app_roles ADD COLUMN refused TEXT;
ALTER TABLE app_roles ADD COLUMN imported INTEGER NOT NULL DEFAULT 0;

-- One row per Authorize click: the hash of the OAuth `state` sent to the
-- vendor, checked (and removed) when the admin's browser comes back.
CREATE TABLE oauth_states (
    state_hash TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
);

-- Manual mode: what a cycle would have sent, one row per object and change,
-- waiting for an admin to apply it by hand and confirm; the shadow entry to
-- write on confirmation is kept as JSON. The latest row of an object is
-- what the hand-off shows.
CREATE TABLE handoff_items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    object_kind TEXT NOT NULL,
    source_id TEXT NOT NULL,
    source_name TEXT,
    entry TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX handoff_items_object ON handoff_items (app_id, object_kind, source_id);

-- The last confirmed hand-off of each app.
CREATE TABLE handoffs (
    app_id TEXT PRIMARY KEY REFERENCES applications (id) ON DELETE CASCADE,
    confirmed_id INTEGER NOT NULL,
    confirmed_items INTEGER NOT NULL,
    confirmed_at INTEGER NOT NULL
);
