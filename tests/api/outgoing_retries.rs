//! Which outgoing calls are retried (reqwest-retry, `outgoing`): CareHQ GETs
//! and the alert webhook are, after a 503; CareHQ's creates (`PUT
//! care-enquiries`, `PUT home-visits`) are sent once, their retries left to
//! the outbox. Against a local fake that answers 503 a set number of times.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode};
use enquiry_relay::carehq::{CareHqClient, CareHqError, ClientSettings};
use enquiry_relay::ops::notify::{Destination, Notifier};
use secrecy::SecretString;

use crate::helpers::{AppOptions, offline_settings};

/// One request the fake saw: its method, path and nonce.
type Seen = Arc<Mutex<Vec<(Method, String, String)>>>;

/// A server that answers 503 to the first `failures` requests, then 200 `{}`.
async fn flaky(failures: usize) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let kept = Arc::clone(&seen);
    let app = axum::Router::new().fallback(
        move |method: Method, uri: axum::http::Uri, headers: HeaderMap| {
            let kept = Arc::clone(&kept);
            async move {
                let nonce = headers
                    .get("x-carehq-nonce")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let mut seen = kept.lock().unwrap();
                seen.push((method, uri.path().to_owned(), nonce));
                if seen.len() <= failures {
                    (StatusCode::SERVICE_UNAVAILABLE, "{}")
                } else {
                    (StatusCode::OK, "{}")
                }
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

fn client(base_url: &str) -> CareHqClient {
    CareHqClient::new(ClientSettings {
        base_url: base_url.to_owned(),
        account_id: "account".into(),
        api_key: SecretString::from("key"),
        api_secret: SecretString::from("secret"),
        timeout: Duration::from_secs(5),
    })
    .unwrap()
}

#[tokio::test]
async fn a_carehq_get_is_retried_after_a_503_and_signed_afresh() {
    let (url, seen) = flaky(1).await;
    let reply = client(&url)
        .get("locations", &[("page".into(), "1".into())])
        .await
        .expect("the retry succeeds");
    assert_eq!(reply.status, 200);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "the 503, then one retry: {seen:?}");
    assert!(
        seen.iter()
            .all(|(m, p, _)| *m == Method::GET && p == "/v1/locations")
    );
    assert_ne!(seen[0].2, seen[1].2, "each try carries its own nonce");
    assert!(!seen[0].2.is_empty());
}

#[tokio::test]
async fn carehq_creates_are_sent_once_even_after_a_503() {
    let (url, seen) = flaky(usize::MAX).await;
    let carehq = client(&url);
    let params = [("first_name".to_owned(), "Zoë".to_owned())];
    let enquiry = carehq.create_care_enquiry(&params).await;
    assert!(
        matches!(enquiry, Err(CareHqError::Status { status: 503, .. })),
        "{enquiry:?}"
    );
    let visit = carehq.create_home_visit(&params).await;
    assert!(
        matches!(visit, Err(CareHqError::Status { status: 503, .. })),
        "{visit:?}"
    );
    let seen = seen.lock().unwrap().clone();
    let paths: Vec<_> = seen
        .iter()
        .map(|(m, p, _)| (m.as_str(), p.as_str()))
        .collect();
    assert_eq!(
        paths,
        [("PUT", "/v1/care-enquiries"), ("PUT", "/v1/home-visits")],
        "one try each; the outbox owns their retries"
    );
}

#[tokio::test]
async fn the_alert_webhook_is_retried_after_a_503() {
    let (url, seen) = flaky(1).await;
    let options = AppOptions::default().config(format!("[alerts]\nwebhook_url = \"{url}/hook\"\n"));
    let settings = offline_settings(&options, |_| {});
    let notifier = Notifier::new(&settings.alerts)
        .expect("alerts configured")
        .expect("a webhook");
    notifier
        .send_to(Destination::Webhook, &serde_json::json!({"kind": "failed"}))
        .await
        .expect("the retry reaches the webhook");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "the 503, then one retry: {seen:?}");
    assert!(
        seen.iter()
            .all(|(m, p, _)| *m == Method::POST && p == "/hook")
    );
}
