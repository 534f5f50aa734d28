#![allow(clippy::unwrap_used)]

use proptest::prelude::*;

use super::*;
use crate::checkpoint::sign_checkpoint;
use crate::cosignature::CosignatureSigner;
use crate::merkle::leaf_hash;
use crate::note::NoteSigner;

const ORIGIN: &str = "example.com/log";

struct Fixture {
    log: NoteSigner,
    witnesses: Vec<CosignatureSigner>,
}

fn fixture(n: usize) -> Fixture {
    Fixture {
        log: NoteSigner::generate(ORIGIN).unwrap(),
        witnesses: (0..n)
            .map(|i| CosignatureSigner::generate(&format!("w{i}.example")).unwrap())
            .collect(),
    }
}

impl Fixture {
    /// `log <vkey>`, one witness line per witness (W0, W1, ...), then `tail`.
    fn policy_text(&self, tail: &str) -> String {
        let mut text = format!("log {}\n", self.log.verifier().to_vkey());
        for (i, w) in self.witnesses.iter().enumerate() {
            text.push_str(&format!("witness W{i} {}\n", w.verifier().to_vkey()));
        }
        text + tail
    }

    fn checkpoint(&self, size: u64) -> Checkpoint {
        Checkpoint {
            origin: ORIGIN.into(),
            size,
            root_hash: leaf_hash(&size.to_be_bytes()),
            extensions: Vec::new(),
        }
    }

    /// The log-signed checkpoint with cosignatures from the witnesses at `cosigners`.
    fn note(&self, cp: &Checkpoint, cosigners: &[usize]) -> String {
        let mut note = sign_checkpoint(cp, &self.log).unwrap();
        for &i in cosigners {
            let cosig = self.witnesses[i]
                .cosign(&cp.to_note_text(), 1_700_000_000)
                .unwrap();
            note.push_str(&cosig.to_line());
        }
        note
    }
}

#[test]
fn spec_example_two_level_quorum() {
    let f = fixture(6);
    let text = f.policy_text(
        "# X are W0..W2, Y are W3..W5\n\
         group X-witnesses 2 W0 W1 W2\n\
         \tgroup Y-witnesses any W3 W4 W5  \n\
         group X-and-Y all X-witnesses Y-witnesses\n\
         quorum X-and-Y\n",
    );
    let policy = Policy::parse(text.as_bytes()).unwrap();
    assert_eq!(policy.logs().len(), 1);
    assert_eq!(policy.witnesses().len(), 6);
    let set = |on: &[usize]| (0..6).map(|i| on.contains(&i)).collect::<Vec<_>>();
    assert!(policy.quorum_met(&set(&[0, 1, 3])));
    assert!(policy.quorum_met(&set(&[0, 2, 5])));
    assert!(!policy.quorum_met(&set(&[0, 3, 4, 5])));
    assert!(!policy.quorum_met(&set(&[0, 1, 2])));
    assert!(!policy.quorum_met(&set(&[])));
}

#[test]
fn two_of_three_checkpoint_verification() {
    let f = fixture(3);
    let policy = Policy::parse(f.policy_text("group g 2 W0 W1 W2\nquorum g\n").as_bytes()).unwrap();
    let cp = f.checkpoint(42);

    assert_eq!(
        policy
            .verify_checkpoint(f.note(&cp, &[0, 2]).as_bytes())
            .unwrap(),
        cp
    );
    assert_eq!(
        policy
            .verify_checkpoint(f.note(&cp, &[2, 1, 0]).as_bytes())
            .unwrap(),
        cp
    );
    assert!(matches!(
        policy.verify_checkpoint(f.note(&cp, &[1]).as_bytes()),
        Err(Error::QuorumNotMet(1))
    ));
    // The same witness twice is still one witness.
    assert!(matches!(
        policy.verify_checkpoint(f.note(&cp, &[1, 1]).as_bytes()),
        Err(Error::QuorumNotMet(1))
    ));
    // Cosignatures from strangers do not count and are ignored.
    let mut note = f.note(&cp, &[0]);
    let stranger = CosignatureSigner::generate("w1.example").unwrap();
    note.push_str(&stranger.cosign(&cp.to_note_text(), 5).unwrap().to_line());
    assert!(matches!(
        policy.verify_checkpoint(note.as_bytes()),
        Err(Error::QuorumNotMet(1))
    ));
}

#[test]
fn cosignatures_of_another_checkpoint_are_rejected() {
    let f = fixture(3);
    let policy = Policy::parse(f.policy_text("group g 2 W0 W1 W2\nquorum g\n").as_bytes()).unwrap();
    let cp = f.checkpoint(42);
    let other = f.checkpoint(43);
    // Log signature of `cp`, cosignatures lifted from `other`.
    let mut note = sign_checkpoint(&cp, &f.log).unwrap();
    for w in &f.witnesses[..2] {
        note.push_str(&w.cosign(&other.to_note_text(), 9).unwrap().to_line());
    }
    assert!(matches!(
        policy.verify_checkpoint(note.as_bytes()),
        Err(Error::BadCosignature(_))
    ));
}

#[test]
fn the_log_signature_is_required() {
    let f = fixture(1);
    let policy = Policy::parse(f.policy_text("quorum W0\n").as_bytes()).unwrap();
    let cp = f.checkpoint(1);
    // Signed by an unknown log key.
    let impostor = NoteSigner::generate(ORIGIN).unwrap();
    let mut note = sign_checkpoint(&cp, &impostor).unwrap();
    note.push_str(
        &f.witnesses[0]
            .cosign(&cp.to_note_text(), 9)
            .unwrap()
            .to_line(),
    );
    assert!(matches!(
        policy.verify_checkpoint(note.as_bytes()),
        Err(Error::NoKnownSignature)
    ));
    // Signed by the policy's log, but for another origin than its key name.
    let foreign = Checkpoint {
        origin: "example.com/other".into(),
        ..cp
    };
    assert!(matches!(
        policy.verify_checkpoint(f.note(&foreign, &[0]).as_bytes()),
        Err(Error::UnknownLog(_))
    ));
}

