//! Staff reads run on a pool of their own (issue 30, point 6): however slow
//! they are, posts are stored and the worker delivers. Staff queries are
//! made slow without any hook in the service: a test connection holds an
//! `ACCESS EXCLUSIVE` lock on `audit_log`, which only staff reads touch (the
//! enquiry page's audit trail; intake and the worker never read or write
//! it), so every staff read of it waits in the database. PostgreSQL only:
//! SQLite readers in WAL mode never wait on a lock.

use std::sync::Arc;
use std::time::Duration;

use enquiry_relay::storage::{PoolSettings, Store};
use sqlx::Connection as _;

use crate::helpers::{
    AppOptions, Db, SITE, TestApp, TestDb, TestSandbox, eventually, family, posted_id,
};
use crate::staff::Staff;
use crate::status::with_token;

/// A connection holding `ACCESS EXCLUSIVE` on `audit_log` until `unlock`.
async fn lock_audit_log(db: &TestDb) -> sqlx::AnyConnection {
    let mut lock = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut lock).await.unwrap();
    sqlx::query("LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE")
        .execute(&mut lock)
        .await
        .unwrap();
    lock
}

async fn unlock(mut lock: sqlx::AnyConnection) {
    sqlx::query("ROLLBACK").execute(&mut lock).await.unwrap();
    let _ = lock.close().await;
}

/// Queries of the service that read `audit_log` in this test's database:
/// how many there are, and how many of them wait on a lock.
async fn audit_log_readers(db: &TestDb) -> (i64, i64) {
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let counts: (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE wait_event_type = 'Lock') FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() \
           AND state = 'active' AND query LIKE '%FROM audit_log%'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let _ = conn.close().await;
    counts
}

/// Wait (bounded) until at least `n` of the service's reads of `audit_log`
/// wait on the lock.
async fn wait_for_blocked_readers(db: &TestDb, n: i64) {
    let blocked = eventually(Duration::from_secs(20), || async {
        (audit_log_readers(db).await.1 >= n).then_some(())
    })
    .await;
    assert!(
        blocked.is_some(),
        "expected {n} staff reads waiting on the lock, saw {:?}",
        audit_log_readers(db).await
    );
}

/// A service on PostgreSQL with the staff token, its worker running, and
/// `database` and `server` lines (`None`: PostgreSQL is not here).
async fn spawn(database: &str, server: &str) -> Option<(TestDb, TestSandbox, TestApp)> {
    let options = with_token(
        AppOptions::default()
            .config(format!("[database]\n{database}"))
            .config(format!("[server]\n{server}")),
        "",
    );
    TestApp::builder(Db::Postgres)
        .options(options)
        .spawn()
        .await
}

