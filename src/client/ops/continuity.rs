//! How an audited log relates to the `{size, root}` the previous `audit --state` run saved, and the one-line
//! verdict built from that and the problems found, so that the two can never disagree.

use ledger::{Hash, MemoryTree, verify_consistency};
use serde::Serialize;

use super::audit::{AuditReport, AuditState};
use crate::client::TileSource;

/// How the audited log relates to the state the previous run saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Continuity {
    /// The log extends what the previous run saw: the old root is the root at the old size of today's
    /// entries (which rebuild today's signed root), or the server's consistency proof between the two
    /// signed roots verifies (RFC 9162 §2.1.4).
    Consistent,
    /// Proof that the log key signed two histories (a rewrite or a split view), evidence against the log's
    /// operator: another root for the same size, or today's entries, which rebuild today's signed root,
    /// rebuild another root than the saved one at the old size.
    Forked,
    /// Neither could be established: the log shrank (a stale checkpoint or a rollback), no consistency proof
    /// was served or it fails where the entries served cannot decide, or the state file is unreadable.
    Unverified,
}

impl AuditReport {
    /// The one-line verdict, which never contradicts [`AuditReport::problems`]: "clean" only when there are
    /// none, "consistent" only when every check against the previous state passed.
    pub fn verdict(&self) -> String {
        let previous = self.previous_size.unwrap_or_default();
        let problems = self.problems.len();
        match (self.continuity, problems) {
            (Some(Continuity::Forked), _) => format!(
                "FORKED: this log is not an extension of the one audited at size {previous} (the log key \
                 signed two histories: a rewrite or a split view); {problems} problem(s)"
            ),
            (Some(Continuity::Unverified), _) => format!(
                "consistency with the previous audit at size {previous} NOT established; {problems} problem(s)"
            ),
            (Some(Continuity::Consistent), 0) => {
                format!("clean; consistent with the previous audit at size {previous}")
            }
            (Some(Continuity::Consistent), _) => format!(
                "{problems} problem(s), though consistent with the previous audit at size {previous}"
            ),
            (None, 0) => "clean (no previous audit state to compare with)".to_owned(),
            (None, _) => format!("{problems} problem(s)"),
        }
    }
}

/// Checks today's log against the previous run's `{size, root}`, records what is wrong, and says whether the
/// log provably extends, provably forks from, or cannot be related to what the previous run saw.
pub(super) async fn check_previous(
    source: &impl TileSource,
    previous: &AuditState,
    tree: &MemoryTree,
    root: &Hash,
    size: u64,
    problem: &mut impl FnMut(Option<u64>, String),
) -> Continuity {
    if previous.size > size {
        problem(
            None,
            format!("the log shrank from {} to {size} entries", previous.size),
        );
        // A smaller checkpoint may be a stale one, not another history: nothing here can tell.
        return Continuity::Unverified;
    }
    if previous.size == 0 {
        return Continuity::Consistent;
    }
    let mut old_root = [0u8; 32];
    if hex::decode_to_slice(&previous.root, &mut old_root).is_err() {
        problem(None, "the state file's root is not 32 hex bytes".into());
        return Continuity::Unverified;
    }
    let rewritten = |problem: &mut dyn FnMut(Option<u64>, String)| {
        problem(
            None,
            format!(
                "the log was rewritten: the root at size {} differs from the previous run's",
                previous.size
            ),
        );
        Continuity::Forked
    };
    if previous.size == size {
        // Two roots signed by the log key for one size: equal, or two histories.
        return if old_root == *root {
            Continuity::Consistent
        } else {
            rewritten(problem)
        };
    }
    // The entries fetched here decide on their own when they rebuild today's signed root: their prefix is
    // then what the log key signed, and the old root must be its root at the old size.
    let recomputed = (tree.root() == *root)
        .then(|| tree.root_at(previous.size).ok())
        .flatten();
    let continuity = match recomputed {
        Some(old) if old == old_root => Continuity::Consistent,
        Some(_) => return rewritten(problem),
        None => Continuity::Unverified,
    };
    // The server's consistency proof (RFC 9162 §2.1.4.2) relates the two signed roots directly. A static
    // tlog-tiles source serves none: every entry was fetched, so the recomputation above decides alone.
    let Some(served) = source.consistency(previous.size, size).await else {
        return continuity;
    };
    match served {
        Ok(proof) if verify_consistency(previous.size, size, &proof, &old_root, root).is_ok() => {
            Continuity::Consistent
        }
        Ok(_) => {
            problem(
                None,
                format!(
                    "the consistency proof from {} to {size} does not verify",
                    previous.size
                ),
            );
            continuity
        }
        Err(e) => {
            problem(
                None,
                format!("no consistency proof from {} to {size}: {e}", previous.size),
            );
            continuity
        }
    }
}
