-- Every write to the change feed wakes the workers listening on `roster_feed`
-- (delivered at commit, once per transaction), so that a change made through one
-- worker's API reaches the worker holding the job at once, without polling.
CREATE FUNCTION roster_feed_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('roster_feed', '');
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER change_feed_notify AFTER INSERT ON change_feed
    FOR EACH STATEMENT EXECUTE FUNCTION roster_feed_notify();
