//! Issue 34 ("Trust"), the data findings: deletes and erasures that cannot
//! race a send, visit places given back, retention and erasure reaching
//! every copy of a person's data. Races are driven at the storage level
//! with a second connection holding a lock, never by timing.

use std::time::Duration;

use enquiry_relay::config::RetentionSettings;
use enquiry_relay::domain::{Enquiry, IntakeRules, RawSubmission};
use enquiry_relay::ops::retention::{FAILED_NOTICE, purge_now};
use enquiry_relay::sandbox::Faults;
use enquiry_relay::storage::{
    Actor, DeleteOutcome, EnquiryId, InsertOutcome, KeyRing, NewEnquiry, PartnerEventKey, Sealing,
    Store, StoreError, new_key_line, now_ms,
};
use enquiry_relay::values::Rate;
use sqlx::Connection as _;

use crate::admin::{cli, default_config};
use crate::encryption::{columns_holding_opened, encrypted, key_file, store_with};
use crate::helpers::{
    AppOptions, Db, SITE, TestApp, TestDb, TestSandbox, eventually, family, free_port,
    insert_enquiry_with, post_keyed, serve_binary, write_config,
};
use crate::on_both_databases;
use crate::visits::{local_slot, posted_id, slot_values, visit_options, with_visit};

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
    let steps = store
        .deliveries_of(&enquiry_id.parse().unwrap())
        .await
        .unwrap();
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
        tokio::spawn(async move { store.staff_delete(&id.parse().unwrap(), &STAFF).await })
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
    let record = store.enquiry(&id.parse().unwrap()).await.unwrap().unwrap();
    assert!(record.payload.is_some(), "nothing changed");
    assert_eq!(step_status(&store, &id).await, "sending");
    assert!(
        store
            .audit_of(&id.parse().unwrap())
            .await
            .unwrap()
            .is_empty()
    );
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
        store
            .erase_enquiry(&live.parse().unwrap(), &erasing)
            .await
            .unwrap(),
        DeleteOutcome::BeingSent
    );
    assert!(
        store
            .enquiry(&live.parse().unwrap())
            .await
            .unwrap()
            .unwrap()
            .payload
            .is_some()
    );

    assert_eq!(
        store
            .staff_delete(&lost.parse().unwrap(), &STAFF)
            .await
            .unwrap(),
        DeleteOutcome::Deleted
    );
    assert!(
        store
            .enquiry(&lost.parse().unwrap())
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

/// T3-4. A held post (a forged `_t`) with a visit takes the slot's one
/// place. Deleting it, erasing it, or its expiry past `retention.held` must
/// give the place back in the same transaction: before the fix the slot
/// stayed full until its time passed, so a script could empty a home's
/// visit calendar and staff deleting the spam changed nothing.
async fn a_held_visit_gives_its_place_back_when_deleted_erased_or_expired(db: Db) {
    let Some((db, _sandbox, app)) = TestApp::builder(db)
        .options(visit_options(vec![Duration::from_secs(3600)]).quiet())
        .spawn()
        .await
    else {
        return;
    };
    let erasing = Actor {
        label: "command line",
        reason: Some("erasure request"),
    };
    for (n, how) in ["delete", "erase", "expiry"].into_iter().enumerate() {
        let (slot, _) = local_slot(1, 10 + n as i8);
        assert!(slot_values(&app, SITE).await.contains(&slot), "{how}");
        let mut body = with_visit(n + 1, &slot, "virtual");
        body["_t"] = "forged".into();
        let id = posted_id(&app, SITE, &body).await;
        assert_eq!(step_status(&app.store, &id).await, "held", "{how}");
        assert!(
            !slot_values(&app, SITE).await.contains(&slot),
            "the held post took the place ({how})"
        );
        match how {
            "delete" => assert_eq!(
                app.store
                    .staff_delete(&id.parse().unwrap(), &STAFF)
                    .await
                    .unwrap(),
                DeleteOutcome::Deleted
            ),
            "erase" => assert_eq!(
                app.store
                    .erase_enquiry(&id.parse().unwrap(), &erasing)
                    .await
                    .unwrap(),
                DeleteOutcome::Deleted
            ),
            _ => {
                let later = now_ms() + 1_000;
                let report = app.store.purge(0, 0, later, 0).await.unwrap();
                assert_eq!(report.held_expired, 1, "{report:?}");
            }
        }
        assert!(
            slot_values(&app, SITE).await.contains(&slot),
            "the place came back ({how})"
        );
        // Given back once: another delete or pass takes nothing more.
        app.store
            .staff_delete(&id.parse().unwrap(), &STAFF)
            .await
            .unwrap();
        app.store.purge(0, 0, now_ms() + 1_000, 0).await.unwrap();
        let taken: Vec<(i64,)> = sqlx::query_as("SELECT taken FROM visit_slots")
            .fetch_all(&sqlx::AnyPool::connect(&db.url).await.unwrap())
            .await
            .unwrap();
        assert!(taken.iter().all(|(t,)| *t == 0), "{taken:?} ({how})");
    }
    app.stop().await;
}
on_both_databases!(a_held_visit_gives_its_place_back_when_deleted_erased_or_expired);

/// T3-4, the limit: held posts spend none of the site's limit (a flood of
/// doubtful posts must not turn families away), so they spend one of their
/// own, `rate_limit.per_site_held`, across client addresses. A family's
/// clean post still gets through.
#[tokio::test]
async fn held_posts_are_limited_per_site_whatever_the_client_address() {
    let options = AppOptions::default()
        .with(|s| s.rate_limit.per_site_held = Rate::every(2, 3600))
        .loopback_proxy()
        .quiet();
    let (db, _sandbox, app) = TestApp::builder(Db::Sqlite)
        .without_carehq()
        .options(options)
        .spawn_sqlite()
        .await;
    let post = |client_ip: String, body: serde_json::Value| {
        app.http
            .post(format!("{}/forms/{SITE}", app.address))
            .header("x-forwarded-for", client_ip)
            .json(&body)
            .send()
    };
    let held = |n: usize| {
        let mut body = family(n);
        body["_t"] = "forged".into();
        body
    };
    for n in 1..=2 {
        let answer = post(format!("203.0.113.{n}"), held(n)).await.unwrap();
        assert_eq!(answer.status(), 201, "held, answered as success");
    }
    let refused = post("203.0.113.3".into(), held(3)).await.unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let clean = post("198.51.100.1".into(), family(4)).await.unwrap();
    assert_eq!(clean.status(), 201, "the site's own limit is untouched");
    let (held_rows,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM deliveries WHERE status = 'held'")
            .fetch_one(&sqlx::AnyPool::connect(&db.url).await.unwrap())
            .await
            .unwrap();
    assert_eq!(held_rows, 2);
    app.stop().await;
}

/// Give the enquiry `enquiry_id` a further step `step` in `status`, as the
/// fallback email or a destination's copy would be.
async fn add_step(conn: &mut sqlx::AnyConnection, enquiry_id: &str, step: &str, status: &str) {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO deliveries (id, enquiry_id, step, status, next_attempt_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5, $5)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(enquiry_id)
    .bind(step)
    .bind(status)
    .bind(now)
    .execute(conn)
    .await
    .unwrap();
}

async fn set_step(conn: &mut sqlx::AnyConnection, enquiry_id: &str, step: &str, status: &str) {
    sqlx::query("UPDATE deliveries SET status = $1 WHERE enquiry_id = $2 AND step = $3")
        .bind(status)
        .bind(enquiry_id)
        .bind(step)
        .execute(conn)
        .await
        .unwrap();
}

async fn received_days_ago(conn: &mut sqlx::AnyConnection, enquiry_id: &str, days: i64) {
    sqlx::query("UPDATE enquiries SET received_at = received_at - $1 WHERE id = $2")
        .bind(days * 24 * 60 * 60 * 1000)
        .bind(enquiry_id)
        .execute(conn)
        .await
        .unwrap();
}

async fn statuses(store: &Store, enquiry_id: &str) -> Vec<(String, String)> {
    let mut steps: Vec<(String, String)> = (store
        .deliveries_of(&enquiry_id.parse().unwrap())
        .await
        .unwrap())
    .into_iter()
    .map(|d| (d.step_name.clone(), d.status.as_str().to_owned()))
    .collect();
    steps.sort();
    steps
}

/// T3-14. CareHQ has the enquiry, but its fallback email was refused for
/// good: before `retention.failed` the personal data stayed for ever (the
/// synced scrub wants every step synced). Past `retention.failed` it is
/// scrubbed and the failed step closed as `expired`; one with a step still
/// to send is left alone.
async fn an_enquiry_with_a_failed_step_is_scrubbed_after_retention_failed(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let store = store_on(&db).await;
    let mut conn = other_connection(&db).await;
    let failed = insert_enquiry_with(&store, r#"{"first_name":"Zoë"}"#.into()).await;
    set_step(&mut conn, &failed, "enquiry", "synced").await;
    add_step(&mut conn, &failed, "fallback_email", "failed").await;
    let busy = insert_enquiry_with(&store, r#"{"first_name":"Ada"}"#.into()).await;
    add_step(&mut conn, &busy, "destination:fhir", "failed").await;
    let _ = conn.close().await;

    let later = now_ms() + 1_000;
    // Without the bound (0: not yet in effect), as before: kept.
    let report = store.purge(later, later, later, 0).await.unwrap();
    assert_eq!(report.failed_expired, 0, "{report:?}");
    assert!(
        store
            .enquiry(&failed.parse().unwrap())
            .await
            .unwrap()
            .unwrap()
            .payload
            .is_some()
    );

    let report = store.purge(later, later, later, later).await.unwrap();
    assert_eq!(report.failed_expired, 1, "{report:?}");
    assert!(
        store
            .enquiry(&failed.parse().unwrap())
            .await
            .unwrap()
            .unwrap()
            .payload
            .is_none()
    );
    assert_eq!(
        statuses(&store, &failed).await,
        [
            ("enquiry".to_owned(), "synced".to_owned()),
            ("fallback_email".to_owned(), "expired".to_owned())
        ]
    );
    // Its CareHQ step is still to be sent: nothing changes.
    assert!(
        store
            .enquiry(&busy.parse().unwrap())
            .await
            .unwrap()
            .unwrap()
            .payload
            .is_some()
    );
    assert_eq!(
        statuses(&store, &busy).await,
        [
            ("destination:fhir".to_owned(), "failed".to_owned()),
            ("enquiry".to_owned(), "pending".to_owned())
        ]
    );
    store.close().await;
}
on_both_databases!(an_enquiry_with_a_failed_step_is_scrubbed_after_retention_failed);

/// T3-14, the notice: `retention.failed` removes what earlier versions kept
/// for ever, so the pass applies it only a week after the first warning
/// (recorded in the database); until then it warns and scrubs nothing.
async fn retention_failed_applies_only_after_its_notice(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let store = store_on(&db).await;
    let mut conn = other_connection(&db).await;
    let id = insert_enquiry_with(&store, r#"{"first_name":"Zoë"}"#.into()).await;
    set_step(&mut conn, &id, "enquiry", "failed").await;
    received_days_ago(&mut conn, &id, 200).await;
    let retention = RetentionSettings::default();

    let report = purge_now(&store, &retention).await.unwrap();
    assert_eq!(report.failed_expired, 0, "the first pass only warns");
    assert!(
        store
            .enquiry(&id.parse().unwrap())
            .await
            .unwrap()
            .unwrap()
            .payload
            .is_some()
    );
    let warned: (i64,) =
        sqlx::query_as("SELECT first_warned_at FROM retention_notices WHERE setting = 'failed'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    // A week (and a minute) later.
    sqlx::query("UPDATE retention_notices SET first_warned_at = $1")
        .bind(warned.0 - FAILED_NOTICE.as_millis() as i64 - 60_000)
        .execute(&mut conn)
        .await
        .unwrap();
    let report = purge_now(&store, &retention).await.unwrap();
    assert_eq!(report.failed_expired, 1, "{report:?}");
    assert!(
        store
            .enquiry(&id.parse().unwrap())
            .await
            .unwrap()
            .unwrap()
            .payload
            .is_none()
    );
    let _ = conn.close().await;
    store.close().await;
}
on_both_databases!(retention_failed_applies_only_after_its_notice);

/// T3-14: the real binary warns at start-up, before `retention.failed`
/// first applies, so an operator who upgrades sees it in the log (with a
/// count, never a family's details), and the first start scrubs nothing.
#[tokio::test]
async fn the_binary_warns_about_retention_failed_at_start_up() {
    let db = TestDb::new(Db::Sqlite).await.unwrap();
    let store = store_on(&db).await;
    let id = insert_enquiry_with(&store, r#"{"first_name":"Quintrell"}"#.into()).await;
    let mut conn = other_connection(&db).await;
    set_step(&mut conn, &id, "enquiry", "failed").await;
    received_days_ago(&mut conn, &id, 200).await;
    let _ = conn.close().await;
    store.close().await;

    let options = AppOptions::default();
    let mut app = serve_binary(&db, "http://127.0.0.1:9", &options).await;
    let warned = eventually(Duration::from_secs(30), || async {
        let log = app.log_text();
        log.contains("retention.failed takes effect from")
            .then_some(log)
    })
    .await;
    app.stop().await;
    let log = warned.unwrap_or_else(|| panic!("no warning:\n{}", app.log_text()));
    assert!(log.contains("WARN"), "{log}");
    assert!(log.contains("1 would be scrubbed today"), "{log}");
    assert!(!log.contains("Quintrell"), "{log}");
    let store = Store::connect(&db.url, 2).await.unwrap();
    assert!(
        store
            .enquiry(&id.parse().unwrap())
            .await
            .unwrap()
            .unwrap()
            .payload
            .is_some()
    );
    store.close().await;
}

/// A HelpAround enrollment of patient `p-77` stored as an enquiry under the
/// idempotency key `k-77`, held, then released by staff with a note naming
/// the family, with a user action recorded against it. Its id.
async fn enrollment_with_traces(store: &Store) -> String {
    let key = |event: &str| PartnerEventKey {
        partner: "helparound".into(),
        program_id: "prog-1".into(),
        patient_id: "p-77".into(),
        event_name: event.into(),
        sent_at_ms: 1_700_000_000_000,
    };
    let id = uuid::Uuid::now_v7().to_string();
    store
        .insert_enquiry(NewEnquiry {
            id: EnquiryId::from_stored(id.clone()),
            site: SITE.into(),
            payload: r#"{"first_name":"Zoë","last_name":"Quintrell"}"#.into(),
            spam_verdict: enquiry_relay::spam::SpamVerdict::Partner,
            idempotency_key: Some("k-77".into()),
            fingerprint: Some("fingerprint-77".into()),
            held: true,
            consent: None,
            partner_event: Some(key("enrollment")),
            destinations: Vec::new(),
            intake: None,
        })
        .await
        .unwrap();
    let actor = Actor {
        label: "staff token",
        reason: Some("spoke to Mrs Quintrell"),
    };
    assert!(
        store
            .staff_release(&id.parse().unwrap(), &actor)
            .await
            .unwrap()
    );
    store
        .record_partner_action(SITE, &key("user_action"), "enrollment", "tracker=visited")
        .await
        .unwrap();
    id
}

/// Rows of the enquiry's that may still name the person: partner events,
/// idempotency rows, earlier audit records with staff's words.
async fn traces(db: &TestDb, enquiry_id: &str) -> [i64; 3] {
    let mut conn = other_connection(db).await;
    let mut counts = [0; 3];
    for (n, sql) in [
        "SELECT COUNT(*) FROM partner_events WHERE enquiry_id = $1",
        "SELECT COUNT(*) FROM idempotency_keys WHERE enquiry_id = $1",
        // The erasure's own record says why it was made ("erasure request").
        "SELECT COUNT(*) FROM audit_log WHERE enquiry_id = $1 AND reason IS NOT NULL \
         AND action <> 'erase'",
    ]
    .into_iter()
    .enumerate()
    {
        let (count,): (i64,) = sqlx::query_as(sql)
            .bind(enquiry_id)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        counts[n] = count;
    }
    let _ = conn.close().await;
    counts
}

/// T3-7. A HelpAround enrollment delivered and past `retention.synced`:
/// before the fix the scrub left its partner events (the partner's id of the
/// patient, what they did), its idempotency row and staff's note naming the
/// family, and nothing could reach them afterwards. Retention takes them
/// with the payload.
async fn retention_reaches_partner_events_idempotency_rows_and_reasons(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let store = store_on(&db).await;
    let id = enrollment_with_traces(&store).await;
    let mut conn = other_connection(&db).await;
    set_step(&mut conn, &id, "enquiry", "synced").await;
    let _ = conn.close().await;
    assert_eq!(traces(&db, &id).await, [2, 1, 1], "stored");

    let later = now_ms() + 1_000;
    let report = store.purge(later, later, later, 0).await.unwrap();
    assert_eq!(report.synced_scrubbed, 1, "{report:?}");
    assert_eq!(
        traces(&db, &id).await,
        [0, 0, 0],
        "partner events, key, reason"
    );
    let audit = store.audit_of(&id.parse().unwrap()).await.unwrap();
    assert_eq!(audit.len(), 1, "the record of who released it stays");
    store.close().await;
}
on_both_databases!(retention_reaches_partner_events_idempotency_rows_and_reasons);

/// T3-7, erasure: an enquiry scrubbed before retention reached these rows
/// (an older version) still has them; `enquiries erase ID` answered "no
/// stored enquiry matches" and left them for ever. Now it lists the
/// enquiry, and with `--yes` removes what remains, audited as `erase`.
async fn erase_by_id_reaches_an_enquiry_already_scrubbed(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let store = store_on(&db).await;
    let id = enrollment_with_traces(&store).await;
    let mut conn = other_connection(&db).await;
    synced_with(&mut conn, &id, "enquiry", "ce-77").await;
    // As an older version's retention left it: the payload alone scrubbed.
    sqlx::query(
        "UPDATE enquiries SET payload = NULL, email_hash = NULL, phone_hash = NULL, \
         scrubbed_at = $1 WHERE id = $2",
    )
    .bind(now_ms())
    .bind(&id)
    .execute(&mut conn)
    .await
    .unwrap();
    let _ = conn.close().await;
    let config = default_config(&db, "http://127.0.0.1:9");

    let (code, out, err) = cli(&config, &["enquiries", "erase", &id]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("would erase") && out.contains("--yes"),
        "{out}"
    );
    assert_eq!(
        traces(&db, &id).await,
        [2, 1, 1],
        "a dry run changes nothing"
    );

    let (code, out, err) = cli(&config, &["enquiries", "erase", &id, "--yes"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("erased 1"), "{out}");
    assert!(
        out.contains("erase these care enquiries in CareHQ too: ce-77 (enquiry)"),
        "CareHQ's copy is still named: {out}"
    );
    assert_eq!(traces(&db, &id).await, [0, 0, 0]);
    let audit = store.audit_of(&id.parse().unwrap()).await.unwrap();
    assert_eq!(audit.last().map(|a| a.action.as_str()), Some("erase"));
    store.close().await;
}
on_both_databases!(erase_by_id_reaches_an_enquiry_already_scrubbed);

/// The CareHQ id `remote_id` recorded on the enquiry's step `step`, synced.
async fn synced_with(
    conn: &mut sqlx::AnyConnection,
    enquiry_id: &str,
    step: &str,
    remote_id: &str,
) {
    sqlx::query(
        "UPDATE deliveries SET status = 'synced', remote_id = $1 WHERE enquiry_id = $2 AND step = $3",
    )
    .bind(remote_id)
    .bind(enquiry_id)
    .bind(step)
    .execute(conn)
    .await
    .unwrap();
}

/// A home that emails enquiries CareHQ has not taken in time.
fn fallback_options() -> AppOptions {
    AppOptions::default()
        .site("fallback_email = \"Upton manager <manager@upton.example>\"")
        .config(
            "[alerts]\nsmtp_url = \"smtp://127.0.0.1:9\"\nemail_from = \"Relay <relay@upton.example>\"\n\
             email_to = \"ops@upton.example\"\n",
        )
}

/// T3-12. `erase --phone` matches the number as a whole number only (not a
/// message whose digits happen to spell it across two numbers), shows why
/// each enquiry matched before anything is erased, and names every copy
/// it cannot reach: CareHQ's, and the email sent to the home (before, only
/// CareHQ's ids were named, and the home's email was forgotten).
async fn erase_shows_why_each_enquiry_matched_and_every_copy_it_cannot_reach(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let store = store_on(&db).await;
    let theirs = insert_enquiry_with(
        &store,
        r#"{"first_name":"Zoë","email":"zoe@example.com","phone":"01632 960123"}"#.into(),
    )
    .await;
    let other = insert_enquiry_with(
        &store,
        r#"{"first_name":"Bo","email":"bo@example.com","care_requirements":"room 0163, bed 2960123"}"#
            .into(),
    )
    .await;
    let mut conn = other_connection(&db).await;
    synced_with(&mut conn, &theirs, "enquiry", "ce-theirs").await;
    add_step(&mut conn, &theirs, "fallback_email", "synced").await;
    let _ = conn.close().await;
    let config = write_config(
        db.dir.path(),
        &db.url,
        "http://127.0.0.1:9",
        free_port(),
        &fallback_options(),
    );
    let phone = "+44 1632 960123";

    let (code, out, err) = cli(&config, &["enquiries", "erase", "--phone", phone]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("would erase 1") && out.contains(&theirs),
        "{out}"
    );
    assert!(!out.contains(&other), "digits across two numbers: {out}");
    assert!(out.contains("matched by: its phone field"), "{out}");
    assert!(out.contains("ce-theirs (enquiry)"), "{out}");
    assert!(out.contains("manager@upton.example"), "{out}");

    let (code, out, err) = cli(&config, &["enquiries", "export", "--phone", phone]).await;
    assert_eq!(code, 0, "{err}");
    let export: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(
        export["enquiries"][0]["matched_by"],
        serde_json::json!(["its phone field"])
    );

    let (code, out, err) = cli(&config, &["enquiries", "erase", "--phone", phone, "--yes"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("erased 1"), "{out}");
    assert!(
        out.contains("erase these care enquiries in CareHQ too: ce-theirs (enquiry)"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "ask the recipient to delete that email: Upton manager <manager@upton.example> (enquiry {theirs})"
        )),
        "{out}"
    );
    assert!(
        store
            .enquiry(&theirs.parse().unwrap())
            .await
            .unwrap()
            .unwrap()
            .payload
            .is_none()
    );
    assert!(
        store
            .enquiry(&other.parse().unwrap())
            .await
            .unwrap()
            .unwrap()
            .payload
            .is_some()
    );
    store.close().await;
}
on_both_databases!(erase_shows_why_each_enquiry_matched_and_every_copy_it_cannot_reach);

/// T3-12, SQLite: an erased value does not stay readable in the file's free
/// space (`secure_delete`): once the WAL is checkpointed, no byte of the
/// database file holds it. Before, the erased payload stayed in the page.
#[tokio::test]
async fn an_erased_value_is_not_left_in_the_sqlite_file() {
    let db = TestDb::new(Db::Sqlite).await.unwrap();
    let marker = "Quintrell-Featherstonehaugh";
    let in_file = || {
        let file = std::fs::read(db.dir.path().join("relay.db")).unwrap();
        file.windows(marker.len()).any(|w| w == marker.as_bytes())
    };
    let store = store_on(&db).await;
    // Long enough to need overflow pages (freed whole by the erasure) as
    // well as the row's own cell.
    let message = format!("{marker} needs a room. ").repeat(100);
    let id = insert_enquiry_with(
        &store,
        serde_json::json!({"first_name": "Zoë", "last_name": marker, "care_requirements": message})
            .to_string(),
    )
    .await;
    store.close().await;
    checkpoint(&db).await;
    assert!(in_file(), "the enquiry is in the database file");

    let store = Store::connect(&db.url, 2).await.unwrap();
    let erasing = Actor {
        label: "command line",
        reason: Some("erasure request"),
    };
    assert_eq!(
        store
            .erase_enquiry(&id.parse().unwrap(), &erasing)
            .await
            .unwrap(),
        DeleteOutcome::Deleted
    );
    store.close().await;
    checkpoint(&db).await;
    assert!(!in_file(), "the erased name is still in the database file");
}

/// Copy the WAL into the database file and restart it empty.
async fn checkpoint(db: &TestDb) {
    let mut conn = other_connection(db).await;
    let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(busy, 0, "the checkpoint ran to the end");
    let _ = conn.close().await;
}

/// `body` as intake parses it (with the test site's rules).
fn parsed(body: &serde_json::Value) -> Enquiry {
    let raw = RawSubmission::from_json(body).expect("a valid post");
    let rules = IntakeRules {
        allowed_services: &[],
        require_consent: false,
        ignored_fields: &[],
    };
    Enquiry::parse(&raw, &rules).expect("parses")
}

/// `body` as intake stores it.
fn stored_form_of(body: &serde_json::Value) -> String {
    serde_json::to_string(&parsed(body)).expect("serialises")
}

/// T3-13. The fingerprint stored beside an idempotency key was an unkeyed
/// SHA-256 of the whole enquiry: anyone holding a copy of the database
/// (encrypted or not) could confirm a guessed enquiry (name, email, phone)
/// against it. It is keyed now, by a key derived from the server's secret
/// (in the configuration, never in the database); a retry is still answered
/// as a repeat and a changed enquiry under the same key refused; and the
/// row goes with an erasure.
async fn the_idempotency_fingerprint_is_keyed_and_goes_with_an_erasure(db: Db) {
    let Some((db, _sandbox, app)) = TestApp::builder(db)
        .options(AppOptions::default().quiet())
        .spawn()
        .await
    else {
        return;
    };
    let posted = post_keyed(&app, SITE, &family(1), "k-1").await;
    assert_eq!(posted.status(), 201);
    let id = posted.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let enquiry = parsed(&family(1));
    let mut unkeyed = <sha2::Sha256 as sha2::Digest>::new();
    sha2::Digest::update(&mut unkeyed, b"enquiry-v1\n");
    sha2::Digest::update(&mut unkeyed, serde_json::to_vec(&enquiry).unwrap());
    let unkeyed = hex::encode(sha2::Digest::finalize(unkeyed));
    let mut conn = other_connection(&db).await;
    let (stored,): (String,) =
        sqlx::query_as("SELECT fingerprint FROM idempotency_keys WHERE enquiry_id = $1")
            .bind(&id)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(
        !stored.contains(&unkeyed),
        "the enquiry's plain SHA-256 is stored"
    );

    let again = post_keyed(&app, SITE, &family(1), "k-1").await;
    assert_eq!(again.status(), 201, "a retry is answered as before");
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let changed = post_keyed(&app, SITE, &family(2), "k-1").await;
    assert_eq!(
        changed.status(),
        409,
        "another enquiry under the key is refused"
    );

    let erasing = Actor {
        label: "command line",
        reason: Some("erasure request"),
    };
    assert_eq!(
        app.store
            .erase_enquiry(&id.parse().unwrap(), &erasing)
            .await
            .unwrap(),
        DeleteOutcome::Deleted
    );
    let (left,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM idempotency_keys WHERE enquiry_id = $1")
            .bind(&id)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(left, 0, "the key and its fingerprint go with the erasure");
    let _ = conn.close().await;
    app.stop().await;
}
on_both_databases!(the_idempotency_fingerprint_is_keyed_and_goes_with_an_erasure);

/// The person the headline test erases: nobody else shares a value.
const PERSON_EMAIL: &str = "erin.quintrell@example.org";
const PERSON_NAME: &str = "Quintrell-Ashdown";
const PERSON_PHONE: &str = "07700 900462";

/// Issue 34's headline: after `enquiries erase --email`, no text column of
/// any table holds the person's name, email or phone (sealed values are
/// opened with the key first), on both databases, encrypted and plain.
/// The person left every kind of trace: a partner's enrollment naming the
/// patient, delivered and since scrubbed by retention; an enquiry posted
/// with an idempotency key whose first send CareHQ answered with a hint
/// quoting their address; a held one that staff released with a note
/// naming them. Another family's enquiry stays whole. (Before issue 34,
/// the enrollment's partner event outlived retention and the erasure.)
async fn an_erasure_leaves_no_column_naming_the_person(db: Db) {
    for encrypt in [false, true] {
        let Some(db) = TestDb::new(db).await else {
            return;
        };
        let sandbox = TestSandbox::start().await;
        let (options, sealing) = {
            let options = AppOptions {
                retry_schedule: vec![Duration::from_secs(3600)],
                ..AppOptions::default()
            }
            .quiet();
            if encrypt {
                let key = new_key_line("a").unwrap();
                let file = key_file(db.dir.path(), "keys", &[&key]);
                let sealing = Sealing::new(Some(KeyRing::parse(&key).unwrap()));
                (encrypted(options, &file), sealing)
            } else {
                (options, Sealing::default())
            }
        };
        let app = TestApp::spawn(&db, &sandbox.url, &options).await;
        let mut person = family(1);
        person["last_name"] = PERSON_NAME.into();
        person["email"] = PERSON_EMAIL.into();
        person["phone"] = PERSON_PHONE.into();

        let enrolled = app
            .store
            .insert_enquiry(NewEnquiry {
                id: EnquiryId::generate(),
                site: SITE.into(),
                payload: stored_form_of(&person),
                spam_verdict: enquiry_relay::spam::SpamVerdict::Partner,
                idempotency_key: None,
                fingerprint: None,
                held: false,
                consent: None,
                partner_event: Some(PartnerEventKey {
                    partner: "helparound".into(),
                    program_id: "prog-1".into(),
                    patient_id: "patient-quintrell".into(),
                    event_name: "enrollment".into(),
                    sent_at_ms: 1_700_000_000_000,
                }),
                destinations: Vec::new(),
                intake: None,
            })
            .await
            .unwrap();
        assert!(matches!(enrolled, InsertOutcome::Created));
        // The enrollment was delivered long ago and retention has scrubbed
        // it since: its search terms went with it, so `erase --email` cannot
        // find it; what else names the patient must have gone then.
        app.drain_all().await;
        // Nothing else is stored yet: the cut-off reaches it alone.
        let report = app.store.purge(now_ms() + 1, 0, 0, 0).await.unwrap();
        assert_eq!(report.synced_scrubbed, 1, "{report:?}");

        sandbox.set_faults(Faults {
            status_hint: Some(format!("temporary problem storing {PERSON_EMAIL}")),
            ..Faults::once(500)
        });
        assert_eq!(
            post_keyed(&app, SITE, &person, "k-person").await.status(),
            201
        );
        // Alone due: CareHQ's 500 (and its words) are this enquiry's.
        assert_eq!(app.drain().await.retrying, 1);
        let mut held = person.clone();
        held["_t"] = "forged".into();
        let held_id = posted_id(&app, SITE, &held).await;
        let note = Actor {
            label: "staff token",
            reason: Some("spoke to Mrs Quintrell-Ashdown on 07700 900462"),
        };
        assert!(
            app.store
                .staff_release(&held_id.parse().unwrap(), &note)
                .await
                .unwrap()
        );
        assert_eq!(app.post_json(SITE, &family(8)).await.status(), 201);
        app.make_pending_due().await;
        app.drain_all().await;
        let needles = [
            PERSON_EMAIL,
            PERSON_NAME,
            PERSON_PHONE,
            "07700900462",
            "patient-quintrell",
        ];
        assert!(
            !columns_holding_opened(&db.url, &sealing, PERSON_NAME)
                .await
                .is_empty(),
            "stored before the erasure"
        );

        let config = write_config(db.dir.path(), &db.url, &sandbox.url, free_port(), &options);
        let (code, out, err) = cli(
            &config,
            &["enquiries", "erase", "--email", PERSON_EMAIL, "--yes"],
        )
        .await;
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("erased 2"), "{out}");
        let hashes = sealing.email_lookups(PERSON_EMAIL);
        for needle in needles.into_iter().chain(hashes.iter().map(String::as_str)) {
            assert_eq!(
                columns_holding_opened(&db.url, &sealing, needle).await,
                Vec::<String>::new(),
                "{needle} (encrypted: {encrypt})"
            );
        }
        assert!(
            !columns_holding_opened(&db.url, &sealing, "family8@example.com")
                .await
                .is_empty(),
            "another family's enquiry stays"
        );
        app.stop().await;
    }
}
on_both_databases!(an_erasure_leaves_no_column_naming_the_person);

/// `value` sealed as the version before places did (`v1:`, no associated
/// data) with the key of `line` (`KEYID:BASE64`).
fn sealed_v1(line: &str, value: &str) -> String {
    use aes_gcm::aead::{Aead, KeyInit};
    use base64::Engine as _;
    let (id, key) = line.split_once(':').unwrap();
    let key = base64::engine::general_purpose::STANDARD
        .decode(key)
        .unwrap();
    let cipher = aes_gcm::Aes256Gcm::new_from_slice(&key).unwrap();
    let nonce = [9u8; 12];
    let body = cipher.encrypt(&nonce.into(), value.as_bytes()).unwrap();
    let sealed = [&nonce[..], &body].concat();
    format!(
        "v1:{id}:{}",
        base64::engine::general_purpose::STANDARD.encode(sealed)
    )
}

/// T3-13, sealed values: they carried no associated data, so a sealed
/// payload copied to another row (or into `original_payload`) opened there
/// as if it were that enquiry's. Now each is bound to its table, column and
/// row (format `v2:`): copied, it is refused as corrupt. A value of the old
/// format still opens, and `enquiries rekey` rewrites it as `v2:`.
async fn a_sealed_value_opens_only_in_its_own_row_and_rekey_moves_old_ones(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let key = new_key_line("a").unwrap();
    let store = store_with(&db, &[&key]).await;
    store.check_encryption().await.unwrap();
    let theirs = insert_enquiry_with(&store, stored_form_of(&family(1))).await;
    let other = insert_enquiry_with(&store, stored_form_of(&family(2))).await;
    let mut conn = other_connection(&db).await;
    let (sealed,): (String,) = sqlx::query_as("SELECT payload FROM enquiries WHERE id = $1")
        .bind(&theirs)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    sqlx::query("UPDATE enquiries SET payload = $1 WHERE id = $2")
        .bind(&sealed)
        .bind(&other)
        .execute(&mut conn)
        .await
        .unwrap();
    let copied = store.enquiry(&other.parse().unwrap()).await;
    assert!(copied.is_err(), "a copied value opened as this enquiry's");
    let copied = copied.unwrap_err();
    assert!(
        matches!(copied, StoreError::SealedCorrupt { .. }),
        "a copied value must not open as this enquiry's: {copied:?}"
    );
    assert!(
        store
            .enquiry(&theirs.parse().unwrap())
            .await
            .unwrap()
            .unwrap()
            .payload
            .is_some(),
        "it opens in its own row"
    );
    assert!(sealed.starts_with("v2:a:"), "{sealed}");

    // A value sealed by the version before: still read, then moved by rekey.
    let old = sealed_v1(&key, &stored_form_of(&family(2)));
    sqlx::query("UPDATE enquiries SET payload = $1 WHERE id = $2")
        .bind(&old)
        .bind(&other)
        .execute(&mut conn)
        .await
        .unwrap();
    let payload = store
        .enquiry(&other.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
        .payload;
    assert!(payload.is_some_and(|p| p.contains("family2@example.com")));
    let report = store.rekey(100).await.unwrap();
    // The old value, and the other enquiry whose search terms no indexer
    // has written yet (rekey writes them).
    assert_eq!(report.enquiries, 2, "{report:?}");
    let (moved,): (String,) = sqlx::query_as("SELECT payload FROM enquiries WHERE id = $1")
        .bind(&other)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(moved.starts_with("v2:a:"), "{moved}");
    let payload = store
        .enquiry(&other.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
        .payload;
    assert!(payload.is_some_and(|p| p.contains("family2@example.com")));
    let _ = conn.close().await;
    store.close().await;
}
on_both_databases!(a_sealed_value_opens_only_in_its_own_row_and_rekey_moves_old_ones);
