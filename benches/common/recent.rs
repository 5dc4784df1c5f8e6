//! The last 30 days: each enquiry stored through the service's own intake
//! (`Store::insert_enquiry`, or `insert_enquiry_with_visit` for one in ten,
//! so hashes and anything intake fills are right; the fixed number deleted
//! by staff go through `Store::staff_delete`), then moved to its arrival
//! time and its state with a few set-based UPDATEs joined to a temporary
//! plan table.

use std::sync::Arc;

use anyhow::Context as _;
use enquiry_relay::spam::SpamVerdict;
use enquiry_relay::storage::{
    Actor, DeleteOutcome, EnquiryId, InsertOutcome, NewEnquiry, NewVisit, Store, VisitInsert,
};

use crate::history::Dialect;
use crate::people::Family;
use crate::seed::{BACKLOG, Kind, Shape};

/// Concurrent intake writers.
const WRITERS: usize = 16;
/// Plan rows per INSERT (four values each).
const PLAN_BATCH: usize = 250;
/// Why a held enquiry was held, in turn.
const HELD_VERDICTS: [SpamVerdict; 3] = [
    SpamVerdict::StaleTimeToken,
    SpamVerdict::NullOrigin,
    SpamVerdict::CaptchaUnverified,
];

/// What becomes of each recent enquiry (index 0 is the newest), and which
/// ones the reads look for.
#[derive(Clone)]
pub struct Plan {
    pub shape: Shape,
    pub kinds: Vec<Kind>,
    pub unique_surname_row: usize,
    pub email_row: usize,
}

impl Plan {
    pub fn family(&self, k: usize) -> Family {
        Family::of(k, k == self.unique_surname_row)
    }
}

/// Spread the fixed backlog over `recent` enquiries, evenly, each kind from
/// its own offset; waiting ones within the last two days.
pub fn plan(recent: usize, shape: &Shape) -> Plan {
    let mut kinds = vec![Kind::Sent; recent];
    for (kind, count) in BACKLOG {
        let span = if kind == Kind::Waiting {
            recent.min(2 * shape.per_day as usize)
        } else {
            recent
        };
        for j in 0..count {
            let mut at = (2 * j + 1) * span / (2 * count);
            while kinds[at] != Kind::Sent {
                at = (at + 1) % recent;
            }
            kinds[at] = kind;
        }
    }
    let unique_surname_row = first_sent(&kinds, recent / 3);
    let email_row = first_sent(&kinds, (recent / 2).max(unique_surname_row + 1));
    Plan {
        shape: shape.clone(),
        kinds,
        unique_surname_row,
        email_row,
    }
}

/// The first sent enquiry at or after `from`.
fn first_sent(kinds: &[Kind], from: usize) -> usize {
    (from..kinds.len())
        .find(|&k| kinds[k] == Kind::Sent)
        .unwrap_or(from)
}

/// One in ten enquiries asks for a home visit (the same rule as the history).
fn has_visit(k: usize) -> bool {
    (k / 50) % 10 == 3
}

/// Store every planned enquiry through intake, oldest first, `WRITERS` at
/// a time. Returns the ids, by index.
pub async fn intake(store: &Store, plan: &Plan, now: i64) -> anyhow::Result<Vec<String>> {
    let shared = Arc::new(plan.clone());
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..WRITERS {
        let (store, plan) = (store.clone(), Arc::clone(&shared));
        writers.spawn(async move {
            let mut ids = Vec::new();
            for k in (writer..plan.kinds.len()).step_by(WRITERS).rev() {
                ids.push((k, store_one(&store, &plan, k, now).await?));
            }
            anyhow::Ok(ids)
        });
    }
    let mut ids = vec![String::new(); plan.kinds.len()];
    while let Some(done) = writers.join_next().await {
        for (k, id) in done?? {
            ids[k] = id;
        }
    }
    Ok(ids)
}

