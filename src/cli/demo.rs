//! `demo`: the whole story on a temporary embedded store, narrated step by step. Every step checks that
//! what happened is what should happen (a refusal that does not come is a failure), so `demo` doubles as a
//! smoke test of a build.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::{Value, json};
use vault::{PartyId, PartyKeys, Role};

use super::{Global, output};

mod credentials;
use crate::client::Client;
use crate::client::ops::{self, Actor};
use crate::server::{LocalServer, ServeConfig};

/// The example certificates, embedded so the binary works from any directory.
const EXAMPLES: [(&str, &str); 3] = [
    ("usmca.json", include_str!("../../docs/examples/usmca.json")),
    (
        "cafta-dr.json",
        include_str!("../../docs/examples/cafta-dr.json"),
    ),
    (
        "nafta-434.json",
        include_str!("../../docs/examples/nafta-434.json"),
    ),
];

/// Numbers and prints the story's lines (`--json`: one JSON object per line).
pub(super) struct Narrator {
    json: bool,
    step: u32,
}

impl Narrator {
    pub(super) fn say(&mut self, text: impl AsRef<str>) -> anyhow::Result<()> {
        self.step += 1;
        if self.json {
            output::line(json!({"step": self.step, "text": text.as_ref()}))
        } else {
            output::line(format_args!("{:>2}. {}", self.step, text.as_ref()))
        }
    }
}

/// One party of the story: its keys, a client signing as it, and its own state directory.
pub(super) struct Player {
    pub(super) keys: PartyKeys,
    pub(super) client: Client,
    home: PathBuf,
}

impl Player {
    fn new(id: &str, role: Role, url: &str, root: &Path) -> anyhow::Result<Player> {
        let keys = PartyKeys::generate(PartyId::new(id)?, role);
        let client = Client::new(url)?.with_identity(keys.id(), keys.signing_key());
        let home = root.join(id);
        crate::client::private_dir(&home)?;
        Ok(Player { keys, client, home })
    }

    pub(super) fn actor<'a>(&'a self, log_key: &'a str) -> Actor<'a> {
        Actor {
            client: &self.client,
            keys: &self.keys,
            log_key,
            home: &self.home,
        }
    }

    pub(super) fn id(&self) -> &PartyId {
        self.keys.id()
    }
}

/// Expects `result` to be a refusal by the server and returns its code.
fn refusal<T>(result: anyhow::Result<T>, what: &str) -> anyhow::Result<String> {
    match result {
        Ok(_) => anyhow::bail!("{what} should have been refused, and was not"),
        Err(e) => match e
            .downcast_ref::<crate::client::ClientError>()
            .and_then(|c| c.code())
        {
            Some(code) => Ok(code.to_owned()),
            None => Err(e.context(format!(
                "{what} failed, but not with a refusal by the server"
            ))),
        },
    }
}

