#![allow(clippy::unwrap_used)]

use ledger::{MemoryTree, NoteSigner, leaf_hash, sign_checkpoint};

use super::*;
use crate::witness::MemoryWitnessStore;

const ORIGIN: &str = "example.com/log";

struct Fixture {
    log: NoteSigner,
    tree: MemoryTree,
    store: Arc<MemoryWitnessStore>,
    witness: Witness,
}

fn fixture() -> Fixture {
    let log = NoteSigner::generate(ORIGIN).unwrap();
    let store = Arc::new(MemoryWitnessStore::new());
    let witness = Witness::open(
        CosignatureSigner::generate("w.example").unwrap(),
        vec![log.verifier()],
        store.clone(),
    )
    .unwrap();
    Fixture {
        log,
        tree: MemoryTree::new(),
        store,
        witness,
    }
}

impl Fixture {
    fn grow(&mut self, n: u64) {
        for _ in 0..n {
            let i = self.tree.size();
            self.tree.push(leaf_hash(&i.to_be_bytes()));
        }
    }

    fn note(&self) -> String {
        let cp = Checkpoint {
            origin: ORIGIN.into(),
            size: self.tree.size(),
            root_hash: self.tree.root(),
            extensions: Vec::new(),
        };
        sign_checkpoint(&cp, &self.log).unwrap()
    }

    fn body(&self, old: u64, proof: &[Hash], note: &str) -> Vec<u8> {
        let mut body = format!("old {old}\n");
        for h in proof {
            body.push_str(&BASE64.encode(h));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(note);
        body.into_bytes()
    }

    /// Submits the current tree from `old` with a correct proof.
    fn submit(&self, old: u64) -> Result<String, Refusal> {
        let size = self.tree.size();
        let proof = if old == 0 || old == size {
            Vec::new()
        } else {
            self.tree.consistency_proof(old, size).unwrap()
        };
        self.witness
            .add_checkpoint(&self.body(old, &proof, &self.note()))
    }
}

#[test]
fn cosigns_a_growing_log() {
    let mut f = fixture();
    f.grow(5);
    let line = f.submit(0).unwrap();
    let cosig = Cosignature::parse_line(&line).unwrap();
    let note = f.note();
    let text = note.split_at(note.rfind("\n\n").unwrap() + 1).0;
    f.witness.verifier().verify(text, &cosig).unwrap();
    assert_ne!(cosig.timestamp, 0);
    assert_eq!(f.witness.latest_size(ORIGIN), Some(5));

    f.grow(8);
    f.submit(5).unwrap();
    // Resubmitting the same checkpoint is fine (same size, same root).
    f.submit(13).unwrap();
    assert_eq!(f.witness.latest_size(ORIGIN), Some(13));

    // The monitoring view carries the log signature and the cosignature.
    let stored = f
        .witness
        .latest_by_origin_hash(&origin_hash(ORIGIN))
        .unwrap();
    assert!(stored.starts_with(&f.note()));
    assert_eq!(
        stored.lines().filter(|l| l.starts_with('\u{2014}')).count(),
        2
    );
    assert_eq!(f.witness.latest_by_origin_hash(&origin_hash("other")), None);
}

#[test]
fn status_codes_follow_the_spec() {
    let mut f = fixture();
    f.grow(4);
    f.submit(0).unwrap();
    f.grow(4);
    let note = f.note();
    let proof = f.tree.consistency_proof(4, 8).unwrap();

    // 409 with the witness's size when the old size is stale or ahead.
    assert_eq!(f.submit(0), Err(Refusal::Conflict(4)));
    assert_eq!(f.submit(3), Err(Refusal::Conflict(4)));
    // 400: old size larger than the checkpoint; malformed bodies.
    assert!(matches!(
        f.witness.add_checkpoint(&f.body(9, &[], &note)),
        Err(Refusal::BadRequest(_))
    ));
    for body in [
        &b""[..],
        b"old 4",
        b"old 04\n\n",
        b"old x\n\n",
        b"new 4\n\n",
        b"old 4\nnot-base64\n\n",
        b"old 4\nAAAA\n\n",
    ] {
        assert!(
            matches!(f.witness.add_checkpoint(body), Err(Refusal::BadRequest(_))),
            "{body:?}"
        );
    }
    let too_long = f.body(4, &vec![[0u8; 32]; 64], &note);
    assert!(matches!(
        f.witness.add_checkpoint(&too_long),
        Err(Refusal::BadRequest(_))
    ));
    // 422: bad proof, tampered proof, missing proof.
    let mut bad_proof = proof.clone();
    bad_proof[0][0] ^= 1;
    assert_eq!(
        f.witness.add_checkpoint(&f.body(4, &bad_proof, &note)),
        Err(Refusal::Unprocessable("consistency proof does not verify"))
    );
    assert!(matches!(
        f.witness.add_checkpoint(&f.body(4, &[], &note)),
        Err(Refusal::Unprocessable(_))
    ));
    // 404: unknown origin.
    let stranger = NoteSigner::generate("example.com/other").unwrap();
    let cp = Checkpoint::parse(note.split_at(note.rfind("\n\n").unwrap() + 1).0).unwrap();
    let foreign = sign_checkpoint(
        &Checkpoint {
            origin: "example.com/other".into(),
            ..cp.clone()
        },
        &stranger,
    )
    .unwrap();
    assert_eq!(
        f.witness.add_checkpoint(&f.body(4, &proof, &foreign)),
        Err(Refusal::UnknownLog)
    );
    // 403: signed by an unknown key for the right origin, or a forged signature by the known key.
    let impostor = NoteSigner::generate(ORIGIN).unwrap();
    let forged = sign_checkpoint(&cp, &impostor).unwrap();
    assert!(matches!(
        f.witness.add_checkpoint(&f.body(4, &proof, &forged)),
        Err(Refusal::Forbidden(_))
    ));
    let other_cp = Checkpoint {
        size: 9,
        ..cp.clone()
    };
    let good_sig = f.note().lines().last().unwrap().to_owned();
    let spliced = format!("{}\n{good_sig}\n", other_cp.to_note_text());
    assert!(matches!(
        f.witness.add_checkpoint(&f.body(4, &proof, &spliced)),
        Err(Refusal::Forbidden(_))
    ));

    // None of that moved the witness.
    assert_eq!(f.witness.latest_size(ORIGIN), Some(4));
    f.witness.add_checkpoint(&f.body(4, &proof, &note)).unwrap();
    assert_eq!(f.witness.latest_size(ORIGIN), Some(8));
}

#[test]
fn same_size_different_root_is_refused() {
    let mut f = fixture();
    f.grow(3);
    f.submit(0).unwrap();
    let mut fork = MemoryTree::new();
    for i in 0..3u64 {
        fork.push(leaf_hash(&(i + 100).to_be_bytes()));
    }
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size: 3,
        root_hash: fork.root(),
        extensions: Vec::new(),
    };
    let note = sign_checkpoint(&cp, &f.log).unwrap();
    assert_eq!(
        f.witness.add_checkpoint(&f.body(3, &[], &note)),
        Err(Refusal::Unprocessable("same size, different root"))
    );
}

