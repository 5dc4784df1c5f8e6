//! The sync worker against the sandbox: outages, rate limits, refusals, pauses
//! and crashed leases.

use std::time::Duration;

use enquiry_relay::sandbox::{Faults, SandboxConfig};
use enquiry_relay::storage::{ClaimScope, DeliveryStatus, now_ms};

use enquiry_relay::sync::DrainReport;

use crate::helpers::{AppOptions, Db, TestApp, field};
use crate::on_both_databases;

use crate::helpers::posted_id;

async fn an_outage_is_retried_on_schedule_and_recovers(db: Db) {
    // Retries an hour apart: a drain right after a 503 finds nothing due
    // (the test then makes the row due instead of waiting).
    let options = AppOptions {
        retry_schedule: vec![Duration::from_secs(3600); 3],
        ..AppOptions::default()
    }
    .quiet();
    let Some((_db, sandbox, app)) = TestApp::builder(db)
        .faults(Faults {
            status: Some(503),
            status_times: Some(2),
            ..Faults::default()
        })
        .options(options)
        .spawn()
        .await
    else {
        return;
    };

    let id = posted_id(&app, 1).await;

    // Each 503 puts the row back on the schedule: not due again at once (a
    // second drain claims nothing) until its delay has passed.
    for _ in 0..2 {
        assert_eq!(app.drain_to_rest().await.retrying, 1);
        assert_eq!(app.delivery(&id).await.status, DeliveryStatus::Pending);
        app.make_pending_due().await;
    }
    assert_eq!(app.drain_to_rest().await.synced, 1);
    let delivery = app.delivery(&id).await;
    assert_eq!(delivery.status, DeliveryStatus::Synced);
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

async fn a_row_whose_retry_schedule_is_spent_is_failed_and_kept(db: Db) {
    // Two retries: three attempts in all, then the row is failed for staff.
    let options = AppOptions {
        retry_schedule: vec![Duration::from_secs(3600), Duration::from_secs(3600)],
        ..AppOptions::default()
    }
    .quiet();
    let Some((_db, sandbox, app)) = TestApp::builder(db)
        .faults(Faults {
            status: Some(503),
            ..Faults::default()
        })
        .options(options)
        .spawn()
        .await
    else {
        return;
    };

    let id = posted_id(&app, 1).await;

    for _ in 0..2 {
        assert_eq!(app.drain_to_rest().await.retrying, 1);
        app.make_pending_due().await;
    }
    assert_eq!(app.drain_to_rest().await.failed, 1);
    let failed = app.delivery(&id).await;
    assert_eq!(failed.status, DeliveryStatus::Failed);
    assert_eq!(failed.attempts, 3, "the first send and two retries");
    assert_eq!(failed.ambiguous, 3, "each 503 may have created the record");
    assert!(
        failed
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("gave up after 3 attempts")),
        "{failed:?}"
    );
    let attempts = app.store.attempts_of(&failed.id).await.unwrap();
    let outcomes: Vec<_> = attempts
        .iter()
        .map(|a| (a.outcome.as_str(), a.http_status))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("ambiguous", Some(503)),
            ("ambiguous", Some(503)),
            ("failed", Some(503))
        ],
        "every attempt is kept"
    );
    // Kept, not deleted, and not sent again: a failed row waits for a person
    // (even with every pending row due, a drain claims nothing).
    app.make_pending_due().await;
    assert_eq!(app.drain().await, DrainReport::default());
    let enquiry = app
        .store
        .enquiry(&id.parse().unwrap())
        .await
        .unwrap()
        .expect("enquiry kept");
    assert!(enquiry.payload.is_some(), "its data is kept for staff");
    assert_eq!(
        app.store
            .deliveries_of(&id.parse().unwrap())
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(app.delivery(&id).await.status, DeliveryStatus::Failed);
    assert_eq!(app.store.attempts_of(&failed.id).await.unwrap().len(), 3);
    assert_eq!(sandbox.sandbox.request_count(), 3, "no send after failing");
    app.stop().await;
}
on_both_databases!(a_row_whose_retry_schedule_is_spent_is_failed_and_kept);

async fn carehq_unreachable_leaves_enquiries_pending_then_delivers_them(db: Db) {
    // Nothing listens here: connection refused, nothing sent.
    let dead = format!("http://127.0.0.1:{}", crate::helpers::free_port());
    let schedule = AppOptions {
        retry_schedule: vec![Duration::from_millis(300); 8],
        ..AppOptions::default()
    };
    let Some((db, sandbox, app)) = TestApp::builder(db)
        .carehq(dead)
        .options(schedule)
        .spawn()
        .await
    else {
        return;
    };
    let id = posted_id(&app, 1).await;
    // Read between two attempts: while one is in flight the row is `sending`.
    let first = crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
        let d = app.delivery(&id).await;
        assert_ne!(d.status, DeliveryStatus::Failed, "{d:?}");
        (d.attempts >= 2 && d.status == DeliveryStatus::Pending).then_some(d)
    })
    .await
    .expect("attempts are made while CareHQ is unreachable, and the row stays pending");
    assert_eq!(first.ambiguous, 0, "a refused connection sent nothing");
    app.stop().await;

    // CareHQ is back: a restarted service delivers what waited.
    let app = TestApp::spawn(&db, &sandbox.url, &AppOptions::default()).await;
    let delivered = app.wait_for_status(&id, DeliveryStatus::Synced).await;
    assert!(delivered.attempts >= 3);
    assert_eq!(sandbox.received().len(), 1);
    app.stop().await;
}
on_both_databases!(carehq_unreachable_leaves_enquiries_pending_then_delivers_them);

