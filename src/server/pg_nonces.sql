-- The replay-nonce store shared by every frontend, schema version 1 (src/server/pg_nonces.rs).
-- One row per accepted (party, nonce key) until the request could no longer be fresh; expired rows are
-- reclaimed by a later claim of the same key or deleted by the periodic sweep.
CREATE TABLE replay_nonces (
    keyid      text COLLATE "C" NOT NULL,
    nonce      bytea           NOT NULL CHECK (octet_length(nonce) = 16),
    expires_at bigint          NOT NULL,
    PRIMARY KEY (keyid, nonce)
);
CREATE INDEX replay_nonces_expiry ON replay_nonces (expires_at);
