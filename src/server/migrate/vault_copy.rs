//! The vault's half of `migrate`: every certificate id of `DATA/vault`, in id order, into the PostgreSQL
//! vault: live ones with their ciphertext and envelopes (a page at a time, one transaction per page),
//! purged ones as tombstones; with a bucket, the ciphertexts as blobs under its private prefix. Then both
//! vaults are listed side by side and compared byte for byte.

use std::path::Path;

use anyhow::Context as _;
use ledger::CertId;
use ledger::pg::PgPool;
use std::sync::Arc;

use vault::{
    BlobStore, FsVaultStore, NewCertificate, PgVaultStore, StoreError, StoredId, VaultStore,
};

/// Certificate ids per page (and per transaction).
const PAGE: usize = 256;

/// What the vault copy did.
pub(super) struct Copied {
    pub(super) copied: u64,
    pub(super) tombstones: u64,
    pub(super) present: u64,
    pub(super) verified: u64,
}

/// One live certificate read from the source.
struct Live {
    cert_id: CertId,
    ciphertext: Vec<u8>,
    envelopes: Vec<(String, Vec<u8>)>,
}

/// Copies `DATA/vault` into the database behind `pool`, then compares the two.
pub(super) fn copy(
    data: &Path,
    pool: &PgPool,
    blobs: Option<Arc<dyn BlobStore>>,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Copied> {
    let mut done = Copied {
        copied: 0,
        tombstones: 0,
        present: 0,
        verified: 0,
    };
    if !data.join("vault").is_dir() {
        // Served with `--postgres`: the vault is in a database already, and opening would create an empty one.
        progress(
            "vault: none in the data directory (served with --postgres?): only the log was copied",
        );
        return Ok(done);
    }
    let source = FsVaultStore::open(&data.join("vault")).context("opening the embedded vault")?;
    // With a bucket, the ciphertexts go to its private prefix as `serve --postgres --bucket` keeps them, and
    // `verify` below reads each one back from there and checks it against its recorded length and checksum.
    let target = match blobs {
        Some(blobs) => PgVaultStore::with_blobs(pool.clone(), blobs),
        None => PgVaultStore::with_pool(pool.clone()),
    }
    .context("opening the vault's tables in PostgreSQL")?;
    let mut after = None;
    loop {
        let page = source
            .list_ids(after, PAGE)
            .context("listing the embedded vault")?;
        let Some(last) = page.last() else { break };
        after = Some(last.cert_id);
        copy_page(&source, &target, &page, &mut done)?;
        progress(&format!(
            "vault: {} certificates and {} tombstones copied, {} already in PostgreSQL",
            done.copied, done.tombstones, done.present
        ));
    }
    done.verified = verify(&source, &target)?;
    Ok(done)
}

fn copy_page(
    source: &FsVaultStore,
    target: &PgVaultStore,
    page: &[StoredId],
    done: &mut Copied,
) -> anyhow::Result<()> {
    let mut live = Vec::with_capacity(page.len());
    for id in page {
        if id.purged {
            match target.put_purged(id.cert_id) {
                Ok(()) => done.tombstones += 1,
                Err(StoreError::Purged(_)) => done.present += 1,
                // Live in the database, purged here (purged after an earlier run): purge it there too.
                Err(StoreError::AlreadyExists(_)) => {
                    target
                        .purge(id.cert_id)
                        .with_context(|| purging(id.cert_id))?;
                    done.tombstones += 1;
                }
                Err(e) => return Err(e).with_context(|| copying(id.cert_id)),
            }
        } else {
            live.push(read_live(source, id.cert_id)?);
        }
    }
    let batch: Vec<_> = live.iter().map(Borrowed::of).collect();
    let certs: Vec<NewCertificate<'_>> = batch.iter().map(Borrowed::as_new).collect();
    match target.put_certificates(&certs) {
        Ok(()) => done.copied += u64::try_from(certs.len()).unwrap_or(u64::MAX),
        // Some are there already (an interrupted run): one at a time; `verify` compares them afterwards.
        Err(StoreError::AlreadyExists(_) | StoreError::Purged(_)) => {
            for cert in &certs {
                match target.put_certificates(std::slice::from_ref(cert)) {
                    Ok(()) => done.copied += 1,
                    Err(StoreError::AlreadyExists(_)) => done.present += 1,
                    Err(StoreError::Purged(id)) => anyhow::bail!(
                        "certificate {} is purged in the database but live in the data directory: the \
                         database is not an earlier copy of this vault",
                        hex::encode(id.as_bytes())
                    ),
                    Err(e) => return Err(e).with_context(|| copying(cert.cert_id)),
                }
            }
        }
        Err(e) => return Err(e).context("copying a page of certificates"),
    }
    Ok(())
}

/// A live certificate in the shape `put_certificates` takes.
struct Borrowed<'a> {
    live: &'a Live,
    envelopes: Vec<(&'a str, &'a [u8])>,
}

