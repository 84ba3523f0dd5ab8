-- Provisioning state: one job per application, the shadow (what was last exported
-- for each object), and the provisioning log.
CREATE TABLE jobs (
    app_id TEXT PRIMARY KEY REFERENCES applications (id) ON DELETE CASCADE,
    settings TEXT NOT NULL,
    credentials TEXT,
    mappings TEXT,
    phase TEXT NOT NULL DEFAULT 'initial',
    watermark INTEGER NOT NULL DEFAULT 0,
    initial_cursor TEXT,
    initial_head INTEGER,
    state TEXT NOT NULL DEFAULT '{}',
    updated_at INTEGER NOT NULL
);

CREATE TABLE shadow (
    app_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    object_kind TEXT NOT NULL,
    source_id TEXT NOT NULL,
    target_id TEXT NOT NULL,
    exported TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    pending_ref TEXT,
    last_sync INTEGER NOT NULL,
    PRIMARY KEY (app_id, object_kind, source_id)
);
CREATE INDEX shadow_pending_ref ON shadow (app_id, pending_ref);

CREATE TABLE provisioning_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    app_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    cycle_id TEXT NOT NULL,
    change_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    object_kind TEXT NOT NULL,
    source_id TEXT NOT NULL,
    source_name TEXT,
    target_id TEXT,
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    steps TEXT NOT NULL,
    modified TEXT NOT NULL,
    error_code TEXT,
    error_message TEXT
);
CREATE INDEX provisioning_log_app_at ON provisioning_log (app_id, at);
CREATE INDEX provisioning_log_source ON provisioning_log (app_id, source_id);
