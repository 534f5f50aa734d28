//! A small S3 client: GET, HEAD, PUT with `If-None-Match: *` or `If-Match: ETAG`, and bucket creation, each
//! request presigned by rusty-s3 (SigV4, valid for [`SIGNED_FOR`]) and sent with reqwest, with bounded timeouts
//! and a cap on what a GET reads.

use std::time::Duration;

use rusty_s3::S3Action as _;
use rusty_s3::actions::{CreateBucket, DeleteObject, GetObject, HeadObject, PutObject};

use super::{BucketError, BucketLocation};

/// How long a presigned request stays valid: long enough for one request and its timeout.
const SIGNED_FOR: Duration = Duration::from_secs(120);
/// Longest a request may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest object read back: a full entry bundle is at most 256 × (2 + 65535) bytes.
pub(crate) const MAX_OBJECT_BYTES: usize = 32 << 20;

/// An object read back, with its ETag (the token for a later `If-Match`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// The object's bytes.
    pub bytes: Vec<u8>,
    /// Its ETag as the server sent it (quotes included), if it sent one.
    pub etag: Option<String>,
}

/// The outcome of a conditional PUT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// The object was written.
    Written,
    /// The precondition failed (412, or 409 while another conditional write is in flight): someone else wrote
    /// it first.
    PreconditionFailed,
}

/// A client of one bucket, addressing keys below its prefix.
pub struct S3 {
    http: reqwest::Client,
    bucket: rusty_s3::Bucket,
    credentials: rusty_s3::Credentials,
    prefix: String,
}

