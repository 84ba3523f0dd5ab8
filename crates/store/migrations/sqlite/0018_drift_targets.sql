-- The shadow is no longer indexed by the app's ids. Apps assign their ids at
-- random, so every record transaction touched pages all over that index, and
-- provisioning cost more per user the larger the directory grew. A drift check
-- copies the lookup it needs (the app's id of each shadow entry) here when it
-- starts, in one sorted pass, and clears it when it ends.
DROP INDEX IF EXISTS shadow_target;
CREATE TABLE drift_targets (
    app_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    object_kind TEXT NOT NULL,
    target_id TEXT NOT NULL,
    source_id TEXT NOT NULL
);
CREATE INDEX drift_targets_target ON drift_targets (app_id, object_kind, target_id);
