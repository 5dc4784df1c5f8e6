//! What the worker makes of CareHQ's other answers, end to end: 403 and 404
//! pause delivery, a dropped answer is re-sent and counted ambiguous, a send
//! CareHQ created but answered too late (or never) makes the documented
//! at-least-once duplicate, and each attempt records how long it took.

use std::time::Duration;

use enquiry_relay::sandbox::Faults;
use enquiry_relay::storage::now_ms;

use crate::helpers::{AppOptions, Db, TestApp, TestDb, TestSandbox, eventually, field};
use crate::on_both_databases;

use crate::helpers::posted_id;

async fn a_403_or_404_from_carehq_pauses_delivery_until_it_answers_normally(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    let app = TestApp::spawn(&db, &sandbox.url, &AppOptions::default()).await;

    for (n, (code, cause)) in [(403, "permission"), (404, "carehq.base_url")]
        .into_iter()
        .enumerate()
    {
        sandbox.set_faults(Faults {
            status: Some(code),
            ..Faults::default()
        });
        let id = posted_id(&app, n).await;
        let state = eventually(Duration::from_secs(10), || async {
            let s = app.store.delivery_state().await.unwrap();
            (s.paused_status == Some(i64::from(code))).then_some(s)
        })
        .await
        .unwrap_or_else(|| panic!("a {code} pauses delivery"));
        let reason = state.paused_reason.unwrap_or_default();
        assert!(
            reason.contains(cause),
            "{code}: says what to check: {reason}"
        );
        // Probes (every 300 ms) keep meeting the same answer: the enquiry is
        // not at fault, so it is neither failed nor charged an attempt.
        // (A probe in flight shows the row as `sending`; between probes it
        // must be back to `pending`, never `failed`.)
        tokio::time::sleep(Duration::from_millis(900)).await;
        let waiting = eventually(Duration::from_secs(5), || async {
            let d = app.delivery(&id).await;
            assert_ne!(d.status, "failed", "{code}: {d:?}");
            (d.status == "pending").then_some(d)
        })
        .await
        .unwrap_or_else(|| panic!("{code}: the row returns to pending between probes"));
        assert_eq!(waiting.attempts, 0, "{code}: {waiting:?}");
        assert!(sandbox.sandbox.request_count() >= 2, "probes were sent");

        sandbox.set_faults(Faults::default());
        app.wait_for_status(&id, "synced").await;
        let resumed = app.store.delivery_state().await.unwrap();
        assert!(resumed.paused_reason.is_none(), "{code}: {resumed:?}");
    }
    assert_eq!(sandbox.received().len(), 2);
    app.stop().await;
}
on_both_databases!(a_403_or_404_from_carehq_pauses_delivery_until_it_answers_normally);

async fn an_answer_dropped_after_the_record_was_created_is_resent_and_counted_ambiguous(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    sandbox.set_faults(Faults {
        drop_after_create: true,
        ..Faults::default()
    });
    // A retry a second later leaves time to clear the fault in between.
    let options = AppOptions {
        retry_schedule: r#"["1s", "1s", "1s"]"#,
        ..AppOptions::default()
    };
    let app = TestApp::spawn(&db, &sandbox.url, &options).await;

    let id = posted_id(&app, 1).await;
    eventually(Duration::from_secs(10), || async {
        (app.delivery(&id).await.attempts >= 1).then_some(())
    })
    .await
    .expect("the broken answer is recorded");
    sandbox.set_faults(Faults::default());

    let delivered = app.wait_for_status(&id, "synced").await;
    assert!(delivered.ambiguous >= 1, "{delivered:?}");
    let attempts = app.store.attempts_of(&delivered.id).await.unwrap();
    assert_eq!(attempts[0].outcome, "ambiguous", "{attempts:?}");
    // At least once, as documented: every dropped answer left a record behind,
    // and the send that was answered made one more.
    let received = sandbox.received();
    assert_eq!(
        received.len() as i64,
        delivered.ambiguous + 1,
        "one record per ambiguous send plus the answered one"
    );
    assert!(
        received
            .iter()
            .all(|r| field(r, "email") == Some("family1@example.com"))
    );
    app.stop().await;
}
on_both_databases!(an_answer_dropped_after_the_record_was_created_is_resent_and_counted_ambiguous);

async fn each_attempt_records_how_long_the_send_took(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    sandbox.set_faults(Faults {
        latency_ms: 300,
        ..Faults::default()
    });
    let app = TestApp::spawn(&db, &sandbox.url, &AppOptions::default()).await;

    let id = posted_id(&app, 1).await;

    let delivered = app.wait_for_status(&id, "synced").await;
    let attempts = app.store.attempts_of(&delivered.id).await.unwrap();
    assert_eq!(attempts.len(), 1);
    // The sandbox slept 300 ms before answering, so the send cannot have taken less.
    assert!(attempts[0].duration_ms >= 300, "{:?}", attempts[0]);
    app.stop().await;
}
on_both_databases!(each_attempt_records_how_long_the_send_took);

/// CareHQ creates the enquiry but its answer is lost (`faults`, once): the
/// row is retried as ambiguous and, as documented (at least once), CareHQ
/// then holds two records of it.
async fn a_send_cut_off_after_create_is_retried_as_ambiguous_and_duplicates(
    db: Db,
    faults: Faults,
) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    sandbox.set_faults(Faults {
        after_create_times: Some(1),
        ..faults
    });
    let options = AppOptions {
        carehq_timeout: "1s",
        ..AppOptions::default()
    };
    let app = TestApp::spawn(&db, &sandbox.url, &options).await;

    let id = posted_id(&app, 1).await;
    let delivered = app.wait_for_status(&id, "synced").await;
    assert_eq!(delivered.ambiguous, 1, "{delivered:?}");
    let attempts = app.store.attempts_of(&delivered.id).await.unwrap();
    let outcomes: Vec<&str> = attempts.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(outcomes, ["ambiguous", "synced"], "{attempts:?}");
    let received = sandbox.received();
    assert_eq!(received.len(), 2, "the cut-off send was created too");
    assert!(
        received
            .iter()
            .all(|r| field(r, "email") == Some("family1@example.com"))
    );
    // Staff can see it: /status counts deliveries with an ambiguous send.
    let figures = app.store.status_figures(now_ms()).await.unwrap();
    assert_eq!(figures.ambiguous, 1, "{figures:?}");
    app.stop().await;
}

async fn an_answer_later_than_carehq_timeout_is_retried_as_ambiguous_and_duplicates(db: Db) {
    a_send_cut_off_after_create_is_retried_as_ambiguous_and_duplicates(
        db,
        Faults {
            // Longer than carehq.timeout (1 s): the client gives up first.
            answer_delay_ms: 3_000,
            ..Faults::default()
        },
    )
    .await;
}
on_both_databases!(an_answer_later_than_carehq_timeout_is_retried_as_ambiguous_and_duplicates);

async fn a_connection_closed_after_create_is_retried_as_ambiguous_and_duplicates(db: Db) {
    a_send_cut_off_after_create_is_retried_as_ambiguous_and_duplicates(
        db,
        Faults {
            close_after_create: true,
            ..Faults::default()
        },
    )
    .await;
}
on_both_databases!(a_connection_closed_after_create_is_retried_as_ambiguous_and_duplicates);
