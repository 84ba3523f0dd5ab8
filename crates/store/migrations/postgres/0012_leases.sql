-- Workers and job leases. Every `roster serve` process is a worker with a
-- heartbeat; a job's cycles run on the worker that holds its lease. A new holder
-- raises the fencing token, and every write a cycle makes checks the token it
-- started with: a worker that lost its lease (paused past its expiry) writes nothing.
CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    -- The worker's lease length: it is dead once this long passes without a heartbeat.
    lease_ttl_ms BIGINT NOT NULL,
    stopped_at BIGINT
);

CREATE TABLE job_leases (
    app_id TEXT PRIMARY KEY REFERENCES applications (id) ON DELETE CASCADE,
    holder TEXT,
    token BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL DEFAULT 0,
    acquired_at BIGINT
);
CREATE INDEX job_leases_holder ON job_leases (holder);
