//! Errors of the authorizer: loading refused (naming the file), and a denied request.

use std::path::PathBuf;

/// The policy directory could not be loaded, or an input could not be translated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthzError {
    /// A file or the directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The schema file is missing or does not parse.
    #[error("{path}: invalid schema: {message}")]
    Schema {
        /// The schema file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A policy file does not parse, holds a template, or reuses a policy id.
    #[error("{path}: {message}")]
    Policy {
        /// The policy file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A policy file does not validate against the schema (strict mode), or draws a validation warning.
    #[error("{path}: policy does not validate against the schema: {message}")]
    Validation {
        /// The policy file.
        path: PathBuf,
        /// Every error and warning, one per line.
        message: String,
    },
    /// The directory holds no `*.cedar` file: everything would be denied, which is surely a mistake.
    #[error("{0}: no *.cedar policy file")]
    NoPolicies(PathBuf),
    /// The schema does not describe the entities and contexts the server sends (it was edited out of step).
    #[error("{path}: schema does not match the server's requests: {message}")]
    SchemaMismatch {
        /// The schema file.
        path: PathBuf,
        /// The first request the schema refused.
        message: String,
    },
    /// A role name that is not one of design.md's roles.
    #[error("unknown role {0:?}")]
    UnknownRole(String),
    /// Cedar refused an input built by this module (a bug, or an id Cedar cannot hold).
    #[error("authorization input refused: {0}")]
    Internal(String),
}

/// A request the policies do not allow.
///
/// Display is the short public message; [`Denied::policies`] names the `forbid` policies that matched (empty when
/// nothing permitted the request), for logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("forbidden by policy")]
pub struct Denied {
    pub(crate) policies: Vec<String>,
    pub(crate) errors: Vec<String>,
}

impl Denied {
    /// The stable machine-readable code, for JSON error bodies.
    pub fn code(&self) -> &'static str {
        "forbidden"
    }

    /// The ids of the `forbid` policies that matched; empty if no `permit` matched.
    pub fn policies(&self) -> &[String] {
        &self.policies
    }

    /// Evaluation errors, if any (each one denies: the authorizer fails closed). Empty with valid policies.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }
}
