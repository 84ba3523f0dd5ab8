-- Intents: the objects a batch is about to write to an app, written before the
-- calls and removed in the transaction that records their outcome. An intent
-- still here at the start of a cycle means a crash cut a batch short: the app may
-- hold a write roster never recorded, so that object is checked against the app.
CREATE TABLE intents (
    app_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    object_kind TEXT NOT NULL,
    source_id TEXT NOT NULL,
    matching TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, object_kind, source_id)
);