#[test]
fn empty_trees_and_proofs_from_zero() {
    let mut f = fixture();
    f.submit(0).unwrap(); // the empty tree
    let bogus = Checkpoint {
        origin: ORIGIN.into(),
        size: 0,
        root_hash: [1; 32],
        extensions: Vec::new(),
    };
    let note = sign_checkpoint(&bogus, &f.log).unwrap();
    assert!(matches!(
        f.witness.add_checkpoint(&f.body(0, &[], &note)),
        Err(Refusal::Unprocessable(_))
    ));
    f.grow(2);
    let note = f.note();
    assert!(matches!(
        f.witness.add_checkpoint(&f.body(0, &[[0; 32]], &note)),
        Err(Refusal::Unprocessable(_))
    ));
    f.submit(0).unwrap();
}

#[test]
fn a_failed_save_cosigns_nothing_and_changes_nothing() {
    let mut f = fixture();
    f.grow(2);
    f.submit(0).unwrap();
    f.grow(2);
    f.store.fail_saves(true);
    assert_eq!(f.submit(2), Err(Refusal::Internal));
    assert_eq!(f.witness.latest_size(ORIGIN), Some(2));
    f.store.fail_saves(false);
    f.submit(2).unwrap();
    assert_eq!(f.witness.latest_size(ORIGIN), Some(4));
}

#[test]
fn reopening_resumes_and_refuses_tampered_state() {
    let mut f = fixture();
    f.grow(6);
    f.submit(0).unwrap();
    let signer_key = CosignatureSigner::generate("w2.example").unwrap();
    // A different witness key cannot adopt this state: its own cosignature is missing.
    assert!(Witness::open(signer_key, vec![f.log.verifier()], f.store.clone()).is_err());

    let stored = f.store.load(ORIGIN).unwrap().unwrap();
    f.store
        .save(ORIGIN, &stored.replace("\n6\n", "\n7\n"))
        .unwrap();
    let again = CosignatureSigner::generate("w.example").unwrap();
    assert!(Witness::open(again, vec![f.log.verifier()], f.store.clone()).is_err());
}
