//! Secrets stay secret: a unique marker placed in a certificate body, and the secrets around it (data key,
//! master salt, grant salt, private keys), appear nowhere an outsider or the operator can look: not in the
//! data directory, the log, any public answer or error, nor the logs the service and clients write.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::Rng as _;
use tradeledger::api::Sealed;
use tradeledger::client::ops;
use tradeledger::tilepath::TileRef;
use vault::PartyKeys;

use crate::support::{World, captured_logs, example, send, send_signed};

/// Things that must not be found, each under a name for the failure message, in every form they could be
/// written: raw bytes, hex and base64.
struct Needles(Vec<(String, Vec<u8>)>);

impl Needles {
    fn text(&mut self, name: &str, text: &str) {
        self.0.push((name.to_owned(), text.as_bytes().to_vec()));
    }

    fn secret(&mut self, name: &str, bytes: &[u8]) {
        self.0.push((format!("{name} (raw)"), bytes.to_vec()));
        self.0
            .push((format!("{name} (hex)"), hex::encode(bytes).into_bytes()));
        self.0.push((
            format!("{name} (base64)"),
            STANDARD.encode(bytes).into_bytes(),
        ));
        self.0.push((
            format!("{name} (base64url)"),
            URL_SAFE_NO_PAD.encode(bytes).into_bytes(),
        ));
    }

    fn keys(&mut self, keys: &PartyKeys) {
        self.secret(
            &format!("{}'s signing key", keys.id()),
            &keys.signing_key().to_bytes(),
        );
        self.secret(
            &format!("{}'s encryption key", keys.id()),
            &keys.encryption_secret().to_bytes(),
        );
    }

    /// The name of the first needle found in `haystack`.
    fn find(&self, haystack: &[u8]) -> Option<&str> {
        let hay = hex::encode(haystack);
        self.0
            .iter()
            .find(|(_, needle)| hay.contains(&hex::encode(needle)))
            .map(|(name, _)| name.as_str())
    }

