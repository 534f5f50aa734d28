//! End to end through the public API: a log, three witnesses, a 2-of-3 policy file, receipts verified offline
//! and carried forward to a newer checkpoint.
#![allow(clippy::unwrap_used)]

use ledger::{
    Checkpoint, ConsistencyExtension, CosignatureSigner, Error, MemoryTree, NoteSigner, Policy,
    TlogProof, leaf_hash, sign_checkpoint, verify_tlog_proof,
};

const ORIGIN: &str = "tradeledger.example/log";

struct World {
    log: NoteSigner,
    witnesses: Vec<CosignatureSigner>,
    tree: MemoryTree,
    policy: Policy,
}

fn world() -> World {
    let log = NoteSigner::generate(ORIGIN).unwrap();
    let witnesses: Vec<_> = (1..=3)
        .map(|i| CosignatureSigner::generate(&format!("witness{i}.example")).unwrap())
        .collect();
    let mut text = format!(
        "# trade ledger\nlog {} https://log.example/\n",
        log.verifier().to_vkey()
    );
    for (i, w) in witnesses.iter().enumerate() {
        text.push_str(&format!("witness w{i} {}\n", w.verifier().to_vkey()));
    }
    text.push_str("group all-witnesses 2 w0 w1 w2\nquorum all-witnesses\n");
    let policy = Policy::parse(text.as_bytes()).unwrap();
    World {
        log,
        witnesses,
        tree: MemoryTree::new(),
        policy,
    }
}

impl World {
    fn append(&mut self, n: u64) {
        for _ in 0..n {
            let i = self.tree.size();
            self.tree.push(leaf_hash(format!("entry {i}").as_bytes()));
        }
    }

    /// The current checkpoint, signed by the log and cosigned by the witnesses at `cosigners`.
    fn checkpoint_note(&self, cosigners: &[usize]) -> String {
        let cp = Checkpoint {
            origin: ORIGIN.into(),
            size: self.tree.size(),
            root_hash: self.tree.root(),
            extensions: Vec::new(),
        };
        let mut note = sign_checkpoint(&cp, &self.log).unwrap();
        for &i in cosigners {
            note.push_str(
                &self.witnesses[i]
                    .cosign(&cp.to_note_text(), 1_763_700_000)
                    .unwrap()
                    .to_line(),
            );
        }
        note
    }

    fn receipt(&self, index: u64, cosigners: &[usize]) -> TlogProof {
        TlogProof {
            extra: None,
            index,
            inclusion: self.tree.inclusion_proof(index, self.tree.size()).unwrap(),
            checkpoint: self.checkpoint_note(cosigners),
        }
    }
}

#[test]
fn receipts_verify_offline_with_a_quorum() {
    let mut w = world();
    w.append(13);
    for index in [0, 5, 12] {
        let text = w.receipt(index, &[0, 2]).to_text();
        let leaf = leaf_hash(format!("entry {index}").as_bytes());
        let cp = verify_tlog_proof(text.as_bytes(), &leaf, &w.policy).unwrap();
        assert_eq!((cp.size, cp.root_hash), (13, w.tree.root()));
    }
}

#[test]
fn receipts_without_a_quorum_or_for_another_leaf_fail() {
    let mut w = world();
    w.append(7);
    let leaf = leaf_hash(b"entry 3");
    let lonely = w.receipt(3, &[1]).to_text();
    assert!(matches!(
        verify_tlog_proof(lonely.as_bytes(), &leaf, &w.policy),
        Err(Error::QuorumNotMet(1))
    ));
    let good = w.receipt(3, &[0, 1]);
    assert!(matches!(
        good.verify(&leaf_hash(b"entry 4"), &w.policy),
        Err(Error::RootMismatch)
    ));
    let moved = TlogProof {
        index: 4,
        ..good.clone()
    };
    assert!(moved.verify(&leaf, &w.policy).is_err());
    let mut truncated = good;
    truncated.inclusion.pop();
    assert!(truncated.verify(&leaf, &w.policy).is_err());
}

#[test]
fn receipts_carry_forward_to_newer_checkpoints() {
    let mut w = world();
    w.append(6);
    let receipt = w.receipt(2, &[0, 1]);
    let leaf = leaf_hash(b"entry 2");
    w.append(11);
    let ext = ConsistencyExtension {
        old_size: 6,
        proof: w.tree.consistency_proof(6, 17).unwrap(),
        checkpoint: w.checkpoint_note(&[1, 2]),
    };
    let ext = ConsistencyExtension::parse(ext.to_text().as_bytes()).unwrap();
    let newer = ext.verify(&receipt, &leaf, &w.policy).unwrap();
    assert_eq!((newer.size, newer.root_hash), (17, w.tree.root()));

    // The newer checkpoint needs its own quorum.
    let weak = ConsistencyExtension {
        checkpoint: w.checkpoint_note(&[2]),
        ..ext.clone()
    };
    assert!(matches!(
        weak.verify(&receipt, &leaf, &w.policy),
        Err(Error::QuorumNotMet(1))
    ));

    // A log that rewrote entry 3 and signs a larger tree cannot link it to the receipt, however cosigned.
    let mut fork = world();
    fork.log = w.log;
    fork.witnesses = w.witnesses;
    fork.append(3);
    fork.tree.push(leaf_hash(b"rewritten"));
    fork.append(13);
    let forked = ConsistencyExtension {
        old_size: 6,
        proof: fork.tree.consistency_proof(6, 17).unwrap(),
        checkpoint: fork.checkpoint_note(&[0, 1, 2]),
    };
    assert!(matches!(
        forked.verify(&receipt, &leaf, &w.policy),
        Err(Error::RootMismatch)
    ));
}
