//! Signed-note tests: round trips, every format rule, and no panics on hostile input.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;

use super::*;

fn signer(name: &str, seed: u8) -> NoteSigner {
    NoteSigner::from_key(name, SigningKey::from_bytes(&[seed; 32])).unwrap()
}

#[test]
fn sign_then_open_round_trips() {
    let a = signer("example.com/a", 1);
    let b = NoteSigner::generate("example.com/b").unwrap();
    let note = sign_note("hello\n\nworld\n", &[&a, &b]).unwrap();
    let opened = open_note(note.as_bytes(), &[a.verifier()]).unwrap();
    assert_eq!(opened.text, "hello\n\nworld\n");
    assert_eq!(opened.verified.len(), 1);
    assert_eq!(opened.verified[0].name, "example.com/a");
    assert_eq!(opened.verified[0].key_id, a.key_id());
    assert_eq!(opened.unknown.len(), 1);
    assert_eq!(opened.unknown[0].key_id, b.key_id());

    let both = open_note(note.as_bytes(), &[a.verifier(), b.verifier()]).unwrap();
    assert_eq!(both.verified.len(), 2);
    assert!(both.unknown.is_empty());
}

#[test]
fn keys_round_trip_through_text() {
    let s = NoteSigner::generate("example.com/log").unwrap();
    let again = NoteSigner::from_signer_key(&s.to_signer_key()).unwrap();
    assert_eq!(again.verifier(), s.verifier());
    let v = NoteVerifier::from_vkey(&s.verifier().to_vkey()).unwrap();
    assert_eq!(v, s.verifier());
    assert_eq!(v.signature_type(), 0x01);
    assert!(
        s.verifier()
            .to_vkey()
            .starts_with(&format!("example.com/log+{:08x}+", s.key_id()))
    );
    // Base64 may contain '+', the separator: keys must still parse.
    let mut saw_plus = false;
    for seed in 0..64 {
        let s = signer("example.com/log", seed);
        let (vkey, skey) = (s.verifier().to_vkey(), s.to_signer_key());
        saw_plus |= vkey.matches('+').count() > 2 || skey.matches('+').count() > 4;
        assert_eq!(NoteVerifier::from_vkey(&vkey).unwrap(), s.verifier());
        assert_eq!(
            NoteSigner::from_signer_key(&skey).unwrap().verifier(),
            s.verifier()
        );
    }
    assert!(saw_plus);
}

#[test]
fn malformed_keys_are_rejected() {
    let s = signer("example.com/k", 2);
    let vkey = s.verifier().to_vkey();
    let skey = s.to_signer_key().to_string();
    let (name, rest) = vkey.split_once('+').unwrap();
    let (id, b64) = rest.split_once('+').unwrap();
    let bad_vkeys = [
        String::new(),
        "example.com/k".into(),
        format!("+{id}+{b64}"),
        format!("{name} x+{id}+{b64}"),
        format!("{name}+{}+{b64}", id.to_uppercase()),
        format!("{name}+00000000+{b64}"),
        format!("{name}+{id}+{}", &b64[..b64.len() - 4]),
        format!("{name}+{id}+AQ=="),
        format!("{name}+{id}+!!!!"),
        format!("other+{id}+{b64}"),
        format!("{name}+{id}+{}", BASE64.encode([0x04; 33])),
    ];
    for bad in bad_vkeys {
        assert!(
            matches!(NoteVerifier::from_vkey(&bad), Err(Error::MalformedKey(_))),
            "{bad}"
        );
    }
    let bad_skeys = [
        skey.replace("PRIVATE+KEY+", ""),
        skey.replace("example.com/k", "example.com/x"),
        skey.replacen('+', "-", 3),
        "PRIVATE+KEY+a+00000000+".into(),
    ];
    for bad in bad_skeys {
        assert!(NoteSigner::from_signer_key(&bad).is_err());
    }
    assert!(NoteSigner::generate("has space").is_err());
    assert!(NoteSigner::generate("has+plus").is_err());
    assert!(NoteSigner::generate("").is_err());
}

