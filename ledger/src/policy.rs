//! C2SP tlog-policy: which logs and witnesses a verifier trusts, and the k-of-n quorum of cosignatures it needs.

use crate::checkpoint::Checkpoint;
use crate::cosignature::{Cosignature, CosignatureVerifier};
use crate::error::Error;
use crate::note::{NoteVerifier, open_note};

/// Implementation limit on each of logs, witnesses and groups (the spec recommends supporting at least 32).
pub const MAX_POLICY_ITEMS: usize = 256;

/// A log the policy accepts: its checkpoint verifier key (whose name is the log's origin) and optional URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyLog {
    /// The log's note verifier; its key name is the log's origin line.
    pub verifier: NoteVerifier,
    /// Where to reach the log, if given.
    pub url: Option<String>,
}

/// A witness named in the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyWitness {
    /// The policy-local name (opaque bytes, used only to build groups and the quorum).
    pub name: Vec<u8>,
    /// The witness's cosignature key.
    pub verifier: CosignatureVerifier,
    /// The witness's submission prefix (for `add-checkpoint`), if given.
    pub url: Option<String>,
}

/// A group member or quorum target: a witness or an earlier group, by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Member {
    Witness(usize),
    Group(usize),
}

/// A k-of-n group of witnesses and groups.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Group {
    name: Vec<u8>,
    threshold: usize,
    members: Vec<Member>,
}

/// A parsed C2SP tlog-policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    logs: Vec<PolicyLog>,
    witnesses: Vec<PolicyWitness>,
    groups: Vec<Group>,
    /// `None` is `quorum none`: no cosignatures needed.
    quorum: Option<Member>,
}

/// A parse error for line `line` (1-based).
fn err(line: usize, reason: impl Into<String>) -> Error {
    Error::Policy {
        line,
        reason: reason.into(),
    }
}

/// Splits a line on runs of ASCII spaces and tabs, the only whitespace of tlog-policy "Structure".
fn tokens(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|b| *b == b' ' || *b == b'\t')
        .filter(|t| !t.is_empty())
}

fn utf8(line: usize, token: &[u8], what: &str) -> Result<String, Error> {
    String::from_utf8(token.to_vec()).map_err(|_| err(line, format!("{what} is not UTF-8")))
}

/// The base64 `type || public key` part of a vkey: names hold no `+`, ids are hex, so it is the third part.
fn key_material(verifier: &NoteVerifier) -> String {
    verifier
        .to_vkey()
        .splitn(3, '+')
        .nth(2)
        .unwrap_or_default()
        .to_owned()
}

/// An optional trailing URL, then nothing more.
fn optional_url<'a>(
    line: usize,
    mut rest: impl Iterator<Item = &'a [u8]>,
) -> Result<Option<String>, Error> {
    let url = rest.next().map(|u| utf8(line, u, "URL")).transpose()?;
    if rest.next().is_some() {
        return Err(err(line, "unexpected text after the URL"));
    }
    Ok(url)
}

impl Policy {
    /// A policy needing no cosignatures, accepting checkpoints signed by any of `logs`.
    pub fn logs_only(logs: Vec<NoteVerifier>) -> Self {
        Self {
            logs: logs
                .into_iter()
                .map(|verifier| PolicyLog {
                    verifier,
                    url: None,
                })
                .collect(),
            witnesses: Vec::new(),
            groups: Vec::new(),
            quorum: None,
        }
    }

