//! Storing a new enquiry and its outbox row in one transaction, with the
//! submission's idempotency key and a fingerprint of what it said, so a key
//! sent again is answered as a repeat only when the enquiry is the same.

use super::models::{EnquiryId, destination_step};
use super::partner_events::{PartnerEventKey, claim_enrollment};
use super::sealing::{ContactHashes, Place, Sealing};
use super::{Store, StoreError, now_ms};
use crate::domain::SpamVerdict;

/// Idempotency keys answer the same for this long.
pub(super) const IDEMPOTENCY_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// Outbox rows per insert statement: 6 values each, far below SQLite's
/// limit on a statement's values (32,766) whatever a site's destinations.
const STEPS_PER_STATEMENT: usize = 128;

/// A validated enquiry ready to store.
/// Owned, so the SQLite group-commit writer can take it across to its task.
pub struct NewEnquiry {
    pub id: EnquiryId,
    pub site: String,
    /// The validated enquiry as JSON (the store seals it as it writes).
    pub payload: String,
    pub spam_verdict: SpamVerdict,
    pub idempotency_key: Option<String>,
    /// A digest of the validated enquiry, stored with the key (the
    /// idempotency key, or the partner event's): the same key with another
    /// fingerprint is a different enquiry ([`InsertOutcome::Conflict`]).
    /// `None` matches any (as keys stored before fingerprints do).
    pub fingerprint: Option<String>,
    /// Stored as `held`: a person must release it before it is sent.
    pub held: bool,
    /// The consent statement the family ticked, when the site has one.
    pub consent: Option<ConsentRecord>,
    /// The partner event this enquiry comes from (an enrollment webhook): a
    /// repeat of it is answered as a repeat, for as long as the row is kept.
    pub partner_event: Option<PartnerEventKey>,
    /// The site's `also_send_to` destinations: one more outbox step each
    /// (`destination:NAME`), made with the enquiry's own.
    pub destinations: Vec<String>,
    /// Which way it came in (`hosted form`, `site form`, `webhook NAME`,
    /// `partner helparound`), shown to staff; `None` when not known.
    pub intake: Option<String>,
}

/// An enquiry's payload as stored (sealed when encryption is on) and the
/// lookup hashes of its email and phone. Its search terms are not written
/// with it: the search indexer writes them after the acknowledgement
/// (`ops::search_index`), so the family's wait does not include them.
pub(super) struct SealedPayload {
    pub(super) payload: String,
    pub(super) hashes: ContactHashes,
}

impl SealedPayload {
    /// `payload` as stored for the enquiry `enquiry_id`.
    pub(super) fn of(
        sealing: &Sealing,
        enquiry_id: &EnquiryId,
        payload: &str,
    ) -> Result<SealedPayload, StoreError> {
        Ok(SealedPayload {
            payload: sealing.seal(payload, Place::payload(enquiry_id.as_str()))?,
            hashes: sealing.contact_hashes(payload),
        })
    }
}

/// Which consent wording was agreed to: kept beside the enquiry (not only in
/// its payload) so it outlives the retention scrub. Neither is personal data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentRecord {
    /// The site's `consent_version`.
    pub version: String,
    /// SHA-256 of the wording shown, hex: proves which text it was even if
    /// the version was not changed with it.
    pub sha256: String,
}

/// Whether the enquiry was stored now, had been stored before under the same
/// key, or the key was used before for a different enquiry.
#[derive(Debug, PartialEq, Eq)]
pub enum InsertOutcome {
    Created,
    Duplicate {
        enquiry_id: EnquiryId,
    },
    /// The key was stored with another enquiry's fingerprint: nothing stored.
    Conflict,
}

/// What a stored key says about a post carrying `fingerprint`: a repeat of
/// `enquiry_id`, or a different enquiry. A key stored without a fingerprint
/// (before migration 0007, or by a caller without one) counts as the same:
/// it was always answered as a repeat, and such keys expire within 24 hours.
pub fn repeat_or_conflict(
    enquiry_id: String,
    stored: Option<&str>,
    fingerprint: Option<&str>,
) -> InsertOutcome {
    // An unkeyed fingerprint of a version before keyed ones (`k1:`) cannot
    // be compared with a keyed one: it matches any, as a key stored before
    // fingerprints does (for the 24 h it lives).
    let keyed = |f: &str| f.starts_with("k1:");
    let stored = stored.filter(|s| keyed(s) == fingerprint.is_some_and(keyed));
    match (stored, fingerprint) {
        (Some(stored), Some(fingerprint)) if stored != fingerprint => InsertOutcome::Conflict,
        _ => InsertOutcome::Duplicate {
            enquiry_id: EnquiryId::from_stored(enquiry_id),
        },
    }
}