#[test]
fn format_rules_are_enforced() {
    let a = signer("example.com/a", 1);
    let v = [a.verifier()];
    let good = sign_note("text\n", &[&a]).unwrap();
    assert!(open_note(good.as_bytes(), &v).is_ok());

    assert!(matches!(
        sign_note("no newline", &[&a]),
        Err(Error::MalformedNote(_))
    ));
    assert!(matches!(
        sign_note("tab\there\n", &[&a]),
        Err(Error::MalformedNote(_))
    ));
    assert!(matches!(
        sign_note("x\n", &[]),
        Err(Error::MalformedNote(_))
    ));

    let sig_line = good.strip_prefix("text\n\n").unwrap();
    let cases: Vec<(String, &str)> = vec![
        (good.trim_end_matches('\n').to_owned(), "no final newline"),
        (good.replace("\n\n", "\n"), "no blank line"),
        (format!("{good}\n"), "trailing blank line"),
        (good.replace('\u{2014}', "-"), "hyphen instead of em dash"),
        (
            good.replace("\u{2014} ", "\u{2014}"),
            "no space after em dash",
        ),
        (
            good.replace("example.com/a ", "example.com/a  "),
            "double space",
        ),
        (good.replace("example.com/a ", " "), "empty name"),
        (good.replace("text", "te\rxt"), "control character"),
        (good.replace("text\n\n", "text\n"), "text not separated"),
        (
            format!("text\n\n{}", sig_line.replace('=', "")),
            "unpadded base64",
        ),
        (
            "text\n\n\u{2014} example.com/a AAAAAA==\n".into(),
            "signature of only a key id",
        ),
        ("text\n\n".into(), "no signatures"),
        ("\n\n\n".into(), "only newlines"),
    ];
    for (note, why) in cases {
        assert!(open_note(note.as_bytes(), &v).is_err(), "{why}: {note:?}");
    }
    assert!(matches!(
        open_note(b"text\n\n\xff\n", &v),
        Err(Error::MalformedNote(_))
    ));
}

#[test]
fn signature_rules_are_enforced() {
    let a = signer("example.com/a", 1);
    let b = signer("example.com/b", 2);
    let note = sign_note("text\n", &[&a]).unwrap();

    // Unknown keys only: rejected, even with a verifier sharing the name but not the id.
    assert!(matches!(
        open_note(note.as_bytes(), &[b.verifier()]),
        Err(Error::NoKnownSignature)
    ));
    let same_name = signer("example.com/a", 3);
    assert!(matches!(
        open_note(note.as_bytes(), &[same_name.verifier()]),
        Err(Error::NoKnownSignature)
    ));

    // A known key's signature over different text: the whole note is rejected.
    let forged = note.replacen("text", "txet", 1);
    assert!(matches!(
        open_note(forged.as_bytes(), &[a.verifier()]),
        Err(Error::BadNoteSignature(_))
    ));
    // ...even next to a good signature by another known key.
    let good_b = sign_note("txet\n", &[&b]).unwrap();
    let mixed = format!("{forged}{}", good_b.strip_prefix("txet\n\n").unwrap());
    assert!(matches!(
        open_note(mixed.as_bytes(), &[a.verifier(), b.verifier()]),
        Err(Error::BadNoteSignature(_))
    ));

    // Duplicates are dropped; 100 signature lines are accepted, 101 are not.
    let line = note.strip_prefix("text\n\n").unwrap();
    let hundred = format!("text\n\n{}", line.repeat(100));
    let opened = open_note(hundred.as_bytes(), &[a.verifier()]).unwrap();
    assert_eq!(opened.verified.len(), 1);
    let too_many = format!("text\n\n{}", line.repeat(101));
    assert!(matches!(
        open_note(too_many.as_bytes(), &[a.verifier()]),
        Err(Error::TooManySignatures(100))
    ));
}

fn valid_note() -> String {
    sign_note(
        "origin.example/log\n42\nAAAA\n",
        &[&signer("example.com/a", 1), &signer("example.com/b", 2)],
    )
    .unwrap()
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let v = [signer("example.com/a", 1).verifier()];
        let _ = open_note(&bytes, &v);
        if let Ok(s) = std::str::from_utf8(&bytes) {
            let _ = NoteVerifier::from_vkey(s);
            let _ = NoteSigner::from_signer_key(s);
        }
    }

    #[test]
    fn mutated_notes_never_panic_and_never_verify_changed_text(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..6)
    ) {
        let a = signer("example.com/a", 1);
        let good = valid_note();
        let mut bytes = good.clone().into_bytes();
        for (pos, byte, op) in edits {
            let pos = pos % (bytes.len() + 1);
            match op {
                0 if pos < bytes.len() => bytes[pos] = byte,
                1 => bytes.insert(pos, byte),
                _ if pos < bytes.len() => { bytes.remove(pos); }
                _ => {}
            }
        }
        if let Ok(note) = open_note(&bytes, &[a.verifier()]) {
            // Whatever survives a mutation must still carry the exact signed text.
            prop_assert_eq!(note.text, "origin.example/log\n42\nAAAA\n");
        }
    }
}