    /// Parses a policy file. Errors name the 1-based line and what was wrong with it.
    pub fn parse(text: &[u8]) -> Result<Self, Error> {
        let mut policy = Self {
            logs: Vec::new(),
            witnesses: Vec::new(),
            groups: Vec::new(),
            quorum: None,
        };
        let mut saw_quorum = false;
        for (i, raw) in text.split(|b| *b == b'\n').enumerate() {
            let n = i + 1;
            // tlog-policy "Character set": tab, newline, 0x20-0x7E and 0x80-0xFF only.
            if raw.iter().any(|&b| b == 0x7f || (b < 0x20 && b != b'\t')) {
                return Err(err(n, "control character"));
            }
            let mut words = tokens(raw);
            let Some(keyword) = words.next() else {
                continue;
            };
            if keyword.first() == Some(&b'#') {
                continue;
            }
            match keyword {
                b"log" => policy.parse_log(n, words)?,
                b"witness" => policy.parse_witness(n, words)?,
                b"group" => policy.parse_group(n, words)?,
                b"quorum" => {
                    if saw_quorum {
                        return Err(err(n, "second quorum line"));
                    }
                    saw_quorum = true;
                    let name = words.next().ok_or_else(|| err(n, "quorum needs a name"))?;
                    if words.next().is_some() {
                        return Err(err(n, "unexpected text after the quorum name"));
                    }
                    policy.quorum = if name == b"none" {
                        None
                    } else {
                        Some(policy.lookup(n, name)?)
                    };
                }
                _ => {
                    return Err(err(
                        n,
                        format!("unknown keyword {:?}", String::from_utf8_lossy(keyword)),
                    ));
                }
            }
        }
        if !saw_quorum {
            return Err(err(0, "no quorum line"));
        }
        Ok(policy)
    }

