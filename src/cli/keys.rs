//! `keygen` and `enroll`.

use std::path::PathBuf;

use anyhow::Context as _;
use serde_json::json;
use vault::{PartyKeys, PartyPublic, Role};

use super::{EnrollArgs, Global, KeygenArgs};
use crate::client::ops;

/// `FILE.pub` beside `FILE`.
pub(crate) fn pub_path(out: &std::path::Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// Writes a fresh key pair: the secret file (0600, never overwritten) and its `.pub`.
pub(super) fn keygen(g: &Global, args: KeygenArgs) -> anyhow::Result<()> {
    let party = ops::parse_party(&args.party)?;
    let role: Role = args
        .role
        .parse()
        .context("roles are importer, exporter, producer, broker, customs, auditor, operator")?;
    let keys = PartyKeys::generate(party, role);
    let public_path = pub_path(&args.out);
    if public_path.exists() {
        anyhow::bail!("{} already exists", public_path.display());
    }
    keys.save(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    keys.public()
        .save(&public_path)
        .with_context(|| format!("writing {}", public_path.display()))?;
    g.print(
        &json!({"party": keys.id().to_string(), "role": role.to_string(), "key": args.out, "public": public_path}),
        &format!("wrote {} (secret, mode 0600) and {} for {} ({role})", args.out.display(), public_path.display(), keys.id()),
    )?;
    Ok(())
}

/// Enrolls a party from its `.pub` file, signed with the operator's key.
pub(super) async fn enroll(g: &Global, args: EnrollArgs) -> anyhow::Result<()> {
    let keys = g.keys()?;
    let party = PartyPublic::load(&args.party)
        .with_context(|| format!("reading {}", args.party.display()))?;
    let client = g.client()?.with_identity(keys.id(), keys.signing_key());
    let index = ops::enroll(&client, &keys, &party).await?;
    g.print(
        &json!({"party": party.id.to_string(), "role": party.role.to_string(), "index": index}),
        &format!(
            "enrolled {} ({}) at log index {index}",
            party.id, party.role
        ),
    )?;
    Ok(())
}
