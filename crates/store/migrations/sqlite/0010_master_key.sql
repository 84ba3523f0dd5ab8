-- Which master key the store's secrets are sealed under (its id, a one-way hash
-- of the key): a roster given another key refuses to start, and a rotation
-- changes the row in the transaction that re-seals every secret.
CREATE TABLE master_key (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    key_id TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