impl<'a> Borrowed<'a> {
    fn of(live: &'a Live) -> Borrowed<'a> {
        let envelopes = live
            .envelopes
            .iter()
            .map(|(p, e)| (p.as_str(), e.as_slice()))
            .collect();
        Borrowed { live, envelopes }
    }

    fn as_new(&self) -> NewCertificate<'_> {
        NewCertificate {
            cert_id: self.live.cert_id,
            ciphertext: &self.live.ciphertext,
            envelopes: &self.envelopes,
        }
    }
}

fn read_live(store: &dyn VaultStore, cert_id: CertId) -> anyhow::Result<Live> {
    let ciphertext = store
        .get_ciphertext(cert_id)
        .with_context(|| reading(cert_id))?
        .with_context(|| format!("{}: listed live but has no ciphertext", reading(cert_id)))?;
    let mut envelopes = Vec::new();
    for party in store
        .list_recipients(cert_id)
        .with_context(|| reading(cert_id))?
    {
        let envelope = store
            .get_envelope(cert_id, &party)
            .with_context(|| reading(cert_id))?
            .with_context(|| format!("{}: an envelope vanished", reading(cert_id)))?;
        envelopes.push((party, envelope));
    }
    Ok(Live {
        cert_id,
        ciphertext,
        envelopes,
    })
}

/// Lists both vaults side by side: the same ids, the same tombstones, and for every live certificate the
/// same ciphertext and envelopes. Returns the number of ids compared.
fn verify(source: &FsVaultStore, target: &PgVaultStore) -> anyhow::Result<u64> {
    let mut after = None;
    let mut verified = 0u64;
    loop {
        let ours = source
            .list_ids(after, PAGE)
            .context("listing the embedded vault")?;
        let theirs = target
            .list_ids(after, PAGE)
            .context("listing the vault in PostgreSQL")?;
        if ours != theirs {
            let first = ours.iter().zip(&theirs).find(|(a, b)| a != b);
            let at = first.map_or_else(
                || "at the end of the list".to_owned(),
                |(a, _)| format!("at certificate {}", hex::encode(a.cert_id.as_bytes())),
            );
            anyhow::bail!(
                "the vault in PostgreSQL holds other certificate ids than the embedded vault ({at})"
            );
        }
        let Some(last) = ours.last() else { break };
        after = Some(last.cert_id);
        for id in ours.iter().filter(|id| !id.purged) {
            let (a, b) = (
                read_live(source, id.cert_id)?,
                read_live(target, id.cert_id)?,
            );
            anyhow::ensure!(
                a.ciphertext == b.ciphertext && a.envelopes == b.envelopes,
                "certificate {} differs between the embedded vault and PostgreSQL",
                hex::encode(id.cert_id.as_bytes())
            );
        }
        verified = verified.saturating_add(u64::try_from(ours.len()).unwrap_or(u64::MAX));
    }
    Ok(verified)
}

fn copying(cert_id: CertId) -> String {
    format!("copying certificate {}", hex::encode(cert_id.as_bytes()))
}

fn purging(cert_id: CertId) -> String {
    format!(
        "purging certificate {} in PostgreSQL",
        hex::encode(cert_id.as_bytes())
    )
}

fn reading(cert_id: CertId) -> String {
    format!("reading certificate {}", hex::encode(cert_id.as_bytes()))
}
