-- Inbound sources (HR systems): an application row whose template is an
-- inbound one (`hr-scim`, `hr-csv`), with its settings here. Its provisioning
-- log is the log of that application.
CREATE TABLE sources (
    app_id TEXT PRIMARY KEY REFERENCES applications (id) ON DELETE CASCADE,
    settings TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

-- What a source pushed or a file held: queued, then applied, or held for an
-- admin's approval (too many disables), then applied or rejected. The records
-- are kept until the batch is decided.
CREATE TABLE inbound_batches (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    origin TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    claimed_at INTEGER,
    records TEXT NOT NULL,
    summary TEXT NOT NULL,
    decided_at INTEGER,
    decided_by TEXT
);
CREATE INDEX inbound_batches_app ON inbound_batches (app_id, received_at);
CREATE INDEX inbound_batches_status ON inbound_batches (status);

-- What a source's rules put off to a date: enabling a hire on the start date,
-- disabling a leaver on the end date, creating a hire prehireDays before the
-- start date (the record kept in `record`).
CREATE TABLE inbound_schedule (
    app_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    subject TEXT NOT NULL,
    action TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    record TEXT,
    PRIMARY KEY (app_id, subject, action)
);
CREATE INDEX inbound_schedule_due ON inbound_schedule (due_at);

CREATE INDEX users_employee_id ON users (employee_id);