/// More staff requests than the main pool has connections, each stuck in
/// the database, then families post: every post is answered 201, stored,
/// and delivered. Before the staff pool existed the stuck staff reads held
/// every connection, and the posts were answered 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_staff_reads_never_keep_an_enquiry_from_being_stored() {
    // The stuck staff reads outlast the test: their statement timeout
    // follows the request timeout, two and a half minutes here.
    let Some((db, sandbox, app)) = spawn("max_connections = 2", "request_timeout = \"150s\"").await
    else {
        return;
    };
    let first = posted_id(&app, 0).await;
    sandbox.wait_for(1).await;
    let staff = Arc::new(Staff::sign_in(&app).await);

    let lock = lock_audit_log(&db).await;
    let page = format!("/staff/enquiries/{first}");
    let stuck: Vec<_> = (0..6)
        .map(|_| {
            let (staff, page) = (Arc::clone(&staff), page.clone());
            tokio::spawn(async move { staff.get(&page).await.status() })
        })
        .collect();
    // Two reads stuck: the whole staff pool, or the whole of the old
    // shared pool.
    wait_for_blocked_readers(&db, 2).await;

    let posts: Vec<_> = (1..=5)
        .map(|n| {
            let (http, address) = (app.http.clone(), app.address.clone());
            tokio::spawn(async move {
                http.post(format!("{address}/forms/{SITE}"))
                    .json(&family(n))
                    .send()
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut ids = Vec::new();
    for post in posts {
        let response = post.await.unwrap();
        assert_eq!(
            response.status(),
            201,
            "a post while staff reads were stuck: {}",
            response.text().await.unwrap_or_default()
        );
        let body: serde_json::Value = response.json().await.unwrap();
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        assert!(
            app.store
                .enquiry(&id.parse().unwrap())
                .await
                .unwrap()
                .is_some(),
            "{id} stored"
        );
    }
    // The worker reached the database too: every enquiry is in CareHQ.
    sandbox.wait_for(1 + ids.len()).await;
    assert!(
        audit_log_readers(&db).await.1 >= 1,
        "the staff reads were still stuck while the posts were stored"
    );

    unlock(lock).await;
    for request in stuck {
        // Answered once the lock is gone (200), or by the staff pool's
        // bounds (503); never left hanging.
        let status = request.await.unwrap();
        assert!(status == 200 || status == 503, "{status}");
    }
    app.stop().await;
}

/// Whether the test's lock on `audit_log` is still held.
async fn audit_log_locked(db: &TestDb) -> bool {
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let (held,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM pg_locks WHERE relation = CAST('audit_log' AS regclass) \
         AND mode = 'AccessExclusiveLock' AND granted",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let _ = conn.close().await;
    held == 1
}

/// A staff page whose browser goes away while its read waits in the
/// database: the read is cancelled there at once (not at its statement
/// timeout, two minutes off here), while the lock is still held. More such
/// pages than the staff pool has connections, then a page that answers:
/// nothing given up kept a connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_request_that_ends_early_leaves_no_query_running() {
    let Some((db, _sandbox, app)) = spawn("", "request_timeout = \"150s\"").await else {
        return;
    };
    let id = posted_id(&app, 0).await;
    let staff = Arc::new(Staff::sign_in(&app).await);
    let page = format!("/staff/enquiries/{id}");

    let lock = lock_audit_log(&db).await;
    for _ in 0..3 {
        let (staff, path) = (Arc::clone(&staff), page.clone());
        let request = tokio::spawn(async move { staff.get(&path).await });
        wait_for_blocked_readers(&db, 1).await;
        // The browser goes away: its connection closes mid-request.
        request.abort();
        let gone = eventually(Duration::from_secs(20), || async {
            (audit_log_readers(&db).await == (0, 0)).then_some(())
        })
        .await;
        assert!(
            gone.is_some(),
            "the staff read of a request that ended is still running: {:?}",
            audit_log_readers(&db).await
        );
        assert!(audit_log_locked(&db).await, "the lock was still held");
    }
    unlock(lock).await;
    assert!(staff.page(&page).await.contains(&id));
    app.stop().await;
}

/// The staff pool's statement timeout ends a staff read stuck on a lock;
/// a read on the main pool stuck beside it, since before the staff read
/// began, is not ended and finishes once the lock is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_statement_timeout_ends_staff_reads_and_not_the_main_pools() {
    let Some(db) = TestDb::new(Db::Postgres).await else {
        return;
    };
    let pools = PoolSettings {
        staff_statement_timeout: Duration::from_millis(500),
        ..PoolSettings::new(2)
    };
    let store = Store::connect_with(&db.url, pools).await.unwrap();
    store.migrate().await.unwrap();
    let mut lock = lock_audit_log(&db).await;
    sqlx::query("LOCK TABLE account_delivery_state IN ACCESS EXCLUSIVE MODE")
        .execute(&mut lock)
        .await
        .unwrap();

    // The worker's read of its account's state, on the main pool.
    let main = {
        let store = store.clone();
        tokio::spawn(async move { store.delivery_state("default").await })
    };
    let main_blocked = || async {
        let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock' AND query LIKE '%FROM account_delivery_state%'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        let _ = conn.close().await;
        n == 1
    };
    let blocked = eventually(Duration::from_secs(20), || async {
        main_blocked().await.then_some(())
    })
    .await;
    assert!(
        blocked.is_some(),
        "the main pool's read never reached the lock"
    );

    let staff = store
        .audit_of(&enquiry_relay::storage::EnquiryId::generate())
        .await;
    let error = staff.expect_err("the staff read must be ended by its statement timeout");
    assert!(error.to_string().contains("statement timeout"), "{error}");
    assert!(
        main_blocked().await,
        "the main pool's read must still be waiting"
    );
    assert!(!main.is_finished());

    unlock(lock).await;
    assert_eq!(main.await.unwrap().unwrap(), Default::default());
    store.close().await;
}