impl Store {
    /// Insert the enquiry and its delivery row in one transaction. Nothing is
    /// acknowledged to the family before this commits.
    pub async fn insert_enquiry(&self, new: NewEnquiry) -> Result<InsertOutcome, StoreError> {
        // Sealed here, in the caller's task, so the SQLite writer task only
        // writes (and concurrent posts encrypt in parallel).
        let sealed = SealedPayload::of(&self.sealing, &new.id, &new.payload)?;
        let outcome = match &self.sqlite_writer {
            Some(writer) => writer.insert(new, sealed).await?,
            // Nothing to look up first: one statement, one round trip, one
            // commit (PostgreSQL runs it as its own transaction).
            None if new.idempotency_key.is_none() && new.partner_event.is_none() => {
                insert_in_one_statement(&self.writer, &new, &sealed, now_ms()).await?;
                InsertOutcome::Created
            }
            None => {
                let now = now_ms();
                let mut tx = self.writer.begin().await?;
                match insert_rows(&mut tx, &new, &sealed, now).await? {
                    Some(outcome) => {
                        tx.rollback().await?;
                        outcome
                    }
                    None => {
                        tx.commit().await?;
                        InsertOutcome::Created
                    }
                }
            }
        };
        if outcome == InsertOutcome::Created {
            self.search_terms_due.notify_one();
        }
        Ok(outcome)
    }

    /// What `key` for `site` says about a post with `fingerprint`, if the key
    /// was stored within the idempotency window: lets a repeat be answered as
    /// before (or a different enquiry refused) without a write.
    pub async fn enquiry_for_key(
        &self,
        site: &str,
        key: &str,
        fingerprint: Option<&str>,
    ) -> Result<Option<InsertOutcome>, StoreError> {
        let found: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT enquiry_id, fingerprint FROM idempotency_keys \
             WHERE site = $1 AND key = $2 AND created_at >= $3",
        )
        .bind(site)
        .bind(key)
        .bind(now_ms() - IDEMPOTENCY_WINDOW_MS)
        .fetch_optional(&self.reader)
        .await?;
        Ok(found.map(|(id, stored)| repeat_or_conflict(id, stored.as_deref(), fingerprint)))
    }

    /// The site and stored payload of an enquiry (`None` payload once scrubbed).
    pub async fn enquiry_payload(
        &self,
        enquiry_id: &EnquiryId,
    ) -> Result<Option<(String, Option<String>)>, StoreError> {
        let row: Option<(String, Option<String>)> =
            sqlx::query_as("SELECT site, payload FROM enquiries WHERE id = $1")
                .bind(enquiry_id)
                .fetch_optional(&self.reader)
                .await?;
        row.map(|(site, payload)| {
            let place = Place::payload(enquiry_id.as_str());
            Ok((site, self.sealing.open_opt(payload, place)?))
        })
        .transpose()
    }
}

/// The outbox steps a new enquiry starts with: its own, then one per
/// `also_send_to` destination.
fn steps_of(new: &NewEnquiry) -> Vec<String> {
    std::iter::once("enquiry".to_owned())
        .chain(new.destinations.iter().map(|name| destination_step(name)))
        .collect()
}

/// An enquiry's columns; each row's values are [`enquiry_values`].
const ENQUIRY_COLUMNS: &str = "id, site, received_at, payload, spam_verdict, consent_version, consent_sha256, email_hash, phone_hash, state, terms_pending, intake";

/// Row `row`'s values (from 0) in an insert of [`ENQUIRY_COLUMNS`]: each
/// row binds 11 with [`bind_enquiry`].
fn enquiry_values(row: usize) -> String {
    let b = 11 * row;
    let n: Vec<String> = (1..=11).map(|i| format!("${}", b + i)).collect();
    format!("({}, 1, {})", n[..10].join(", "), n[10])
}

/// An outbox step's columns; each row's values are [`delivery_values`]. A
/// held enquiry's steps are not waiting to be sent until a person releases
/// it, so their `pending_since` is set then, not now.
const DELIVERY_COLUMNS: &str =
    "id, enquiry_id, step, status, next_attempt_at, created_at, updated_at, pending_since";