async fn a_rate_limit_delays_without_spending_attempts(db: Db) {
    // `Reset` 2.5 s ahead: longer than the worker's fallback wait of one
    // second, so only a worker that reads it waits long enough.
    // One attempt only: if a 429 spent it, the enquiry would fail.
    let Some((_db, sandbox, app)) = TestApp::builder(db)
        .faults(Faults {
            rate_limited: true,
            rate_limit_reset_ms: Some(2_500),
            ..Faults::default()
        })
        .options(AppOptions {
            retry_schedule: vec![Duration::from_millis(100)],
            ..AppOptions::default()
        })
        .spawn()
        .await
    else {
        return;
    };

    let id = posted_id(&app, 1).await;
    let delivery_id = app.delivery(&id).await.id;
    crate::helpers::eventually(std::time::Duration::from_secs(20), || async {
        let attempts = app.store.attempts_of(&delivery_id).await.unwrap();
        (attempts
            .iter()
            .filter(|a| a.outcome == "rate_limited" && a.http_status == Some(429))
            .count()
            >= 2)
            .then_some(())
    })
    .await
    .expect("429s are recorded");
    let waiting = app.delivery(&id).await;
    assert_eq!(waiting.attempts, 0, "a 429 spends no attempt");
    assert_ne!(waiting.status, DeliveryStatus::Failed);

    sandbox.set_faults(Faults::default());
    let delivered = app.wait_for_status(&id, DeliveryStatus::Synced).await;
    assert_eq!(delivered.attempts, 1);

    // Each 429 carried `Reset` 2.5 s after the sandbox saw the request, so a
    // worker that honours it starts the next send at least that much later.
    // (Attempts without an HTTP status were held back before sending.)
    let sends: Vec<i64> = app
        .store
        .attempts_of(&delivery_id)
        .await
        .unwrap()
        .iter()
        .filter(|a| a.http_status.is_some())
        .map(|a| a.started_at)
        .collect();
    assert!(sends.len() >= 3, "two 429s and the success: {sends:?}");
    for pair in sends.windows(2) {
        assert!(
            pair[1] - pair[0] >= 2_400,
            "a send went out before the Reset of the 429 before it: {sends:?}"
        );
    }
    assert_eq!(
        sandbox.sandbox.request_count(),
        sends.len() as u64,
        "every request CareHQ saw is a recorded attempt"
    );
    app.stop().await;
}
on_both_databases!(a_rate_limit_delays_without_spending_attempts);

async fn a_success_with_no_requests_remaining_holds_the_next_send_until_reset(db: Db) {
    // One send at a time, so every send follows an answer the worker has read.
    let options = AppOptions::default().with(|s| s.sync.concurrency = 1);
    let Some((_db, sandbox, app)) = TestApp::builder(db)
        .sandbox(SandboxConfig {
            rate_limit_per_second: 1,
            ..SandboxConfig::default()
        })
        .options(options)
        .spawn()
        .await
    else {
        return;
    };

    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(posted_id(&app, n).await);
    }
    for id in &ids {
        app.wait_for_status(id, DeliveryStatus::Synced).await;
    }

    // A send before Reset would have met the sandbox's limit and a 429.
    assert_eq!(sandbox.received().len(), 3);
    assert_eq!(
        sandbox.sandbox.request_count(),
        3,
        "no request was sent while Remaining was 0"
    );
    for id in &ids {
        let delivery = app.delivery(id).await;
        let outcomes: Vec<String> = app
            .store
            .attempts_of(&delivery.id)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.outcome)
            .collect();
        assert!(
            outcomes
                .iter()
                .all(|o| o == "synced" || o == "rate_limited"),
            "{outcomes:?}"
        );
        assert_eq!(delivery.attempts, 1, "waiting spent no attempt");
    }
    app.stop().await;
}
on_both_databases!(a_success_with_no_requests_remaining_holds_the_next_send_until_reset);

