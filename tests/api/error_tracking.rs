//! Sentry error tracking, end to end: the real binary with `[sentry] dsn`
//! pointing at a local fake Sentry, and a CareHQ that keeps answering 503
//! with a hint that quotes the family. The enquiry that runs out of retries
//! must reach Sentry as an error event, and no envelope — nor the log — may
//! carry the family's email or phone.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::{post, put};

use crate::helpers::{AppOptions, Db, SITE, TestDb, eventually, http_client, serve_binary};

const EMAIL: &str = "quentin.marlowe@example.org";
const PHONE: &str = "07700 900987";

/// Every envelope body the fake Sentry received, as text.
type Envelopes = Arc<Mutex<Vec<String>>>;

async fn fake_sentry() -> (String, Envelopes, tokio::task::JoinHandle<()>) {
    let envelopes: Envelopes = Arc::default();
    let app = Router::new()
        .route(
            "/api/{project}/envelope/",
            post(|State(seen): State<Envelopes>, body: Bytes| async move {
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&body).into_owned());
                "{}"
            }),
        )
        .with_state(envelopes.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (
        format!("http://publickey@127.0.0.1:{port}/42"),
        envelopes,
        server,
    )
}

/// A CareHQ that is down and, like some real APIs, quotes the request in its hint.
async fn failing_carehq() -> (String, tokio::task::JoinHandle<()>) {
    let hint = format!("Service unavailable while processing {EMAIL} / {PHONE}");
    let app = Router::new().route(
        "/v1/care-enquiries",
        put(move || async move {
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({ "error_type": "unavailable", "hint": hint })),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://127.0.0.1:{port}"), server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanently_failed_delivery_reaches_sentry_without_the_familys_details() {
    let db = TestDb::new(Db::Sqlite).await.unwrap();
    let (dsn, envelopes, _sentry) = fake_sentry().await;
    let (carehq_url, _carehq) = failing_carehq().await;
    let options = AppOptions {
        retry_schedule: vec![Duration::from_millis(100), Duration::from_millis(100)],
        ..AppOptions::default()
    }
    .config(format!(
        "[sentry]\ndsn = \"{dsn}\"\nenvironment = \"test\"\n"
    ));
    let app = serve_binary(&db, &carehq_url, &options).await;

    let family = serde_json::json!({
        "first_name": "Quentin", "last_name": "Marlowe", "email": EMAIL, "phone": PHONE,
        "care_requirements": "Dad needs a room near his sister",
    });
    let response = http_client()
        .post(format!("{}/forms/{SITE}", app.address))
        .json(&family)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    let event = eventually(Duration::from_secs(30), || async {
        envelopes
            .lock()
            .unwrap()
            .iter()
            .find(|e| e.contains("retry schedule spent"))
            .cloned()
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "no Sentry event for the failed delivery; envelopes: {:?}\nlog:\n{}",
            envelopes.lock().unwrap(),
            app.log_text()
        )
    });
    // An envelope is a header line, then an item header and the event itself.
    let event: serde_json::Value = event
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|item| item.get("message").is_some())
        .unwrap_or_else(|| panic!("no event item in {event}"));
    // Sentry leaves out the level when it is the default, error.
    assert!(
        event.get("level").is_none_or(|level| level == "error"),
        "{event}"
    );
    assert_eq!(event["environment"], "test");
    // The one step runner logs every lane's outcomes.
    assert_eq!(event["logger"], "enquiry_relay::sync::pipeline");

    app.signal("TERM");
    let log = app.log_text();
    let _ = app.wait_exit(Duration::from_secs(20)).await;
    let everything_sent = envelopes.lock().unwrap().join("\n");
    for secret in [EMAIL, PHONE, "900987", "Quentin", "Marlowe"] {
        assert!(
            !everything_sent.contains(secret),
            "{secret:?} was sent to Sentry:\n{everything_sent}"
        );
        assert!(!log.contains(secret), "{secret:?} is in the log:\n{log}");
    }
}