/// Row `row`'s values (from 0) in an insert of [`DELIVERY_COLUMNS`]: each
/// row binds 6 with [`bind_delivery`].
fn delivery_values(row: usize) -> String {
    let b = 6 * row;
    format!(
        "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
        b + 1,
        b + 2,
        b + 3,
        b + 4,
        b + 5,
        b + 5,
        b + 5,
        b + 6
    )
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// [`enquiry_values`]' values, in their order.
fn bind_enquiry<'q>(
    query: AnyQuery<'q>,
    new: &'q NewEnquiry,
    sealed: &'q SealedPayload,
    now: i64,
) -> AnyQuery<'q> {
    query
        .bind(new.id.as_str())
        .bind(new.site.as_str())
        .bind(now)
        .bind(sealed.payload.as_str())
        .bind(new.spam_verdict.as_str())
        .bind(new.consent.as_ref().map(|c| c.version.as_str()))
        .bind(new.consent.as_ref().map(|c| c.sha256.as_str()))
        .bind(sealed.hashes.email.as_deref())
        .bind(sealed.hashes.phone.as_deref())
        // The state its steps give it (the triggers of migration 0018 keep
        // it from there): written now, the trigger finds it right and does
        // not write the row a second time.
        .bind(if new.held { "held" } else { "waiting" })
        .bind(new.intake.as_deref())
}

/// [`delivery_values`]' values for `new`'s step `step`, in their order.
fn bind_delivery<'q>(
    query: AnyQuery<'q>,
    new: &'q NewEnquiry,
    step: &'q str,
    now: i64,
) -> AnyQuery<'q> {
    query
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(new.id.as_str())
        .bind(step)
        .bind(if new.held { "held" } else { "pending" })
        .bind(now)
        .bind((!new.held).then_some(now))
}

/// The enquiry and its steps as one statement (PostgreSQL, when there is no
/// key or partner event to look up first): the enquiry's `INSERT` in a
/// `WITH`, the steps' in the statement itself, so both commit or neither.
/// Four round trips (`BEGIN`, two inserts, `COMMIT`) became one; the pool's
/// connections, which intake and the worker share, are held that much less.
async fn insert_in_one_statement(
    pool: &sqlx::AnyPool,
    new: &NewEnquiry,
    sealed: &SealedPayload,
    now: i64,
) -> Result<(), StoreError> {
    let steps = steps_of(new);
    // $1–$13 are the enquiry's and shared; each step adds its id and name.
    let values: Vec<String> = (0..steps.len())
        .map(|i| {
            format!(
                "(${}, $1, ${}, $12, $3, $3, $3, $13)",
                14 + 2 * i,
                15 + 2 * i
            )
        })
        .collect();
    let sql = format!(
        "WITH enquiry AS (INSERT INTO enquiries ({ENQUIRY_COLUMNS}) VALUES {}) \
         INSERT INTO deliveries ({DELIVERY_COLUMNS}) VALUES {}",
        enquiry_values(0),
        values.join(", ")
    );
    let mut query = bind_enquiry(sqlx::query(sqlx::AssertSqlSafe(sql)), new, sealed, now)
        .bind(if new.held { "held" } else { "pending" })
        .bind((!new.held).then_some(now));
    for step in steps {
        query = query.bind(uuid::Uuid::now_v7().to_string()).bind(step);
    }
    query.execute(pool).await?;
    Ok(())
}

/// What `new` is, its `key` being held already (stored before, or by a post
/// earlier in the same transaction): a repeat of the holder's enquiry, or a
/// different enquiry under the same key.
pub(super) async fn key_held(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    new: &NewEnquiry,
    key: &str,
) -> Result<InsertOutcome, StoreError> {
    let (enquiry_id, stored): (String, Option<String>) = sqlx::query_as(
        "SELECT enquiry_id, fingerprint FROM idempotency_keys WHERE site = $1 AND key = $2",
    )
    .bind(new.site.as_str())
    .bind(key)
    .fetch_one(&mut **tx)
    .await?;
    Ok(repeat_or_conflict(
        enquiry_id,
        stored.as_deref(),
        new.fingerprint.as_deref(),
    ))
}

