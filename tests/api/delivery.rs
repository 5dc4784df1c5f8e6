//! The sync worker against the sandbox: outages, rate limits, refusals, pauses
//! and crashed leases.

use enquiry_relay::sandbox::Faults;
use enquiry_relay::storage::now_ms;

use crate::helpers::{AppOptions, Db, SITE, TestApp, TestDb, TestSandbox, family, field};
use crate::on_both_databases;

async fn posted_id(app: &TestApp, n: usize) -> String {
    let response = app.post_json(SITE, &family(n)).await;
    assert_eq!(response.status(), 201);
    response.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn an_outage_is_retried_on_schedule_and_recovers(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    sandbox.set_faults(Faults {
        status: Some(503),
        status_times: Some(2),
        ..Faults::default()
    });
    let app = TestApp::spawn(&db, &sandbox.url, &AppOptions::default()).await;

    let id = posted_id(&app, 1).await;

    let delivery = app.wait_for_status(&id, "synced").await;
    assert_eq!(delivery.attempts, 3, "two 503s, then success");
    assert_eq!(
        delivery.ambiguous, 2,
        "a 5xx may have created the record: counted for staff"
    );
    let attempts = app.store.attempts_of(&delivery.id).await.unwrap();
    let outcomes: Vec<_> = attempts
        .iter()
        .map(|a| (a.outcome.as_str(), a.http_status))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("ambiguous", Some(503)),
            ("ambiguous", Some(503)),
            ("synced", Some(200))
        ]
    );
    assert_eq!(sandbox.received().len(), 1);
    app.stop().await;
}
on_both_databases!(an_outage_is_retried_on_schedule_and_recovers);

async fn carehq_unreachable_leaves_enquiries_pending_then_delivers_them(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    // Nothing listens here: connection refused, nothing sent.
    let dead = format!("http://127.0.0.1:{}", crate::helpers::free_port());
    let schedule = AppOptions {
        retry_schedule: r#"["300ms", "300ms", "300ms", "300ms", "300ms", "300ms", "300ms", "300ms"]"#,
        ..AppOptions::default()
    };
    let app = TestApp::spawn(&db, &dead, &schedule).await;
    let id = posted_id(&app, 1).await;
    let first = crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
        let d = app.delivery(&id).await;
        (d.attempts >= 2).then_some(d)
    })
    .await
    .expect("attempts are made while CareHQ is unreachable");
    assert_eq!(first.status, "pending");
    assert_eq!(first.ambiguous, 0, "a refused connection sent nothing");
    app.stop().await;

    // CareHQ is back: a restarted service delivers what waited.
    let app = TestApp::spawn(&db, &sandbox.url, &AppOptions::default()).await;
    let delivered = app.wait_for_status(&id, "synced").await;
    assert!(delivered.attempts >= 3);
    assert_eq!(sandbox.received().len(), 1);
    app.stop().await;
}
on_both_databases!(carehq_unreachable_leaves_enquiries_pending_then_delivers_them);

async fn a_rate_limit_delays_without_spending_attempts(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    sandbox.set_faults(Faults {
        rate_limited: true,
        ..Faults::default()
    });
    // One attempt only: if a 429 spent it, the enquiry would fail.
    let app = TestApp::spawn(
        &db,
        &sandbox.url,
        &AppOptions {
            retry_schedule: r#"["100ms"]"#,
            ..AppOptions::default()
        },
    )
    .await;

    let id = posted_id(&app, 1).await;
    let delivery_id = app.delivery(&id).await.id;
    crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
        let attempts = app.store.attempts_of(&delivery_id).await.unwrap();
        (attempts
            .iter()
            .filter(|a| a.outcome == "rate_limited")
            .count()
            >= 2)
            .then_some(())
    })
    .await
    .expect("429s are recorded");
    let waiting = app.delivery(&id).await;
    assert_eq!(waiting.attempts, 0, "a 429 spends no attempt");
    assert_ne!(waiting.status, "failed");

    sandbox.set_faults(Faults::default());
    let delivered = app.wait_for_status(&id, "synced").await;
    assert_eq!(delivered.attempts, 1);
    app.stop().await;
}
on_both_databases!(a_rate_limit_delays_without_spending_attempts);

