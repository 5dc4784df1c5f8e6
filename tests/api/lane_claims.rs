//! Lanes claim by step and site (issue 31): each step is its own range of
//! `deliveries_lane_due`, merged by time. These check at the storage level
//! that every lane still takes exactly its own due rows, in
//! `next_attempt_at` order, and that a synced enquiry releases only its own
//! waiting visit.

use std::borrow::Cow;
use std::collections::HashSet;
use std::time::Duration;

use enquiry_relay::storage::{
    AttemptOutcome, AttemptRecord, ClaimScope, SiteFilter, Step, StepFilter, Store, Transition,
    now_ms,
};

use crate::helpers::{Db, TestDb};
use crate::on_both_databases;

const LEASE: Duration = Duration::from_secs(600);

/// One stored delivery: its step, its enquiry's site, status and time.
struct Row {
    id: String,
    step: &'static str,
    site: &'static str,
    status: &'static str,
    at: i64,
}

async fn store_for(db: &TestDb) -> Store {
    let store = Store::connect(&db.url, 2).await.unwrap();
    store.migrate().await.unwrap();
    store
}

/// Store `rows`, each with an enquiry of its own (ids `e<id>`).
async fn insert(db: &TestDb, rows: &[Row]) {
    use sqlx::Connection as _;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    for row in rows {
        sqlx::query(
            "INSERT INTO enquiries (id, site, received_at, payload, spam_verdict) \
             VALUES ($1, $2, $3, '{}', 'clean')",
        )
        .bind(format!("e{}", row.id))
        .bind(row.site)
        .bind(row.at)
        .execute(&mut conn)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO deliveries (id, enquiry_id, step, status, next_attempt_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5, $5)",
        )
        .bind(&row.id)
        .bind(format!("e{}", row.id))
        .bind(row.step)
        .bind(row.status)
        .bind(row.at)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let _ = conn.close().await;
}

/// The lanes a worker would run with account `north` (site north), the
/// default account (every other site), the fallback email, one
/// destination, and the steps none of them sends.
fn lanes(north: &[String]) -> Vec<(&'static str, ClaimScope<'_>)> {
    static RECORDS: &[Cow<'static, str>] = &[Cow::Borrowed("destination:records")];
    static SERVED: &[Cow<'static, str>] = &[
        Cow::Borrowed("enquiry"),
        Cow::Borrowed("home_visit"),
        Cow::Borrowed("fallback_email"),
        Cow::Borrowed("destination:records"),
    ];
    let every_site = SiteFilter::AllBut(&[]);
    vec![
        (
            "north",
            ClaimScope {
                account: "north",
                steps: StepFilter::Only(Step::CAREHQ),
                sites: SiteFilter::Only(north),
            },
        ),
        (
            "default",
            ClaimScope {
                account: "default",
                steps: StepFilter::Only(Step::CAREHQ),
                sites: SiteFilter::AllBut(north),
            },
        ),
        (
            "email",
            ClaimScope {
                account: "(fallback email)",
                steps: StepFilter::Only(Step::EMAIL),
                sites: every_site,
            },
        ),
        (
            "records",
            ClaimScope {
                account: "destination:records",
                steps: StepFilter::Only(RECORDS),
                sites: every_site,
            },
        ),
        (
            "unserved",
            ClaimScope {
                account: "(no longer configured)",
                steps: StepFilter::AllBut(SERVED),
                sites: every_site,
            },
        ),
    ]
}

/// Which lane takes a row of `step` whose enquiry is of `site`.
fn lane_of(step: &str, site: &str) -> &'static str {
    match step {
        "enquiry" | "home_visit" if site == "north" => "north",
        "enquiry" | "home_visit" => "default",
        "fallback_email" => "email",
        "destination:records" => "records",
        _ => "unserved",
    }
}

/// Rows of every lane's steps and of three sites, interleaved in time so
/// that each lane's order mixes its steps (and other lanes' rows fall
/// between its own), beside rows no claim may take: not yet due, leased,
/// synced, held, waiting.
fn rows(now: i64) -> Vec<Row> {
    let steps = [
        "enquiry",
        "home_visit",
        "fallback_email",
        "destination:records",
        "destination:gone",
        "zz_removed",
    ];
    let sites = ["north", "south", "east"];
    let mut rows = Vec::new();
    let mut n = 0;
    for round in 0..4 {
        for step in steps {
            for site in sites {
                n += 1;
                // Rounds 0-2 are due (oldest first, in an order that is not
                // the insertion's); round 3 falls due in an hour.
                let at = match round {
                    3 => now + 3_600_000 + n,
                    _ => now - 3_600_000 + ((n * 7919) % 1000) * 1000,
                };
                let status = match (round, n % 5) {
                    (3, _) => "pending",
                    (_, 0) => "sending", // its lease ended: due again
                    _ => "pending",
                };
                rows.push(Row {
                    id: format!("d{n:03}"),
                    step,
                    site,
                    status,
                    at,
                });
            }
        }
    }
    // Never claimed: a live lease, and rows that are not pending.
    for (status, at) in [
        ("sending", now + 600_000),
        ("synced", now - 7_200_000),
        ("held", now - 7_200_000),
        ("waiting", now - 7_200_000),
        ("failed", now - 7_200_000),
    ] {
        for step in ["enquiry", "destination:records", "destination:gone"] {
            n += 1;
            rows.push(Row {
                id: format!("d{n:03}"),
                step,
                site: "north",
                status,
                at,
            });
        }
    }
    rows
}

