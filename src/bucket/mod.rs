//! The log published to an S3-compatible bucket: where the bucket is ([`BucketLocation`]), a small S3 client
//! ([`S3`]) and the publisher that mirrors tiles, entry bundles and the checkpoint into it ([`Publisher`]).
//! docs/distributed.md describes the layout and the conflict rule.

mod error;
mod layout;
mod location;
mod publisher;
mod s3;

pub use error::BucketError;
pub use location::BucketLocation;
pub use publisher::{IMMUTABLE, LogReader, NO_CACHE, Publisher};
pub use s3::{Object, Put, S3};
