//! The fuzz smoke run (docs/fuzzing.md): the service's and client's fuzz corpora, regression inputs and seeded
//! mutations of them through the cargo-fuzz entry points, so `cargo test` catches a parser that panics without
//! nightly.

#[test]
fn fuzz_corpora_and_mutations_never_panic() {
    let fuzz_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    ledger::fuzz::smoke(tradeledger::fuzz::TARGETS, &fuzz_dir);
}

/// Writes the hand-made seed inputs of this crate's targets into `fuzz/corpus/` (signed with the fixed keys of
/// the harnesses, so that mutations start from inputs that verify). Run once by hand:
/// `cargo test --test fuzz_smoke -- --ignored write_seed_corpus`. Bundles and receipts from a real log are
/// made by `fuzz/seed-from-log.sh`.
#[test]
#[ignore = "writes files; run by hand when seeding a new corpus"]
#[allow(clippy::unwrap_used)]
fn write_seed_corpus() {
    use ledger::{Checkpoint, MemoryTree, leaf_hash};
    use tradeledger::fuzz::{FUZZ_PARTY, NOW, PARTY_KEY};

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = root.join("fuzz/corpus");
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = corpus.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
    };

    // httpsig: headers signed by the harness's party at its time, one per line, then the body.
    for (name, target, body) in [
        ("post", "/v1/certificates", b"{\"a\":1}".as_slice()),
        ("query", "/v1/certificates/abc/grants?x=1", b"".as_slice()),
    ] {
        let headers =
            tradeledger::httpsig::sign_request("POST", target, body, FUZZ_PARTY, &PARTY_KEY, NOW)
                .unwrap();
        let find = |n: &str| {
            headers
                .iter()
                .find(|(h, _)| h.as_str() == n)
                .unwrap()
                .1
                .clone()
        };
        let text = format!(
            "{}\n{}\n{}\n",
            find("signature-input"),
            find("signature"),
            find("content-digest")
        );
        write("httpsig", name, &[text.as_bytes(), body].concat());
    }

    // witness: add-checkpoint bodies whose note text the harness signs (first from size 0, one with a proof).
    let tree: MemoryTree = (0u8..6).map(|i| leaf_hash(&[i])).collect();
    let text = |size: u64| {
        Checkpoint {
            origin: ledger::fuzz::FUZZ_ORIGIN.to_owned(),
            size,
            root_hash: tree.root_at(size).unwrap(),
            extensions: Vec::new(),
        }
        .to_note_text()
    };
    write(
        "witness",
        "first",
        format!("old 0\n\n{}", text(3)).as_bytes(),
    );
    let proof: String = tree
        .consistency_proof(3, 6)
        .unwrap()
        .iter()
        .map(|h| format!("{}\n", base64_std(h)))
        .collect();
    write(
        "witness",
        "proof",
        format!("old 3\n{proof}\n{}", text(6)).as_bytes(),
    );

    // tilepath: each shape of path.
    for (i, path) in [
        "0/x001/x234/067",
        "1/005.p/17",
        "entries/273.p/112",
        "2/x001/000",
    ]
    .iter()
    .enumerate()
    {
        write("tilepath", &i.to_string(), path.as_bytes());
    }

    // cert: the documented examples, valid and invalid.
    for dir in ["docs/examples", "docs/examples/invalid"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = e.unwrap().path();
            if path.extension().is_some_and(|x| x == "json") {
                let name = path.file_stem().unwrap().to_string_lossy().into_owned();
                write("cert", &name, &std::fs::read(&path).unwrap());
            }
        }
    }
}

/// Standard base64 with padding, as tlog formats use it.
fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
