//! The delivery engine's ways to strand a step, each reproduced against the
//! real worker on both databases: a row whose stored enquiry cannot be
//! opened (T3-8) and a step whose destination left the config (T3-9) are
//! failed for staff with the reason, not claimed again for ever.

use std::time::Duration;

use enquiry_relay::fhir_sandbox::{Faults, FhirSandbox, seed};
use enquiry_relay::storage::{DeliveryStatus, DeliveryView, KeyRing, Place, Sealing, new_key_line};
use tokio_util::sync::CancellationToken;

use crate::fhir_destination::{fhir, with_destination};
use crate::helpers::{AppOptions, Db, TestApp, TestDb, TestSandbox, posted_id};
use crate::on_both_databases;

/// Before, an unreadable row read as a database outage: it stayed
/// `sending` with no attempt, was claimed again every lease and counted
/// ambiguous, and never reached staff.
async fn an_enquiry_that_cannot_be_opened_fails_for_staff_with_the_reason(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    let key_file = db.dir.path().join("keys");
    let line = new_key_line("k").expect("a key");
    std::fs::write(&key_file, format!("{line}\n")).expect("write the key file");
    let options = AppOptions::default()
        .config(format!(
            "[database]\nencryption_key_file = \"{}\"",
            key_file.display()
        ))
        .quiet();
    let app = TestApp::spawn(&db, &sandbox.url, &options).await;
    let id = posted_id(&app, 1).await;
    // Sealed with a key this process does not hold (an old key removed
    // from the file while a value still needed it).
    let other_file = db.dir.path().join("other-keys");
    let other = new_key_line("gone").expect("a key");
    std::fs::write(&other_file, format!("{other}\n")).expect("write the key file");
    let other = Sealing::new(Some(KeyRing::from_file(&other_file).expect("the key file")));
    let sealed = (other.seal("{\"first_name\": \"Zoë\"}", Place::payload(&id))).expect("sealed");
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE enquiries SET payload = $1 WHERE id = $2")
        .bind(&sealed)
        .bind(&id)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let report = app.drain_to_rest().await;
    assert_eq!(report.failed, 1, "{report:?}");
    let step = app.delivery(&id).await;
    assert_eq!(step.status, DeliveryStatus::Failed);
    assert_eq!(step.ambiguous, 0, "not counted as a re-send");
    let reason = step.last_error.unwrap_or_default();
    assert!(
        reason.contains("key `gone`") && reason.contains("encryption_key_file"),
        "{reason}"
    );
    let attempts = app.store.attempts_of(&step.id).await.unwrap();
    assert_eq!(attempts.len(), 1, "staff see the attempt");
    assert!(sandbox.received().is_empty(), "nothing was sent");
    app.stop().await;
}
on_both_databases!(an_enquiry_that_cannot_be_opened_fails_for_staff_with_the_reason);

/// Before, a `destination:NAME` step whose destination was removed from the
/// config was claimed by no lane: pending for ever, `/status` degraded.
async fn a_step_whose_destination_was_removed_fails_with_a_message(kind: Db) {
    let records_down = Faults {
        status: Some(503),
        status_path: Some("care-enquiries".into()),
        ..Faults::default()
    };
    let Some((db, carehq, _records, app)) = sending_to_records(kind, records_down).await else {
        return;
    };
    let id = posted_id(&app, 1).await;
    app.drain().await;
    app.stop().await;

    // The operator removes the destination (from the site and its entry).
    let without = AppOptions {
        retry_schedule: vec![Duration::from_secs(3600)],
        ..AppOptions::default()
    }
    .quiet();
    let app = TestApp::spawn(&db, &carehq.url, &without).await;
    app.make_pending_due().await;
    let report = app.drain_to_rest().await;
    assert_eq!(report.failed, 1, "{report:?}");
    let step = step_of(&app, &id, "destination:records").await;
    assert_eq!(step.status, DeliveryStatus::Failed);
    let reason = step.last_error.clone().unwrap_or_default();
    assert!(
        reason.contains("destination:records is no longer configured"),
        "{reason}"
    );
    let enquiry = step_of(&app, &id, "enquiry").await;
    assert_eq!(
        enquiry.status,
        DeliveryStatus::Synced,
        "CareHQ's step is untouched"
    );
    app.stop().await;
}
on_both_databases!(a_step_whose_destination_was_removed_fails_with_a_message);

/// A FHIR send makes several calls (two discovery documents, a token, the
/// Bundle): each within `carehq.timeout`, but together past the lease,
/// when another instance could claim the row and send it again. Before,
/// such a send ran on past its lease; the pipeline now cuts every send off
/// when only the time to record it is left, as an ambiguous try.
async fn a_send_that_would_outlive_its_lease_is_cut_off(kind: Db) {
    // Four calls of 3 s each; the lease is 10 s, sends are cut at 7 s.
    let slow = Faults {
        latency_ms: 3_000,
        ..Faults::default()
    };
    let Some((_db, _carehq, _records, app)) = sending_to_records(kind, slow).await else {
        return;
    };
    let id = posted_id(&app, 1).await;
    let report = app.drain().await;
    assert_eq!((report.synced, report.retrying), (1, 1), "{report:?}");
    let step = step_of(&app, &id, "destination:records").await;
    assert_eq!(step.status, DeliveryStatus::Pending);
    assert_eq!(step.ambiguous, 1, "counted as a send that may have arrived");
    let attempts = app.store.attempts_of(&step.id).await.unwrap();
    let error = attempts[0].error.clone().unwrap_or_default();
    assert!(error.contains("before the lease ran short"), "{error}");
    app.stop().await;
}
on_both_databases!(a_send_that_would_outlive_its_lease_is_cut_off);

/// CareHQ's sandbox, the FHIR sandbox "records" with `faults`, and a quiet
/// app sending each enquiry to both.
async fn sending_to_records(kind: Db, faults: Faults) -> Option<SendingToRecords> {
    let (records, base, stop) = fhir().await;
    records.set_faults(faults);
    let options = with_destination(&base, seed::CLIENT_SECRET);
    let (db, carehq, app) = TestApp::builder(kind).options(options).spawn().await?;
    Some((db, carehq, (records, stop), app))
}

/// What [`sending_to_records`] starts, bound in the order they should drop
/// last to first.
type SendingToRecords = (
    TestDb,
    TestSandbox,
    (FhirSandbox, CancellationToken),
    TestApp,
);

/// The enquiry's step named `name` as stored (`destination:records`).
async fn step_of(app: &TestApp, id: &str, name: &str) -> DeliveryView {
    let steps = app.store.deliveries_of(&id.parse().unwrap()).await.unwrap();
    (steps.into_iter())
        .find(|d| d.step_name == name)
        .unwrap_or_else(|| panic!("no {name} step"))
}