    /// Panics if any needle occurs in `haystack`. Both sides are searched as hex, with std's optimized
    /// substring search, so binary needles are found as fast as text ones (an odd-offset match could only
    /// add a false alarm, never hide a hit).
    #[track_caller]
    fn assert_absent(&self, haystack: &[u8], place: &str) {
        if let Some(name) = self.find(haystack) {
            panic!("{name} found in {place}");
        }
    }
}

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_marker_and_the_keys_are_found_nowhere() {
    let w = World::new().await;
    let vkey = w.vkey();
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let marker = hex::encode(bytes);
    let mut body = example("usmca.json");
    body["goods"][0]["description"] = format!("Disc brake pads, lot {marker}").into();

    // The story around the marked certificate: register, open, grant, open, revoke, disclose other fields.
    let (cert_id, _) = w.register(&body, &[&w.cbp]).await;
    let opened = w.open(&w.cbp, &cert_id).await.unwrap();
    assert_eq!(opened.body, body, "the marker is really in the body");
    ops::grant(&w.importer.actor(vkey), &cert_id, w.broker.id())
        .await
        .unwrap();
    w.open(&w.broker, &cert_id).await.unwrap();
    ops::revoke(&w.importer.actor(vkey), &cert_id, w.broker.id())
        .await
        .unwrap();
    let fields = ["/regime".to_owned(), "/exporter/name".to_owned()];
    let bundle = ops::disclose(&w.importer.actor(vkey), &cert_id, &fields)
        .await
        .unwrap();
    let report = ops::audit(&w.auditor.client, vkey, None).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    // The secrets a test can get hold of: CBP's view of the certificate, and every party's keys.
    let sealed: Sealed = w
        .cbp
        .client
        .get_signed(&format!("/v1/certificates/{cert_id}/sealed"))
        .await
        .unwrap();
    let commitment = {
        let entry = w
            .server
            .client()
            .get_entry(opened.registration.index)
            .await
            .unwrap();
        match ledger::SignedEntry::decode(&entry).unwrap().entry() {
            ledger::Entry::Registration { commitment, .. } => *commitment,
            other => panic!("not a registration: {other:?}"),
        }
    };
    let secrets = vault::open_certificate(
        &cert_id,
        &commitment,
        &w.cbp.keys,
        &sealed.envelope.0,
        &sealed.ciphertext.0,
    )
    .unwrap();
    let mut needles = Needles(Vec::new());
    needles.text("the marker", &marker);
    needles.secret("the data key", secrets.data_key.expose_secret());
    needles.secret("the master salt", secrets.master_salt.expose_secret());
    needles.secret("cbp's grant salt", secrets.grant_salt.expose_secret());
    for party in [&w.operator, &w.importer, &w.cbp, &w.broker, &w.auditor] {
        needles.keys(&party.keys);
    }

    // The search itself finds what it looks for, in any form.
    assert_eq!(
        needles.find(&serde_json::to_vec(&opened.body).unwrap()),
        Some("the marker")
    );
    let mut padded = b"....".to_vec();
    padded.extend_from_slice(secrets.data_key.expose_secret());
    assert_eq!(needles.find(&padded), Some("the data key (raw)"));
    let encoded = STANDARD.encode(secrets.master_salt.expose_secret());
    assert_eq!(
        needles.find(encoded.as_bytes()),
        Some("the master salt (base64)")
    );

    // 1. Every file of the data directory, raw bytes.
    let mut files = Vec::new();
    files_under(&w.server.data, &mut files);
    assert!(files.len() >= 4, "{files:?}");
    let mut scanned = 0;
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        scanned += bytes.len();
        needles.assert_absent(&bytes, &file.display().to_string());
    }
    assert!(
        scanned > sealed.ciphertext.0.len(),
        "the ciphertext is stored somewhere"
    );

    // 2. Every log entry, through the entry bundles and one by one; every hash tile.
    let client = w.server.client();
    let size = w.server.size().await;
    let full = size / 256;
    let last = u8::try_from(size % 256).unwrap();
    let mut tiles = Vec::new();
    for index in 0..full {
        tiles.push(TileRef {
            level: None,
            index,
            partial: None,
        });
        tiles.push(TileRef {
            level: Some(0),
            index,
            partial: None,
        });
    }
    if last > 0 {
        tiles.push(TileRef {
            level: None,
            index: full,
            partial: Some(last),
        });
        tiles.push(TileRef {
            level: Some(0),
            index: full,
            partial: Some(last),
        });
    }
    for tile in tiles {
        let bytes = client.get_tile(tile).await.unwrap();
        assert!(!bytes.is_empty());
        needles.assert_absent(&bytes, &tile.path());
    }

    // 3. Every answer an outsider can read: checkpoint, key, entries, proofs, parties, certificate facts,
    //    metrics, health, and error answers.
    let mut paths = vec![
        "/checkpoint".to_owned(),
        "/log.vkey".to_owned(),
        "/metrics".to_owned(),
        "/healthz".to_owned(),
        format!("/v1/certificates/{cert_id}"),
        format!("/v1/certificates/{cert_id}/sealed"), // unsigned: an error answer
        "/v1/certificates/00112233445566778899aabbccddeeff".to_owned(),
        "/v1/parties/nobody".to_owned(),
        "/no/such/route".to_owned(),
    ];
    for party in [&w.operator, &w.importer, &w.cbp, &w.broker, &w.auditor] {
        paths.push(format!("/v1/parties/{}", party.name()));
    }
    for index in 0..size {
        paths.push(format!("/v1/entries/{index}"));
        paths.push(format!("/v1/proof/inclusion?index={index}&size={size}"));
        paths.push(format!("/v1/proof/consistency?old={index}&new={size}"));
    }
    for path in &paths {
        let (status, bytes) = w.server.get(path).await;
        assert!(status < 500, "{path}: {status}");
        needles.assert_absent(&bytes, path);
    }
    let refusals = [
        send_signed(
            &w.server.url,
            &w.broker,
            "GET",
            &format!("/v1/certificates/{cert_id}/sealed"),
            Vec::new(),
        )
        .await,
        send_signed(
            &w.server.url,
            &w.auditor,
            "GET",
            &format!("/v1/certificates/{cert_id}/sealed"),
            Vec::new(),
        )
        .await,
        send(
            &w.server.url,
            "POST",
            "/v1/certificates",
            &[],
            vec![b'x'; crate::support::MAX_BODY + 1],
        )
        .await,
    ];
    for answer in &refusals {
        assert!(
            answer.status >= 400 && !answer.code.is_empty(),
            "{answer:?}"
        );
        needles.assert_absent(&answer.body, &format!("error answer {}", answer.code));
    }
    // An error answer never echoes what the request carried.
    let echo = format!("echo-{marker}");
    let answer = send_signed(
        &w.server.url,
        &w.importer,
        "POST",
        "/v1/certificates",
        format!(r#"{{"entry": "{echo}"#).into_bytes(),
    )
    .await;
    assert_eq!(answer.code, "malformed_json");
    assert!(!String::from_utf8_lossy(&answer.body).contains(&echo));

    // 4. The disclosure bundle (undisclosed fields stay hidden) and the audit report.
    needles.assert_absent(
        &serde_json::to_vec(&bundle).unwrap(),
        "the disclosure bundle",
    );
    needles.assert_absent(&serde_json::to_vec(&report).unwrap(), "the audit report");

    // 5. The parties' client state directories hold no secret either (grant records are commitments).
    for party in [&w.importer, &w.cbp, &w.broker] {
        let mut files = Vec::new();
        files_under(party.home.path(), &mut files);
        for file in files {
            needles.assert_absent(&std::fs::read(&file).unwrap(), &file.display().to_string());
        }
    }

    // 6. Everything logged through tracing (server and clients, TRACE for our crates) while this ran.
    let logs = captured_logs();
    assert!(
        String::from_utf8_lossy(&logs).contains("/v1/certificates"),
        "the log capture works"
    );
    assert!(
        String::from_utf8_lossy(&logs).contains("request denied by policy"),
        "the capture includes the service's debug lines"
    );
    needles.assert_absent(&logs, "the captured logs");
}
