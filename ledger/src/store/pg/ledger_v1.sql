-- The log's schema, version 1 (ledger/src/store/pg.rs states what each table guarantees).

-- The coordination row: the committed size. Every group commit locks it (SELECT ... FOR UPDATE), so the
-- commits of any number of writers are serialized and each takes the next consecutive indexes.
CREATE TABLE ledger_sequence (
    id   boolean PRIMARY KEY DEFAULT true CHECK (id),
    size bigint  NOT NULL CHECK (size >= 0)
);
INSERT INTO ledger_sequence (id, size) VALUES (true, 0);

-- Entry idx and its leaf hash (RFC 9162 §2.1.1 over the exact bytes), which is also tile level 0.
CREATE TABLE ledger_entries (
    idx   bigint PRIMARY KEY CHECK (idx >= 0),
    entry bytea  NOT NULL CHECK (octet_length(entry) <= 65535),
    leaf  bytea  NOT NULL CHECK (octet_length(leaf) = 32)
);

-- Tile hashes at levels 1 and up (C2SP tlog-tiles): hash idx of tile level `level`, written in the same
-- transaction as the entries that complete it.
CREATE TABLE ledger_tiles (
    level smallint NOT NULL CHECK (level >= 1),
    idx   bigint   NOT NULL CHECK (idx >= 0),
    hash  bytea    NOT NULL CHECK (octet_length(hash) = 32),
    PRIMARY KEY (level, idx)
);

-- The latest stored checkpoint (a C2SP signed note); it only moves forward (compare-and-swap on size).
CREATE TABLE ledger_checkpoint (
    id   boolean PRIMARY KEY DEFAULT true CHECK (id),
    size bigint  CHECK (size >= 0),
    note bytea,
    CHECK ((size IS NULL) = (note IS NULL))
);
INSERT INTO ledger_checkpoint (id) VALUES (true);
