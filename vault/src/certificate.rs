//! The client's one-call API: seal a certificate body for its registrant and recipients, wrap its data key
//! for a later grantee, and open a certificate while checking it against its registered commitment.

use ledger::Hash;
use serde_json::Value;

use crate::{
    CertId, DataKey, Error, GrantSalt, MasterSalt, PartyId, PartyKeys, PartyPublic, Result,
    canonical_json, commit, grant_commitment, open_body, seal_body, unwrap, wrap,
};

/// One recipient's envelope with the grant it represents.
pub struct SealedEnvelope {
    /// The recipient.
    pub party: PartyId,
    /// The envelope bytes (docs/formats.md, "Envelope").
    pub envelope: Vec<u8>,
    /// The grant salt inside the envelope (secret: it links the grant commitment to the recipient).
    pub grant_salt: GrantSalt,
    /// The grant commitment that goes on the log.
    pub grant_commitment: Hash,
}

/// A sealed certificate: everything the registrant publishes, stores or keeps.
pub struct Sealed {
    /// The body ciphertext for the vault store.
    pub ciphertext: Vec<u8>,
    /// The document commitment for the log.
    pub commitment: Hash,
    /// The master salt (secret; also inside the ciphertext), for making disclosures.
    pub master_salt: MasterSalt,
    /// One envelope per distinct party, the registrant's first.
    pub envelopes: Vec<SealedEnvelope>,
}

/// Seals `body` under a fresh data key and master salt, and wraps the key for the registrant (always, so
/// it can grant later without re-encrypting) and for each recipient. A recipient listed twice, or equal
/// to the registrant, gets one envelope; the same id with two different keys is refused.
pub fn seal_certificate(
    cert_id: &CertId,
    body: &Value,
    registrant: &PartyPublic,
    recipients: &[PartyPublic],
) -> Result<Sealed> {
    let mut parties: Vec<&PartyPublic> = vec![registrant];
    for recipient in recipients {
        match parties.iter().find(|p| p.id == recipient.id) {
            Some(known) if known.encryption_key != recipient.encryption_key => {
                return Err(Error::Malformed {
                    what: "recipient list",
                    reason: format!(
                        "party {} appears with two different encryption keys",
                        recipient.id
                    ),
                });
            }
            Some(_) => {}
            None => parties.push(recipient),
        }
    }
    let master_salt = MasterSalt::generate();
    let commitment = commit(body, &master_salt)?.root();
    let data_key = DataKey::generate();
    let ciphertext = seal_body(
        cert_id,
        &canonical_json(body),
        &master_salt,
        &commitment,
        &data_key,
    )?;
    let envelopes = parties
        .into_iter()
        .map(|party| rewrap_for(cert_id, &data_key, party))
        .collect::<Result<_>>()?;
    Ok(Sealed {
        ciphertext,
        commitment,
        master_salt,
        envelopes,
    })
}

/// Wraps an existing certificate's data key for one more recipient, with a fresh grant salt.
pub fn rewrap_for(
    cert_id: &CertId,
    data_key: &DataKey,
    recipient: &PartyPublic,
) -> Result<SealedEnvelope> {
    let grant_salt = GrantSalt::generate();
    Ok(SealedEnvelope {
        party: recipient.id.clone(),
        envelope: wrap(
            cert_id,
            &recipient.id,
            &recipient.encryption_key,
            data_key,
            &grant_salt,
        )?,
        grant_commitment: grant_commitment(cert_id, &recipient.id, &grant_salt)?,
        grant_salt,
    })
}

/// An opened certificate. `body` is plaintext held in ordinary JSON values: drop it when done.
pub struct Opened {
    /// The certificate body, verified against its commitment.
    pub body: Value,
    /// The document's master salt, for making disclosures.
    pub master_salt: MasterSalt,
    /// This recipient's grant salt, to prove the grant.
    pub grant_salt: GrantSalt,
    /// The data key, to grant further readers with [`rewrap_for`].
    pub data_key: DataKey,
}