/// Store recent enquiry `k` as a family's post would be stored.
async fn store_one(store: &Store, plan: &Plan, k: usize, now: i64) -> anyhow::Result<String> {
    let kind = plan.kinds[k];
    let held = kind == Kind::Held;
    let id = id_at(now - plan.shape.age_ms(k as i64), k)?;
    let new = NewEnquiry {
        id: id.clone(),
        site: plan.shape.home(k).to_owned(),
        payload: plan.family(k).payload()?,
        spam_verdict: if held {
            HELD_VERDICTS[k % HELD_VERDICTS.len()]
        } else {
            SpamVerdict::Clean
        },
        idempotency_key: None,
        fingerprint: None,
        held,
        consent: None,
        partner_event: None,
        destinations: Vec::new(),
        intake: None,
    };
    let outcome = if has_visit(k) {
        // Two to six days ahead, on the hour.
        let slot_at = ((now / 3_600_000) + 48 + (k % 5) as i64 * 24) * 3_600_000;
        let local_time = utc_text(slot_at)?;
        let visit = NewVisit {
            slot_at,
            local_time: &local_time,
            time_zone: "UTC",
            visit_type: if k.is_multiple_of(3) {
                "virtual"
            } else {
                "in_person"
            },
            capacity: 1_000_000,
        };
        match store.insert_enquiry_with_visit(&new, &visit).await? {
            VisitInsert::Stored(outcome) => outcome,
            VisitInsert::SlotFull => anyhow::bail!("visit slot full for enquiry {k}"),
        }
    } else {
        store.insert_enquiry(new).await?
    };
    anyhow::ensure!(
        outcome == InsertOutcome::Created,
        "intake of enquiry {k}: {outcome:?}"
    );
    if kind == Kind::Closed {
        let actor = Actor {
            label: "staff token",
            reason: Some("Sent twice; the other copy went to CareHQ"),
        };
        let deleted = store.staff_delete(&id, &actor).await?;
        anyhow::ensure!(
            deleted == DeleteOutcome::Deleted,
            "delete of enquiry {k}: {deleted:?}"
        );
    }
    Ok(id.as_str().to_owned())
}

/// A UUID v7 of the time the enquiry is to have arrived (unique by `k` in
/// its random part), as intake would have made it then.
fn id_at(at_ms: i64, k: usize) -> anyhow::Result<EnquiryId> {
    let secs = u64::try_from(at_ms / 1000)?;
    let nanos = u32::try_from((at_ms % 1000) * 1_000_000)?;
    let ts = uuid::Timestamp::from_unix(uuid::NoContext, secs, nanos);
    let mut bytes = *uuid::Uuid::new_v7(ts).as_bytes();
    bytes[8..16].copy_from_slice(&(0x8000_0000_0000_0000u64 | k as u64).to_be_bytes());
    Ok(EnquiryId::from_stored(
        uuid::Uuid::from_bytes(bytes).to_string(),
    ))
}

/// Unix ms as `YYYY-MM-DD HH:MM:SS` (UTC).
fn utc_text(ms: i64) -> anyhow::Result<String> {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    Ok(time::OffsetDateTime::from_unix_timestamp(ms / 1000)?.format(&format)?)
}

