//! The retention pass works in chunks: a pass over more rows than one chunk
//! scrubs them all and counts them right, and each chunk is committed on its
//! own, so a large first pass never holds the (SQLite: only) writer for long,
//! and shutdown can cut a pass short without leaving a chunk half-done.

use std::time::Duration;

use enquiry_relay::config::RetentionSettings;
use enquiry_relay::storage::{Store, now_ms};
use sqlx::Connection as _;
use tokio_util::sync::CancellationToken;

use crate::helpers::{Db, SITE, TestDb, eventually};
use crate::on_both_databases;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// Rows per chunk of the pass `retention::run` makes (`storage`'s `PURGE_CHUNK`).
const PURGE_CHUNK: i64 = 500;

/// Store `n` enquiries received `days` ago, each with one delivery in
/// `status` and an attempt carrying CareHQ's hint; their ids, oldest first.
async fn seed(
    pool: &sqlx::AnyPool,
    n: usize,
    days: i64,
    verdict: &str,
    status: &str,
) -> Vec<String> {
    let mut tx = pool.begin().await.unwrap();
    let base = now_ms() - days * DAY_MS;
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let id = uuid::Uuid::now_v7().to_string();
        let at = base + i as i64;
        sqlx::query(
            "INSERT INTO enquiries (id, site, received_at, payload, spam_verdict) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(SITE)
        .bind(at)
        .bind(r#"{"first_name":"Zoë"}"#)
        .bind(verdict)
        .execute(&mut *tx)
        .await
        .unwrap();
        let delivery = uuid::Uuid::now_v7().to_string();
        sqlx::query(
            "INSERT INTO deliveries (id, enquiry_id, step, status, attempts, next_attempt_at, created_at, updated_at) \
             VALUES ($1, $2, 'enquiry', $3, 1, $4, $4, $4)",
        )
        .bind(&delivery)
        .bind(&id)
        .bind(status)
        .bind(at)
        .execute(&mut *tx)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO delivery_attempts (id, delivery_id, started_at, duration_ms, outcome, hint) \
             VALUES ($1, $2, $3, 5, 'synced', 'Zoë wrote this')",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(&delivery)
        .bind(at)
        .execute(&mut *tx)
        .await
        .unwrap();
        ids.push(id);
    }
    tx.commit().await.unwrap();
    ids
}

/// How many enquiries are scrubbed, once some are (within `bound`).
async fn first_scrubbed(pool: &sqlx::AnyPool, bound: Duration) -> Option<i64> {
    eventually(bound, || async {
        let n = count(pool, "SELECT COUNT(*) FROM enquiries WHERE payload IS NULL").await;
        (n > 0).then_some(n)
    })
    .await
}

async fn count(pool: &sqlx::AnyPool, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool)
        .await
        .unwrap();
    n
}

async fn opened(db: &TestDb) -> (Store, sqlx::AnyPool) {
    let store = Store::connect(&db.url, 2).await.unwrap();
    store.migrate().await.unwrap();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    (store, pool)
}

async fn a_pass_over_more_rows_than_one_chunk_scrubs_them_all_and_counts_them(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let (store, pool) = opened(&db).await;
    // More than two chunks of synced enquiries, some spam, and rows that must stay.
    seed(&pool, 1_050, 40, "clean", "synced").await;
    seed(&pool, 20, 10, "spam", "synced").await;
    let failed = seed(&pool, 3, 40, "clean", "failed").await;
    let young = seed(&pool, 2, 1, "clean", "synced").await;

    let now = now_ms();
    let report = store
        .purge(now - 30 * DAY_MS, now - 7 * DAY_MS, now - 30 * DAY_MS, 0)
        .await
        .unwrap();
    assert_eq!(report.synced_scrubbed, 1_050, "{report:?}");
    assert_eq!(report.spam_scrubbed, 20, "{report:?}");

    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM enquiries WHERE payload IS NULL AND scrubbed_at IS NOT NULL"
        )
        .await,
        1_070
    );
    // CareHQ's hints went with them; the failed enquiries keep theirs.
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM delivery_attempts WHERE hint IS NOT NULL"
        )
        .await,
        5
    );
    for kept in failed.iter().chain(&young) {
        let record = store
            .enquiry(&kept.parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(record.payload.is_some(), "{kept} keeps its data");
    }
    // Nothing left to do: a second pass finds nothing.
    let again = store
        .purge(now - 30 * DAY_MS, now - 7 * DAY_MS, now - 30 * DAY_MS, 0)
        .await
        .unwrap();
    assert_eq!(
        (again.synced_scrubbed, again.spam_scrubbed),
        (0, 0),
        "{again:?}"
    );
    pool.close().await;
    store.close().await;
}
on_both_databases!(a_pass_over_more_rows_than_one_chunk_scrubs_them_all_and_counts_them);