/// Each lane claims exactly its own due rows, the earliest first, across
/// its steps and sites; the lane of unserved steps takes every other step;
/// its next due time is its earliest pending or leased row.
async fn lanes_claim_exactly_their_own_rows_in_time_order(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let store = store_for(&db).await;
    let now = now_ms();
    let rows = rows(now);
    insert(&db, &rows).await;
    let mut taken: HashSet<String> = HashSet::new();
    let north = ["north".to_owned()];
    for (lane, scope) in lanes(&north) {
        let mut due: Vec<&Row> = (rows.iter())
            .filter(|r| lane_of(r.step, r.site) == lane)
            .filter(|r| matches!(r.status, "pending" | "sending") && r.at <= now)
            .collect();
        due.sort_by_key(|r| r.at);
        assert!(due.len() >= 6, "{lane}: the rows give it several due rows");
        let next = (rows.iter())
            .filter(|r| lane_of(r.step, r.site) == lane)
            .filter(|r| matches!(r.status, "pending" | "sending"))
            .map(|r| r.at)
            .min();
        assert_eq!(store.next_due_at(scope).await.unwrap(), next, "{lane}");

        // Its earliest row skipped (in flight here), then the next two.
        let skip = vec![due[0].id.clone()];
        let claimed = store.claim_due("w", LEASE, 2, &skip, scope).await.unwrap();
        let ids: HashSet<String> = claimed.iter().map(|c| c.id.clone()).collect();
        let want: HashSet<String> = due[1..3].iter().map(|r| r.id.clone()).collect();
        assert_eq!(ids, want, "{lane}: the two earliest due rows not skipped");
        // The rest, the skipped one included.
        let rest = store.claim_due("w", LEASE, 100, &[], scope).await.unwrap();
        let mut all: HashSet<String> = rest.iter().map(|c| c.id.clone()).collect();
        assert_eq!(all.len(), rest.len(), "{lane}: a row claimed twice");
        all.extend(ids);
        let want: HashSet<String> = due.iter().map(|r| r.id.clone()).collect();
        assert_eq!(all, want, "{lane}: exactly its own due rows");
        for row in &rest {
            let stored = rows.iter().find(|r| r.id == row.id).unwrap();
            assert_eq!(row.lease_expired, stored.status == "sending", "{}", row.id);
        }
        assert!(taken.is_disjoint(&all), "{lane}: took another lane's row");
        taken.extend(all);
        let none = store.claim_due("w", LEASE, 100, &[], scope).await.unwrap();
        assert!(none.is_empty(), "{lane}: nothing more is due");
        // Nothing is due now: next, a lease's end or a row due in an hour.
        let next = store.next_due_at(scope).await.unwrap();
        assert!(next.is_some_and(|at| at > now), "{lane}");
    }
    let due = rows
        .iter()
        .filter(|r| matches!(r.status, "pending" | "sending") && r.at <= now);
    assert_eq!(taken.len(), due.count(), "every due row has a lane");
    store.close().await;
}
on_both_databases!(lanes_claim_exactly_their_own_rows_in_time_order);

/// An enquiry's success releases its own waiting visit only.
async fn a_synced_enquiry_releases_only_its_own_waiting_visit(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let store = store_for(&db).await;
    let now = now_ms();
    use sqlx::Connection as _;
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    for (enquiry, at) in [("ea", now - 2_000), ("eb", now - 1_000)] {
        sqlx::query(
            "INSERT INTO enquiries (id, site, received_at, payload, spam_verdict) \
             VALUES ($1, 'north', $2, '{}', 'clean')",
        )
        .bind(enquiry)
        .bind(at)
        .execute(&mut conn)
        .await
        .unwrap();
        for (step, status) in [("enquiry", "pending"), ("home_visit", "waiting")] {
            sqlx::query(
                "INSERT INTO deliveries (id, enquiry_id, step, status, next_attempt_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $5, $5)",
            )
            .bind(format!("{enquiry}-{step}"))
            .bind(enquiry)
            .bind(step)
            .bind(status)
            .bind(at)
            .execute(&mut conn)
            .await
            .unwrap();
        }
    }
    let claimed = store
        .claim_due("w", LEASE, 1, &[], ClaimScope::ALL)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, "ea-enquiry", "the earlier enquiry");
    let synced = Transition::Synced {
        remote_id: Some("6724fbc74f73a2cebf6377fb".into()),
    };
    let attempt = AttemptRecord::new(AttemptOutcome::Synced, now);
    assert!(
        store
            .record_outcome(&claimed[0], &attempt, &synced)
            .await
            .unwrap()
    );
    let statuses: Vec<(String, String)> =
        sqlx::query_as("SELECT id, status FROM deliveries ORDER BY id")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let statuses: Vec<(&str, &str)> = (statuses.iter())
        .map(|(id, status)| (id.as_str(), status.as_str()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("ea-enquiry", "synced"),
            ("ea-home_visit", "pending"),
            ("eb-enquiry", "pending"),
            ("eb-home_visit", "waiting"),
        ]
    );
    let _ = conn.close().await;
    store.close().await;
}
on_both_databases!(a_synced_enquiry_releases_only_its_own_waiting_visit);