/// Move the stored recent enquiries to their arrival times and states.
pub async fn settle(
    conn: &mut sqlx::AnyConnection,
    d: Dialect,
    plan: &Plan,
    ids: &[String],
    now: i64,
) -> anyhow::Result<()> {
    sqlx::query(
        "CREATE TEMPORARY TABLE bench_plan \
         (seq BIGINT NOT NULL, id TEXT PRIMARY KEY, at BIGINT NOT NULL, kind TEXT NOT NULL)",
    )
    .execute(&mut *conn)
    .await
    .context("creating the plan table")?;
    fill_plan(conn, plan, ids, now).await?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    for (what, sql) in updates(d, now) {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await
            .with_context(|| format!("seeding recent enquiries: {what}"))?;
    }
    tx.commit().await?;
    sqlx::query("DROP TABLE bench_plan")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn fill_plan(
    conn: &mut sqlx::AnyConnection,
    plan: &Plan,
    ids: &[String],
    now: i64,
) -> anyhow::Result<()> {
    let rows: Vec<usize> = (0..ids.len()).collect();
    for batch in rows.chunks(PLAN_BATCH) {
        let values: Vec<String> = (0..batch.len())
            .map(|i| {
                let p = 4 * i;
                format!("(${}, ${}, ${}, ${})", p + 1, p + 2, p + 3, p + 4)
            })
            .collect();
        let sql = format!(
            "INSERT INTO bench_plan (seq, id, at, kind) VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for &k in batch {
            query = query
                .bind(k as i64)
                .bind(ids[k].clone())
                .bind(now - plan.shape.age_ms(k as i64))
                .bind(plan.kinds[k].as_str());
        }
        query
            .execute(&mut *conn)
            .await
            .context("filling the plan table")?;
    }
    Ok(())
}

/// The UPDATEs (and the attempts' INSERT) that give each recent enquiry its
/// arrival time and state, in order.
fn updates(d: Dialect, now: i64) -> Vec<(&'static str, String)> {
    let from = "FROM bench_plan p WHERE p.id = deliveries.enquiry_id";
    let deleted_at = d.least("p.at + 3600000", &now.to_string());
    let remote_id = format!(
        "'67' || {}",
        d.hex(
            "p.seq * 2 + CASE WHEN deliveries.step = 'enquiry' THEN 0 ELSE 1 END",
            22
        )
    );
    vec![
        ("arrival times", format!(
            "UPDATE enquiries SET received_at = p.at, \
             scrubbed_at = CASE WHEN enquiries.scrubbed_at IS NULL THEN NULL ELSE {deleted_at} END \
             FROM bench_plan p WHERE p.id = enquiries.id"
        )),
        ("delivery times", format!(
            "UPDATE deliveries SET created_at = p.at, updated_at = p.at, next_attempt_at = p.at, \
             pending_since = CASE WHEN deliveries.pending_since IS NULL THEN NULL ELSE p.at END {from}"
        )),
        ("visit times", "UPDATE visit_requests SET created_at = p.at \
             FROM bench_plan p WHERE p.id = visit_requests.enquiry_id".to_owned()),
        ("sent", format!(
            "UPDATE deliveries SET status = 'synced', attempts = 1, remote_id = {remote_id}, \
             updated_at = p.at + CASE WHEN deliveries.step = 'enquiry' THEN 2000 ELSE 4000 END, \
             pending_since = p.at + CASE WHEN deliveries.step = 'enquiry' THEN 0 ELSE 2000 END \
             {from} AND p.kind = 'sent'"
        )),
        ("failed", format!(
            "UPDATE deliveries SET status = 'failed', attempts = 1, \
             last_error = 'CareHQ answered 400 (the enquiry was refused)', updated_at = p.at + 2000 \
             {from} AND p.kind = 'failed' AND deliveries.step = 'enquiry'"
        )),
        ("waiting", format!(
            "UPDATE deliveries SET attempts = 1, last_error = 'could not connect to CareHQ', \
             updated_at = p.at + 2000, next_attempt_at = {now} + 7200000 + (p.seq % 300) * 60000 \
             {from} AND p.kind = 'waiting' AND deliveries.step = 'enquiry'"
        )),
        ("closed", format!(
            "UPDATE deliveries SET updated_at = {deleted_at}, next_attempt_at = {deleted_at} \
             {from} AND p.kind = 'closed'"
        )),
        ("attempts", format!(
            "INSERT INTO delivery_attempts (id, delivery_id, started_at, duration_ms, outcome, http_status, \
             hint, arg_errors, error) \
             SELECT {}, d.id, d.updated_at - 400, 400, \
             CASE d.status WHEN 'synced' THEN 'synced' WHEN 'failed' THEN 'failed' ELSE 'retry' END, \
             CASE d.status WHEN 'synced' THEN 200 WHEN 'failed' THEN 400 END, \
             CASE d.status WHEN 'failed' THEN 'The phone number is not valid.' END, \
             CASE d.status WHEN 'failed' THEN '{{\"phone\":[\"Enter a valid phone number.\"]}}' END, \
             CASE d.status WHEN 'pending' THEN 'could not connect to CareHQ' END \
             FROM deliveries d JOIN bench_plan p ON p.id = d.enquiry_id \
             WHERE d.status IN ('synced', 'failed') OR (d.status = 'pending' AND d.step = 'enquiry')",
            d.uuid(
                "d.updated_at",
                "CASE WHEN d.step = 'enquiry' THEN 2577 ELSE 2578 END",
                "p.seq"
            )
        )),
        ("delivery state", "UPDATE account_delivery_state SET \
             last_success_at = (SELECT MAX(updated_at) FROM deliveries WHERE status = 'synced'), \
             last_error_at = (SELECT MAX(updated_at) FROM deliveries WHERE status = 'pending' AND attempts > 0), \
             last_error = 'could not connect to CareHQ' WHERE account = 'default'".to_owned()),
    ]
}
