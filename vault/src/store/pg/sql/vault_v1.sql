-- The vault's schema, version 1 (vault/src/store/pg/mod.rs states what each table guarantees).

-- One row per certificate id ever stored, kept after a purge as a tombstone: ids are never reused.
CREATE TABLE vault_certificates (
    cert_id bytea   PRIMARY KEY CHECK (octet_length(cert_id) = 16),
    purged  boolean NOT NULL DEFAULT false
);

-- The sealed bodies; a purge deletes the row. checksum = SHA-256("tradeledger/vault-pg/body/v1" || cert_id
-- || ciphertext), checked on every read.
CREATE TABLE vault_bodies (
    cert_id    bytea PRIMARY KEY REFERENCES vault_certificates (cert_id),
    ciphertext bytea NOT NULL,
    checksum   bytea NOT NULL CHECK (octet_length(checksum) = 32)
);
-- Ciphertexts do not compress: store them out of line without trying.
ALTER TABLE vault_bodies ALTER COLUMN ciphertext SET STORAGE EXTERNAL;

-- One row per (certificate, recipient); party ids sort by bytes (COLLATE "C"). checksum =
-- SHA-256("tradeledger/vault-pg/envelope/v1" || cert_id || len(party) || party || envelope).
CREATE TABLE vault_envelopes (
    cert_id  bytea           NOT NULL REFERENCES vault_certificates (cert_id),
    party    text COLLATE "C" NOT NULL CHECK (octet_length(party) BETWEEN 1 AND 255),
    envelope bytea           NOT NULL,
    checksum bytea           NOT NULL CHECK (octet_length(checksum) = 32),
    PRIMARY KEY (cert_id, party)
);
