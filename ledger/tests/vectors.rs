//! Runs every published RFC 6962 proof vector (shared/vectors/rfc6962) through the verifiers.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

/// Finds `shared/vectors` by walking up from the crate directory; panics (fails the test) if it is absent.
fn vectors_dir() -> PathBuf {
    let start = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in start.ancestors() {
        let candidate = dir.join("shared").join("vectors");
        if candidate.is_dir() {
            return candidate;
        }
    }
    panic!("shared/vectors not found above {}", start.display());
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

/// Decodes one base64 hash; a string that is not base64 is passed on as its raw bytes, to be rejected.
fn bytes(v: &Value) -> Vec<u8> {
    let s = v.as_str().unwrap();
    STANDARD.decode(s).unwrap_or_else(|_| s.as_bytes().to_vec())
}

fn proof(v: &Value) -> Vec<Vec<u8>> {
    match v {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().map(bytes).collect(),
        other => panic!("proof is neither null nor an array: {other}"),
    }
}

/// A size field parsed safely: anything that is not a u64 (negative, fractional, too big) fails the case.
fn size(v: &Value) -> Option<u64> {
    v.as_u64()
}

fn check_inclusion(v: &Value) -> Result<(), String> {
    let (Some(index), Some(size)) = (size(&v["leafIdx"]), size(&v["treeSize"])) else {
        return Err("unparsable size".into());
    };
    ledger::verify_inclusion(
        &bytes(&v["leafHash"]),
        index,
        size,
        &proof(&v["proof"]),
        &bytes(&v["root"]),
    )
    .map_err(|e| e.to_string())
}

fn check_consistency(v: &Value) -> Result<(), String> {
    let (Some(old), Some(new)) = (size(&v["size1"]), size(&v["size2"])) else {
        return Err("unparsable size".into());
    };
    ledger::verify_consistency(
        old,
        new,
        &proof(&v["proof"]),
        &bytes(&v["root1"]),
        &bytes(&v["root2"]),
    )
    .map_err(|e| e.to_string())
}

#[test]
fn rfc6962_vectors() {
    let root = vectors_dir().join("rfc6962");
    let mut files = Vec::new();
    json_files(&root.join("inclusion"), &mut files);
    let inclusion = files.len();
    json_files(&root.join("consistency"), &mut files);
    let consistency = files.len() - inclusion;
    assert!(
        inclusion > 0 && consistency > 0,
        "no vectors found under {}",
        root.display()
    );

    let mut failures = Vec::new();
    for file in &files {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let want_err = v["wantErr"].as_bool().unwrap();
        let is_inclusion = file.strip_prefix(&root).unwrap().starts_with("inclusion");
        let got = if is_inclusion {
            check_inclusion(&v)
        } else {
            check_consistency(&v)
        };
        match (want_err, got) {
            (false, Err(e)) => failures.push(format!("{}: rejected: {e}", file.display())),
            (true, Ok(())) => {
                failures.push(format!("{}: accepted, must be rejected", file.display()))
            }
            _ => {}
        }
    }
    println!(
        "rfc6962 vectors: {inclusion} inclusion + {consistency} consistency = {} files",
        files.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn signed_note_vectors() {
    let path = vectors_dir().join("signed-note").join("vectors.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();

    let example = &v["c2sp_example"];
    assert!(example["must_verify"].as_bool().unwrap());
    let verifier = ledger::NoteVerifier::from_vkey(example["vkey"].as_str().unwrap()).unwrap();
    assert_eq!(verifier.to_vkey(), example["vkey"].as_str().unwrap());
    let note =
        ledger::open_note(example["note"].as_str().unwrap().as_bytes(), &[verifier]).unwrap();
    assert_eq!(note.text, "This is an example message.\n");
    assert_eq!(note.verified.len(), 1);

    let sumdb = &v["go_sumdb_note_sign"];
    let skey = sumdb["skey"].as_str().unwrap();
    let signer = ledger::NoteSigner::from_signer_key(skey).unwrap();
    assert_eq!(signer.to_signer_key().as_str(), skey);
    let signed = ledger::sign_note(sumdb["text"].as_str().unwrap(), &[&signer]).unwrap();
    assert_eq!(
        signed,
        sumdb["note"].as_str().unwrap(),
        "signing must reproduce Go's note byte for byte"
    );
    let opened = ledger::open_note(signed.as_bytes(), &[signer.verifier()]).unwrap();
    assert_eq!(opened.text, sumdb["text"].as_str().unwrap());
    println!("signed-note vectors: 2 cases");
}
