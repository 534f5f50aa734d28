//! Fuzzing entry points: one function per parser of untrusted bytes, shared by the cargo-fuzz targets in
//! `fuzz/` and the smoke test that replays their corpora in `cargo test` (docs/fuzzing.md).
//!
//! Each function must never panic on any input; a panic here is a bug in the parser it drives. Where it is cheap,
//! they also check an invariant (a canonical encoding, or decode → encode → decode giving the same value), and
//! those checks panic on purpose so that the fuzzer reports them.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::LazyLock;

use ed25519_dalek::SigningKey;

use crate::{
    Checkpoint, ConsistencyExtension, Cosignature, CosignatureSigner, CosignatureVerifier, Entry,
    NoteSigner, NoteVerifier, Policy, SignedEntry, TlogProof, decode_bundle, encode_bundle,
    leaf_hash, open_checkpoint, open_note, sign_note, verify_consistency, verify_inclusion,
};

mod smoke;
pub use smoke::smoke;

/// A fuzz target: its name (the directory of its corpus under `fuzz/corpus/`) and its entry point.
pub type Target = (&'static str, fn(&[u8]));

/// Every target of this crate.
pub const TARGETS: &[Target] = &[
    ("entry", entry),
    ("note", note),
    ("tlog_proof", tlog_proof),
    ("proofs", proofs),
    ("cosignature", cosignature),
    ("policy", policy),
];

/// The origin and key the fuzz harnesses sign with: fixed, so that corpora stay meaningful across runs.
pub const FUZZ_ORIGIN: &str = "fuzz.example/log";
static LOG_SIGNER: LazyLock<NoteSigner> = LazyLock::new(|| {
    NoteSigner::from_key(FUZZ_ORIGIN, SigningKey::from_bytes(&[0x42; 32])).unwrap()
});
static WITNESS_SIGNER: LazyLock<CosignatureSigner> = LazyLock::new(|| {
    CosignatureSigner::from_key("fuzz.example/witness", SigningKey::from_bytes(&[0x43; 32]))
        .unwrap()
});

/// The fixed log signer of the harnesses (also used by the tradeledger crate's witness harness).
pub fn fuzz_log_signer() -> &'static NoteSigner {
    &LOG_SIGNER
}

/// The fixed witness signer of the harnesses.
pub fn fuzz_witness_signer() -> &'static CosignatureSigner {
    &WITNESS_SIGNER
}

/// Splits `<first line>\n<rest>`; harnesses whose parser needs a key read it from the first line.
fn first_line(data: &[u8]) -> Option<(&str, &[u8])> {
    let at = data.iter().position(|b| *b == b'\n')?;
    let line = std::str::from_utf8(data.get(..at)?).ok()?;
    Some((line, data.get(at + 1..)?))
}

/// `SignedEntry::decode` (entries come from clients and from the log's tiles) and `decode_bundle`.
///
/// Invariants: the encoding is canonical (an accepted entry re-encodes to exactly the input, so one signed
/// entry has one leaf hash), and a decoded bundle re-encodes to the input.
pub fn entry(data: &[u8]) {
    if let Ok(signed) = SignedEntry::decode(data) {
        assert_eq!(signed.encode(), data, "entry encoding is not canonical");
        let _ = signed.entry().verify_rotation_consent();
        let _ = (signed.entry().cert_id(), signed.entry().time_ms());
        let _ = signed.verify(&LOG_SIGNER.signing_key().verifying_key());
        // A decoded entry signs again (no limit the decoder let through is refused by the encoder).
        let resigned = SignedEntry::sign(
            signed.entry().clone(),
            signed.signer().clone(),
            LOG_SIGNER.signing_key(),
        )
        .unwrap();
        resigned
            .verify(&LOG_SIGNER.signing_key().verifying_key())
            .unwrap();
        let _: &Entry = resigned.entry();
    }
    if let Ok(entries) = decode_bundle(data) {
        assert_eq!(encode_bundle(&entries).unwrap(), data, "bundle round trip");
        for e in &entries {
            let _ = SignedEntry::decode(e);
        }
    }
}

