//! A group commit's new enquiries in a few statements, not a few each
//! (SQLite's writer task, `group_commit`).
//!
//! Every statement on SQLite is a round trip to the connection's own thread
//! and back to the runtime. On two busy cores each trip costs 100–300 µs of
//! waiting for a core, far more than SQLite takes to run it (20–30 µs), and
//! the trips of one commit are made one after another while every family in
//! the batch waits: a batch of 16 enquiries made 34 trips and took 4–5 ms
//! before its fsync (BENCHMARKS.md, "Where the slowest 1 % wait"). Here a
//! batch makes three whatever its size: one upsert of the idempotency keys,
//! then the enquiries and their outbox steps by the many-row inserts every
//! new enquiry is written with (`intake::insert_enquiries`, `insert_steps`);
//! only a repeated key adds a statement, the lookup of who holds it.
//!
//! The answers are the ones [`insert_rows`] gives the same posts made one
//! after another in the batch's order: a key sent twice in one batch stores
//! the first post and answers the second as its repeat (or a conflict).
//! Posts from a partner event go first, through [`insert_rows`] one by one:
//! they are rare, and their claim is its own statement. (Posts in one batch
//! arrived together, so any order among them is one they could have had.)

use std::collections::HashSet;

use super::StoreError;
use super::intake::{
    IDEMPOTENCY_WINDOW_MS, InsertOutcome, NewEnquiry, SealedPayload, insert_enquiries, insert_rows,
    insert_steps, key_held,
};

type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

/// Store `posts` inside `tx`; one outcome per post, in their order.
pub(super) async fn insert_batch(
    tx: &mut Tx<'_>,
    posts: &[(&NewEnquiry, &SealedPayload)],
    now: i64,
) -> Result<Vec<InsertOutcome>, StoreError> {
    let mut outcomes: Vec<Option<InsertOutcome>> = Vec::with_capacity(posts.len());
    for (new, sealed) in posts {
        outcomes.push(match &new.partner_event {
            Some(_) => Some(
                insert_rows(tx, new, sealed, now)
                    .await?
                    .unwrap_or(InsertOutcome::Created),
            ),
            None => None,
        });
    }
    let won = claim_keys(tx, posts, &outcomes, now).await?;
    // Each keyed post whose key was not claimed is a repeat of whoever holds
    // the key now (stored before, or earlier in this batch).
    for (i, (new, _)) in posts.iter().enumerate() {
        if outcomes[i].is_some() {
            continue;
        }
        if let Some(key) = new.idempotency_key.as_deref()
            && !won.contains(new.id.as_str())
        {
            outcomes[i] = Some(key_held(tx, new, key).await?);
        }
    }
    let to_store: Vec<(&NewEnquiry, &SealedPayload)> = posts
        .iter()
        .zip(&outcomes)
        .filter(|(_, outcome)| outcome.is_none())
        .map(|(post, _)| *post)
        .collect();
    insert_enquiries(tx, &to_store, now).await?;
    insert_steps(tx, &to_store, now).await?;
    Ok(outcomes
        .into_iter()
        .map(|outcome| outcome.unwrap_or(InsertOutcome::Created))
        .collect())
}

/// Claim the keys of the posts that carry one (and have no outcome yet):
/// a key nobody holds, or one held past the idempotency window, becomes the
/// post's. Returns the enquiry ids that claimed theirs. A key appearing
/// twice is offered once, for its first post: the later ones are repeats.
async fn claim_keys(
    tx: &mut Tx<'_>,
    posts: &[(&NewEnquiry, &SealedPayload)],
    outcomes: &[Option<InsertOutcome>],
    now: i64,
) -> Result<HashSet<String>, StoreError> {
    let mut offered = HashSet::new();
    let keyed: Vec<&NewEnquiry> = posts
        .iter()
        .zip(outcomes)
        .filter(|(_, outcome)| outcome.is_none())
        .filter_map(|((new, _), _)| {
            let key = new.idempotency_key.as_deref()?;
            offered.insert((new.site.as_str(), key)).then_some(*new)
        })
        .collect();
    if keyed.is_empty() {
        return Ok(HashSet::new());
    }
    let sql = claim_keys_sql(keyed.len());
    let mut query = sqlx::query_as::<_, (String,)>(sqlx::AssertSqlSafe(sql));
    for new in &keyed {
        query = query
            .bind(new.site.as_str())
            .bind(new.idempotency_key.as_deref())
            .bind(new.id.as_str())
            .bind(now)
            .bind(new.fingerprint.as_deref());
    }
    let claimed = query
        .bind(now - IDEMPOTENCY_WINDOW_MS)
        .fetch_all(&mut **tx)
        .await?;
    Ok(claimed.into_iter().map(|(id,)| id).collect())
}

