//! Issue 34 ("Trust"), the data findings: deletes and erasures that cannot
//! race a send, visit places given back, retention and erasure reaching
//! every copy of a person's data. Races are driven at the storage level
//! with a second connection holding a lock, never by timing.

use std::time::Duration;

use enquiry_relay::storage::{Actor, DeleteOutcome, Store, now_ms};
use sqlx::Connection as _;

use crate::helpers::{Db, TestDb, eventually, insert_enquiry_with};
use crate::on_both_databases;

const STAFF: Actor<'static> = Actor {
    label: "staff token",
    reason: Some("spam"),
};

/// A fresh, migrated store on `db`.
async fn store_on(db: &TestDb) -> Store {
    let store = Store::connect(&db.url, 2).await.unwrap();
    store.migrate().await.unwrap();
    store
}

/// A connection of its own (another instance, or a worker's claim).
async fn other_connection(db: &TestDb) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(&db.url).await.unwrap()
}

async fn step_status(store: &Store, enquiry_id: &str) -> String {
    let steps = store.deliveries_of(enquiry_id).await.unwrap();
    steps[0].status.as_str().to_owned()
}

/// T3-6. A worker's claim of the enquiry's step is in progress (its
/// transaction has marked the step `sending` but not committed) when staff
/// delete the enquiry. The delete must wait for the claim and answer
/// "being sent", leaving the enquiry whole, since the worker is about to
/// send what it read. Before the fix, on PostgreSQL, the delete read the
/// steps without a lock, missed the uncommitted claim and answered
/// "Deleted" while the enquiry went out.
async fn a_delete_waits_for_a_claim_in_progress_and_answers_being_sent(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let store = store_on(&db).await;
    let id = insert_enquiry_with(&store, r#"{"first_name":"Zoë"}"#.into()).await;
    let mut claim = other_connection(&db).await;
    let begin = if db.url.starts_with("sqlite") {
        "BEGIN IMMEDIATE"
    } else {
        "BEGIN"
    };
    sqlx::query(begin).execute(&mut claim).await.unwrap();
    sqlx::query(
        "UPDATE deliveries SET status = 'sending', lease_owner = 'worker', next_attempt_at = $1 \
         WHERE enquiry_id = $2",
    )
    .bind(now_ms() + 600_000)
    .bind(&id)
    .execute(&mut claim)
    .await
    .unwrap();

    let deleting = {
        let (store, id) = (store.clone(), id.clone());
        tokio::spawn(async move { store.staff_delete(&id, &STAFF).await })
    };
    if !db.url.starts_with("sqlite") {
        // Commit only once the delete waits on the claim's lock (before the
        // fix it waited too, later, in its UPDATE of the steps).
        let watch = sqlx::AnyPool::connect(&db.url).await.unwrap();
        let waiting = eventually(Duration::from_secs(30), || async {
            let (n,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(&watch)
            .await
            .unwrap();
            (n > 0).then_some(())
        })
        .await;
        assert!(waiting.is_some(), "the delete never waited for the claim");
        watch.close().await;
    }
    // On SQLite the claim holds the one write lock: the delete runs after it.
    sqlx::query("COMMIT").execute(&mut claim).await.unwrap();

    let outcome = deleting.await.unwrap().unwrap();
    assert_eq!(outcome, DeleteOutcome::BeingSent);
    let record = store.enquiry(&id).await.unwrap().unwrap();
    assert!(record.payload.is_some(), "nothing changed");
    assert_eq!(step_status(&store, &id).await, "sending");
    assert!(store.audit_of(&id).await.unwrap().is_empty());
    let _ = claim.close().await;
    store.close().await;
}
on_both_databases!(a_delete_waits_for_a_claim_in_progress_and_answers_being_sent);

/// T3-6, the other side: the step's lease has run out (its worker crashed,
/// or lost the row). Nothing is being sent, so the delete goes ahead, and
/// the step is expired with the rest so that no later claim picks it up.
/// An erasure is refused the same way while a lease is live.
async fn a_step_whose_lease_ran_out_is_expired_by_a_delete(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let store = store_on(&db).await;
    let mut conn = other_connection(&db).await;
    let live = insert_enquiry_with(&store, r#"{"first_name":"Ada"}"#.into()).await;
    let lost = insert_enquiry_with(&store, r#"{"first_name":"Bea"}"#.into()).await;
    for (id, lease_end) in [(&live, now_ms() + 600_000), (&lost, now_ms() - 1_000)] {
        sqlx::query(
            "UPDATE deliveries SET status = 'sending', lease_owner = 'worker', \
             next_attempt_at = $1 WHERE enquiry_id = $2",
        )
        .bind(lease_end)
        .bind(id.as_str())
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let _ = conn.close().await;

    let erasing = Actor {
        label: "command line",
        reason: Some("erasure request"),
    };
    assert_eq!(
        store.erase_enquiry(&live, &erasing).await.unwrap(),
        DeleteOutcome::BeingSent
    );
    assert!(
        store
            .enquiry(&live)
            .await
            .unwrap()
            .unwrap()
            .payload
            .is_some()
    );

    assert_eq!(
        store.staff_delete(&lost, &STAFF).await.unwrap(),
        DeleteOutcome::Deleted
    );
    assert!(
        store
            .enquiry(&lost)
            .await
            .unwrap()
            .unwrap()
            .payload
            .is_none()
    );
    assert_eq!(step_status(&store, &lost).await, "expired");
    store.close().await;
}
on_both_databases!(a_step_whose_lease_ran_out_is_expired_by_a_delete);
