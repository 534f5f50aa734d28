#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use sha2::{Digest, Sha256};

use super::*;

const CHECKPOINT: &str =
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

#[test]
fn signed_message_matches_the_spec_example() {
    // tlog-cosignature "Ed25519 signed message".
    let want = "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n\
                CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    assert_eq!(cosigned_message(CHECKPOINT, 1_679_315_147), want.as_bytes());
}

#[test]
fn spec_example_line_decodes_to_its_timestamp() {
    // The cosignature line of the tlog-cosignature example carries the time of the example message.
    let line = "\u{2014} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==";
    let cosig = Cosignature::parse_line(line).unwrap();
    assert_eq!(cosig.name, "witness.example.com/w1");
    assert_eq!(cosig.key_id, 0x8d66_cf3f);
    assert_eq!(cosig.timestamp, 1_679_315_147);
    assert_eq!(cosig.to_line(), format!("{line}\n"));
}

#[test]
fn go_formats_timestamp_vectors() {
    // transparency-dev/formats note TestCosignatureTimestamp: a cosignature, then a plain Ed25519 note signature.
    let good = "\u{2014} w ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA==";
    assert_eq!(
        Cosignature::parse_line(good).unwrap().timestamp,
        1_727_964_367
    );
    let plain = "\u{2014} w eQjRQm6eSKzFoiYalgwCPXu2y3ijtg68is9M46JKxuZB+dRfTmeQeDBoXnvxZx2ugnkyV+MUMLXpWs1hPb/W/4xkNQY=";
    assert!(matches!(
        Cosignature::parse_line(plain),
        Err(Error::MalformedCosignature(_))
    ));
    assert!(Cosignature::parse_line("\u{2014} w 5%/$!").is_err());
}

#[test]
fn cosign_then_verify() {
    let signer = CosignatureSigner::generate("witness.example/w1").unwrap();
    let verifier = signer.verifier();
    let cosig = signer.cosign(CHECKPOINT, 1_700_000_000).unwrap();
    verifier.verify(CHECKPOINT, &cosig).unwrap();

    let parsed = Cosignature::parse_line(&cosig.to_line()).unwrap();
    assert_eq!(parsed, cosig);
    verifier.verify(CHECKPOINT, &parsed).unwrap();
}

#[test]
fn tampering_is_detected() {
    let signer = CosignatureSigner::generate("witness.example/w1").unwrap();
    let verifier = signer.verifier();
    let cosig = signer.cosign(CHECKPOINT, 1_700_000_000).unwrap();

    let other_text = CHECKPOINT.replace("20852163", "20852164");
    assert!(matches!(
        verifier.verify(&other_text, &cosig),
        Err(Error::BadCosignature(_))
    ));
    let mut later = cosig.clone();
    later.timestamp += 1;
    assert!(matches!(
        verifier.verify(CHECKPOINT, &later),
        Err(Error::BadCosignature(_))
    ));
    // Extension lines are covered too.
    let extended = format!("{CHECKPOINT}ext\n");
    let cosig_ext = signer.cosign(&extended, 1_700_000_000).unwrap();
    assert!(
        verifier
            .verify(&format!("{CHECKPOINT}exu\n"), &cosig_ext)
            .is_err()
    );

    // Same name, another key: a different key id, so not this verifier's signature.
    let impostor = CosignatureSigner::generate("witness.example/w1").unwrap();
    let forged = impostor.cosign(CHECKPOINT, 1_700_000_000).unwrap();
    assert!(!verifier.matches(&forged.name, forged.key_id));
    assert!(verifier.verify(CHECKPOINT, &forged).is_err());
}

#[test]
fn cosign_refuses_zero_and_oversized_timestamps() {
    let signer = CosignatureSigner::generate("w").unwrap();
    assert!(signer.cosign(CHECKPOINT, 0).is_err());
    assert!(signer.cosign(CHECKPOINT, 1 << 63).is_err());
    assert!(signer.cosign(CHECKPOINT, (1 << 63) - 1).is_ok());
}

#[test]
fn parse_rejects_timestamps_above_2_pow_63() {
    let mut payload = vec![0x80, 0, 0, 0, 0, 0, 0, 0];
    payload.extend_from_slice(&[0u8; 64]);
    assert!(Cosignature::from_parts("w", 1, &payload).is_err());
    payload[0] = 0x7f;
    assert!(Cosignature::from_parts("w", 1, &payload).is_ok());
}

#[test]
fn key_texts_round_trip() {
    let signer = CosignatureSigner::generate("witness.example/w1").unwrap();
    let skey = signer.to_signer_key();
    assert!(skey.starts_with("PRIVATE+KEY+witness.example/w1+"));
    let again = CosignatureSigner::from_signer_key(&skey).unwrap();
    assert_eq!(again.key_id(), signer.key_id());
    assert_eq!(again.verifier(), signer.verifier());

    let vkey = signer.verifier().to_vkey();
    let parsed = CosignatureVerifier::from_vkey(&vkey).unwrap();
    assert_eq!(parsed, signer.verifier());
    assert_eq!(parsed.to_vkey(), vkey);
}

#[test]
fn key_ids_follow_the_spec_formula() {
    let signer = CosignatureSigner::from_key("w", SigningKey::from_bytes(&[7; 32])).unwrap();
    let public = SigningKey::from_bytes(&[7; 32]).verifying_key();
    let mut input = b"w\n\x04".to_vec();
    input.extend_from_slice(public.as_bytes());
    let digest = Sha256::digest(&input);
    assert_eq!(signer.key_id().to_be_bytes(), digest[..4]);
}

#[test]
fn malformed_keys_are_rejected() {
    let signer = CosignatureSigner::generate("w").unwrap();
    let vkey = signer.verifier().to_vkey();
    // The base64 part may itself contain '+', so split from the left.
    let b64 = vkey.splitn(3, '+').nth(2).unwrap();
    let id = vkey.split('+').nth(1).unwrap();
    let mut raw = BASE64.decode(b64).unwrap();
    raw[0] = 0x01; // a plain Ed25519 note key is not a cosigner key
    assert!(CosignatureVerifier::from_vkey(&format!("w+{id}+{}", BASE64.encode(&raw))).is_err());
    let wrong_id = format!("w+00000000+{b64}");
    assert!(CosignatureVerifier::from_vkey(&wrong_id).is_err());
    for bad in [
        "",
        "w",
        "w+1234",
        "w+zzzzzzzz+AAAA",
        "w+12345678+!!!",
        "w+12345678+BA==",
    ] {
        assert!(CosignatureVerifier::from_vkey(bad).is_err(), "{bad:?}");
    }
    assert!(CosignatureSigner::from_signer_key(&vkey).is_err());
    assert!(CosignatureSigner::generate("bad name").is_err());
    assert!(CosignatureSigner::generate("a+b").is_err());
}

proptest! {
    #[test]
    fn parse_line_never_panics(s in "\\PC*") {
        let _ = Cosignature::parse_line(&s);
        let _ = CosignatureVerifier::from_vkey(&s);
        let _ = CosignatureSigner::from_signer_key(&s);
    }

    #[test]
    fn lines_round_trip(key_id: u32, timestamp in 0u64..=i64::MAX.unsigned_abs(), sig in proptest::array::uniform32(any::<u8>())) {
        let mut signature = [0u8; 64];
        signature[..32].copy_from_slice(&sig);
        let cosig = Cosignature { name: "w.example/x".into(), key_id, timestamp, signature };
        prop_assert_eq!(Cosignature::parse_line(&cosig.to_line()).unwrap(), cosig);
    }
}