/// The enquiry's rows inside the caller's transaction. Returns what the key
/// says when it was used before (a repeat or a conflict; nothing inserted,
/// the caller rolls back). The key's insert wins or loses on its primary key,
/// so two posts racing with one key never both store, whatever they say.
pub(super) async fn insert_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    new: &NewEnquiry,
    sealed: &SealedPayload,
    now: i64,
) -> Result<Option<InsertOutcome>, StoreError> {
    if let Some(key) = new.idempotency_key.as_deref() {
        // A key older than the window no longer counts: forget it first.
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE site = $1 AND key = $2 AND created_at < $3",
        )
        .bind(new.site.as_str())
        .bind(key)
        .bind(now - IDEMPOTENCY_WINDOW_MS)
        .execute(&mut **tx)
        .await?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (site, key, enquiry_id, created_at, fingerprint) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(new.site.as_str())
        .bind(key)
        .bind(new.id.as_str())
        .bind(now)
        .bind(new.fingerprint.as_deref())
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Ok(Some(key_held(tx, new, key).await?));
        }
    }
    if let Some(key) = &new.partner_event {
        let fingerprint = new.fingerprint.as_deref();
        if let Some((enquiry_id, stored)) =
            claim_enrollment(tx, key, &new.site, &new.id, fingerprint, now).await?
        {
            // The same event saying something else is a corrected re-send,
            // not a repeat: answered as a conflict, never silently dropped.
            return Ok(Some(repeat_or_conflict(
                enquiry_id,
                stored.as_deref(),
                fingerprint,
            )));
        }
    }
    insert_enquiries(tx, &[(new, sealed)], now).await?;
    // Its search terms (six to eight rows keyed all over one index: most
    // of a batch's pages at a million stored) are the indexer's, after the
    // acknowledgement; `terms_pending = 1` above is its to-do list.
    insert_steps(tx, &[(new, sealed)], now).await?;
    Ok(None)
}

/// `posts`' enquiry rows, one statement for all of them.
pub(super) async fn insert_enquiries(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    posts: &[(&NewEnquiry, &SealedPayload)],
    now: i64,
) -> Result<(), StoreError> {
    if posts.is_empty() {
        return Ok(());
    }
    let values: Vec<String> = (0..posts.len()).map(enquiry_values).collect();
    let sql = format!(
        "INSERT INTO enquiries ({ENQUIRY_COLUMNS}) VALUES {}",
        values.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (new, sealed) in posts {
        query = bind_enquiry(query, new, sealed, now);
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

/// Every post's outbox steps (its own, then one per destination), in one
/// statement per [`STEPS_PER_STATEMENT`].
pub(super) async fn insert_steps(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    posts: &[(&NewEnquiry, &SealedPayload)],
    now: i64,
) -> Result<(), StoreError> {
    let steps: Vec<(&NewEnquiry, String)> = posts
        .iter()
        .flat_map(|(new, _)| steps_of(new).into_iter().map(move |step| (*new, step)))
        .collect();
    for chunk in steps.chunks(STEPS_PER_STATEMENT) {
        let values: Vec<String> = (0..chunk.len()).map(delivery_values).collect();
        let sql = format!(
            "INSERT INTO deliveries ({DELIVERY_COLUMNS}) VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (new, step) in chunk {
            query = bind_delivery(query, new, step.as_str(), now);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(stored: Option<&str>, fingerprint: Option<&str>) -> &'static str {
        match repeat_or_conflict("e".into(), stored, fingerprint) {
            InsertOutcome::Duplicate { .. } => "repeat",
            InsertOutcome::Conflict => "conflict",
            InsertOutcome::Created => "created",
        }
    }

    #[test]
    fn a_many_row_insert_writes_each_row_as_the_one_row_insert_does() {
        let one = |columns: &str, table: &str, values: String| {
            format!("INSERT INTO {table} ({columns}) VALUES {values}")
        };
        // The one-row statements as they were written before batches.
        assert_eq!(
            one(ENQUIRY_COLUMNS, "enquiries", enquiry_values(0)),
            "INSERT INTO enquiries (id, site, received_at, payload, spam_verdict, consent_version, consent_sha256, email_hash, phone_hash, state, terms_pending, intake) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11)"
        );
        assert_eq!(
            one(DELIVERY_COLUMNS, "deliveries", delivery_values(0)),
            "INSERT INTO deliveries (id, enquiry_id, step, status, next_attempt_at, created_at, updated_at, pending_since) \
             VALUES ($1, $2, $3, $4, $5, $5, $5, $6)"
        );
        assert_eq!(
            enquiry_values(1),
            "($12, $13, $14, $15, $16, $17, $18, $19, $20, $21, 1, $22)"
        );
        assert_eq!(delivery_values(1), "($7, $8, $9, $10, $11, $11, $11, $12)");
    }

    #[test]
    fn keyed_fingerprints_are_compared_and_unkeyed_ones_of_before_match_any() {
        assert_eq!(outcome(Some("k1:aa"), Some("k1:aa")), "repeat");
        assert_eq!(outcome(Some("k1:aa"), Some("k1:bb")), "conflict");
        assert_eq!(
            outcome(None, Some("k1:bb")),
            "repeat",
            "a key of before 0007"
        );
        // Stored by the version before keyed fingerprints, in its last 24 h.
        assert_eq!(outcome(Some("aa"), Some("k1:bb")), "repeat");
        assert_eq!(outcome(Some("aa"), Some("bb")), "conflict");
    }
}
