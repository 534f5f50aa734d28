#![allow(clippy::unwrap_used)]

use proptest::prelude::*;

use super::*;

/// The example of C2SP tlog-proof "Format" (its signatures are elided with `[...]`, so it only parses).
const SPEC_EXAMPLE: &str = "c2sp.org/tlog-proof@v1
extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ
index 73894
gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=
B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=
EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=
RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=
AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=

example.com/fancylog
109482
sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=

\u{2014} example.com/fancylog hI2DJw[...]1roloI=
\u{2014} witness1.example mJirIklj[...]qY9v2B/5bg==
\u{2014} witness2.example TnKKVHLX[...]xwYwrSjgow==
\u{2014} witness3.example S4X82uH5[...]3oEcROGLFQ==
";

#[test]
fn spec_example_parses_and_round_trips() {
    let proof = TlogProof::parse(SPEC_EXAMPLE.as_bytes()).unwrap();
    assert_eq!(proof.index, 73894);
    assert_eq!(proof.inclusion.len(), 5);
    assert_eq!(
        BASE64.encode(proof.inclusion[4]),
        "AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk="
    );
    assert!(
        proof
            .extra
            .as_deref()
            .unwrap()
            .starts_with(b"age-v1.2.1-darwin-arm64.tar.gz")
    );
    assert!(
        proof
            .checkpoint
            .starts_with("example.com/fancylog\n109482\n")
    );
    assert!(proof.checkpoint.ends_with("3oEcROGLFQ==\n"));
    assert_eq!(proof.to_text(), SPEC_EXAMPLE);
}

#[test]
fn optional_parts_may_be_absent() {
    let text = "c2sp.org/tlog-proof@v1\nindex 0\n\no\n1\nAAAA\n\n\u{2014} k AAAA\n";
    let proof = TlogProof::parse(text.as_bytes()).unwrap();
    assert_eq!(proof.extra, None);
    assert_eq!(proof.index, 0);
    assert!(proof.inclusion.is_empty());
    assert_eq!(proof.to_text(), text);
}

#[test]
fn malformed_proofs_are_rejected() {
    let h = "AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=";
    let many = format!("{h}\n").repeat(65);
    let bad = [
        String::new(),
        "c2sp.org/tlog-proof@v2\nindex 1\n\ncp\n".into(),
        "c2sp.org/tlog-proof@v1\nindex 01\n\ncp\n".into(),
        "c2sp.org/tlog-proof@v1\nindex -1\n\ncp\n".into(),
        "c2sp.org/tlog-proof@v1\nindex  1\n\ncp\n".into(),
        "c2sp.org/tlog-proof@v1\nindex 18446744073709551616\n\ncp\n".into(),
        "c2sp.org/tlog-proof@v1\nextra !!\nindex 1\n\ncp\n".into(),
        "c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\ncp\n".into(),
        format!("c2sp.org/tlog-proof@v1\nindex 1\n{h}\ncp\n"),
        format!("c2sp.org/tlog-proof@v1\nindex 1\n{h}\n\n"),
        format!("c2sp.org/tlog-proof@v1\nindex 1\n{many}\ncp\n"),
    ];
    for text in bad {
        assert!(
            matches!(
                TlogProof::parse(text.as_bytes()),
                Err(Error::MalformedProof(_))
            ),
            "{text:?}"
        );
    }
    assert!(TlogProof::parse(b"c2sp.org/tlog-proof@v1\n\xff\n").is_err());
}

#[test]
fn extensions_round_trip_and_reject_garbage() {
    let ext = ConsistencyExtension {
        old_size: 5,
        proof: vec![[1; 32], [2; 32]],
        checkpoint: "o\n9\nAAAA\n\n\u{2014} k AAAA\n".into(),
    };
    assert_eq!(
        ConsistencyExtension::parse(ext.to_text().as_bytes()).unwrap(),
        ext
    );
    for bad in [
        "c2sp.org/tlog-proof@v1\nold 5\n\ncp\n",
        "tradeledger/tlog-consistency@v1\nold 05\n\ncp\n",
        "tradeledger/tlog-consistency@v1\nindex 5\n\ncp\n",
        "tradeledger/tlog-consistency@v1\nold 5\n",
    ] {
        assert!(
            ConsistencyExtension::parse(bad.as_bytes()).is_err(),
            "{bad:?}"
        );
    }
}

proptest! {
    #[test]
    fn parse_never_panics(s in "\\PC*", bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = TlogProof::parse(s.as_bytes());
        let _ = TlogProof::parse(&bytes);
        let _ = ConsistencyExtension::parse(s.as_bytes());
        let prefixed = format!("{TLOG_PROOF_HEADER}\n{s}");
        let _ = TlogProof::parse(prefixed.as_bytes());
    }

    #[test]
    fn proofs_round_trip(
        extra in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
        index: u64,
        hashes in proptest::collection::vec(proptest::array::uniform32(any::<u8>()), 0..10),
    ) {
        let proof = TlogProof { extra, index, inclusion: hashes, checkpoint: "o\n1\nAAAA\n\n\u{2014} k AAAA\n".into() };
        prop_assert_eq!(TlogProof::parse(proof.to_text().as_bytes()).unwrap(), proof);
    }
}