/// Opens `envelope` with `keys`, decrypts `ciphertext`, and recomputes the document commitment: a body that
/// does not match `commitment` is refused ([`Error::CommitmentMismatch`]). Decryption failures of any kind
/// are [`Error::DecryptionFailed`].
pub fn open_certificate(
    cert_id: &CertId,
    commitment: &Hash,
    keys: &PartyKeys,
    envelope: &[u8],
    ciphertext: &[u8],
) -> Result<Opened> {
    let (data_key, grant_salt) = unwrap(cert_id, keys, envelope)?;
    let opened = open_body(cert_id, commitment, &data_key, ciphertext)?;
    let body: Value = serde_json::from_slice(&opened.body).map_err(|_| Error::InvalidBody)?;
    if commit(&body, &opened.master_salt)?.root() != *commitment {
        return Err(Error::CommitmentMismatch);
    }
    Ok(Opened {
        body,
        master_salt: opened.master_salt,
        grant_salt,
        data_key,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::Role;
    use serde_json::json;

    fn party(id: &str, role: Role) -> PartyKeys {
        PartyKeys::generate(PartyId::new(id).unwrap(), role)
    }

    #[test]
    fn registrant_and_recipients_open_the_same_verified_body() {
        let acme = party("acme", Role::Importer);
        let cbp = party("cbp", Role::Customs);
        let broker = party("broker", Role::Broker);
        let outsider = party("outsider", Role::Customs);
        let cert = CertId::random();
        let body =
            json!({"hs_code": "850440", "net_cost": 12.5, "producer": {"name": "Widgets SA"}});
        let sealed = seal_certificate(
            &cert,
            &body,
            &acme.public(),
            &[cbp.public(), broker.public(), cbp.public(), acme.public()],
        )
        .unwrap();
        let ids: Vec<&str> = sealed.envelopes.iter().map(|e| e.party.as_str()).collect();
        assert_eq!(ids, ["acme", "cbp", "broker"]);
        for (keys, env) in [&acme, &cbp, &broker].into_iter().zip(&sealed.envelopes) {
            let opened = open_certificate(
                &cert,
                &sealed.commitment,
                keys,
                &env.envelope,
                &sealed.ciphertext,
            )
            .unwrap();
            assert_eq!(opened.body, body);
            assert_eq!(
                opened.grant_salt.expose_secret(),
                env.grant_salt.expose_secret()
            );
            assert_eq!(
                grant_commitment(&cert, keys.id(), &opened.grant_salt).unwrap(),
                env.grant_commitment
            );
        }
        let env = &sealed.envelopes[1].envelope;
        assert!(matches!(
            open_certificate(
                &cert,
                &sealed.commitment,
                &outsider,
                env,
                &sealed.ciphertext
            ),
            Err(Error::DecryptionFailed)
        ));
        assert!(matches!(
            open_certificate(&cert, &[0; 32], &cbp, env, &sealed.ciphertext),
            Err(Error::DecryptionFailed)
        ));
    }

    #[test]
    fn rewrap_grants_a_new_reader_without_reencrypting() {
        let acme = party("acme", Role::Importer);
        let late = party("late", Role::Customs);
        let cert = CertId::random();
        let body = json!(["a", {"b": null}]);
        let sealed = seal_certificate(&cert, &body, &acme.public(), &[]).unwrap();
        let own = &sealed.envelopes[0];
        let mine = open_certificate(
            &cert,
            &sealed.commitment,
            &acme,
            &own.envelope,
            &sealed.ciphertext,
        )
        .unwrap();
        let granted = rewrap_for(&cert, &mine.data_key, &late.public()).unwrap();
        let theirs = open_certificate(
            &cert,
            &sealed.commitment,
            &late,
            &granted.envelope,
            &sealed.ciphertext,
        )
        .unwrap();
        assert_eq!(theirs.body, body);
    }

    #[test]
    fn a_body_sealed_under_a_false_commitment_is_refused() {
        let acme = party("acme", Role::Importer);
        let cert = CertId::random();
        let body = json!({"a": 1});
        let master = MasterSalt::generate();
        let false_commitment = commit(&json!({"a": 2}), &master).unwrap().root();
        let key = DataKey::generate();
        let ciphertext = seal_body(
            &cert,
            &canonical_json(&body),
            &master,
            &false_commitment,
            &key,
        )
        .unwrap();
        let env = wrap(
            &cert,
            acme.id(),
            &acme.public().encryption_key,
            &key,
            &GrantSalt::generate(),
        )
        .unwrap();
        assert!(matches!(
            open_certificate(&cert, &false_commitment, &acme, &env, &ciphertext),
            Err(Error::CommitmentMismatch)
        ));
    }

    #[test]
    fn one_id_with_two_keys_is_refused() {
        let acme = party("acme", Role::Importer);
        let twin = party("cbp", Role::Customs);
        let other = party("cbp", Role::Customs);
        assert!(
            seal_certificate(
                &CertId::random(),
                &json!({}),
                &acme.public(),
                &[twin.public(), other.public()]
            )
            .is_err()
        );
    }
}
