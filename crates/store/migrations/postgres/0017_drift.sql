-- Drift checks: shadow entries found by the app's id, the accounts one check
-- has seen in the app (the enabled shadow entries it has not seen are the
-- accounts missing there), and each app's last report.
CREATE INDEX shadow_target ON shadow (app_id, object_kind, target_id);
CREATE TABLE drift_seen (
    app_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    target_id TEXT NOT NULL,
    PRIMARY KEY (app_id, target_id)
);
CREATE TABLE drift_reports (
    app_id TEXT PRIMARY KEY REFERENCES applications (id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    report TEXT NOT NULL
);
