//! RFC 9180 Appendix A.1.1 through the `hpke` crate the vault seals with: same KEM and key schedule as the
//! envelopes, with the AES-128-GCM AEAD of the published vector (shared/vectors/hpke/README.md).
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::path::PathBuf;

use hpke::aead::AesGcm128;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::rand_core::{TryCryptoRng, TryRng};
use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};
use serde_json::Value;

/// Finds `shared/vectors` by walking up from the crate; its absence is a failure, never a skip.
fn vectors_dir() -> PathBuf {
    let start = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    start
        .ancestors()
        .map(|dir| dir.join("shared/vectors"))
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| panic!("no shared/vectors directory above {}", start.display()))
}

/// An "RNG" that hands out the vector's ikmE, so the crate derives exactly the published ephemeral key.
struct FixedIkm(Vec<u8>);

impl TryRng for FixedIkm {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        unreachable!("key generation only fills bytes")
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        unreachable!("key generation only fills bytes")
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        assert_eq!(
            dst.len(),
            self.0.len(),
            "the KEM draws exactly Nsk bytes of ikm"
        );
        dst.copy_from_slice(&self.0);
        Ok(())
    }
}

impl TryCryptoRng for FixedIkm {}

fn field(v: &Value, name: &str) -> Vec<u8> {
    let text = v[name]
        .as_str()
        .unwrap_or_else(|| panic!("vector lacks {name}"));
    hex::decode(text).unwrap()
}

#[test]
fn rfc9180_a1_base_x25519_sha256() {
    let path = vectors_dir().join("hpke/rfc9180-a1.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (&v["mode"], &v["kem_id"], &v["kdf_id"], &v["aead_id"]),
        (
            &Value::from(0),
            &Value::from(32),
            &Value::from(1),
            &Value::from(1)
        )
    );
    let (info, aad, pt, ct) = (
        field(&v, "info"),
        field(&v, "aad"),
        field(&v, "pt"),
        field(&v, "ct"),
    );

    // The crate serializes X25519 secrets clamped (RFC 7748 §5) while the RFC prints the raw derived bytes,
    // so secrets are compared as scalars: the vector's secret is deserialized (clamped) the same way.
    let scalar = |name| {
        <X25519HkdfSha256 as Kem>::PrivateKey::from_bytes(&field(&v, name))
            .unwrap()
            .to_bytes()
    };
    let (sk_e, pk_e) = X25519HkdfSha256::derive_keypair(&field(&v, "ikmE"));
    assert_eq!(sk_e.to_bytes(), scalar("skEm"));
    assert_eq!(pk_e.to_bytes().as_slice(), field(&v, "pkEm"));
    let (sk_r, pk_r) = X25519HkdfSha256::derive_keypair(&field(&v, "ikmR"));
    assert_eq!(sk_r.to_bytes(), scalar("skRm"));
    assert_eq!(pk_r.to_bytes().as_slice(), field(&v, "pkRm"));

    let mut rng = FixedIkm(field(&v, "ikmE"));
    let (enc, sealed) = hpke::single_shot_seal_with_rng::<AesGcm128, HkdfSha256, X25519HkdfSha256>(
        &OpModeS::Base,
        &pk_r,
        &info,
        &pt,
        &aad,
        &mut rng,
    )
    .unwrap();
    assert_eq!(enc.to_bytes().as_slice(), field(&v, "enc"));
    assert_eq!(sealed, ct);

    let sk_r = <X25519HkdfSha256 as Kem>::PrivateKey::from_bytes(&field(&v, "skRm")).unwrap();
    let enc = <X25519HkdfSha256 as Kem>::EncappedKey::from_bytes(&field(&v, "enc")).unwrap();
    let opened = hpke::single_shot_open::<AesGcm128, HkdfSha256, X25519HkdfSha256>(
        &OpModeR::Base,
        &sk_r,
        &enc,
        &info,
        &ct,
        &aad,
    )
    .unwrap();
    assert_eq!(opened, pt);

    // A must-reject case: a flipped ciphertext bit does not open.
    let mut tampered = ct.clone();
    tampered[0] ^= 1;
    assert!(
        hpke::single_shot_open::<AesGcm128, HkdfSha256, X25519HkdfSha256>(
            &OpModeR::Base,
            &sk_r,
            &enc,
            &info,
            &tampered,
            &aad,
        )
        .is_err()
    );
}

/// The vault's own envelopes use the same KEM: the vector's recipient key opens what the vault wraps.
#[test]
fn vault_envelope_opens_with_the_vector_recipient_key() {
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(vectors_dir().join("hpke/rfc9180-a1.json")).unwrap(),
    )
    .unwrap();
    let sk: [u8; 32] = field(&v, "skRm").try_into().unwrap();
    let keys = vault::PartyKeys::from_secret_bytes(
        vault::PartyId::new("cbp").unwrap(),
        vault::Role::Customs,
        &[9; 32],
        sk,
    );
    assert_eq!(
        keys.public().encryption_key.as_bytes().as_slice(),
        field(&v, "pkRm")
    );
    let cert = vault::CertId::random();
    let key = vault::DataKey::generate();
    let salt = vault::GrantSalt::generate();
    let env = vault::wrap(&cert, keys.id(), &keys.public().encryption_key, &key, &salt).unwrap();
    let (got, _) = vault::unwrap(&cert, &keys, &env).unwrap();
    assert_eq!(got.expose_secret(), key.expose_secret());
}
