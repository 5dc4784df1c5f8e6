//! A site's `also_send_to` FHIR destination, on the project's FHIR sandbox
//! over loopback: each enquiry is a step of its own beside the CareHQ one,
//! and a failure of either never undoes or holds back the other.

use enquiry_relay::fhir_sandbox::{
    self, DISCOVERY_PATH, Faults, FhirSandbox, FhirSandboxConfig, OPENID_CONFIGURATION_PATH, seed,
};
use tokio_util::sync::CancellationToken;

use crate::alerts::receiver;
use crate::helpers::{AppOptions, Db, TestApp, TestDb, TestSandbox, posted_id};
use crate::on_both_databases;
use crate::status::{TOKEN, status};

/// A FHIR sandbox on 127.0.0.1:0 and its base URL.
async fn fhir() -> (FhirSandbox, String, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let sandbox = FhirSandbox::new(FhirSandboxConfig::default());
    let stop = CancellationToken::new();
    tokio::spawn(fhir_sandbox::serve(
        listener,
        sandbox.clone(),
        stop.clone().cancelled_owned(),
    ));
    (sandbox, base, stop)
}

fn with_destination(base: &str, client_secret: &str) -> AppOptions {
    AppOptions {
        // One retry an hour away: nothing falls due by itself in the test.
        retry_schedule: r#"["1h"]"#,
        site_toml: "also_send_to = [\"records\"]".into(),
        extra_toml: format!(
            "[[destinations]]\nname = \"records\"\nkind = \"fhir\"\n\
             discovery_url = \"{base}{DISCOVERY_PATH}\"\nsso_discovery_url = \"{base}{OPENID_CONFIGURATION_PATH}\"\n\
             client_id = \"{}\"\nclient_secret = \"{client_secret}\"\nsite_id = \"{}\"\n",
            seed::CLIENT_ID,
            seed::SITE_ID,
        ),
        ..AppOptions::default()
    }
    .quiet()
}

async fn step(app: &TestApp, id: &str, step: &str) -> (String, i64) {
    let deliveries = app.store.deliveries_of(id).await.unwrap();
    let d = (deliveries.iter())
        .find(|d| {
            d.step.as_str() == step
                || (step.starts_with("destination") && d.step.as_str() == "destination")
        })
        .unwrap_or_else(|| panic!("no {step} step"));
    (d.status.as_str().to_owned(), d.attempts)
}

async fn each_enquiry_reaches_carehq_and_the_fhir_destination_apart(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let carehq = TestSandbox::start().await;
    let (records, base, _stop) = fhir().await;
    let app = TestApp::spawn(
        &db,
        &carehq.url,
        &with_destination(&base, seed::CLIENT_SECRET),
    )
    .await;

    let first = posted_id(&app, 1).await;
    assert_eq!(
        app.drain().await.synced,
        2,
        "the CareHQ step and the destination step"
    );
    assert_eq!(carehq.received().len(), 1);
    assert_eq!(records.enquiry_count(), 1);
    let bundle = records.accepted_bundles()[0].bundle.to_string();
    assert!(
        bundle.contains("O'Brien 1") && bundle.contains(&first),
        "{bundle}"
    );
    assert_eq!(step(&app, &first, "destination:records").await.0, "synced");

    // The destination is down: CareHQ still gets the next enquiry, and the
    // destination's step waits for its own retry.
    records.set_faults(Faults {
        status: Some(503),
        status_path: Some("care-enquiries".into()),
        ..Faults::default()
    });
    let second = posted_id(&app, 2).await;
    let report = app.drain().await;
    assert_eq!((report.synced, report.retrying), (1, 1), "{report:?}");
    assert_eq!(carehq.received().len(), 2);
    assert_eq!(step(&app, &second, "enquiry").await.0, "synced");
    assert_eq!(
        step(&app, &second, "destination:records").await,
        ("pending".to_owned(), 1)
    );
    records.set_faults(Faults::default());
    app.make_pending_due().await;
    assert_eq!(app.drain().await.synced, 1);
    assert_eq!(records.enquiry_count(), 2);
    assert_eq!(
        carehq.received().len(),
        2,
        "CareHQ is not sent the enquiry again"
    );
    assert_eq!(records.tokens_issued(), 1, "the token is reused");
    app.stop().await;
}
on_both_databases!(each_enquiry_reaches_carehq_and_the_fhir_destination_apart);

async fn refused_destination_credentials_pause_only_that_destination(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let carehq = TestSandbox::start().await;
    let (records, base, _stop) = fhir().await;
    let (hook, inbox) = receiver().await;
    let mut options = with_destination(&base, "not-the-secret");
    options.extra_toml.push_str(&format!(
        "[staff]\ntoken = \"{TOKEN}\"\n[alerts]\nwebhook_url = \"{hook}\"\n"
    ));
    let app = TestApp::spawn(&db, &carehq.url, &options).await;
    let id = posted_id(&app, 3).await;
    app.drain().await;
    assert_eq!(carehq.received().len(), 1, "CareHQ is delivered to");
    assert_eq!(step(&app, &id, "enquiry").await.0, "synced");
    assert_eq!(
        step(&app, &id, "destination:records").await,
        ("pending".to_owned(), 0),
        "paused, no attempt spent"
    );
    let state = app
        .store
        .delivery_state("destination:records")
        .await
        .unwrap();
    assert!(state.is_paused(), "{state:?}");
    assert!(state.paused_reason.unwrap().contains("client_secret"));
    assert!(
        !app.store
            .delivery_state("default")
            .await
            .unwrap()
            .is_paused()
    );
    assert_eq!(records.enquiry_count(), 0);

    // Staff see it: /status names the destination, an alert says so.
    let (code, body) = status(&app).await;
    assert_eq!(code, 503);
    assert_eq!(body["destinations"]["records"]["paused"]["paused"], true);
    assert_eq!(body["accounts"]["default"]["paused"]["paused"], false);
    let problems = body["problems"].to_string();
    assert!(
        problems.contains("delivery to destination records is paused"),
        "{problems}"
    );
    app.check_alerts().await;
    let alerts = inbox.lock().unwrap().clone();
    let paused: Vec<_> = alerts.iter().filter(|m| m["kind"] == "paused").collect();
    assert_eq!(paused.len(), 1, "{alerts:?}");
    assert_eq!(paused[0]["destination"], "records");
    assert_eq!(
        paused[0]["title"],
        "Delivery to destination records is paused"
    );
    app.stop().await;
}
on_both_databases!(refused_destination_credentials_pause_only_that_destination);
