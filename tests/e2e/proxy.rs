//! A hostile server: a proxy in front of the real one that alters chosen answers, to check that the client
//! refuses what it cannot verify and prints nothing of it.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

/// Alters an answer: gets the request path (with query) and the answer body.
pub type Tamper = Arc<dyn Fn(&str, &mut Vec<u8>) + Send + Sync>;

/// A running proxy.
pub struct Proxy {
    /// Its base URL.
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Upstream {
    base: String,
    http: reqwest::Client,
    tamper: Tamper,
}

/// Starts a proxy to `upstream` that passes every answer through `tamper`.
pub async fn start(upstream: &str, tamper: Tamper) -> Proxy {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let state = Arc::new(Upstream {
        base: upstream.to_owned(),
        http: reqwest::Client::new(),
        tamper,
    });
    let app = axum::Router::new().fallback(forward).with_state(state);
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Proxy { url, task }
}

async fn forward(State(up): State<Arc<Upstream>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let target = parts
        .uri
        .path_and_query()
        .map_or("/".to_owned(), |t| t.as_str().to_owned());
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let mut out = up
        .http
        .request(parts.method.clone(), format!("{}{target}", up.base))
        .body(body);
    for (name, value) in &parts.headers {
        if name != http::header::HOST && name != http::header::CONTENT_LENGTH {
            out = out.header(name, value);
        }
    }
    let answer = out.send().await.unwrap();
    let status = answer.status();
    let content_type = answer.headers().get(http::header::CONTENT_TYPE).cloned();
    let mut bytes = answer.bytes().await.unwrap().to_vec();
    (up.tamper)(&target, &mut bytes);
    let mut response = Response::builder().status(status);
    if let Some(ct) = content_type {
        response = response.header(http::header::CONTENT_TYPE, ct);
    }
    response.body(Body::from(bytes)).unwrap()
}

/// Flips one bit in the middle of the base64 field `field` of a JSON answer (or of its first element, if
/// the field is an array), when the path contains `path_part`.
pub fn flip_in(path_part: &'static str, field: &'static str) -> Tamper {
    Arc::new(move |path, body| {
        if !path.contains(path_part) {
            return;
        }
        let Ok(mut json) = serde_json::from_slice::<Value>(body) else {
            return;
        };
        let slot = match &mut json[field] {
            Value::Array(items) => match items.first_mut() {
                Some(first) => first,
                None => return,
            },
            other => other,
        };
        let Some(text) = slot.as_str() else { return };
        let mut bytes = STANDARD.decode(text).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        *slot = Value::from(STANDARD.encode(&bytes));
        *body = serde_json::to_vec(&json).unwrap();
    })
}
