//! The fuzz smoke run (docs/fuzzing.md): this crate's fuzz corpora, regression inputs and seeded mutations of
//! them through the cargo-fuzz entry points, so `cargo test` catches a parser that panics without nightly.

#[test]
fn fuzz_corpora_and_mutations_never_panic() {
    let fuzz_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    ledger::fuzz::smoke(ledger::fuzz::TARGETS, &fuzz_dir);
}

/// Writes the hand-made seed inputs of this crate's targets into `fuzz/corpus/` (signed with the fixed keys of
/// `ledger::fuzz`, so that mutations start from inputs that verify). Run once by hand:
/// `cargo test -p ledger --test fuzz_smoke -- --ignored write_seed_corpus`.
#[test]
#[ignore = "writes files; run by hand when seeding a new corpus"]
#[allow(clippy::unwrap_used)]
fn write_seed_corpus() {
    use ledger::{
        Checkpoint, ConsistencyExtension, MemoryTree, TlogProof, encode_bundle, leaf_hash,
        sign_checkpoint,
    };

    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = corpus.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
    };
    let log = ledger::fuzz::fuzz_log_signer();
    let vkey = log.verifier().to_vkey();
    let witness = ledger::fuzz::fuzz_witness_signer();
    let tree: MemoryTree = (0u8..7).map(|i| leaf_hash(&[i])).collect();
    let checkpoint = |size: u64| Checkpoint {
        origin: ledger::fuzz::FUZZ_ORIGIN.to_owned(),
        size,
        root_hash: tree.root_at(size).unwrap(),
        extensions: Vec::new(),
    };
    let cosigned = |size: u64| {
        let cp = checkpoint(size);
        let mut note = sign_checkpoint(&cp, log).unwrap();
        note.push_str(
            &witness
                .cosign(&cp.to_note_text(), 1_700_000_000)
                .unwrap()
                .to_line(),
        );
        note
    };

    // note: a checkpoint under its vkey, bare text, a signer key and a vkey.
    write(
        "note",
        "checkpoint",
        format!("{vkey}\n{}", cosigned(7)).as_bytes(),
    );
    write("note", "text", checkpoint(3).to_note_text().as_bytes());
    write("note", "vkey", vkey.as_bytes());

    // tlog_proof: a receipt (leaf 2 is the hash of its `extra` bytes) and a consistency extension.
    let proof = TlogProof {
        extra: Some(vec![2]),
        index: 2,
        inclusion: tree.inclusion_proof(2, 5).unwrap(),
        checkpoint: cosigned(5),
    };
    let ext = ConsistencyExtension {
        old_size: 5,
        proof: tree.consistency_proof(5, 7).unwrap(),
        checkpoint: cosigned(7),
    };
    write(
        "tlog_proof",
        "receipt",
        format!("{vkey}\n{}", proof.to_text()).as_bytes(),
    );
    write(
        "tlog_proof",
        "refreshed",
        format!("{vkey}\n{}\n{}", proof.to_text(), ext.to_text()).as_bytes(),
    );

    // proofs: index 2 of 5 (root, then its leaf as "old root", then the proof), and 5 → 7.
    let mut bytes = [2u64, 5, 5, 7].map(u64::to_be_bytes).concat();
    bytes.extend_from_slice(&tree.root_at(5).unwrap());
    bytes.extend_from_slice(&leaf_hash(&[2]));
    bytes.extend(tree.inclusion_proof(2, 5).unwrap().concat());
    write("proofs", "inclusion", &bytes);

    // cosignature: a line, a vkey, a timestamp and checkpoint text.
    let cp = checkpoint(4).to_note_text();
    write(
        "cosignature",
        "line",
        witness.cosign(&cp, 1).unwrap().to_line().as_bytes(),
    );
    write(
        "cosignature",
        "vkey",
        witness.verifier().to_vkey().as_bytes(),
    );
    write(
        "cosignature",
        "text",
        &[&7u64.to_be_bytes()[..], cp.as_bytes()].concat(),
    );

    // policy: one log, two witnesses, groups and a quorum.
    let second = ledger::CosignatureSigner::from_key(
        "w1.example",
        ed25519_dalek::SigningKey::from_bytes(&[0x46; 32]),
    )
    .unwrap();
    let policy = format!(
        "# a policy\nlog {vkey} https://log.example/\nwitness W0 {}\nwitness W1 {} https://w1.example/\n\
         group G any W0 W1\ngroup H 2 G W0\nquorum H\n",
        witness.verifier().to_vkey(),
        second.verifier().to_vkey()
    );
    write("policy", "groups", policy.as_bytes());
    write(
        "policy",
        "none",
        format!("log {vkey}\nquorum none\n").as_bytes(),
    );

    // entry: a bundle of two short entries (real entries come from a running log: docs/fuzzing.md).
    write(
        "entry",
        "bundle",
        &encode_bundle(&[b"ab".as_slice(), b"c"]).unwrap(),
    );
}
