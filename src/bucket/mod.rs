//! The log published to an S3-compatible bucket: where the bucket is ([`BucketLocation`]), a small S3 client
//! ([`S3`]), the publisher that mirrors tiles, entry bundles and the checkpoint into its public prefix
//! ([`Publisher`]), and the vault's ciphertexts under its private prefix ([`S3Blobs`]).
//! docs/distributed.md describes the layout and the conflict rule.

mod blobs;
mod error;
mod layout;
mod location;
mod publisher;
mod s3;

pub use blobs::S3Blobs;
pub use error::BucketError;
pub use location::BucketLocation;
pub use publisher::{IMMUTABLE, LogReader, NO_CACHE, Publisher};
pub use s3::{Object, Put, S3};
