-- The audit log: who changed what, when, from where, and how it went. Append-only:
-- the store has no function that updates or deletes a row. Secret values are never
-- written (the writers replace them with the word "changed"); the JSON columns are
-- text.
CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    principal TEXT NOT NULL,
    role TEXT,
    source TEXT,
    action TEXT NOT NULL,
    target TEXT,
    request_json TEXT,
    before_json TEXT,
    after_json TEXT,
    outcome TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_principal ON audit_log (principal, at);
