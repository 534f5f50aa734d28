//! moto's standalone S3 server (PyPI `moto[server]`, pinned in tests/interop/requirements.txt) on a free
//! 127.0.0.1 port, killed when dropped. A missing moto is a test failure, never a skip.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tradeledger::bucket::{BucketLocation, S3};

/// The access key every test bucket uses; the secret is [`SECRET`].
pub const ACCESS_KEY: &str = "AKIATRADELEDGERTEST";
/// A secret that must never appear in a log line or an error (tests/e2e/bucket.rs greps for it).
pub const SECRET: &str = "moto-secret-d41f0c9e7a2b-must-never-be-logged";

/// A running moto S3 server.
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// Its port (a replacement server can take it over after [`Moto::kill`]).
    pub port: u16,
    child: Option<Child>,
}

impl Moto {
    /// Starts moto on a free port.
    pub fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Moto::start_on(port)
    }

    /// Starts moto on `port` and waits until it answers.
    pub fn start_on(port: u16) -> Moto {
        let child = Command::new(python())
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting moto's S3 server (tests/interop/requirements.txt)");
        let moto = Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto did not listen on {port} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// Where the bucket `name` with `prefix` is on this server, with the test credentials.
    pub fn location(&self, name: &str, prefix: &str) -> BucketLocation {
        let endpoint = self.endpoint.clone();
        BucketLocation::from_vars(&format!("s3://{name}/{prefix}"), |var| match var {
            "AWS_ENDPOINT_URL" => Some(endpoint.clone()),
            "AWS_ACCESS_KEY_ID" => Some(ACCESS_KEY.to_owned()),
            "AWS_SECRET_ACCESS_KEY" => Some(SECRET.to_owned()),
            _ => None,
        })
        .unwrap()
    }

    /// Creates the bucket `name` (public-read) and returns a client of its `prefix`.
    pub async fn bucket(&self, name: &str, prefix: &str) -> S3 {
        let s3 = S3::new(&self.location(name, prefix)).unwrap();
        s3.create_bucket().await.unwrap();
        s3
    }

    /// The public URL of `name/prefix`, as `audit --tiles` reads it.
    pub fn public_url(&self, name: &str, prefix: &str) -> String {
        self.location(name, prefix).public_url()
    }

    /// Every key in `bucket` starting with `prefix`, read anonymously (moto answers unsigned requests), in
    /// order.
    pub async fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let url = format!(
            "{}/{bucket}?list-type=2&max-keys=1000&prefix={prefix}",
            self.endpoint
        );
        let xml = reqwest::get(url).await.unwrap().text().await.unwrap();
        assert!(
            !xml.contains("<IsTruncated>true</IsTruncated>"),
            "more than 1,000 keys"
        );
        xml.split("<Key>")
            .skip(1)
            .map(|rest| rest.split("</Key>").next().unwrap().to_owned())
            .collect()
    }

    /// The bytes of `key` in `bucket`, read anonymously.
    pub async fn object(&self, bucket: &str, key: &str) -> Vec<u8> {
        let url = format!("{}/{bucket}/{key}", self.endpoint);
        let answer = reqwest::get(url).await.unwrap();
        assert_eq!(answer.status(), 200, "GET {key}");
        answer.bytes().await.unwrap().to_vec()
    }

    /// Kills the server (an outage: everything it held is gone).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The interpreter of tests/interop/pyenv.sh's virtual environment (with moto installed).
fn python() -> String {
    let out = Command::new("sh")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/pyenv.sh"))
        .output()
        .expect("running tests/interop/pyenv.sh");
    assert!(
        out.status.success(),
        "tests/interop/pyenv.sh could not set up Python with the pinned requirements:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}
