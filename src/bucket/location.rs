//! Where the bucket is: `--bucket s3://NAME[/PREFIX]` plus the standard AWS_* environment variables.
//!
//! - `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`: the S3-compatible server (required; `http://` only, as this
//!   build carries no TLS stack: docs/operations.md).
//! - `AWS_REGION` or `AWS_DEFAULT_REGION`: the signing region (default `us-east-1`).
//! - `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optionally `AWS_SESSION_TOKEN`: the credentials.
//!
//! Objects are addressed path-style (`ENDPOINT/NAME/KEY`), which every S3-compatible server accepts.

use super::BucketError;

/// A parsed `--bucket` URL and the environment it is completed from. Holds the credentials, so it has no
/// `Debug` that would print them.
#[derive(Clone)]
pub struct BucketLocation {
    pub(super) endpoint: url::Url,
    pub(super) name: String,
    /// The key prefix of the public log, empty or ending in `/`.
    pub(super) prefix: String,
    pub(super) region: String,
    pub(super) credentials: rusty_s3::Credentials,
}

impl std::fmt::Debug for BucketLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketLocation")
            .field("endpoint", &self.endpoint.as_str())
            .field("name", &self.name)
            .field("prefix", &self.prefix)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl BucketLocation {
    /// Parses `s3://NAME[/PREFIX]` and reads the endpoint, region and credentials from the process
    /// environment.
    pub fn from_env(url: &str) -> Result<BucketLocation, BucketError> {
        Self::from_vars(url, |name| std::env::var(name).ok())
    }

    /// [`BucketLocation::from_env`] with the variables read through `var` (tests).
    pub fn from_vars(
        url: &str,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<BucketLocation, BucketError> {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let (name, prefix) = parse_bucket_url(url)?;
        let endpoint = var("AWS_ENDPOINT_URL_S3")
            .or_else(|| var("AWS_ENDPOINT_URL"))
            .ok_or_else(|| {
                BucketError::Config(
                    "set AWS_ENDPOINT_URL to the S3-compatible server (e.g. http://127.0.0.1:9000)"
                        .into(),
                )
            })?;
        let endpoint = url::Url::parse(endpoint.trim())
            .map_err(|e| BucketError::Config(format!("AWS_ENDPOINT_URL is not a URL: {e}")))?;
        if endpoint.scheme() != "http" {
            return Err(BucketError::Config(format!(
                "AWS_ENDPOINT_URL must be an http:// URL (this build has no TLS stack), not {}://",
                endpoint.scheme()
            )));
        }
        if !endpoint.username().is_empty() || endpoint.password().is_some() {
            // It would be printed wherever the endpoint is; the keys have their own variables.
            return Err(BucketError::Config(
                "AWS_ENDPOINT_URL must not carry credentials: use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                    .into(),
            ));
        }
        if endpoint.host_str().is_none() {
            return Err(BucketError::Config("AWS_ENDPOINT_URL has no host".into()));
        }
        let region = var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".to_owned());
        let key = var("AWS_ACCESS_KEY_ID");
        let secret = var("AWS_SECRET_ACCESS_KEY");
        let (Some(key), Some(secret)) = (key, secret) else {
            return Err(BucketError::Config(
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the bucket".into(),
            ));
        };
        let credentials = match var("AWS_SESSION_TOKEN") {
            Some(token) => rusty_s3::Credentials::new_with_token(key, secret, token),
            None => rusty_s3::Credentials::new(key, secret),
        };
        Ok(BucketLocation {
            endpoint,
            name,
            prefix,
            region,
            credentials,
        })
    }

    /// The vault's private place in the same bucket: `private/PREFIX/`, beside the public prefix and never
    /// under it, so that a public-read grant or a CDN origin on `PREFIX/` does not reach it
    /// (docs/operations.md gives the access policy). Refused when the public prefix is the bucket's root (every
    /// key would be under it) or itself starts with `private/`.
    pub fn private(&self) -> Result<BucketLocation, BucketError> {
        if self.prefix.is_empty() || self.prefix.starts_with("private/") {
            return Err(BucketError::Config(format!(
                "--bucket s3://{}/{}: the vault keeps ciphertexts under s3://{0}/private/PREFIX/, which must \
                 not be under the public prefix: give the log a prefix of its own, not starting with \
                 private/ (e.g. s3://{0}/log)",
                self.name, self.prefix
            )));
        }
        Ok(BucketLocation {
            prefix: format!("private/{}", self.prefix),
            ..self.clone()
        })
    }

    /// The plain HTTP URL of the public prefix (path-style), for `audit --tiles`.
    pub fn public_url(&self) -> String {
        format!(
            "{}/{}/{}",
            self.endpoint.as_str().trim_end_matches('/'),
            self.name,
            self.prefix
        )
        .trim_end_matches('/')
        .to_owned()
    }
}

/// `s3://NAME[/PREFIX[/]]` → (NAME, `PREFIX/` or empty). Bucket names follow S3's rules (3 to 63 of
/// `a-z0-9.-`); a prefix is plain path segments (no `.`/`..`, no empty segment).
fn parse_bucket_url(url: &str) -> Result<(String, String), BucketError> {
    let bad = |why: &str| BucketError::Config(format!("--bucket {url:?}: {why}"));
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| bad("must start with s3://"))?;
    let (name, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let name_ok = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    if !name_ok {
        return Err(bad(
            "the bucket name must be 3 to 63 of a-z, 0-9, '.' and '-'",
        ));
    }
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        return Ok((name.to_owned(), String::new()));
    }
    let segment_ok = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    if !prefix.split('/').all(segment_ok) {
        return Err(bad(
            "the prefix must be path segments of a-z, A-Z, 0-9, '-', '_' and '.'",
        ));
    }
    Ok((name.to_owned(), format!("{prefix}/")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "AWS_ENDPOINT_URL" => Some("http://127.0.0.1:9000/".into()),
            "AWS_ACCESS_KEY_ID" => Some("AKIDEXAMPLE".into()),
            "AWS_SECRET_ACCESS_KEY" => Some("very-secret-value".into()),
            _ => None,
        }
    }

    #[test]
    fn bucket_urls_parse_to_name_and_prefix() {
        let at = BucketLocation::from_vars("s3://trade-log/public/v1/", env).unwrap();
        assert_eq!(
            (at.name.as_str(), at.prefix.as_str()),
            ("trade-log", "public/v1/")
        );
        assert_eq!(at.region, "us-east-1");
        assert_eq!(at.public_url(), "http://127.0.0.1:9000/trade-log/public/v1");
        let bare = BucketLocation::from_vars("s3://trade-log", env).unwrap();
        assert_eq!(bare.prefix, "");
        assert_eq!(bare.public_url(), "http://127.0.0.1:9000/trade-log");
    }

    #[test]
    fn bad_urls_and_missing_settings_are_named() {
        for (url, says) in [
            ("http://x/y", "must start with s3://"),
            ("s3://A_B", "bucket name"),
            ("s3://ab", "bucket name"),
            ("s3://logs/../x", "prefix"),
            ("s3://logs/a//b", "prefix"),
        ] {
            let e = BucketLocation::from_vars(url, env).unwrap_err().to_string();
            assert!(e.contains(says), "{url}: {e}");
        }
        let no_endpoint = BucketLocation::from_vars("s3://logs", |n| {
            (n != "AWS_ENDPOINT_URL").then(|| env(n)).flatten()
        });
        assert!(
            no_endpoint
                .unwrap_err()
                .to_string()
                .contains("AWS_ENDPOINT_URL")
        );
        let no_secret = BucketLocation::from_vars("s3://logs", |n| {
            (n != "AWS_SECRET_ACCESS_KEY").then(|| env(n)).flatten()
        });
        assert!(
            no_secret
                .unwrap_err()
                .to_string()
                .contains("AWS_SECRET_ACCESS_KEY")
        );
        let https = BucketLocation::from_vars("s3://logs", |n| match n {
            "AWS_ENDPOINT_URL" => Some("https://s3.example".into()),
            _ => env(n),
        });
        assert!(https.unwrap_err().to_string().contains("http://"));
        let userinfo = BucketLocation::from_vars("s3://logs", |n| match n {
            "AWS_ENDPOINT_URL" => Some("http://user:very-secret-value@127.0.0.1:9000".into()),
            _ => env(n),
        });
        let refused = userinfo.unwrap_err().to_string();
        assert!(refused.contains("must not carry credentials"), "{refused}");
        assert!(!refused.contains("very-secret-value"), "{refused}");
    }

    #[test]
    fn the_private_prefix_is_beside_the_public_one_never_under_it() {
        let at = BucketLocation::from_vars("s3://trade-log/public/v1", env).unwrap();
        let private = at.private().unwrap();
        assert_eq!(private.prefix, "private/public/v1/");
        assert!(!private.prefix.starts_with(&at.prefix));
        for url in [
            "s3://trade-log",
            "s3://trade-log/private",
            "s3://trade-log/private/x",
        ] {
            let e = BucketLocation::from_vars(url, env)
                .unwrap()
                .private()
                .unwrap_err();
            assert!(e.to_string().contains("prefix of its own"), "{url}: {e}");
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let at = BucketLocation::from_vars("s3://logs", env).unwrap();
        assert!(!format!("{at:?}").contains("very-secret-value"));
    }
}