#[test]
fn quorum_none_needs_only_the_log() {
    let f = fixture(0);
    let policy = Policy::parse(f.policy_text("quorum none\n").as_bytes()).unwrap();
    let cp = f.checkpoint(7);
    assert_eq!(
        policy
            .verify_checkpoint(f.note(&cp, &[]).as_bytes())
            .unwrap(),
        cp
    );
    let same = Policy::logs_only(vec![f.log.verifier()]);
    assert_eq!(same, policy);
}

#[test]
fn urls_are_kept() {
    let f = fixture(1);
    let text = format!(
        "log {} https://log.example/\nwitness W0 {} https://w0.example/\nquorum W0\n",
        f.log.verifier().to_vkey(),
        f.witnesses[0].verifier().to_vkey()
    );
    let policy = Policy::parse(text.as_bytes()).unwrap();
    assert_eq!(
        policy.logs()[0].url.as_deref(),
        Some("https://log.example/")
    );
    assert_eq!(
        policy.witnesses()[0].url.as_deref(),
        Some("https://w0.example/")
    );
}

#[test]
fn malformed_policies_name_the_line() {
    let f = fixture(3);
    let w0 = f.witnesses[0].verifier().to_vkey();
    let log = f.log.verifier().to_vkey();
    // (tail after the log line and the witness lines W0..W2 on lines 2-4, expected line, reason fragment)
    let cases: &[(String, usize, &str)] = &[
        ("frobnicate\nquorum W0\n".into(), 5, "unknown keyword"),
        ("quorum W9\n".into(), 5, "not defined"),
        ("group g 2 W0 g2\nquorum g\n".into(), 5, "not defined"),
        ("group g 0 W0 W1\nquorum g\n".into(), 5, "threshold 0"),
        ("group g 3 W0 W1\nquorum g\n".into(), 5, "threshold 3"),
        ("group g -1 W0\nquorum g\n".into(), 5, "threshold"),
        ("group g any W0 W0\nquorum g\n".into(), 5, "twice"),
        ("group g any\nquorum g\n".into(), 5, "no members"),
        ("group W1 any W0\nquorum W1\n".into(), 5, "already defined"),
        ("group none any W0\nquorum W0\n".into(), 5, "reserved"),
        ("group g any W0 none\nquorum g\n".into(), 5, "not defined"),
        ("quorum W0\nquorum W1\n".into(), 6, "second quorum"),
        ("quorum W0 W1\n".into(), 5, "unexpected text"),
        ("quorum\n".into(), 5, "needs a name"),
        ("".into(), 0, "no quorum"),
        (
            format!("witness W5 {w0}\nquorum W0\n"),
            5,
            "duplicate witness key",
        ),
        (format!("log {log}\nquorum W0\n"), 5, "duplicate log key"),
        (format!("witness W5 {log}\nquorum W0\n"), 5, "witness vkey"),
        (format!("log {w0}\nquorum W0\n"), 5, "log vkey"),
        ("witness W5 nonsense\nquorum W0\n".into(), 5, "witness vkey"),
        (
            format!("witness W5 {w0} url extra\nquorum W0\n"),
            5,
            "after the URL",
        ),
        ("quorum W0\u{7}\n".into(), 5, "control character"),
    ];
    for (tail, line, reason) in cases {
        let text = f.policy_text(tail);
        match Policy::parse(text.as_bytes()) {
            Err(Error::Policy { line: l, reason: r }) => {
                assert_eq!(l, *line, "{tail:?}: {r}");
                assert!(r.contains(reason), "{tail:?}: {r}");
                // The message is what an operator reads.
                let shown = Error::Policy { line: l, reason: r }.to_string();
                assert!(
                    shown.starts_with(&format!("policy line {line}: ")),
                    "{shown}"
                );
            }
            other => panic!("{tail:?}: expected a policy error, got {other:?}"),
        }
    }
}

#[test]
fn opaque_non_ascii_names_are_allowed() {
    let f = fixture(1);
    let mut text =
        format!("witness \u{212a} {}\n", f.witnesses[0].verifier().to_vkey()).into_bytes();
    text.extend_from_slice(b"group \xff\xfe any \xe2\x84\xaa\nquorum \xff\xfe\n");
    let policy = Policy::parse(&text).unwrap();
    assert!(policy.quorum_met(&[true]));
    assert!(!policy.quorum_met(&[false]));
    // "K" (ASCII) is a different name from the Kelvin sign.
    assert!(Policy::parse(b"quorum K\n").is_err());
}

proptest! {
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Policy::parse(&bytes);
    }

    #[test]
    fn k_of_n_counts_exactly(n in 1usize..6, k_seed: usize, on in proptest::collection::vec(any::<bool>(), 6)) {
        let k = k_seed % n + 1;
        let f = fixture(n);
        let members: Vec<String> = (0..n).map(|i| format!("W{i}")).collect();
        let text = f.policy_text(&format!("group g {k} {}\nquorum g\n", members.join(" ")));
        let policy = Policy::parse(text.as_bytes()).unwrap();
        let on = &on[..n];
        prop_assert_eq!(policy.quorum_met(on), on.iter().filter(|b| **b).count() >= k);
    }
}
