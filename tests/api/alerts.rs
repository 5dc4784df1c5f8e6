//! Alerts to a webhook receiver on loopback: one message per incident and one
//! when it clears, also with two instances on one database.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use serde_json::Value;

use enquiry_relay::sandbox::Faults;

use crate::helpers::{AppOptions, Db, TestApp, TestDb, TestSandbox, eventually};
use crate::on_both_databases;
use crate::status::posted_id;

type Inbox = Arc<Mutex<Vec<Value>>>;

/// A webhook receiver: its URL and what it received.
async fn receiver() -> (String, Inbox) {
    let inbox: Inbox = Arc::default();
    let app = axum::Router::new()
        .route(
            "/hook",
            post(
                |State(inbox): State<Inbox>, Json(body): Json<Value>| async move {
                    inbox.lock().unwrap().push(body);
                },
            ),
        )
        .with_state(Arc::clone(&inbox));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, inbox)
}

fn options(url: &str, details: bool) -> AppOptions {
    AppOptions {
        extra_toml: format!(
            "[alerts]\nwebhook_url = \"{url}\"\ncheck_interval = \"100ms\"\ninclude_details = {details}\n"
        ),
        ..AppOptions::default()
    }
}

fn count(inbox: &Inbox, kind: &str, event: &str) -> usize {
    inbox
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == kind && m["event"] == event)
        .count()
}

async fn wait_for(inbox: &Inbox, kind: &str, event: &str) {
    eventually(Duration::from_secs(15), || async {
        (count(inbox, kind, event) > 0).then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("no {kind} {event} alert: {:?}", inbox.lock().unwrap()));
}

async fn a_failed_enquiry_alerts_once_and_clears_once(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    let (url, inbox) = receiver().await;
    let app = TestApp::spawn(&db, &sandbox.url, &options(&url, false)).await;
    sandbox.set_faults(Faults {
        status: Some(400),
        status_times: Some(1),
        ..Faults::default()
    });
    let id = posted_id(&app, 1).await;
    app.wait_for_status(&id, "failed").await;
    wait_for(&inbox, "failed", "incident").await;
    // Several more checks run while the incident lasts; none repeats it.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(count(&inbox, "failed", "incident"), 1);
    let message = inbox.lock().unwrap()[0].clone();
    assert_eq!(message["waiting"]["failed"], 1);
    assert!(
        message["text"].as_str().unwrap().contains("enquiries show"),
        "{message}"
    );
    assert!(
        !message.to_string().contains("example.com"),
        "no personal data: {message}"
    );
    assert!(message.get("details").is_none());

    app.store.retry_failed(&id).await.unwrap();
    app.wait_for_status(&id, "synced").await;
    wait_for(&inbox, "failed", "cleared").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(count(&inbox, "failed", "cleared"), 1);
    assert_eq!(count(&inbox, "failed", "incident"), 1);
    app.stop().await;
}
on_both_databases!(a_failed_enquiry_alerts_once_and_clears_once);

async fn two_instances_send_each_alert_once(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    let (url, inbox) = receiver().await;
    let wrong = AppOptions {
        api_secret: "not-the-secret".into(),
        ..options(&url, true)
    };
    let first = TestApp::spawn(&db, &sandbox.url, &wrong).await;
    let second = TestApp::spawn(&db, &sandbox.url, &wrong).await;
    posted_id(&first, 1).await;
    wait_for(&inbox, "paused", "incident").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        count(&inbox, "paused", "incident"),
        1,
        "{:?}",
        inbox.lock().unwrap()
    );
    let message = inbox.lock().unwrap()[0].clone();
    assert!(
        message["text"].as_str().unwrap().contains("Reason:"),
        "{message}"
    );
    first.stop().await;
    second.stop().await;

    // Fixed credentials: the restarted instances deliver, the pause clears once.
    let first = TestApp::spawn(&db, &sandbox.url, &options(&url, true)).await;
    let second = TestApp::spawn(&db, &sandbox.url, &options(&url, true)).await;
    wait_for(&inbox, "paused", "cleared").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(count(&inbox, "paused", "cleared"), 1);
    first.stop().await;
    second.stop().await;
}
on_both_databases!(two_instances_send_each_alert_once);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn include_details_names_the_families_to_call_back() {
    let db = TestDb::new(Db::Sqlite).await.unwrap();
    let sandbox = TestSandbox::start().await;
    let (url, inbox) = receiver().await;
    let app = TestApp::spawn(&db, &sandbox.url, &options(&url, true)).await;
    sandbox.set_faults(Faults {
        status: Some(400),
        status_times: Some(1),
        ..Faults::default()
    });
    let id = posted_id(&app, 7).await;
    app.wait_for_status(&id, "failed").await;
    wait_for(&inbox, "failed", "incident").await;
    let message = inbox.lock().unwrap()[0].clone();
    assert_eq!(message["details"][0]["id"], id.as_str());
    assert_eq!(message["details"][0]["email"], "family7@example.com");
    app.stop().await;
}
