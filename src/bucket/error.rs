//! What can go wrong talking to the bucket. Messages name the operation, the object and the status, never a
//! credential or a signed URL (a presigned URL carries a signature valid for a minute).

/// Why a bucket operation failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    /// `--bucket` or the AWS_* environment variables are not usable.
    #[error("bucket configuration: {0}")]
    Config(String),
    /// The endpoint could not be reached, or the connection broke or timed out.
    #[error("{op} {object}: cannot reach the bucket: {detail}")]
    Transport {
        /// The S3 operation (GET, PUT, ...).
        op: &'static str,
        /// The object key.
        object: String,
        /// What the HTTP client said, without the URL.
        detail: String,
    },
    /// The bucket answered with a status the operation does not expect.
    #[error("{op} {object}: the bucket answered {status}")]
    Status {
        /// The S3 operation.
        op: &'static str,
        /// The object key.
        object: String,
        /// The HTTP status.
        status: u16,
    },
    /// An object is larger than anything the log publishes.
    #[error("GET {object}: the object is larger than {limit} bytes")]
    TooLarge {
        /// The object key.
        object: String,
        /// The cap.
        limit: usize,
    },
    /// A write-once object already holds other bytes than the log's: a fork or a corrupted bucket.
    #[error(
        "{object} already holds other bytes than this log's: a fork or a corrupted bucket; publishing stopped"
    )]
    Conflict {
        /// The object key.
        object: String,
    },
    /// The bucket's checkpoint is not a checkpoint of this log's history.
    #[error("the bucket's checkpoint {0}; publishing stopped")]
    ForeignCheckpoint(String),
    /// Reading the log itself failed.
    #[error("reading the log: {0}")]
    Log(String),
}

impl BucketError {
    /// Whether publishing must stop for good (the bucket disagrees with the log), rather than retry later.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            BucketError::Conflict { .. } | BucketError::ForeignCheckpoint(_)
        )
    }
}
