//! The certificate and party lifecycle against a real server on 127.0.0.1 with a temporary store: the
//! registrant's grant list and revocation without local records, the access trail, party key rotation with
//! re-wrapped grants, purge by the registrant and by the retention sweep.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use tradeledger::api::Sealed;
use tradeledger::client::ops::{self, AccessTrail, Actor};
use tradeledger::client::{Client, ClientError, LogView};
use tradeledger::server::{LocalServer, ServeConfig};
use vault::{CertId, PartyId, PartyKeys, Role};

/// A server on an ephemeral port over a temporary data directory, with the operator's keys.
struct Server {
    url: String,
    vkey: String,
    data: tempfile::TempDir,
    operator: PartyKeys,
    running: LocalServer,
}

impl Server {
    async fn start(configure: impl FnOnce(&mut ServeConfig)) -> Server {
        let data = tempfile::tempdir().unwrap();
        let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
        let mut config = ServeConfig::new(data.path().to_owned(), operator.public());
        configure(&mut config);
        let running = LocalServer::start(config).await.unwrap();
        Server {
            url: running.url.clone(),
            vkey: running.vkey.clone(),
            data,
            operator,
            running,
        }
    }

    async fn shutdown(self) {
        self.running.stop().await.unwrap();
    }

    fn client(&self, keys: Option<&PartyKeys>) -> Client {
        let client = Client::new(&self.url).unwrap();
        match keys {
            Some(keys) => client.with_identity(keys.id(), keys.signing_key()),
            None => client,
        }
    }

    async fn enroll(&self, id: &str, role: Role) -> Party {
        let keys = PartyKeys::generate(PartyId::new(id).unwrap(), role);
        let operator = self.client(Some(&self.operator));
        ops::enroll(&operator, &self.operator, &keys.public())
            .await
            .unwrap();
        self.party(keys)
    }

    fn party(&self, keys: PartyKeys) -> Party {
        Party {
            client: self.client(Some(&keys)),
            keys,
            vkey: self.vkey.clone(),
            home: tempfile::tempdir().unwrap(),
        }
    }

    async fn rotate(&self, party: &Party) -> Party {
        let new = PartyKeys::generate(party.keys.id().clone(), party.keys.role());
        let request = ops::rotation_request(&party.keys, &new.public()).unwrap();
        let operator = self.client(Some(&self.operator));
        ops::submit_rotation(&operator, &self.operator, &request)
            .await
            .unwrap();
        let mut rotated = self.party(new);
        // The same person, the same local records.
        rotated.home = tempfile::tempdir().unwrap();
        copy_dir(party.home.path(), rotated.home.path());
        rotated
    }
}

/// One party: its keys, a client signing as it, and its own client state directory.
struct Party {
    keys: PartyKeys,
    client: Client,
    vkey: String,
    home: tempfile::TempDir,
}

impl Party {
    fn actor(&self) -> Actor<'_> {
        Actor {
            client: &self.client,
            keys: &self.keys,
            log_key: &self.vkey,
            home: self.home.path(),
        }
    }

    fn id(&self) -> &PartyId {
        self.keys.id()
    }

    async fn register(&self, to: &[&Party]) -> CertId {
        let body: serde_json::Value =
            serde_json::from_str(include_str!("../../docs/examples/usmca.json")).unwrap();
        let to: Vec<PartyId> = to.iter().map(|p| p.id().clone()).collect();
        let registered = ops::register(&self.actor(), &body, &to).await.unwrap();
        registered.cert_id.parse().unwrap()
    }

    async fn sealed(&self, cert_id: &CertId) -> Sealed {
        self.client
            .get_signed(&format!("/v1/certificates/{cert_id}/sealed"))
            .await
            .unwrap()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walk(from) {
        let target = to.join(entry.strip_prefix(from).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&entry, target).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Whether any file under `dir` contains `needle`.
fn dir_contains(dir: &Path, needle: &[u8]) -> bool {
    walk(dir).iter().any(|file| {
        std::fs::read(file)
            .map(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
            .unwrap_or(false)
    })
}

fn api_error(error: &anyhow::Error) -> (u16, String) {
    match error.downcast_ref::<ClientError>() {
        Some(ClientError::Api { status, code, .. }) => (*status, code.clone()),
        _ => panic!("expected a refusal by the server, got: {error:#}"),
    }
}

async fn audit_is_clean(server: &Server) {
    let report = ops::audit(&server.client(None), &server.vkey, None)
        .await
        .unwrap();
    assert!(report.problems.is_empty(), "audit: {:?}", report.problems);
}

mod commands;
mod grants;
mod purge;
mod rotation;
