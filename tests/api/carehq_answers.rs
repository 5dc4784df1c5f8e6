//! What the worker makes of CareHQ's other answers, end to end: a 403
//! pauses delivery, a 404 fails only its own delivery, a success whose body
//! breaks off is synced once, a send CareHQ created but answered too late
//! (or never) makes the documented at-least-once duplicate, and each attempt
//! records how long it took.

use std::time::Duration;

use enquiry_relay::sandbox::Faults;
use enquiry_relay::storage::{DeliveryStatus, now_ms};

use crate::helpers::{AppOptions, Db, SITE, TestApp, another_site, family, field};
use crate::on_both_databases;

use crate::helpers::posted_id;

async fn a_403_from_carehq_pauses_delivery_until_it_answers_normally(db: Db) {
    let Some((_db, sandbox, app)) = TestApp::builder(db)
        .options(AppOptions::default().quiet())
        .spawn()
        .await
    else {
        return;
    };

    for (n, (code, cause)) in [(403, "permission")].into_iter().enumerate() {
        sandbox.set_faults(Faults {
            status: Some(code),
            ..Faults::default()
        });
        let id = posted_id(&app, n).await;
        app.drain().await;
        let state = app.store.delivery_state("default").await.unwrap();
        assert_eq!(
            state.paused_status,
            Some(i64::from(code)),
            "a {code} pauses delivery: {state:?}"
        );
        let reason = state.paused_reason.unwrap_or_default();
        assert!(
            reason.contains(cause),
            "{code}: says what to check: {reason}"
        );
        // Probes (one per drain while paused) keep meeting the same answer:
        // the enquiry is not at fault, so it is neither failed nor charged an
        // attempt; between probes it is back to `pending`, never `failed`.
        for _ in 0..2 {
            let report = app.drain().await;
            assert_eq!((report.synced, report.failed), (0, 0), "{code}: {report:?}");
            let waiting = app.delivery(&id).await;
            assert_eq!(
                waiting.status,
                DeliveryStatus::Pending,
                "{code}: {waiting:?}"
            );
            assert_eq!(waiting.attempts, 0, "{code}: {waiting:?}");
        }
        assert!(sandbox.sandbox.request_count() >= 3, "probes were sent");

        sandbox.set_faults(Faults::default());
        assert_eq!(
            app.drain_to_rest().await.synced,
            1,
            "{code}: the probe resumes"
        );
        assert_eq!(app.delivery(&id).await.status, DeliveryStatus::Synced);
        let resumed = app.store.delivery_state("default").await.unwrap();
        assert!(resumed.paused_reason.is_none(), "{code}: {resumed:?}");
    }
    assert_eq!(sandbox.received().len(), 1);
    app.stop().await;
}
on_both_databases!(a_403_from_carehq_pauses_delivery_until_it_answers_normally);

/// A 404 (a location Id deleted in CareHQ, a visit whose enquiry staff
/// deleted) is about that delivery: it fails with what to check, naming the
/// site, and delivery to every other site goes on. (It used to pause all
/// delivery, and the pause probe picked that same row again and again.)
async fn a_404_fails_only_that_delivery_and_pauses_nothing(db: Db) {
    let options = AppOptions::default().config(another_site("quiet-home"));
    let Some((_db, sandbox, app)) = TestApp::builder(db).options(options).spawn().await else {
        return;
    };
    sandbox.set_faults(Faults::once(404));
    let refused = posted_id(&app, 1).await;
    let failed = app.wait_for_status(&refused, DeliveryStatus::Failed).await;
    let reason = failed.last_error.unwrap_or_default();
    assert!(reason.contains(SITE), "names the site: {reason}");
    assert!(
        reason.contains("check --remote"),
        "says what to do: {reason}"
    );
    assert!(
        app.store
            .delivery_state("default")
            .await
            .unwrap()
            .paused_reason
            .is_none()
    );

    let response = app
        .http
        .post(format!("{}/forms/quiet-home", app.address))
        .json(&family(2))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    let other = body["id"].as_str().unwrap().to_owned();
    app.wait_for_status(&other, DeliveryStatus::Synced).await;
    assert_eq!(sandbox.received().len(), 1, "only the other site's enquiry");
    assert_eq!(app.delivery(&refused).await.status, DeliveryStatus::Failed);
    app.stop().await;
}
on_both_databases!(a_404_fails_only_that_delivery_and_pauses_nothing);

/// CareHQ answers 200 and the body then breaks off: the status line proves
/// CareHQ created the enquiry, so it is synced (CareHQ's Id unknown, said to
/// staff) and never sent again. (It used to be re-sent as ambiguous, making a
/// duplicate every time.)
async fn a_success_whose_body_breaks_off_is_synced_once_with_the_id_unknown(db: Db) {
    let options = AppOptions {
        retry_schedule: vec![Duration::from_millis(200); 3],
        ..AppOptions::default()
    };
    let Some((_db, sandbox, app)) = TestApp::builder(db)
        .faults(Faults {
            drop_after_create: true,
            ..Faults::default()
        })
        .options(options)
        .spawn()
        .await
    else {
        return;
    };

    let id = posted_id(&app, 1).await;
    let delivered = app.wait_for_status(&id, DeliveryStatus::Synced).await;
    assert_eq!(delivered.ambiguous, 0, "{delivered:?}");
    assert_eq!(delivered.remote_id, None, "{delivered:?}");
    let attempts = app.store.attempts_of(&delivered.id).await.unwrap();
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert_eq!(attempts[0].outcome, "synced", "{attempts:?}");
    let note = attempts[0].error.clone().unwrap_or_default();
    assert!(note.contains("Id is unknown"), "staff are told: {note}");
    let received = sandbox.received();
    assert_eq!(received.len(), 1, "created once");
    assert_eq!(field(&received[0], "email"), Some("family1@example.com"));
    app.stop().await;
}
on_both_databases!(a_success_whose_body_breaks_off_is_synced_once_with_the_id_unknown);

async fn each_attempt_records_how_long_the_send_took(db: Db) {
    let Some((_db, _sandbox, app)) = TestApp::builder(db)
        .faults(Faults {
            latency_ms: 300,
            ..Faults::default()
        })
        .spawn()
        .await
    else {
        return;
    };

    let id = posted_id(&app, 1).await;

    let delivered = app.wait_for_status(&id, DeliveryStatus::Synced).await;
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
    let options = AppOptions {
        carehq_timeout: Duration::from_secs(1),
        ..AppOptions::default()
    };
    let faults = Faults {
        after_create_times: Some(1),
        ..faults
    };
    let Some((_db, sandbox, app)) = TestApp::builder(db)
        .faults(faults)
        .options(options)
        .spawn()
        .await
    else {
        return;
    };

    let id = posted_id(&app, 1).await;
    let delivered = app.wait_for_status(&id, DeliveryStatus::Synced).await;
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
