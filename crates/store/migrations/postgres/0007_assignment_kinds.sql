-- A batch's scope reads the groups assigned to an app without scanning its direct
-- assignments, which may be a hundred thousand.
CREATE INDEX assignments_app_kind ON assignments (app_id, principal_kind);