pub(super) async fn demo(g: &Global) -> anyhow::Result<()> {
    let mut n = Narrator {
        json: g.json,
        step: 0,
    };
    let tmp = tempfile::tempdir().context("creating a temporary directory")?;
    let data = tmp.path().join("data");
    let homes = tmp.path().join("clients");

    let operator_keys = PartyKeys::generate(PartyId::new("operator")?, Role::Operator);
    let server = LocalServer::start(ServeConfig::new(data, operator_keys.public())).await?;
    let url = server.url.clone();
    let log_key = server.vkey.clone();
    n.say(format!(
        "started the service on {url} over a temporary store; log key {log_key}"
    ))?;
    n.say("the service enrolled the operator as entry 0, signed with the log key")?;

    let operator = Player {
        client: Client::new(&url)?.with_identity(operator_keys.id(), operator_keys.signing_key()),
        keys: operator_keys,
        home: homes.join("operator"),
    };
    let importer = Player::new("acme-imports", Role::Importer, &url, &homes)?;
    let cbp = Player::new("cbp", Role::Customs, &url, &homes)?;
    let broker = Player::new("swift-brokers", Role::Broker, &url, &homes)?;
    let auditor = Player::new("audit-co", Role::Auditor, &url, &homes)?;
    for player in [&importer, &cbp, &broker, &auditor] {
        let index = ops::enroll(&operator.client, &operator.keys, &player.keys.public()).await?;
        n.say(format!(
            "operator enrolled {} ({}) at log index {index}",
            player.id(),
            player.keys.role()
        ))?;
    }

    let mut registered = Vec::new();
    for (name, text) in EXAMPLES {
        let body: Value =
            serde_json::from_str(text).with_context(|| format!("embedded example {name}"))?;
        let reg = ops::register(
            &importer.actor(&log_key),
            &body,
            std::slice::from_ref(cbp.id()),
        )
        .await?;
        n.say(format!(
            "{} registered {name} for cbp: certificate {} at log index {}",
            importer.id(),
            reg.cert_id,
            reg.index
        ))?;
        registered.push(reg);
    }
    let first = registered.first().context("no example registered")?;
    let cert_id = ops::parse_cert_id(&first.cert_id)?;

    let opened = ops::open(&cbp.actor(&log_key), &cert_id).await?;
    n.say(format!(
        "cbp opened {cert_id}: inclusion under the signed checkpoint and the commitment verified; regime {}, exporter {:?}, {} good(s)",
        opened.body["regime"],
        opened.body.pointer("/exporter/name").and_then(Value::as_str).unwrap_or("-"),
        opened.body["goods"].as_array().map_or(0, Vec::len),
    ))?;

    let code = refusal(
        ops::open(&broker.actor(&log_key), &cert_id).await,
        "the broker's open before a grant",
    )?;
    n.say(format!(
        "{} tried to open it and was refused: {code}",
        broker.id()
    ))?;

    let index = ops::grant(&importer.actor(&log_key), &cert_id, broker.id()).await?;
    n.say(format!(
        "{} granted {} (grant entry at {index}; same data key re-wrapped, body not re-encrypted)",
        importer.id(),
        broker.id()
    ))?;

    let opened = ops::open(&broker.actor(&log_key), &cert_id).await?;
    n.say(format!(
        "{} opened it: verified body, access receipt at log index {}",
        broker.id(),
        opened.receipt_index
    ))?;

    let index = ops::revoke(&importer.actor(&log_key), &cert_id, broker.id()).await?;
    n.say(format!(
        "{} revoked {} (revocation entry at {index})",
        importer.id(),
        broker.id()
    ))?;

    let code = refusal(
        ops::open(&broker.actor(&log_key), &cert_id).await,
        "the broker's open after the revocation",
    )?;
    n.say(format!(
        "{} tried again and was refused: {code}",
        broker.id()
    ))?;

    let fields = ["/regime".to_owned(), "/exporter/name".to_owned()];
    let bundle = ops::disclose(&importer.actor(&log_key), &cert_id, &fields).await?;
    let bundle_path = tmp.path().join("disclosure.json");
    ledger::durable::write_atomic(&bundle_path, &serde_json::to_vec_pretty(&bundle)?)?;
    n.say(format!(
        "{} disclosed {} to {} as a bundle",
        importer.id(),
        fields.join(" and "),
        auditor.id()
    ))?;

    // The auditor reads the bundle back from the file, with nothing but the log key: no server involved.
    let bundle: ops::Bundle = serde_json::from_slice(&std::fs::read(&bundle_path)?)?;
    let verified = ops::verify_bundle(&bundle, &log_key)?;
    let shown: Vec<String> = verified
        .fields
        .iter()
        .map(|(p, v)| format!("{p} = {v}"))
        .collect();
    n.say(format!(
        "{} verified the bundle offline: {}",
        auditor.id(),
        shown.join(", ")
    ))?;

    let parties = credentials::Parties {
        importer: &importer,
        cbp: &cbp,
        auditor: &auditor,
    };
    credentials::credential_in(&mut n, &parties, &log_key).await?;
    credentials::credential_out(&mut n, &parties, &log_key, &cert_id).await?;

    let report = ops::audit(&auditor.client, &log_key, None).await?;
    if !report.problems.is_empty() {
        anyhow::bail!(
            "the audit found {} problem(s): {:?}",
            report.problems.len(),
            report.problems
        );
    }
    let kinds: Vec<String> = report
        .kinds
        .iter()
        .map(|(k, c)| format!("{c} {k}"))
        .collect();
    n.say(format!(
        "{} audited the whole log of {} entries: no problems ({})",
        auditor.id(),
        report.size,
        kinds.join(", ")
    ))?;

    for receipt in &report.receipts {
        n.say(format!(
            "access receipt at {}: certificate {} released under grant {}…",
            receipt.index,
            receipt.cert_id,
            &receipt.grant[..12.min(receipt.grant.len())]
        ))?;
    }
    if report.receipts.len() < 3 {
        anyhow::bail!(
            "expected at least three access receipts, found {}",
            report.receipts.len()
        );
    }
    server.stop().await?;
    n.say("stopped the service; the temporary store is removed")?;
    Ok(())
}
