//! A local stand-in for the CAPTCHA providers' siteverify endpoints, on
//! 127.0.0.1:0: answers as the provider would (captcha.md §9), records every
//! call, and can be told to fail, answer 5xx or hang. No real provider is ever
//! contacted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// What the fake answers next.
#[derive(Clone, Debug)]
pub enum Reply {
    /// `success: true` with these fields (hostname, score, action, …).
    Pass(Value),
    /// `success: false` with these error codes.
    Fail(Vec<&'static str>),
    /// Friendly Captcha v2 failure: HTTP status and `error.error_code`.
    FriendlyFail(u16, &'static str),
    /// An HTTP status with an empty body.
    Status(u16),
    /// Never answer (longer than any test timeout).
    Hang,
    /// Answer the next call with the first, and every later one with the second.
    Then(Box<Reply>, Box<Reply>),
}

/// One call as received.
#[derive(Clone, Debug)]
pub struct Call {
    pub fields: HashMap<String, String>,
    pub api_key: Option<String>,
    pub content_type: String,
}

#[derive(Clone)]
struct Shared {
    reply: Arc<Mutex<Reply>>,
    calls: Arc<Mutex<Vec<Call>>>,
    /// Turnstile semantics: token → idempotency key of its first redemption.
    redeemed: Arc<Mutex<HashMap<String, String>>>,
}

pub struct FakeVerify {
    pub url: String,
    shared: Shared,
    _task: tokio::task::JoinHandle<()>,
}

impl FakeVerify {
    pub async fn start(reply: Reply) -> FakeVerify {
        let shared = Shared {
            reply: Arc::new(Mutex::new(reply)),
            calls: Arc::default(),
            redeemed: Arc::default(),
        };
        let app = Router::new()
            .route("/siteverify", post(siteverify))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/siteverify", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeVerify {
            url,
            shared,
            _task: task,
        }
    }

    pub fn set(&self, reply: Reply) {
        *self.shared.reply.lock().unwrap() = reply;
    }

    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().unwrap().clone()
    }
}

async fn siteverify(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let fields: HashMap<String, String> = if content_type.starts_with("application/json") {
        serde_json::from_slice::<HashMap<String, Value>>(&body)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()))
            .collect()
    } else {
        form_urlencoded::parse(&body).into_owned().collect()
    };
    let api_key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    shared.calls.lock().unwrap().push(Call {
        fields: fields.clone(),
        api_key,
        content_type,
    });
    let reply = {
        let mut next = shared.reply.lock().unwrap();
        match next.clone() {
            Reply::Then(first, later) => {
                *next = *later;
                *first
            }
            reply => reply,
        }
    };
    match reply {
        Reply::Then(..) => unreachable!("a nested Then is not supported"),
        // Never answers: the relay's own timeout is what ends the call.
        Reply::Hang => std::future::pending().await,
        Reply::Status(code) => StatusCode::from_u16(code).unwrap().into_response(),
        Reply::Fail(codes) => {
            axum::Json(json!({"success": false, "error-codes": codes})).into_response()
        }
        Reply::FriendlyFail(status, code) => (
            StatusCode::from_u16(status).unwrap(),
            axum::Json(json!({"success": false, "error": {"error_code": code, "detail": "fake"}})),
        )
            .into_response(),
        Reply::Pass(extra) => {
            // Like Turnstile: a token redeems once, unless the retry carries the
            // same idempotency key.
            let token = fields.get("response").cloned().unwrap_or_default();
            let key = fields.get("idempotency_key").cloned().unwrap_or_default();
            {
                let mut redeemed = shared.redeemed.lock().unwrap();
                match redeemed.get(&token) {
                    Some(first) if key.is_empty() || *first != key => {
                        return axum::Json(
                            json!({"success": false, "error-codes": ["timeout-or-duplicate"]}),
                        )
                        .into_response();
                    }
                    _ => {
                        redeemed.insert(token, key);
                    }
                }
            }
            let mut body =
                json!({"success": true, "error-codes": [], "challenge_ts": "2026-11-21T12:00:00Z"});
            if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
                for (k, v) in extra {
                    body.insert(k.clone(), v.clone());
                }
            }
            axum::Json(body).into_response()
        }
    }
}