/// A row lock on the newest aged enquiry stops the pass at the chunk that
/// holds it. Chunks before it must already be committed (visible to another
/// connection): one transaction for the whole pass would show nothing. Only
/// PostgreSQL has row locks to stop a pass half-way without stopping SQLite's
/// whole database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_chunk_of_a_pass_is_committed_before_the_next_on_postgres() {
    let Some(db) = TestDb::new(Db::Postgres).await else {
        return;
    };
    let (store, pool) = opened(&db).await;
    let ids = seed(&pool, 600, 40, "clean", "synced").await;
    let newest = ids.last().unwrap().clone();

    let mut blocker = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut blocker).await.unwrap();
    sqlx::query("SELECT id FROM enquiries WHERE id = $1 FOR UPDATE")
        .bind(&newest)
        .execute(&mut blocker)
        .await
        .unwrap();

    let purging = store.clone();
    let pass = tokio::spawn(async move {
        let now = now_ms();
        purging
            .purge(now - 30 * DAY_MS, now - 7 * DAY_MS, now - 30 * DAY_MS, 0)
            .await
    });
    let committed = first_scrubbed(&pool, Duration::from_secs(15)).await;
    sqlx::query("COMMIT").execute(&mut blocker).await.unwrap();
    let report = pass.await.unwrap().unwrap();
    let committed = committed.expect(
        "nothing was committed while the pass waited for the last row: it runs as one transaction",
    );
    assert!(
        committed < 600,
        "the locked row's chunk waited: {committed}"
    );
    assert_eq!(report.synced_scrubbed, 600, "{report:?}");
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM enquiries WHERE payload IS NOT NULL"
        )
        .await,
        0
    );
    pool.close().await;
    store.close().await;
}

/// Shutdown cuts a retention pass short: with the pass's second chunk
/// waiting on a row another transaction holds, cancelling the token ends
/// `retention::run` at once (it used to wait for the lock, however long it
/// was held). The first chunk stays committed and the cut one leaves nothing
/// half-done: each chunk is its own transaction, so the next pass simply
/// picks up the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_cuts_short_a_retention_pass_waiting_on_a_lock_on_postgres() {
    let Some(db) = TestDb::new(Db::Postgres).await else {
        return;
    };
    let (store, pool) = opened(&db).await;
    let ids = seed(&pool, PURGE_CHUNK as usize + 100, 40, "clean", "synced").await;
    let mut blocker = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut blocker).await.unwrap();
    sqlx::query("SELECT id FROM enquiries WHERE id = $1 FOR UPDATE")
        .bind(ids.last().unwrap())
        .execute(&mut blocker)
        .await
        .unwrap();

    let shutdown = CancellationToken::new();
    let retention = RetentionSettings {
        interval: Duration::from_millis(50),
        ..RetentionSettings::default()
    };
    let job = tokio::spawn(enquiry_relay::ops::retention::run(
        store.clone(),
        retention,
        shutdown.clone(),
    ));
    let first_chunk = first_scrubbed(&pool, Duration::from_secs(30)).await;
    assert_eq!(first_chunk, Some(PURGE_CHUNK), "the first chunk went");

    shutdown.cancel();
    // Far above what stopping takes: only a pass still waiting reaches it.
    let stopped = tokio::time::timeout(Duration::from_secs(30), job).await;
    assert!(
        stopped.is_ok(),
        "the retention job waited on the locked row instead of stopping"
    );
    sqlx::query("COMMIT").execute(&mut blocker).await.unwrap();
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM enquiries WHERE payload IS NULL"
        )
        .await,
        PURGE_CHUNK,
        "the cut chunk committed nothing"
    );
    pool.close().await;
    store.close().await;
}
