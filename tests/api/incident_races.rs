//! Alert incidents under racing instances, driven step by step at the storage
//! level: two stores on one database stand for two instances, and each test
//! runs their alert checks in the order that used to announce an incident as
//! over while it still held (or as begun after it had ended). No timing:
//! every step is awaited before the next.

use std::time::Duration;

use enquiry_relay::ops::alerts::{Change, claim_changes, observe};
use enquiry_relay::storage::{
    AttemptOutcome, AttemptRecord, ClaimScope, ClaimedDelivery, Store, Transition, now_ms,
};

use crate::helpers::{
    AppOptions, Db, TestApp, TestDb, TestSandbox, eventually, insert_bare_enquiry,
};
use crate::on_both_databases;

const MAX_AGE: Duration = Duration::from_secs(1800);
const LEASE: Duration = Duration::from_secs(60);

/// Two instances' stores on one fresh, migrated database.
async fn two_instances(db: &TestDb) -> (Store, Store) {
    let a = Store::connect(&db.url, 2).await.unwrap();
    a.migrate().await.unwrap();
    let b = Store::connect(&db.url, 2).await.unwrap();
    (a, b)
}

/// One instance's whole alert check: read, then claim.
async fn check(store: &Store) -> Vec<Change> {
    claim_changes(store, MAX_AGE, &["default"]).await.unwrap()
}

fn kinds(changes: &[Change]) -> Vec<(&'static str, bool)> {
    changes
        .iter()
        .map(|c| (c.kind.as_str(), c.opened))
        .collect()
}

/// Store an enquiry and claim its delivery, as a worker would before sending:
/// the enquiry's Id and the claim's lease token.
async fn claimed_delivery(store: &Store, owner: &str) -> (String, ClaimedDelivery) {
    let id = insert_bare_enquiry(store).await;
    let mut claimed = store
        .claim_due(owner, LEASE, 1, &[], ClaimScope::ALL)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "the new enquiry is due at once");
    (id, claimed.remove(0))
}

async fn record(store: &Store, row: &ClaimedDelivery, outcome: AttemptOutcome, t: Transition) {
    let attempt = AttemptRecord::new(outcome, now_ms());
    assert!(store.record_outcome(row, &attempt, &t).await.unwrap());
}

async fn a_pause_is_cleared_only_by_a_send_that_succeeded_after_it_began(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let (a, b) = two_instances(&db).await;

    // A's check reads the state while delivery still runs (the old check
    // decided on that reading); before A claims, B's send is refused (401),
    // B pauses delivery and announces the incident.
    let _read_by_a = observe(&a, &["default"]).await.unwrap();
    b.pause_delivery(
        "default",
        "CareHQ refused the credentials (401)",
        Some(401),
        None,
    )
    .await
    .unwrap();
    assert_eq!(kinds(&check(&b).await), [("paused", true)]);
    // A's claim from its earlier read must not call the incident over.
    let late = claim_changes(&a, MAX_AGE, &["default"]).await.unwrap();
    assert_eq!(kinds(&late), [], "A announced a pause as cleared: {late:?}");

    // A pause lifted without any send succeeding (an instance starting up, a
    // probe's 400) proves nothing about the credentials: no all-clear.
    b.resume_delivery("default").await.unwrap();
    assert_eq!(kinds(&check(&a).await), []);
    assert_eq!(kinds(&check(&b).await), []);

    // A send that CareHQ accepts ends it, once.
    let (_, delivery) = claimed_delivery(&a, "worker-a").await;
    let synced = Transition::Synced {
        remote_id: Some("6724fbc74f73a2cebf6377fb".into()),
    };
    record(&a, &delivery, AttemptOutcome::Synced, synced).await;
    assert_eq!(kinds(&check(&b).await), [("paused", false)]);
    assert_eq!(kinds(&check(&a).await), []);
}
on_both_databases!(a_pause_is_cleared_only_by_a_send_that_succeeded_after_it_began);

async fn an_incident_that_ended_is_not_announced_by_an_instance_that_looked_earlier(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let (a, b) = two_instances(&db).await;
    let (enquiry, delivery) = claimed_delivery(&a, "worker-a").await;
    let failed = Transition::Failed {
        ambiguous: false,
        error: "CareHQ refused it (400)".into(),
    };
    record(&a, &delivery, AttemptOutcome::Failed, failed).await;

    // A reads one failed enquiry; before A claims, staff retry it and B's
    // check sees none: B opens nothing, A must not open it either.
    let _read_by_a = observe(&a, &["default"]).await.unwrap();
    assert_eq!(a.retry_failed(&enquiry.parse().unwrap()).await.unwrap(), 1);
    assert_eq!(kinds(&check(&b).await), []);
    let late = claim_changes(&a, MAX_AGE, &["default"]).await.unwrap();
    assert_eq!(
        kinds(&late),
        [],
        "A announced an incident that had ended: {late:?}"
    );

    // The same failure again: one incident; B's stale read does not clear it
    // while the enquiry is still failed.
    let claimed = a
        .claim_due("worker-a", LEASE, 1, &[], ClaimScope::ALL)
        .await
        .unwrap();
    let _read_by_b = observe(&b, &["default"]).await.unwrap();
    let failed = Transition::Failed {
        ambiguous: false,
        error: "CareHQ refused it (400)".into(),
    };
    record(&a, &claimed[0], AttemptOutcome::Failed, failed).await;
    assert_eq!(kinds(&check(&a).await), [("failed", true)]);
    let late = claim_changes(&b, MAX_AGE, &["default"]).await.unwrap();
    assert_eq!(
        kinds(&late),
        [],
        "B cleared a failure that still holds: {late:?}"
    );
}
on_both_databases!(an_incident_that_ended_is_not_announced_by_an_instance_that_looked_earlier);

/// A second instance starting while another has paused delivery must not
/// lift the pause: it has not shown the credentials work (it used to clear
/// the pause at start-up, and the first instance's alert check then told
/// staff delivery had resumed).
async fn an_instance_starting_up_keeps_another_instances_pause(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let (a, _) = two_instances(&db).await;
    a.pause_delivery(
        "default",
        "CareHQ refused the credentials (401)",
        Some(401),
        None,
    )
    .await
    .unwrap();
    let sandbox = TestSandbox::start().await;
    let wrong = AppOptions {
        api_secret: "not-the-secret".into(),
        ..AppOptions::default()
    };
    let second = TestApp::spawn(&db, &sandbox.url, &wrong).await;
    // Ready means the worker has turned at least once, start-up done.
    eventually(Duration::from_secs(10), || async {
        let answer = second
            .http
            .get(format!("{}/readyz", second.address))
            .send()
            .await
            .ok()?;
        (answer.status() == 200).then_some(())
    })
    .await
    .expect("the second instance gets ready");
    second.stop().await;
    let state = a.delivery_state("default").await.unwrap();
    assert!(state.paused_reason.is_some(), "{state:?}");
}
on_both_databases!(an_instance_starting_up_keeps_another_instances_pause);