/// Signed notes and checkpoints: `open_note`, `Checkpoint::parse`, `open_checkpoint`, vkey and signer-key texts.
///
/// The first line is a vkey to open the rest under (so corpus notes from a real log verify); whatever it is,
/// the rest is also opened under the fixed key, and, if it is valid note text, signed with the fixed key and
/// opened again, which must give back the same text.
pub fn note(data: &[u8]) {
    let _ = open_note(data, &[LOG_SIGNER.verifier()]);
    if let Some((vkey, rest)) = first_line(data)
        && let Ok(verifier) = NoteVerifier::from_vkey(vkey)
    {
        assert_eq!(
            NoteVerifier::from_vkey(&verifier.to_vkey())
                .unwrap()
                .to_vkey(),
            verifier.to_vkey()
        );
        if let Ok(note) = open_note(rest, std::slice::from_ref(&verifier)) {
            let _ = Checkpoint::parse(&note.text);
        }
        let _ = open_checkpoint(rest, verifier.name(), &verifier);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = NoteSigner::from_signer_key(text);
    if let Ok(cp) = Checkpoint::parse(text) {
        assert_eq!(cp.to_note_text(), text, "checkpoint text is not canonical");
    }
    if let Ok(signed) = sign_note(text, &[&LOG_SIGNER]) {
        let opened = open_note(signed.as_bytes(), &[LOG_SIGNER.verifier()]).unwrap();
        assert_eq!(opened.text, text, "a signed note opens to its text");
        if let Ok(cp) = Checkpoint::parse(text) {
            let opened = open_checkpoint(signed.as_bytes(), &cp.origin, &LOG_SIGNER.verifier());
            assert_eq!(opened.ok(), Some(cp));
        }
    }
}

/// tlog-proof receipts and consistency extensions: parse, canonical text, verify. The first line is the log's
/// vkey (see [`note`]); a receipt's leaf is the hash of its `extra` bytes, as tradeledger's receipts carry them.
pub fn tlog_proof(data: &[u8]) {
    let (verifier, rest) = match first_line(data) {
        Some((vkey, rest)) => match NoteVerifier::from_vkey(vkey) {
            Ok(v) => (v, rest),
            Err(_) => (LOG_SIGNER.verifier(), data),
        },
        None => (LOG_SIGNER.verifier(), data),
    };
    let policy = Policy::logs_only(vec![verifier]);
    if let Ok(proof) = TlogProof::parse(rest) {
        assert_eq!(proof.to_text().as_bytes(), rest, "tlog-proof round trip");
        let leaf = leaf_hash(proof.extra.as_deref().unwrap_or_default());
        let _ = proof.verify(&leaf, &policy);
    }
    if let Ok(ext) = ConsistencyExtension::parse(rest) {
        assert_eq!(ext.to_text().as_bytes(), rest, "extension round trip");
        let _ = policy.verify_checkpoint(ext.checkpoint.as_bytes());
    }
    // A receipt followed by an extension, split where tradeledger's receipt files join them.
    let separator = b"\n\ntradeledger/tlog-consistency@v1\n";
    if let Some(at) = rest.windows(separator.len()).position(|w| w == separator)
        && let (Some(head), Some(tail)) = (rest.get(..=at), rest.get(at + 2..))
        && let (Ok(proof), Ok(ext)) = (TlogProof::parse(head), ConsistencyExtension::parse(tail))
    {
        let leaf = leaf_hash(proof.extra.as_deref().unwrap_or_default());
        let _ = ext.verify(&proof, &leaf, &policy);
    }
}

/// Reads a big-endian u64 at `at`, or 0 past the end.
fn u64_at(data: &[u8], at: usize) -> u64 {
    data.get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_be_bytes)
}

/// RFC 9162 proof verification with attacker-chosen indices, sizes and proof hashes (as a log or a witness
/// client receives them): 4 × u64 (index, size, old, new) then 32-byte hashes (root, old root, proof...).
pub fn proofs(data: &[u8]) {
    let (index, size, old, new) = (
        u64_at(data, 0),
        u64_at(data, 8),
        u64_at(data, 16),
        u64_at(data, 24),
    );
    let hashes: Vec<&[u8]> = data.get(32..).unwrap_or_default().chunks(32).collect();
    let root = hashes.first().copied().unwrap_or(&[0; 32]);
    let old_root = hashes.get(1).copied().unwrap_or(&[0; 32]);
    let proof = hashes.get(2..).unwrap_or_default();
    let _ = verify_inclusion(root, index, size, proof, root);
    let _ = verify_inclusion(old_root, index, size, proof, root);
    let _ = verify_consistency(old, new, proof, old_root, root);
    let _ = verify_consistency(size, new, proof, root, old_root);
}

/// Cosignature lines and witness vkeys, and the cosign → verify round trip over arbitrary checkpoint text with
/// the first 8 bytes as the timestamp.
pub fn cosignature(data: &[u8]) {
    let witness = WITNESS_SIGNER.verifier();
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(cosig) = Cosignature::parse_line(text) {
            assert_eq!(Cosignature::parse_line(&cosig.to_line()).unwrap(), cosig);
            let _ = witness.verify("fuzz.example/log\n1\n", &cosig);
        }
        if let Ok(verifier) = CosignatureVerifier::from_vkey(text) {
            let again = CosignatureVerifier::from_vkey(&verifier.to_vkey()).unwrap();
            assert_eq!(again.to_vkey(), verifier.to_vkey());
        }
        let _ = CosignatureSigner::from_signer_key(text);
    }
    let timestamp = u64_at(data, 0);
    if let Some(Ok(text)) = data.get(8..).map(std::str::from_utf8)
        && let Ok(cosig) = WITNESS_SIGNER.cosign(text, timestamp)
    {
        witness.verify(text, &cosig).unwrap();
        assert_eq!(Cosignature::parse_line(&cosig.to_line()).unwrap(), cosig);
    }
}

/// Witness policy files (C2SP tlog-policy), and a checkpoint signed by the fixed log key checked under them.
pub fn policy(data: &[u8]) {
    static NOTE: LazyLock<String> = LazyLock::new(|| {
        let cp = Checkpoint {
            origin: FUZZ_ORIGIN.to_owned(),
            size: 1,
            root_hash: leaf_hash(b""),
            extensions: Vec::new(),
        };
        crate::sign_checkpoint(&cp, &LOG_SIGNER).unwrap()
    });
    if let Ok(policy) = Policy::parse(data) {
        let _ = policy.verify_checkpoint(NOTE.as_bytes());
        let n = policy.witnesses().len();
        let _ = (policy.quorum_met(&vec![true; n]), policy.quorum_met(&[]));
    }
}
