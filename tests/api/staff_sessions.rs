//! Staff console sessions in storage, on both databases: a session ends at
//! its expiry or when revoked, and a sign-in sweeps ended ones away.

use crate::helpers::{Db, TestDb};
use crate::on_both_databases;

async fn staff_sessions_end_at_their_expiry_or_revocation(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let store = enquiry_relay::storage::Store::connect(&db.url, 2)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let new = |hash: &'static str, expires_at| enquiry_relay::storage::NewStaffSession {
        token_sha256: hash,
        csrf_token: "csrf",
        label: "staff token",
        account: None,
        token_fingerprint: "fingerprint",
        created_at: 1_000,
        expires_at,
    };
    store
        .create_staff_session(&new("live", 5_000))
        .await
        .unwrap();
    store
        .create_staff_session(&new("short", 2_000))
        .await
        .unwrap();
    let live = store.staff_session("live", 1_500).await.unwrap().unwrap();
    assert_eq!(
        (
            live.label.as_str(),
            live.csrf_token.as_str(),
            live.token_fingerprint.as_deref()
        ),
        ("staff token", "csrf", Some("fingerprint"))
    );
    assert!(store.staff_session("short", 1_500).await.unwrap().is_some());
    assert!(
        store.staff_session("short", 2_000).await.unwrap().is_none(),
        "expired"
    );
    assert!(store.staff_session("other", 1_500).await.unwrap().is_none());
    assert!(store.revoke_staff_session("live", 1_600).await.unwrap());
    assert!(
        !store.revoke_staff_session("live", 1_700).await.unwrap(),
        "once"
    );
    assert!(
        store.staff_session("live", 1_600).await.unwrap().is_none(),
        "revoked"
    );
    // A later sign-in sweeps the ended ones away.
    store
        .create_staff_session(&enquiry_relay::storage::NewStaffSession {
            created_at: 3_000,
            ..new("next", 9_000)
        })
        .await
        .unwrap();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let left: Vec<(String,)> = sqlx::query_as("SELECT token_sha256 FROM staff_sessions")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(left, [("next".to_owned(),)]);
    pool.close().await;
    store.close().await;
}
on_both_databases!(staff_sessions_end_at_their_expiry_or_revocation);
