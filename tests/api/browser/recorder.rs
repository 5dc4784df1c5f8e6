//! A recording reverse proxy on loopback, between the browser and the real
//! application: it forwards every request unchanged (Host included, so the
//! service's origin check sees the page's own origin) and notes what the
//! browser really sent and what it got back. The browser tests use it to
//! prove which path a submission took (JSON from the script or a plain form
//! post) and how many posts reached the server. It can also hold back the
//! answers to posts, so a test can press a button again while the first post
//! is still loading.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// One request as it passed through.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub content_type: String,
    pub status: u16,
    pub location: Option<String>,
    /// The service answered `Idempotent-Replayed: true`.
    pub replayed: bool,
}

pub struct Recorder {
    /// Where the browser should go instead of the application.
    pub address: String,
    upstream: Arc<Upstream>,
    stop: CancellationToken,
}

struct Upstream {
    base: String,
    http: reqwest::Client,
    seen: Mutex<Vec<Seen>>,
    /// While `true`, answers to posts wait (the service has already acted).
    hold: watch::Sender<bool>,
}

/// The longest an answer is held, so a failing test cannot hang.
const MAX_HOLD: Duration = Duration::from_secs(30);

impl Recorder {
    pub async fn start(upstream: &str) -> Recorder {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind recorder");
        let address = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Upstream {
            base: upstream.to_owned(),
            // The browser follows redirects itself: pass them through.
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            seen: Mutex::new(Vec::new()),
            hold: watch::Sender::new(false),
        });
        let stop = CancellationToken::new();
        let token = stop.clone();
        let router = axum::Router::new()
            .fallback(forward)
            .with_state(Arc::clone(&state));
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(token.cancelled_owned())
                .await
        });
        Recorder {
            address,
            upstream: state,
            stop,
        }
    }

    /// From now on, answers to posts wait for [`Recorder::release_answers`].
    pub fn hold_answers(&self) {
        self.upstream.hold.send_replace(true);
    }

    pub fn release_answers(&self) {
        self.upstream.hold.send_replace(false);
    }

    /// Every POST so far, in the order they arrived (`status` 0 while the
    /// service has not answered yet).
    pub fn posts(&self) -> Vec<Seen> {
        self.upstream
            .seen
            .lock()
            .expect("recorder lock")
            .iter()
            .filter(|s| s.method == Method::POST)
            .cloned()
            .collect()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn forward(State(up): State<Arc<Upstream>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 1 << 20).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    // Noted on arrival: a request the browser gives up on still counts.
    let index = {
        let mut seen = up.seen.lock().expect("recorder lock");
        seen.push(Seen {
            method: parts.method.clone(),
            path: path.clone(),
            content_type: header_text(&parts.headers, header::CONTENT_TYPE).unwrap_or_default(),
            status: 0,
            location: None,
            replayed: false,
        });
        seen.len() - 1
    };
    let mut headers = parts.headers.clone();
    headers.remove(header::CONNECTION);
    headers.remove(header::CONTENT_LENGTH);
    let is_post = parts.method == Method::POST;
    let request = up
        .http
        .request(parts.method, format!("{}{path}", up.base))
        .headers(headers)
        .body(body);
    // In its own task, so a browser that abandons the request (a second
    // click cancels the first navigation) does not cancel it at the service.
    let upstream = Arc::clone(&up);
    let sent = tokio::spawn(async move {
        let (status, headers, bytes) = match request.send().await {
            Ok(a) => {
                let status = a.status();
                let headers = a.headers().clone();
                let bytes = a.bytes().await.unwrap_or_default();
                (status, headers, bytes)
            }
            // The application has been stopped.
            Err(_) => (StatusCode::BAD_GATEWAY, HeaderMap::new(), Bytes::new()),
        };
        if let Some(seen) = upstream.seen.lock().expect("recorder lock").get_mut(index) {
            seen.status = status.as_u16();
            seen.location = header_text(&headers, header::LOCATION);
            seen.replayed = headers
                .get("idempotent-replayed")
                .is_some_and(|v| v == "true");
        }
        if is_post {
            let mut held = upstream.hold.subscribe();
            let _ = tokio::time::timeout(MAX_HOLD, held.wait_for(|h| !h)).await;
        }
        (status, headers, bytes)
    });
    let Ok((status, headers, bytes)) = sent.await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    for (name, value) in &headers {
        if name != header::TRANSFER_ENCODING && name != header::CONNECTION {
            response.headers_mut().append(name, value.clone());
        }
    }
    response
}

fn header_text(map: &HeaderMap, name: header::HeaderName) -> Option<String> {
    map.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
