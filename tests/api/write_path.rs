//! The write path (issue 31) where it lives, in storage: what must not take
//! SQLite's one writer.

use std::time::Duration;

use enquiry_relay::storage::{ClaimScope, Store};

use crate::helpers::{Db, TestDb, insert_bare_enquiry, release, write_lock};

/// A claim that finds nothing due reads; it does not wait for the writer.
/// Before, every claim opened a write transaction: with the write lock held
/// elsewhere (a CLI process, a backup, a long intake batch) an idle lane's
/// claim waited out the 10 s busy timeout and failed with "database is
/// locked", and while nothing held the lock it still queued for the one
/// writer connection beside intake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_with_nothing_due_does_not_take_the_writer() {
    let Some(db) = TestDb::new(Db::Sqlite).await else {
        return;
    };
    let store = Store::connect(&db.url, 2).await.unwrap();
    store.migrate().await.unwrap();
    let id = insert_bare_enquiry(&store).await;
    let lease = Duration::from_secs(60);
    let claimed = store
        .claim_due("worker", lease, 1, &[], ClaimScope::ALL)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "{id} was due");

    let lock = write_lock(&db).await;
    // Its one row is leased, so nothing is due.
    let idle = store
        .claim_due("worker", lease, 1, &[], ClaimScope::ALL)
        .await
        .expect("an idle claim answers while another connection holds the write lock");
    assert!(idle.is_empty());
    release(lock).await;
    store.close().await;
}
