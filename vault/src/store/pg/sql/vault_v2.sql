-- Version 2: ciphertexts may live outside the database, as blobs of an object store (serve --postgres --bucket:
-- a private prefix of the bucket). vault/src/store/pg/blobs.rs states what each table guarantees.

-- A certificate whose body is a blob: its random name (never derived from public data), and the length and
-- checksum of the bytes put there (the same SHA-256 as vault_bodies.checksum), checked on every read. A body
-- is either here or in vault_bodies, never both; a purge deletes the row after deleting the blob.
CREATE TABLE vault_body_objects (
    cert_id     bytea  PRIMARY KEY REFERENCES vault_certificates (cert_id),
    object_name text   NOT NULL UNIQUE CHECK (object_name ~ '^[0-9a-f]{32}$'),
    length      bigint NOT NULL CHECK (length >= 0),
    checksum    bytea  NOT NULL CHECK (octet_length(checksum) = 32)
);

-- Blobs being written: a row is committed before its blob is put, and deleted in the same transaction that
-- inserts the blob's vault_body_objects row. A row that outlives its grace period names a blob no certificate
-- will ever reference (its put failed or its frontend died): the orphan sweep deletes the blob, then the row.
CREATE TABLE vault_pending_objects (
    object_name text        PRIMARY KEY CHECK (object_name ~ '^[0-9a-f]{32}$'),
    created_at  timestamptz NOT NULL DEFAULT now()
);
