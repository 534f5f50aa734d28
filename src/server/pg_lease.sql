-- The publishing lease, schema version 2 of the frontends' track (src/server/pg_lease.rs): one row per bucket
-- prefix, naming the frontend that publishes to it until `expires_at` (the database's clock); `epoch` counts
-- the times it changed hands.
CREATE TABLE publishing_lease (
    name       text COLLATE "C" PRIMARY KEY,
    holder     bytea NOT NULL,
    epoch      bigint NOT NULL,
    expires_at timestamptz NOT NULL
);
