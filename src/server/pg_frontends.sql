-- What every frontend of one database must agree on, schema version 1 (src/server/pg_frontends.rs).
-- One row per setting, written by the first frontend that starts and compared by every later one.
CREATE TABLE frontend_settings (
    name  text COLLATE "C" PRIMARY KEY,
    value bytea NOT NULL
);
