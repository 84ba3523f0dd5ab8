-- Group provisioning: the members roster sent to each group in each app (the
-- group's own attributes live in `shadow` with object_kind 'group'), so that a
-- membership change is one small PATCH and a group is never read back to diff it.
CREATE TABLE shadow_members (
    app_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    group_id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    target_id TEXT NOT NULL,
    PRIMARY KEY (app_id, group_id, member_id)
);
CREATE INDEX shadow_members_member ON shadow_members (app_id, member_id);

-- Escrow: objects whose export still failed after the request retries, retried
-- in later cycles with growing delay.
CREATE TABLE escrow (
    app_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    object_kind TEXT NOT NULL,
    source_id TEXT NOT NULL,
    source_name TEXT,
    attempts BIGINT NOT NULL,
    first_failed_at BIGINT NOT NULL,
    next_retry_at BIGINT NOT NULL,
    error_code TEXT NOT NULL,
    error_message TEXT NOT NULL,
    PRIMARY KEY (app_id, object_kind, source_id)
);
CREATE INDEX escrow_due ON escrow (app_id, next_retry_at);