/// The upsert of `rows` keys: inserted when new, taken over when the stored
/// one is older than the window (what deleting it first did), left alone
/// otherwise; `RETURNING` names the enquiries that got theirs.
fn claim_keys_sql(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|i| {
            let b = 5 * i;
            format!(
                "(${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5
            )
        })
        .collect();
    format!(
        "INSERT INTO idempotency_keys (site, key, enquiry_id, created_at, fingerprint) VALUES {} \
         ON CONFLICT (site, key) DO UPDATE SET enquiry_id = excluded.enquiry_id, \
         created_at = excluded.created_at, fingerprint = excluded.fingerprint \
         WHERE idempotency_keys.created_at < ${} \
         RETURNING enquiry_id",
        values.join(", "),
        5 * rows + 1
    )
}

#[cfg(test)]
mod tests {
    use super::super::intake::{IDEMPOTENCY_WINDOW_MS, SealedPayload, insert_rows};
    use super::super::{EnquiryId, InsertOutcome, NewEnquiry, PartnerEventKey, Store};
    use super::{claim_keys_sql, insert_batch};

    const NOW: i64 = 1_800_000_000_000;

    fn post(id: &str, key: Option<&str>, fingerprint: &str) -> NewEnquiry {
        NewEnquiry {
            id: EnquiryId::from_stored(id.to_owned()),
            site: "upton-court".into(),
            payload: format!("{{\"n\":\"{id}\"}}"),
            spam_verdict: crate::domain::SpamVerdict::Clean,
            idempotency_key: key.map(str::to_owned),
            fingerprint: Some(fingerprint.to_owned()),
            held: false,
            consent: None,
            partner_event: None,
            destinations: Vec::new(),
            intake: Some("hosted form".into()),
        }
    }

