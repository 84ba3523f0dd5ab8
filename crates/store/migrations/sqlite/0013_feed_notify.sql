-- On PostgreSQL, writes to the change feed notify the listening workers. SQLite
-- has one process, whose scheduler polls the feed: nothing to do here.
SELECT 1;
