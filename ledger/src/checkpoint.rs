//! C2SP tlog checkpoints (c2sp.org/tlog-checkpoint): the signed tree head of the log.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::error::Error;
use crate::merkle::Hash;
use crate::note::{NoteSigner, NoteVerifier, open_note, sign_note};

/// A log checkpoint: origin, tree size, root hash and optional extension lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity, e.g. `example.com/log42`; the note key name should match it.
    pub origin: String,
    /// The number of leaves in the tree.
    pub size: u64,
    /// The RFC 6962 root hash of the tree at `size`.
    pub root_hash: Hash,
    /// Opaque, non-empty extension lines (not recommended by the spec; kept for interoperability).
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text: origin, size, base64 root hash, extension lines, each ending in a newline.
    ///
    /// Only meaningful for a checkpoint that [`Checkpoint::parse`] would accept; [`sign_checkpoint`] checks that.
    pub fn to_note_text(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root_hash)
        );
        for line in &self.extensions {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    /// Parses checkpoint note text, enforcing every rule of C2SP tlog-checkpoint "Note text".
    pub fn parse(text: &str) -> Result<Self, Error> {
        if text.chars().any(|c| c < ' ' && c != '\n') {
            return Err(Error::MalformedCheckpoint("control character in text"));
        }
        let body = text
            .strip_suffix('\n')
            .ok_or(Error::MalformedCheckpoint("text does not end in a newline"))?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(Error::MalformedCheckpoint("fewer than three lines"));
        };
        // 1. The origin MUST be non-empty.
        if origin.is_empty() {
            return Err(Error::MalformedCheckpoint("empty origin"));
        }
        // 2. ASCII decimal, no leading zeroes unless the tree is empty.
        if size.is_empty()
            || !size.bytes().all(|b| b.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return Err(Error::MalformedCheckpoint(
                "tree size is not a decimal without leading zeros",
            ));
        }
        let size: u64 = size
            .parse()
            .map_err(|_| Error::MalformedCheckpoint("tree size does not fit in 64 bits"))?;
        // 3. Base64 of the 32-byte root hash.
        let root_hash: Hash = BASE64
            .decode(root)
            .ok()
            .and_then(|r| Hash::try_from(r).ok())
            .ok_or(Error::MalformedCheckpoint(
                "root hash is not base64 of 32 bytes",
            ))?;
        // 4. Extension lines, if any, MUST be non-empty.
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(Error::MalformedCheckpoint("empty extension line"));
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root_hash,
            extensions,
        })
    }
}

/// Signs a checkpoint as a C2SP signed note. Fails if the checkpoint would not parse back identically.
pub fn sign_checkpoint(checkpoint: &Checkpoint, signer: &NoteSigner) -> Result<String, Error> {
    let text = checkpoint.to_note_text();
    if Checkpoint::parse(&text)? != *checkpoint {
        // E.g. an origin or extension containing a newline would change the line structure.
        return Err(Error::MalformedCheckpoint(
            "checkpoint fields do not form valid lines",
        ));
    }
    sign_note(&text, &[signer])
}

/// Opens a signed checkpoint: the note must verify under `verifier` and name the expected `origin`.
///
/// Other signatures (e.g. witness cosignatures) are ignored, as C2SP signed-note requires.
pub fn open_checkpoint(
    note: &[u8],
    origin: &str,
    verifier: &NoteVerifier,
) -> Result<Checkpoint, Error> {
    let note = open_note(note, std::slice::from_ref(verifier))?;
    let checkpoint = Checkpoint::parse(&note.text)?;
    if checkpoint.origin != origin {
        return Err(Error::OriginMismatch {
            expected: origin.to_owned(),
            got: checkpoint.origin,
        });
    }
    Ok(checkpoint)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::merkle::empty_root;

    fn log_signer() -> NoteSigner {
        NoteSigner::from_key("example.com/log", SigningKey::from_bytes(&[7; 32])).unwrap()
    }

    #[test]
    fn spec_example_parses() {
        let text =
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let cp = Checkpoint::parse(text).unwrap();
        assert_eq!(cp.origin, "example.com/behind-the-sofa");
        assert_eq!(cp.size, 20852163);
        assert!(cp.extensions.is_empty());
        assert_eq!(cp.to_note_text(), text);
    }

    #[test]
    fn sign_and_open_round_trip() {
        let signer = log_signer();
        let cp = Checkpoint {
            origin: "example.com/log".into(),
            size: 0,
            root_hash: empty_root(),
            extensions: vec!["ext one".into()],
        };
        let note = sign_checkpoint(&cp, &signer).unwrap();
        assert_eq!(
            open_checkpoint(note.as_bytes(), "example.com/log", &signer.verifier()).unwrap(),
            cp
        );
        assert!(matches!(
            open_checkpoint(note.as_bytes(), "example.com/other", &signer.verifier()),
            Err(Error::OriginMismatch { .. })
        ));
        let stranger = NoteSigner::generate("example.com/log").unwrap();
        assert!(open_checkpoint(note.as_bytes(), "example.com/log", &stranger.verifier()).is_err());
    }

    #[test]
    fn invalid_checkpoints_are_rejected() {
        let root = BASE64.encode(empty_root());
        let bad = [
            format!("o\n1\n{root}"),
            format!("\n1\n{root}\n"),
            format!("o\n01\n{root}\n"),
            format!("o\n00\n{root}\n"),
            format!("o\n+1\n{root}\n"),
            format!("o\n-1\n{root}\n"),
            format!("o\n1 \n{root}\n"),
            format!("o\n\n{root}\n"),
            format!("o\n18446744073709551616\n{root}\n"),
            "o\n1\nAAAA\n".to_owned(),
            format!("o\n1\n{}\n", &root[..root.len() - 1]),
            format!("o\n1\n{root}\n\n"),
            format!("o\n1\n{root}\next\n\nmore\n"),
            format!("o\n1\n{root}\t\n"),
            "o\n1\n".to_owned(),
        ];
        for text in bad {
            assert!(
                matches!(Checkpoint::parse(&text), Err(Error::MalformedCheckpoint(_))),
                "{text:?}"
            );
        }
        assert_eq!(
            Checkpoint::parse(&format!("o\n0\n{root}\n")).unwrap().size,
            0
        );
        assert_eq!(
            Checkpoint::parse(&format!("o\n18446744073709551615\n{root}\n"))
                .unwrap()
                .size,
            u64::MAX
        );

        let cp = Checkpoint {
            origin: "a\nb".into(),
            size: 1,
            root_hash: empty_root(),
            extensions: vec![],
        };
        assert!(sign_checkpoint(&cp, &log_signer()).is_err());
        let cp = Checkpoint {
            origin: "a".into(),
            size: 1,
            root_hash: empty_root(),
            extensions: vec![String::new()],
        };
        assert!(sign_checkpoint(&cp, &log_signer()).is_err());
    }
}