async fn a_400_fails_the_enquiry_and_keeps_carehqs_hint(db: Db) {
    // A location CareHQ does not know: the data is wrong, not the credentials.
    let options = AppOptions {
        site_location: "6724fbc74f73a2cebf637700".into(),
        ..AppOptions::default()
    };
    let Some((_db, sandbox, app)) = TestApp::builder(db).options(options.quiet()).spawn().await
    else {
        return;
    };

    let id = posted_id(&app, 1).await;

    let failed = app.drained_to(&id, DeliveryStatus::Failed).await;
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
    let wrong = AppOptions {
        api_secret: "not-the-secret".into(),
        ..AppOptions::default()
    };
    let Some((db, sandbox, app)) = TestApp::builder(db).options(wrong.quiet()).spawn().await else {
        return;
    };

    let first = posted_id(&app, 1).await;
    let second = posted_id(&app, 2).await;
    let report = app.drain().await;
    assert_eq!((report.synced, report.failed), (0, 0), "{report:?}");
    let state = app.store.delivery_state("default").await.unwrap();
    assert!(state.paused_reason.is_some(), "delivery pauses: {state:?}");
    assert_eq!(state.paused_status, Some(401));
    assert!(
        state.paused_reason.unwrap().contains("api_secret"),
        "the cause says what to check"
    );
    // Probes keep failing, but nothing is failed and no attempt is spent.
    // While paused, each drain sends one probe and stops.
    for _ in 0..3 {
        let requests = sandbox.sandbox.request_count();
        let report = app.drain().await;
        assert_eq!((report.synced, report.failed), (0, 0), "{report:?}");
        assert_eq!(sandbox.sandbox.request_count(), requests + 1, "one probe");
        for id in [&first, &second] {
            let d = app.delivery(id).await;
            assert_eq!(
                d.status,
                DeliveryStatus::Pending,
                "a 401 never fails a row: {d:?}"
            );
            assert_eq!(d.attempts, 0, "{d:?}");
        }
    }
    app.stop().await;

    let app = TestApp::spawn(&db, &sandbox.url, &AppOptions::default().quiet()).await;
    app.drained_to(&first, DeliveryStatus::Synced).await;
    app.drained_to(&second, DeliveryStatus::Synced).await;
    assert!(
        app.store
            .delivery_state("default")
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
    // Enough retries that the row is still pending when the app stops.
    let patient = AppOptions {
        retry_schedule: vec![Duration::from_millis(400); 8],
        ..AppOptions::default()
    };
    let Some((db, sandbox, app)) = TestApp::builder(db).options(patient).spawn().await else {
        return;
    };
    sandbox.set_faults(Faults {
        status: Some(503),
        ..Faults::default()
    });
    let id = posted_id(&app, 7).await;
    crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
        (app.delivery(&id).await.attempts >= 1).then_some(())
    })
    .await
    .expect("a 503 is recorded");
    app.stop().await;
    let before = {
        let store = enquiry_relay::storage::Store::connect(&db.url, 2)
            .await
            .unwrap();
        let d = store
            .deliveries_of(&id.parse().unwrap())
            .await
            .unwrap()
            .remove(0);
        store.close().await;
        d
    };
    assert_eq!(before.status, DeliveryStatus::Pending, "{before:?}");

    // A worker that claims the row and dies mid-send: its lease runs 3 s.
    let store = enquiry_relay::storage::Store::connect(&db.url, 2)
        .await
        .unwrap();
    let give_up = now_ms() + 5_000;
    let (claimed, lease_until) = loop {
        // Taken before the claim, so the lease ends no earlier than this.
        let lease_until = now_ms() + 3_000;
        let rows = store
            .claim_due(
                "crashed-worker",
                std::time::Duration::from_secs(3),
                10,
                &[],
                ClaimScope::ALL,
            )
            .await
            .unwrap();
        if !rows.is_empty() {
            break (rows, lease_until);
        }
        assert!(now_ms() < give_up, "the row never fell due");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    };
    assert_eq!(claimed.len(), 1);
    store.close().await;
    let requests_at_crash = sandbox.sandbox.request_count();

    sandbox.set_faults(Faults::default());
    let app = TestApp::spawn(&db, &sandbox.url, &AppOptions::default()).await;
    // While the crashed worker's lease holds, nothing is sent.
    while now_ms() < lease_until - 300 {
        assert_eq!(
            sandbox.sandbox.request_count(),
            requests_at_crash,
            "sent while another worker's lease was still valid"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let delivered = app.wait_for_status(&id, DeliveryStatus::Synced).await;
    assert_eq!(
        delivered.ambiguous,
        before.ambiguous + 1,
        "the lost send is counted as ambiguous, once"
    );
    let attempts = app.store.attempts_of(&delivered.id).await.unwrap();
    let last = attempts.last().unwrap();
    assert_eq!(last.outcome, "synced");
    assert!(
        last.started_at >= lease_until,
        "re-sent only after the lease ended: {} < {lease_until}",
        last.started_at
    );
    let received = sandbox.received();
    assert_eq!(received.len(), 1);
    assert_eq!(field(&received[0], "email"), Some("family7@example.com"));
    app.stop().await;
}
on_both_databases!(a_lease_left_by_a_crashed_worker_expires_and_the_row_is_sent_once);
