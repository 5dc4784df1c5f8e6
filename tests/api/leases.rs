//! Leases and outcome writes where the races live: two claims of one row at
//! the storage level, a process's own rows in flight, and an outcome write
//! that cannot land for a while after CareHQ has created the enquiry (and
//! `/readyz` meanwhile).

use std::time::Duration;

use enquiry_relay::sandbox::Faults;
use enquiry_relay::storage::{
    AttemptOutcome, AttemptRecord, ClaimScope, ClaimedDelivery, DeliveryStatus, Store, Transition,
};

use crate::helpers::{
    AppOptions, Db, TestApp, TestDb, TestSandbox, eventually, insert_bare_enquiry, posted_id,
    release, write_lock,
};
use crate::on_both_databases;

const OWNER: &str = "worker-1";

async fn store_with_one_enquiry(db: &TestDb) -> Store {
    let store = Store::connect(&db.url, 2).await.unwrap();
    store.migrate().await.unwrap();
    insert_bare_enquiry(&store).await;
    store
}

/// Claim the one row again and again until it is claimed (its lease ended).
async fn claim_when_due(store: &Store, lease: Duration, skip: &[String]) -> ClaimedDelivery {
    eventually(Duration::from_secs(10), || async {
        let mut rows = store
            .claim_due(OWNER, lease, 1, skip, ClaimScope::ALL)
            .await
            .unwrap();
        (!rows.is_empty()).then(|| rows.remove(0))
    })
    .await
    .expect("the row falls due")
}

fn synced() -> Transition {
    Transition::Synced {
        remote_id: Some("6724fbc74f73a2cebf6377fb".into()),
    }
}

fn attempt() -> AttemptRecord {
    AttemptRecord::new(AttemptOutcome::Synced, 0)
}

/// The same worker (same process) claims a row whose lease ran out while its
/// first send still ran: the first send's outcome must not be accepted, or
/// two sends both "own" the row and the stale one decides its state.
async fn an_outcome_from_an_earlier_claim_of_the_row_changes_nothing(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let store = store_with_one_enquiry(&db).await;
    let first = claim_when_due(&store, Duration::ZERO, &[]).await;
    let second = claim_when_due(&store, Duration::from_secs(60), &[]).await;
    assert_eq!(first.id, second.id);
    assert!(second.lease_expired, "counted as a re-claim");
    assert_ne!(first.lease_token, second.lease_token);

    let stale = store
        .record_outcome(&first, &attempt(), &synced())
        .await
        .unwrap();
    assert!(!stale, "the earlier claim's outcome was accepted");
    let current = store
        .record_outcome(&second, &attempt(), &synced())
        .await
        .unwrap();
    assert!(current, "the current claim records its outcome");
}
on_both_databases!(an_outcome_from_an_earlier_claim_of_the_row_changes_nothing);

/// A row this process is still sending is not claimed again by it, even once
/// its lease has run out (the send will record its own outcome).
async fn a_row_in_flight_here_is_skipped_even_after_its_lease_ran_out(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let store = store_with_one_enquiry(&db).await;
    // A lease of zero has run out at once: the row is due throughout.
    let first = claim_when_due(&store, Duration::ZERO, &[]).await;
    let skip = [first.id.clone()];
    let skipped = store
        .claim_due(OWNER, Duration::from_secs(60), 10, &skip, ClaimScope::ALL)
        .await
        .unwrap();
    assert!(
        skipped.is_empty(),
        "claimed a row in flight: {:?}",
        skipped.len()
    );
    // Another process (which does not have it in flight) can take it over.
    let other = claim_when_due(&store, Duration::from_secs(60), &[]).await;
    assert_eq!(other.id, first.id);
}
on_both_databases!(a_row_in_flight_here_is_skipped_even_after_its_lease_ran_out);

/// CareHQ creates the enquiry, then the outcome write cannot land for longer
/// than SQLite's busy timeout (a CLI process or a long retention pass holds
/// the write lock). The worker retries the write within its lease: the row
/// ends synced and CareHQ has one record, not a second one sent when the
/// lease ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_whose_outcome_write_is_held_up_is_recorded_not_sent_again() {
    let (db, sandbox, app) = held_carehq(Duration::from_secs(40)).await;
    let id = posted_id(&app, 1).await;
    let lock = lock_while_the_send_is_held(&db, &sandbox).await;
    // CareHQ has the enquiry while the lock is held.
    sandbox.wait_for(1).await;
    // Reads still work, but the service cannot store anything: not ready.
    let readyz = format!("{}/readyz", app.address);
    let answer = app.http.get(&readyz).send().await.unwrap();
    assert_eq!(answer.status(), 503, "ready while writes cannot commit");
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["writes"], "failing", "{body}");
    // Held until the first outcome write has failed (after the writer's
    // busy timeout, 10 s) and is being tried again; the lease (40 s) covers it.
    eventually(Duration::from_secs(30), || async {
        (app.outcome_write_retries() > 0).then_some(())
    })
    .await
    .expect("the outcome write fails while the lock is held");
    release(lock).await;

    let delivered = app.wait_for_status(&id, DeliveryStatus::Synced).await;
    assert_eq!(delivered.ambiguous, 0, "{delivered:?}");
    assert_eq!(sandbox.received().len(), 1, "sent once");
    let answer = app.http.get(&readyz).send().await.unwrap();
    assert_eq!(answer.status(), 200, "ready again once writes commit");
    app.stop().await;
}

