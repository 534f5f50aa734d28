-- The registry shared by every frontend, schema version 1 (src/server/registry/pg_store.rs). Derived from the
-- log: facts keyed by the index of the entry they come from, and the watermark below which every entry is
-- applied, moved forward in the same transaction as the facts of the entries it covers.
CREATE TABLE registry_watermark (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    applied  bigint  NOT NULL CHECK (applied >= 0)
);
INSERT INTO registry_watermark (applied) VALUES (0);
-- Enrollments and rotations (the encoded entry): read at start, in index order.
CREATE TABLE registry_parties (
    idx   bigint PRIMARY KEY,
    entry bytea  NOT NULL
);
CREATE TABLE registry_certificates (
    cert_id            bytea  PRIMARY KEY CHECK (octet_length(cert_id) = 16),
    registrant         text   COLLATE "C" NOT NULL,
    registration_index bigint NOT NULL,
    registered_ms      bigint NOT NULL,
    purged_index       bigint
);
-- Retention: certificates still held, by registration time.
CREATE INDEX registry_certificates_held ON registry_certificates (registered_ms, cert_id)
    WHERE purged_index IS NULL;
CREATE TABLE registry_receipts (
    cert_id bytea  NOT NULL,
    idx     bigint NOT NULL,
    PRIMARY KEY (cert_id, idx)
);
