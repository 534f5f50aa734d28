//! Credentials tied to the log: a key not enrolled for the registrant is refused, and a certificate
//! registered as a credential exports as that credential.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_signed_by_a_key_not_enrolled_for_the_registrant_is_refused() {
    let story = Story::start().await;
    let cert = story.register("usmca").await;
    let token_file = story.path("vc.jwt");
    story
        .run("acme-imports", &["export", &cert, "--out", &token_file])
        .await
        .success();
    let token = std::fs::read_to_string(&token_file).unwrap();
    // Another enrolled party (cbp) re-signs the same header (log binding included) and payload with its key,
    // naming its own did:jwk: a valid JWS, but not by the key the log enrolled for the registrant.
    let verified = jws::verify(token.trim(), &jws::Limits::DEFAULT).unwrap();
    let cbp = vault::PartyKeys::load(Path::new(&story.path("cbp"))).unwrap();
    let mut header = verified.header.clone();
    header.insert(
        "kid".into(),
        json!(did_jwk::verification_method(
            &cbp.signing_key().verifying_key()
        )),
    );
    let mut payload: Value = serde_json::from_slice(&verified.payload).unwrap();
    payload["issuer"]["id"] = json!(did_jwk::encode(&cbp.signing_key().verifying_key()));
    let forged = jws::sign(
        header,
        &serde_json::to_vec(&payload).unwrap(),
        cbp.signing_key(),
    );
    std::fs::write(&token_file, forged).unwrap();
    let err = story
        .run("acme-imports", &["verify", &token_file])
        .await
        .failure();
    assert!(
        err.contains("not the key enrolled on the log for acme-imports"),
        "{err}"
    );

    // A payload changed and re-signed by the registrant itself no longer matches the registered commitment.
    let mut payload: Value = serde_json::from_slice(&verified.payload).unwrap();
    payload["credentialSubject"]["goods"][0]["originCriterion"] = json!("A");
    let acme = vault::PartyKeys::load(Path::new(&story.path("acme-imports"))).unwrap();
    let resigned = jws::sign(
        verified.header.clone(),
        &serde_json::to_vec(&payload).unwrap(),
        acme.signing_key(),
    );
    std::fs::write(&token_file, resigned).unwrap();
    let err = story
        .run("acme-imports", &["verify", &token_file])
        .await
        .failure();
    assert!(err.contains("content differs"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_registered_as_a_credential_exports_as_that_credential() {
    let verifiers = Verifiers::new();
    let story = Story::start().await;
    let native = story.register("usmca").await;
    let exported = story.path("native.vc.jwt");
    story
        .run("acme-imports", &["export", &native, "--out", &exported])
        .await
        .success();
    let token = std::fs::read_to_string(&exported).unwrap();

    // Registered as a VC-JOSE token, it exports as exactly that token.
    let out = story
        .run(
            "acme-imports",
            &["register", "--to", "cbp", "--json", &exported],
        )
        .await
        .success();
    let again: Value = serde_json::from_str(&out).unwrap();
    let again_file = story.path("again.vc.jwt");
    story
        .run(
            "acme-imports",
            &[
                "export",
                again["cert_id"].as_str().unwrap(),
                "--out",
                &again_file,
            ],
        )
        .await
        .success();
    assert_eq!(
        std::fs::read_to_string(&again_file).unwrap().trim(),
        token.trim()
    );

    // Registered as plain JSON naming the registrant's did:jwk as issuer, it is signed as it is and bound to its
    // own registration: verified here, in jose, and valid under the vocabulary's schema.
    let payload = jws::verify(token.trim(), &jws::Limits::DEFAULT)
        .unwrap()
        .payload;
    let mut credential: Value = serde_json::from_slice(&payload).unwrap();
    credential["id"] = json!("urn:uuid:7f8e2c1a-4b5d-4e6f-8a9b-0c1d2e3f4a5b");
    let plain = story.path("plain-credential.json");
    std::fs::write(&plain, serde_json::to_vec_pretty(&credential).unwrap()).unwrap();
    let out = story
        .run(
            "acme-imports",
            &["register", "--to", "cbp", "--json", &plain],
        )
        .await
        .success();
    let plain_cert = serde_json::from_str::<Value>(&out).unwrap()["cert_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let plain_token = story.path("plain.vc.jwt");
    story
        .run(
            "acme-imports",
            &["export", &plain_cert, "--out", &plain_token],
        )
        .await
        .success();
    let out = story
        .run("acme-imports", &["verify", "--json", &plain_token])
        .await
        .success();
    let ours: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(ours["cert_id"], plain_cert.as_str());
    assert_eq!(ours["credential"], credential);
    verifiers
        .jose(Path::new(&plain_token), "USMCACertificationOfOrigin")
        .expect("jose + ajv accept it");

    // A plain credential whose issuer is someone else is not signed by tradeledger in the registrant's name.
    credential["issuer"]["id"] = json!("did:web:other-issuer.example");
    std::fs::write(&plain, serde_json::to_vec_pretty(&credential).unwrap()).unwrap();
    let out = story
        .run(
            "acme-imports",
            &["register", "--to", "cbp", "--json", &plain],
        )
        .await
        .success();
    let other = serde_json::from_str::<Value>(&out).unwrap()["cert_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let err = story
        .run("acme-imports", &["export", &other])
        .await
        .failure();
    assert!(err.contains("signs only as the registrant"), "{err}");
    let err = story
        .run(
            "acme-imports",
            &[
                "disclose",
                &other,
                "--fields",
                "/id",
                "--format",
                "sd-jwt",
                "--out",
                &plain_token,
            ],
        )
        .await
        .failure();
    assert!(err.contains("registered as a credential"), "{err}");
}
