//! The store holds no keys and no plaintext, and a purged ciphertext is gone from the disk: seal real
//! certificates with a unique marker in their bodies, store them, grant and revoke, purge one, close
//! the store, then scan the raw bytes of every file in the data directory.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use serde_json::json;
use vault::{
    CertId, FsVaultStore, PartyId, PartyKeys, Role, VaultStore, open_certificate, rewrap_for,
    seal_certificate,
};

/// A named secret (or purged) byte string that must not appear on disk.
struct Needle {
    what: String,
    bytes: Vec<u8>,
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// 64-byte windows from the start, middle and end of `bytes`.
fn samples(what: &str, bytes: &[u8]) -> Vec<Needle> {
    let mid = bytes.len() / 2;
    [0, mid, bytes.len() - 64]
        .into_iter()
        .map(|at| Needle {
            what: format!("{what} at {at}"),
            bytes: bytes[at..at + 64].to_vec(),
        })
        .collect()
}

#[test]
fn no_marker_key_salt_or_purged_ciphertext_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let importer = PartyKeys::generate(PartyId::new("importer-acme").unwrap(), Role::Importer);
    let customs = PartyKeys::generate(PartyId::new("customs-cbp").unwrap(), Role::Customs);
    let broker = PartyKeys::generate(PartyId::new("broker-fast").unwrap(), Role::Broker);
    let run = hex::encode(rand::random::<[u8; 16]>());

    let mut secrets = Vec::new();
    let mut kept = Vec::new();
    let mut purged = Vec::new();
    {
        let store = FsVaultStore::open(dir.path()).unwrap();
        for i in 0..6 {
            let cert_id = CertId::random();
            let marker = format!("SECRET-MARKER-{run}-{i}");
            let body = json!({
                "exporter": { "name": marker, "address": "1 Harbour Road" },
                "goods": (0..60).map(|n| json!({ "hs": format!("8471.{n:02}"), "note": marker }))
                    .collect::<Vec<_>>(),
            });
            let sealed =
                seal_certificate(&cert_id, &body, &importer.public(), &[customs.public()]).unwrap();
            let envelopes: Vec<(&str, &[u8])> = sealed
                .envelopes
                .iter()
                .map(|e| (e.party.as_str(), e.envelope.as_slice()))
                .collect();
            store
                .put_certificate(cert_id, &sealed.ciphertext, &envelopes)
                .unwrap();

            // The data key, as the registrant recovers it from its own envelope.
            let opened = open_certificate(
                &cert_id,
                &sealed.commitment,
                &importer,
                &sealed.envelopes[0].envelope,
                &sealed.ciphertext,
            )
            .unwrap();
            // A later grant to the broker, and a revocation of customs.
            let grant = rewrap_for(&cert_id, &opened.data_key, &broker.public()).unwrap();
            store
                .add_envelope(cert_id, grant.party.as_str(), &grant.envelope)
                .unwrap();
            assert!(store.remove_envelope(cert_id, "customs-cbp").unwrap());

            secrets.push(Needle {
                what: format!("marker {i}"),
                bytes: marker.into_bytes(),
            });
            let key = opened.data_key.expose_secret().to_vec();
            secrets.push(Needle {
                what: format!("data key {i}"),
                bytes: key,
            });
            let salt = sealed.master_salt.expose_secret().to_vec();
            secrets.push(Needle {
                what: format!("master salt {i}"),
                bytes: salt,
            });
            for (n, e) in sealed.envelopes.iter().chain([&grant]).enumerate() {
                let salt = e.grant_salt.expose_secret().to_vec();
                secrets.push(Needle {
                    what: format!("grant salt {i}.{n}"),
                    bytes: salt,
                });
            }
            if i == 2 {
                store.purge(cert_id).unwrap();
                assert_eq!(store.get_ciphertext(cert_id).unwrap(), None);
                purged.extend(samples(
                    &format!("purged ciphertext {i}"),
                    &sealed.ciphertext,
                ));
            } else {
                kept.extend(samples(&format!("kept ciphertext {i}"), &sealed.ciphertext));
            }
        }
    }

    let disk: Vec<(PathBuf, Vec<u8>)> = files(dir.path())
        .into_iter()
        .map(|f| (f.clone(), std::fs::read(&f).unwrap()))
        .collect();
    assert!(
        disk.iter()
            .any(|(f, _)| f.extension().is_some_and(|e| e == "seg"))
    );
    for needle in secrets.iter().chain(&purged) {
        for (file, bytes) in &disk {
            assert!(
                !contains(bytes, &needle.bytes),
                "{} found in {}",
                needle.what,
                file.display()
            );
        }
    }
    // The scan does see what is really stored.
    for needle in &kept {
        assert!(
            disk.iter().any(|(_, bytes)| contains(bytes, &needle.bytes)),
            "{} not found",
            needle.what
        );
    }
}