async fn a_400_fails_the_enquiry_and_keeps_carehqs_hint(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    // A location CareHQ does not know: the data is wrong, not the credentials.
    let options = AppOptions {
        site_location: "6724fbc74f73a2cebf637700".into(),
        ..AppOptions::default()
    };
    let app = TestApp::spawn(&db, &sandbox.url, &options).await;

    let id = posted_id(&app, 1).await;

    let failed = app.wait_for_status(&id, "failed").await;
    assert_eq!(failed.attempts, 1, "no retry for a refusal");
    let attempts = app.store.attempts_of(&failed.id).await.unwrap();
    let last = attempts.last().unwrap();
    assert_eq!(last.http_status, Some(400));
    assert!(
        last.hint.as_deref().is_some_and(|h| !h.is_empty()),
        "hint kept: {last:?}"
    );
    assert!(
        last.arg_errors
            .as_deref()
            .is_some_and(|a| a.contains("location")),
        "arg_errors kept: {last:?}"
    );
    assert!(sandbox.received().is_empty());
    app.stop().await;
}
on_both_databases!(a_400_fails_the_enquiry_and_keeps_carehqs_hint);

async fn a_401_pauses_delivery_without_failing_and_a_fixed_restart_resumes(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    let wrong = AppOptions {
        api_secret: "not-the-secret".into(),
        ..AppOptions::default()
    };
    let app = TestApp::spawn(&db, &sandbox.url, &wrong).await;

    let first = posted_id(&app, 1).await;
    let second = posted_id(&app, 2).await;
    let state = crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
        let s = app.store.delivery_state().await.unwrap();
        s.paused_reason.is_some().then_some(s)
    })
    .await
    .expect("delivery pauses");
    assert_eq!(state.paused_status, Some(401));
    assert!(
        state.paused_reason.unwrap().contains("api_secret"),
        "the cause says what to check"
    );
    // Probes keep failing, but nothing is failed and no attempt is spent.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    for id in [&first, &second] {
        let d = app.delivery(id).await;
        assert_eq!(d.status, "pending", "{d:?}");
        assert_eq!(d.attempts, 0);
    }
    app.stop().await;

    let app = TestApp::spawn(&db, &sandbox.url, &AppOptions::default()).await;
    app.wait_for_status(&first, "synced").await;
    app.wait_for_status(&second, "synced").await;
    assert!(
        app.store
            .delivery_state()
            .await
            .unwrap()
            .paused_reason
            .is_none()
    );
    assert_eq!(sandbox.received().len(), 2);
    app.stop().await;
}
on_both_databases!(a_401_pauses_delivery_without_failing_and_a_fixed_restart_resumes);

async fn a_lease_left_by_a_crashed_worker_expires_and_the_row_is_sent_once(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    let app = TestApp::spawn(&db, &sandbox.url, &AppOptions::default()).await;
    sandbox.set_faults(Faults {
        status: Some(503),
        ..Faults::default()
    });
    let id = posted_id(&app, 7).await;
    app.wait_for_status(&id, "pending").await;
    app.stop().await;

    // A worker that claims the row and dies mid-send: its lease runs 1 s.
    let store = enquiry_relay::storage::Store::connect(&db.url, 2)
        .await
        .unwrap();
    let claimed = crate::helpers::eventually(std::time::Duration::from_secs(5), || async {
        let rows = store
            .claim_due("crashed-worker", now_ms() + 1_000, 10)
            .await
            .unwrap();
        (!rows.is_empty()).then_some(rows)
    })
    .await
    .expect("the row falls due");
    assert_eq!(claimed.len(), 1);
    store.close().await;

    sandbox.set_faults(Faults::default());
    let app = TestApp::spawn(&db, &sandbox.url, &AppOptions::default()).await;
    let delivered = app.wait_for_status(&id, "synced").await;
    assert!(
        delivered.ambiguous >= 1,
        "the lost send is counted as ambiguous"
    );
    let received = sandbox.received();
    assert_eq!(received.len(), 1);
    assert_eq!(field(&received[0], "email"), Some("family7@example.com"));
    app.stop().await;
}
on_both_databases!(a_lease_left_by_a_crashed_worker_expires_and_the_row_is_sent_once);