    /// Every kind of post a batch can hold, in one batch: plain, a key
    /// twice (same enquiry, then another), a key stored before (fresh and
    /// expired), held with destinations, and a partner event.
    fn posts() -> Vec<NewEnquiry> {
        let mut held = post("e-held", None, "k1:h");
        held.held = true;
        held.destinations = vec!["crm".into(), "mailbox".into()];
        let mut partner = post("e-partner", None, "k1:p");
        partner.partner_event = Some(PartnerEventKey {
            partner: "helparound".into(),
            program_id: "p1".into(),
            patient_id: "patient-1".into(),
            event_name: "enrollment".into(),
            sent_at_ms: NOW - 5,
        });
        vec![
            post("e-plain", None, "k1:a"),
            post("e-first", Some("double-click"), "k1:b"),
            post("e-again", Some("double-click"), "k1:b"),
            post("e-other", Some("double-click"), "k1:c"),
            post("e-fresh", Some("fresh"), "k1:d"),
            post("e-expired", Some("expired"), "k1:e"),
            held,
            partner,
            post("e-last", None, "k1:f"),
        ]
    }

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("batch.db").display());
        let store = Store::connect(&url, 2).await.unwrap();
        store.migrate().await.unwrap();
        // Two keys stored before the batch: one inside the window, one past it.
        for (key, at) in [
            ("fresh", NOW - 1_000),
            ("expired", NOW - IDEMPOTENCY_WINDOW_MS - 1),
        ] {
            sqlx::query(
                "INSERT INTO idempotency_keys (site, key, enquiry_id, created_at, fingerprint) \
                 VALUES ('upton-court', $1, $2, $3, 'k1:old')",
            )
            .bind(key)
            .bind(format!("before-{key}"))
            .bind(at)
            .execute(&store.writer)
            .await
            .unwrap();
        }
        (dir, store)
    }

    /// An enquiry's row as [`tables`] compares it.
    type EnquiryRow = (String, String, i64, String, String, Option<String>, i64);

    /// What the batch left in the tables, without the outbox rows' random ids.
    async fn tables(store: &Store) -> Vec<String> {
        let mut rows: Vec<String> = Vec::new();
        let enquiries: Vec<EnquiryRow> = sqlx::query_as(
            "SELECT id, site, received_at, payload, state, intake, terms_pending \
                 FROM enquiries ORDER BY id",
        )
        .fetch_all(&store.writer)
        .await
        .unwrap();
        rows.extend(enquiries.iter().map(|r| format!("enquiry {r:?}")));
        let steps: Vec<(String, String, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT enquiry_id, step, status, next_attempt_at, pending_since \
             FROM deliveries ORDER BY enquiry_id, step",
        )
        .fetch_all(&store.writer)
        .await
        .unwrap();
        rows.extend(steps.iter().map(|r| format!("step {r:?}")));
        let keys: Vec<(String, String, i64, Option<String>)> = sqlx::query_as(
            "SELECT key, enquiry_id, created_at, fingerprint FROM idempotency_keys ORDER BY key",
        )
        .fetch_all(&store.writer)
        .await
        .unwrap();
        rows.extend(keys.iter().map(|r| format!("key {r:?}")));
        rows
    }

    fn sealed(store: &Store, new: &NewEnquiry) -> SealedPayload {
        SealedPayload::of(&store.sealing, &new.id, &new.payload).unwrap()
    }

    #[tokio::test]
    async fn a_batch_answers_and_stores_as_the_same_posts_one_after_another() {
        let posts = posts();

        let (_one_dir, one_by_one) = store().await;
        let mut tx = one_by_one.writer.begin().await.unwrap();
        let mut expected = Vec::new();
        for new in &posts {
            let outcome = insert_rows(&mut tx, new, &sealed(&one_by_one, new), NOW)
                .await
                .unwrap();
            expected.push(outcome.unwrap_or(InsertOutcome::Created));
        }
        tx.commit().await.unwrap();

        let (_batch_dir, batched) = store().await;
        let seals: Vec<SealedPayload> = posts.iter().map(|new| sealed(&batched, new)).collect();
        let batch: Vec<(&NewEnquiry, &SealedPayload)> = posts.iter().zip(&seals).collect();
        let mut tx = batched.writer.begin().await.unwrap();
        let outcomes = insert_batch(&mut tx, &batch, NOW).await.unwrap();
        tx.commit().await.unwrap();

        let repeat = |id: &str| InsertOutcome::Duplicate {
            enquiry_id: EnquiryId::from_stored(id.to_owned()),
        };
        assert_eq!(
            expected,
            [
                InsertOutcome::Created,
                InsertOutcome::Created,
                repeat("e-first"),
                InsertOutcome::Conflict,
                InsertOutcome::Conflict,
                InsertOutcome::Created,
                InsertOutcome::Created,
                InsertOutcome::Created,
                InsertOutcome::Created,
            ],
            "what one post after another answers (the reference)"
        );
        assert_eq!(outcomes, expected);
        let stored = tables(&batched).await;
        assert_eq!(stored, tables(&one_by_one).await);
        assert_eq!(
            stored.iter().filter(|r| r.starts_with("enquiry")).count(),
            6
        );
        assert_eq!(
            stored
                .iter()
                .filter(|r| r.starts_with("step") && r.contains("e-held"))
                .count(),
            3,
            "a held enquiry's own step and one per destination"
        );
        one_by_one.close().await;
        batched.close().await;
    }

    #[test]
    fn the_key_upsert_numbers_each_rows_values_and_the_window_last() {
        assert_eq!(
            claim_keys_sql(2),
            "INSERT INTO idempotency_keys (site, key, enquiry_id, created_at, fingerprint) \
             VALUES ($1, $2, $3, $4, $5), ($6, $7, $8, $9, $10) \
             ON CONFLICT (site, key) DO UPDATE SET enquiry_id = excluded.enquiry_id, \
             created_at = excluded.created_at, fingerprint = excluded.fingerprint \
             WHERE idempotency_keys.created_at < $11 \
             RETURNING enquiry_id"
        );
    }
}
