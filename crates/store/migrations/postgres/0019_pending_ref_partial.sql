-- Only an object waiting for its manager's account has a pending reference,
-- and only those are looked up by it: the index leaves the others out, so
-- that recording an account no longer inserts an entry for it here.
DROP INDEX IF EXISTS shadow_pending_ref;
CREATE INDEX shadow_pending_ref ON shadow (app_id, pending_ref) WHERE pending_ref IS NOT NULL;