impl S3 {
    /// A client for `location`.
    pub fn new(location: &BucketLocation) -> Result<S3, BucketError> {
        let bucket = rusty_s3::Bucket::new(
            location.endpoint.clone(),
            rusty_s3::UrlStyle::Path,
            location.name.clone(),
            location.region.clone(),
        )
        .map_err(|e| BucketError::Config(format!("cannot address the bucket: {e:?}")))?;
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| BucketError::Config(e.without_url().to_string()))?;
        Ok(S3 {
            http,
            bucket,
            credentials: location.credentials.clone(),
            prefix: location.prefix.clone(),
        })
    }

    /// The full key of `name` below the prefix.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Creates the bucket with a `public-read` ACL, so that anyone can read the log from it (tests and first
    /// set-up on S3-compatible servers; on AWS, where ACLs are off by default, an operator grants public reads
    /// of the prefix with a bucket policy instead). An existing bucket of ours is fine.
    pub async fn create_bucket(&self) -> Result<(), BucketError> {
        let mut action = CreateBucket::new(&self.bucket, &self.credentials);
        action.headers_mut().insert("x-amz-acl", "public-read");
        let url = action.sign(SIGNED_FOR);
        let object = self.bucket.name().to_owned();
        let request = self
            .http
            .put(url)
            .header("x-amz-acl", "public-read")
            .header(reqwest::header::CONTENT_LENGTH, 0)
            .body(Vec::new());
        let response = self.send("CreateBucket", &object, request).await?;
        match response.status().as_u16() {
            200..=299 | 409 => Ok(()),
            status => Err(BucketError::Status {
                op: "CreateBucket",
                object,
                status,
            }),
        }
    }

    /// GET `name`; `None` if there is no such object.
    pub async fn get(&self, name: &str) -> Result<Option<Object>, BucketError> {
        self.get_limited(name, MAX_OBJECT_BYTES).await
    }

    /// GET `name`, refusing ([`BucketError::TooLarge`]) an object longer than `limit` bytes before reading it
    /// all.
    pub async fn get_limited(
        &self,
        name: &str,
        limit: usize,
    ) -> Result<Option<Object>, BucketError> {
        let key = self.key(name);
        let url = GetObject::new(&self.bucket, Some(&self.credentials), &key).sign(SIGNED_FOR);
        let mut response = self.send("GET", &key, self.http.get(url)).await?;
        match response.status().as_u16() {
            200 => {}
            404 => return Ok(None),
            status => {
                return Err(BucketError::Status {
                    op: "GET",
                    object: key,
                    status,
                });
            }
        }
        let etag = etag_of(&response);
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| BucketError::Transport {
            op: "GET",
            object: key.clone(),
            detail: e.without_url().to_string(),
        })? {
            if bytes.len().saturating_add(chunk.len()) > limit {
                return Err(BucketError::TooLarge { object: key, limit });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Some(Object { bytes, etag }))
    }

    /// HEAD `name`: its ETag if it exists (`Some(None)` if the server sent none), `None` if it does not.
    pub async fn head(&self, name: &str) -> Result<Option<Option<String>>, BucketError> {
        let key = self.key(name);
        let url = HeadObject::new(&self.bucket, Some(&self.credentials), &key).sign(SIGNED_FOR);
        let response = self.send("HEAD", &key, self.http.head(url)).await?;
        match response.status().as_u16() {
            200 => Ok(Some(etag_of(&response))),
            404 => Ok(None),
            status => Err(BucketError::Status {
                op: "HEAD",
                object: key,
                status,
            }),
        }
    }

    /// DELETE `name`; an object that is not there is fine (S3 answers 204 either way).
    pub async fn delete(&self, name: &str) -> Result<(), BucketError> {
        let key = self.key(name);
        let url = DeleteObject::new(&self.bucket, Some(&self.credentials), &key).sign(SIGNED_FOR);
        let response = self.send("DELETE", &key, self.http.delete(url)).await?;
        match response.status().as_u16() {
            200..=299 | 404 => Ok(()),
            status => Err(BucketError::Status {
                op: "DELETE",
                object: key,
                status,
            }),
        }
    }

    /// PUT `name` only if no object has that name (`If-None-Match: *`).
    pub async fn put_new(
        &self,
        name: &str,
        bytes: Vec<u8>,
        cache_control: &str,
    ) -> Result<Put, BucketError> {
        self.put(name, bytes, cache_control, ("if-none-match", "*"))
            .await
    }

    /// PUT `name` only if its ETag is still `etag` (`If-Match`).
    pub async fn put_replacing(
        &self,
        name: &str,
        bytes: Vec<u8>,
        cache_control: &str,
        etag: &str,
    ) -> Result<Put, BucketError> {
        self.put(name, bytes, cache_control, ("if-match", etag))
            .await
    }

    async fn put(
        &self,
        name: &str,
        bytes: Vec<u8>,
        cache_control: &str,
        (condition, value): (&'static str, &str),
    ) -> Result<Put, BucketError> {
        let key = self.key(name);
        let mut action = PutObject::new(&self.bucket, Some(&self.credentials), &key);
        // The condition is a signed header: nobody on the way can drop it and turn the write unconditional.
        action.headers_mut().insert(condition, value.to_owned());
        let url = action.sign(SIGNED_FOR);
        let length = bytes.len();
        let request = self
            .http
            .put(url)
            .header(condition, value)
            .header(reqwest::header::CACHE_CONTROL, cache_control)
            .header(reqwest::header::CONTENT_TYPE, content_type(name))
            // reqwest leaves Content-Length out of an empty body; S3 wants it.
            .header(reqwest::header::CONTENT_LENGTH, length)
            .body(bytes);
        let response = self.send("PUT", &key, request).await?;
        match response.status().as_u16() {
            200..=299 => Ok(Put::Written),
            // 409 ConditionalRequestConflict: another conditional write of this key is in flight (AWS).
            412 | 409 => Ok(Put::PreconditionFailed),
            status => Err(BucketError::Status {
                op: "PUT",
                object: key,
                status,
            }),
        }
    }

    async fn send(
        &self,
        op: &'static str,
        object: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, BucketError> {
        request.send().await.map_err(|e| BucketError::Transport {
            op,
            object: object.to_owned(),
            // Without the URL: it carries the request's signature.
            detail: e.without_url().to_string(),
        })
    }
}

fn etag_of(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get(reqwest::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The checkpoint is a text note (C2SP tlog-tiles); tiles and bundles are bytes.
fn content_type(name: &str) -> &'static str {
    if name == "checkpoint" {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}
