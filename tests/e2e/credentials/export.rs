//! Every exported credential and presentation verifies here and in the independent libraries; tampering is
//! refused.

use super::*;

/// One exported certificate: its example, the vocabulary schema its credential follows, the claims its
/// presentation discloses, one of them with its expected value, and a claim that must stay hidden.
struct Case {
    example: &'static str,
    schema: &'static str,
    fields: &'static str,
    claim: &'static str,
    claimed: &'static str,
    hidden: &'static str,
}

const CASES: [Case; 3] = [
    Case {
        example: "usmca",
        schema: "USMCACertificationOfOrigin",
        fields: "/credentialSubject/goods/0/commodityCode,/issuer/employee/lastName",
        claim: "/credentialSubject/goods/0/commodityCode",
        claimed: "8708.30",
        hidden: "/credentialSubject/goods/0/description",
    },
    Case {
        example: "cafta-dr",
        schema: "CertificationOfOrigin",
        fields: "/credentialSubject/items/1/product/commodity/commodityCode,/credentialSubject/dateOfExport",
        claim: "/credentialSubject/items/1/product/commodity/commodityCode",
        claimed: "6106.10.00",
        hidden: "/credentialSubject/items/0/description",
    },
    // Its blanket period ended in 2020: content, not the token's lifetime, so it still verifies everywhere.
    Case {
        example: "nafta-434",
        schema: "CertificationOfOrigin",
        fields: "/credentialSubject/items/0/countryOfOrigin,/validUntil",
        claim: "/validUntil",
        claimed: "2020-06-30T23:59:59Z",
        hidden: "/credentialSubject/items/0/description",
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_export_and_presentation_verifies_here_and_in_independent_libraries_and_tampering_is_refused()
 {
    let verifiers = Verifiers::new();
    let story = Story::start().await;
    for Case {
        example,
        schema,
        fields,
        claim,
        claimed,
        hidden,
    } in CASES
    {
        let cert = story.register(example).await;

        // VC-JOSE: verifies here, in jose with the did:jwk key, and validates against the vocabulary schema.
        let token_file = story.path(&format!("{example}.vc.jwt"));
        story
            .run(
                "acme-imports",
                &["export", &cert, "--format", "vc-jose", "--out", &token_file],
            )
            .await
            .success();
        let out = story
            .run("acme-imports", &["verify", "--json", &token_file])
            .await
            .success();
        let ours: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(ours["credential_type"], schema);
        assert_eq!(ours["registrant"], "acme-imports");
        assert_eq!(ours["cert_id"], cert.as_str());
        let theirs = verifiers
            .jose(Path::new(&token_file), schema)
            .expect("jose + ajv accept the export");
        assert_eq!(theirs["typ"], "vc+jwt");
        assert_eq!(
            theirs["credential"], ours["credential"],
            "{example}: jose read the same credential"
        );
        assert_eq!(theirs["issuer"], ours["issuer"]);

        let token = std::fs::read_to_string(&token_file).unwrap();
        let tampered_file = story.path(&format!("{example}.tampered.vc.jwt"));
        std::fs::write(&tampered_file, one_byte_changed(token.trim())).unwrap();
        story
            .run("acme-imports", &["verify", &tampered_file])
            .await
            .failure();
        verifiers
            .jose(Path::new(&tampered_file), schema)
            .expect_err("jose refuses a changed byte");

        // SD-JWT VC: exactly the chosen claims, in both libraries and here.
        let presentation_file = story.path(&format!("{example}.sd-jwt"));
        story
            .run(
                "acme-imports",
                &[
                    "disclose",
                    &cert,
                    "--fields",
                    fields,
                    "--format",
                    "sd-jwt",
                    "--out",
                    &presentation_file,
                ],
            )
            .await
            .success();
        let out = story
            .run("acme-imports", &["verify", "--json", &presentation_file])
            .await
            .success();
        let ours: Value = serde_json::from_str(&out).unwrap();
        let disclosed: Vec<String> = ours["disclosed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|pair| pair[0].as_str().unwrap().to_owned())
            .collect();
        let mut chosen: Vec<String> = fields.split(',').map(str::to_owned).collect();
        chosen.sort();
        let mut disclosed_sorted = disclosed.clone();
        disclosed_sorted.sort();
        assert_eq!(
            disclosed_sorted, chosen,
            "{example}: exactly the chosen claims"
        );
        for (name, theirs) in [
            (
                "@sd-jwt/sd-jwt-vc",
                verifiers.sd_jwt_vc(Path::new(&presentation_file)),
            ),
            (
                "PyPI sd-jwt",
                verifiers.pypi_sd_jwt(Path::new(&presentation_file)),
            ),
        ] {
            let claims = theirs.unwrap_or_else(|e| panic!("{name} refused {example}'s presentation: {e}"))["claims"].clone();
            assert_eq!(
                claims.pointer(claim),
                Some(&json!(claimed)),
                "{name}: {example} {claim}"
            );
            assert_eq!(
                claims.pointer(hidden),
                None,
                "{name}: {example} {hidden} must stay hidden"
            );
            assert_eq!(
                claims["vct"],
                format!("https://w3id.org/traceability#{schema}")
            );
        }

        let presentation = std::fs::read_to_string(&presentation_file).unwrap();
        let presentation = presentation.trim();
        let tampered_file = story.path(&format!("{example}.tampered.sd-jwt"));
        std::fs::write(&tampered_file, one_byte_changed(presentation)).unwrap();
        story
            .run("acme-imports", &["verify", &tampered_file])
            .await
            .failure();
        verifiers
            .sd_jwt_vc(Path::new(&tampered_file))
            .expect_err("@sd-jwt/sd-jwt-vc refuses a changed byte");
        verifiers
            .pypi_sd_jwt(Path::new(&tampered_file))
            .expect_err("PyPI sd-jwt refuses a changed byte");

        altered_disclosure_never_comes_out(
            &story,
            &verifiers,
            example,
            presentation,
            claim,
            claimed,
        )
        .await;
    }
    // The other USMCA examples (a blanket period with various producers, a producer withheld, the producer
    // certifying): every exported token verifies in jose and validates against the vocabulary's schema.
    for example in [
        "usmca-blanket-various",
        "usmca-confidential-producer",
        "usmca-producer",
    ] {
        let cert = story.register(example).await;
        let token_file = story.path(&format!("{example}.vc.jwt"));
        story
            .run("acme-imports", &["export", &cert, "--out", &token_file])
            .await
            .success();
        story
            .run("acme-imports", &["verify", &token_file])
            .await
            .success();
        verifiers
            .jose(Path::new(&token_file), "USMCACertificationOfOrigin")
            .unwrap_or_else(|e| panic!("{example}: {e}"));
    }
}

/// A disclosure whose value is changed no longer matches any digest in the signed payload: `tradeledger
/// verify` refuses the presentation (RFC 9901: every disclosure must be referenced); the libraries may drop
/// it silently, but the altered value must never come out of them as a verified claim.
async fn altered_disclosure_never_comes_out(
    story: &Story,
    verifiers: &Verifiers,
    example: &str,
    presentation: &str,
    claim: &str,
    claimed: &str,
) {
    let name = claim.rsplit('/').next().unwrap();
    let parts: Vec<&str> = presentation.split('~').collect();
    let (at, decoded) = parts
        .iter()
        .enumerate()
        .skip(1)
        .find_map(|(i, d)| {
            let v: Value = serde_json::from_slice(&b64::decode(d, "d").ok()?).ok()?;
            (v[1] == name).then_some((i, v))
        })
        .expect("the claim's disclosure");
    let forged = "FORGED-9999.99";
    let altered =
        b64::encode(serde_json::to_vec(&json!([decoded[0], decoded[1], forged])).unwrap());
    let mut changed: Vec<&str> = parts.clone();
    changed[at] = &altered;
    let file = story.path(&format!("{example}.altered.sd-jwt"));
    std::fs::write(&file, changed.join("~")).unwrap();
    let err = story
        .run("acme-imports", &["verify", &file])
        .await
        .failure();
    assert!(err.contains("not referenced"), "{err}");
    for (library, theirs) in [
        ("@sd-jwt/sd-jwt-vc", verifiers.sd_jwt_vc(Path::new(&file))),
        ("PyPI sd-jwt", verifiers.pypi_sd_jwt(Path::new(&file))),
    ] {
        if let Ok(out) = theirs {
            let text = out.to_string();
            assert!(
                !text.contains(forged),
                "{library} output the altered value as a claim: {text}"
            );
            assert_ne!(
                out["claims"].pointer(claim),
                Some(&json!(claimed)),
                "{library}: dropped, not kept"
            );
        }
    }
    // The same disclosure twice: refused here as well.
    let mut doubled: Vec<&str> = parts.clone();
    doubled.insert(at, parts[at]);
    std::fs::write(&file, doubled.join("~")).unwrap();
    let err = story
        .run("acme-imports", &["verify", &file])
        .await
        .failure();
    assert!(err.contains("repeat"), "{err}");
}