/// A success whose outcome write was held up past its lease, while another
/// claim took the row over: the success is recorded all the same (the
/// destination has it), and the other claim's own outcome then changes
/// nothing.
async fn a_known_success_is_recorded_after_its_lease_was_taken_over(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let store = store_with_one_enquiry(&db).await;
    let first = claim_when_due(&store, Duration::ZERO, &[]).await;
    let second = claim_when_due(&store, Duration::from_secs(60), &[]).await;
    assert!(
        !store
            .record_outcome(&first, &attempt(), &synced())
            .await
            .unwrap(),
        "the lease token still guards ordinary writes"
    );
    let late = store
        .record_late_success(&first, &attempt(), Some("6724fbc74f73a2cebf6377fb".into()))
        .await
        .unwrap();
    assert!(late, "a known success is recorded without the lease");
    let retry = Transition::Retry {
        retry_in_ms: 0,
        spend_attempt: true,
        ambiguous: true,
        error: "timeout".into(),
    };
    let overwritten = store
        .record_outcome(&second, &attempt(), &retry)
        .await
        .unwrap();
    assert!(!overwritten, "the other claim's outcome must not undo it");
    let again = store
        .record_late_success(&second, &attempt(), None)
        .await
        .unwrap();
    assert!(!again, "a row already synced is not recorded twice");
    let rows = store.deliveries_of(&first.enquiry_id).await.unwrap();
    assert_eq!(
        rows[0].status,
        enquiry_relay::storage::DeliveryStatus::Synced
    );
    assert_eq!(
        rows[0].remote_id.as_deref(),
        Some("6724fbc74f73a2cebf6377fb")
    );
}
on_both_databases!(a_known_success_is_recorded_after_its_lease_was_taken_over);

/// CareHQ creates the enquiry, then another process holds SQLite's write
/// lock until after the claim's lease has ended. Before, the worker gave up
/// on the outcome write just before the lease ended and claimed and sent the
/// row again once the lock was gone: CareHQ had it twice. A known success
/// is now written until it lands, and the row, still in flight here, is not
/// claimed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_whose_outcome_write_is_held_past_the_lease_is_sent_once() {
    let (db, sandbox, app) = held_carehq(Duration::from_secs(12)).await;
    let id = posted_id(&app, 1).await;
    let sending = app.wait_for_status(&id, DeliveryStatus::Sending).await;
    // `next_attempt_at` of a row being sent is its lease's end.
    let lease_end = sending.next_attempt_at;

    let lock = lock_while_the_send_is_held(&db, &sandbox).await;
    sandbox.wait_for(1).await;
    // Held until the lease is over by a margin: the row is due again.
    let past = eventually(Duration::from_secs(30), || async {
        (enquiry_relay::storage::now_ms() > lease_end + 1_000).then_some(())
    });
    past.await.expect("the lease ends");
    release(lock).await;

    // A re-claim would have sent it again before it could end synced.
    app.wait_for_status(&id, DeliveryStatus::Synced).await;
    assert_eq!(sandbox.received().len(), 1, "sent once");
    assert!(app.outcome_write_retries() > 0, "the write was held up");
    app.stop().await;
}

/// Take SQLite's write lock while the app's first send is held at CareHQ
/// (see [`held_carehq`]), then let CareHQ answer: its outcome write meets
/// the lock, whatever the machine's speed (before, a 500 ms or 1.5 s latency
/// had to outlast the test's own steps, and on a busy machine did not).
async fn lock_while_the_send_is_held(db: &TestDb, sandbox: &TestSandbox) -> sqlx::AnyConnection {
    eventually(Duration::from_secs(10), || async {
        (sandbox.sandbox.request_count() > 0).then_some(())
    })
    .await
    .expect("the send reaches CareHQ");
    let lock = write_lock(db).await;
    sandbox.sandbox.release_held();
    lock
}

/// A SQLite app whose CareHQ holds each answer until the test releases it
/// (`Sandbox::release_held`; a latency far longer than any test), with `lease`.
async fn held_carehq(lease: Duration) -> (TestDb, TestSandbox, TestApp) {
    let latency_ms = 600_000;
    let options = AppOptions {
        lease,
        ..AppOptions::default()
    };
    let (db, sandbox, app) = TestApp::builder(Db::Sqlite)
        .faults(Faults {
            latency_ms,
            ..Faults::default()
        })
        .options(options)
        .spawn_sqlite()
        .await;
    (db, sandbox, app)
}