    fn parse_log<'a>(
        &mut self,
        n: usize,
        mut words: impl Iterator<Item = &'a [u8]>,
    ) -> Result<(), Error> {
        let vkey = words.next().ok_or_else(|| err(n, "log needs a vkey"))?;
        let verifier = NoteVerifier::from_vkey(&utf8(n, vkey, "vkey")?)
            .map_err(|e| err(n, format!("log vkey: {e}")))?;
        let url = optional_url(n, words)?;
        // Duplicates are the same underlying key, whatever the name.
        if self
            .logs
            .iter()
            .any(|l| key_material(&l.verifier) == key_material(&verifier))
        {
            return Err(err(n, "duplicate log key"));
        }
        if self.logs.len() >= MAX_POLICY_ITEMS {
            return Err(err(n, "too many logs"));
        }
        self.logs.push(PolicyLog { verifier, url });
        Ok(())
    }

    fn parse_witness<'a>(
        &mut self,
        n: usize,
        mut words: impl Iterator<Item = &'a [u8]>,
    ) -> Result<(), Error> {
        let name = words.next().ok_or_else(|| err(n, "witness needs a name"))?;
        let vkey = words.next().ok_or_else(|| err(n, "witness needs a vkey"))?;
        let verifier = CosignatureVerifier::from_vkey(&utf8(n, vkey, "vkey")?)
            .map_err(|e| err(n, format!("witness vkey: {e}")))?;
        let url = optional_url(n, words)?;
        self.check_new_name(n, name)?;
        if self
            .witnesses
            .iter()
            .any(|w| w.verifier.public_key() == verifier.public_key())
        {
            return Err(err(n, "duplicate witness key"));
        }
        if self.witnesses.len() >= MAX_POLICY_ITEMS {
            return Err(err(n, "too many witnesses"));
        }
        self.witnesses.push(PolicyWitness {
            name: name.to_vec(),
            verifier,
            url,
        });
        Ok(())
    }

    fn parse_group<'a>(
        &mut self,
        n: usize,
        mut words: impl Iterator<Item = &'a [u8]>,
    ) -> Result<(), Error> {
        let name = words.next().ok_or_else(|| err(n, "group needs a name"))?;
        let threshold = words
            .next()
            .ok_or_else(|| err(n, "group needs all, any or a number"))?;
        self.check_new_name(n, name)?;
        let mut members = Vec::new();
        for member in words {
            let m = self.lookup(n, member)?;
            if members.contains(&m) {
                return Err(err(n, "a member is listed twice"));
            }
            members.push(m);
        }
        if members.is_empty() {
            return Err(err(n, "group has no members"));
        }
        let threshold = match threshold {
            b"all" => members.len(),
            b"any" => 1,
            k => {
                let k = std::str::from_utf8(k)
                    .ok()
                    .filter(|k| k.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|k| k.parse::<usize>().ok())
                    .ok_or_else(|| err(n, "threshold is not all, any or a decimal number"))?;
                if k == 0 || k > members.len() {
                    return Err(err(
                        n,
                        format!("threshold {k} is not within 1..={}", members.len()),
                    ));
                }
                k
            }
        };
        if self.groups.len() >= MAX_POLICY_ITEMS {
            return Err(err(n, "too many groups"));
        }
        self.groups.push(Group {
            name: name.to_vec(),
            threshold,
            members,
        });
        Ok(())
    }

    /// Witnesses and groups share one namespace, and `none` is predefined.
    fn check_new_name(&self, n: usize, name: &[u8]) -> Result<(), Error> {
        if name == b"none" {
            return Err(err(n, "the name none is reserved"));
        }
        if self.lookup(n, name).is_ok() {
            return Err(err(n, "name already defined"));
        }
        Ok(())
    }

    /// Resolves a name defined on an earlier line.
    fn lookup(&self, n: usize, name: &[u8]) -> Result<Member, Error> {
        if let Some(i) = self.witnesses.iter().position(|w| w.name == name) {
            return Ok(Member::Witness(i));
        }
        if let Some(i) = self.groups.iter().position(|g| g.name == name) {
            return Ok(Member::Group(i));
        }
        Err(err(
            n,
            format!(
                "name {:?} is not defined on an earlier line",
                String::from_utf8_lossy(name)
            ),
        ))
    }

    /// The logs the policy accepts.
    pub fn logs(&self) -> &[PolicyLog] {
        &self.logs
    }

    /// The witnesses the policy knows.
    pub fn witnesses(&self) -> &[PolicyWitness] {
        &self.witnesses
    }

    /// Whether the quorum is met when exactly the witnesses marked `true` (by index in
    /// [`Policy::witnesses`]) have cosigned.
    pub fn quorum_met(&self, cosigned: &[bool]) -> bool {
        // Groups only reference earlier definitions, so one pass in order evaluates them all.
        let mut groups = Vec::with_capacity(self.groups.len());
        let holds = |m: &Member, groups: &[bool]| match *m {
            Member::Witness(i) => cosigned.get(i).copied().unwrap_or(false),
            Member::Group(i) => groups.get(i).copied().unwrap_or(false),
        };
        for g in &self.groups {
            let count = g.members.iter().filter(|m| holds(m, &groups)).count();
            groups.push(count >= g.threshold);
        }
        self.quorum.as_ref().is_none_or(|q| holds(q, &groups))
    }

    /// Verifies a signed checkpoint note under this policy and returns the checkpoint.
    ///
    /// Requires (tlog-proof "Verifying", steps 2-3): a valid signature by a policy log whose key name is the
    /// checkpoint's origin; every cosignature from a policy witness to verify (a failing one rejects the note,
    /// as signed-note recommends); and the verified cosignatures to meet the quorum. Other signatures are
    /// ignored.
    pub fn verify_checkpoint(&self, note: &[u8]) -> Result<Checkpoint, Error> {
        let log_keys: Vec<NoteVerifier> = self.logs.iter().map(|l| l.verifier.clone()).collect();
        let opened = open_note(note, &log_keys)?;
        let checkpoint = Checkpoint::parse(&opened.text)?;
        if !opened.verified.iter().any(|s| s.name == checkpoint.origin) {
            return Err(Error::UnknownLog(checkpoint.origin));
        }
        let mut cosigned = vec![false; self.witnesses.len()];
        for sig in &opened.unknown {
            for (i, w) in self.witnesses.iter().enumerate() {
                if w.verifier.matches(&sig.name, sig.key_id) {
                    let cosig = Cosignature::from_parts(&sig.name, sig.key_id, &sig.signature)
                        .map_err(|_| Error::BadCosignature(sig.name.clone()))?;
                    w.verifier.verify(&opened.text, &cosig)?;
                    if let Some(c) = cosigned.get_mut(i) {
                        *c = true;
                    }
                }
            }
        }
        if !self.quorum_met(&cosigned) {
            return Err(Error::QuorumNotMet(cosigned.iter().filter(|c| **c).count()));
        }
        Ok(checkpoint)
    }
}

#[cfg(test)]
mod tests;
