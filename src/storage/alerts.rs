//! Alert incidents shared by every instance. Claiming the right to announce
//! an incident (or its end) is one insert (or delete) that only one wins, and
//! that statement itself checks the condition: a claim never rests on figures
//! read earlier, which another instance may have changed since.

use super::sealing::Place;
use super::{Store, StoreError};

/// A kind of incident and the condition that makes it hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Incident<'a> {
    /// A delivery is `failed`: staff must act.
    Failed,
    /// Delivery to this CareHQ account is paused (CareHQ refused its
    /// credentials or settings). One incident per account.
    Paused { account: &'a str },
    /// A delivery has waited (pending or sending) since before `cutoff` (Unix
    /// ms), counted from when it last became pending (`pending_since`).
    PendingAge { cutoff: i64 },
    /// An enquiry is held for a person to release or delete.
    Held,
}

/// An incident's kind without its condition: what `alert_incidents.kind`
/// stores and alert messages name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum IncidentKind {
    Failed,
    Paused,
    PendingAge,
    Held,
}

impl IncidentKind {
    /// The name stored in `alert_incidents.kind` and sent in messages.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A value an incident's condition binds after its own: `$3` when opening,
/// `$2` when clearing.
enum Param<'a> {
    Cutoff(i64),
    Account(&'a str),
}

impl<'a> Incident<'a> {
    /// What `alert_incidents.kind` holds for it: the kind's name, and for a
    /// pause the account's (`paused:marshall-care`).
    pub fn key(self) -> String {
        match self {
            Incident::Paused { account } => format!("paused:{account}"),
            other => other.kind().as_str().to_owned(),
        }
    }

    pub fn kind(self) -> IncidentKind {
        match self {
            Incident::Failed => IncidentKind::Failed,
            Incident::Paused { .. } => IncidentKind::Paused,
            Incident::PendingAge { .. } => IncidentKind::PendingAge,
            Incident::Held => IncidentKind::Held,
        }
    }

    /// SQL true while the incident holds; `$3` is the cutoff where one is needed.
    fn holds(self) -> &'static str {
        match self {
            Incident::Failed => "EXISTS (SELECT 1 FROM deliveries WHERE status = 'failed')",
            Incident::Held => "EXISTS (SELECT 1 FROM deliveries WHERE status = 'held')",
            Incident::PendingAge { .. } => {
                "EXISTS (SELECT 1 FROM deliveries WHERE status IN ('pending', 'sending') AND COALESCE(pending_since, created_at) < $3)"
            }
            Incident::Paused { .. } => {
                "EXISTS (SELECT 1 FROM account_delivery_state WHERE account = $3 AND paused_reason IS NOT NULL)"
            }
        }
    }

    /// SQL true once the incident (a row of `alert_incidents`) is over; `$2`
    /// is the cutoff where one is needed. A pause is over only when it is
    /// lifted *and* a send succeeded after the incident began: a pause
    /// lifted by a probe's 400 or by a restart has not shown that CareHQ
    /// takes the enquiries again.
    fn ended(self) -> &'static str {
        match self {
            Incident::Failed => "NOT EXISTS (SELECT 1 FROM deliveries WHERE status = 'failed')",
            Incident::Held => "NOT EXISTS (SELECT 1 FROM deliveries WHERE status = 'held')",
            Incident::PendingAge { .. } => {
                "NOT EXISTS (SELECT 1 FROM deliveries WHERE status IN ('pending', 'sending') AND COALESCE(pending_since, created_at) < $2)"
            }
            Incident::Paused { .. } => {
                "EXISTS (SELECT 1 FROM account_delivery_state WHERE account = $2 AND paused_reason IS NULL \
                 AND last_success_at >= alert_incidents.opened_at)"
            }
        }
    }

    fn param(self) -> Option<Param<'a>> {
        match self {
            Incident::PendingAge { cutoff } => Some(Param::Cutoff(cutoff)),
            Incident::Paused { account } => Some(Param::Account(account)),
            Incident::Failed | Incident::Held => None,
        }
    }
}

impl Store {
    /// Open the incident if its condition holds now and it is not open yet.
    /// True if this call opened it (and so should announce it).
    pub async fn open_incident(
        &self,
        incident: Incident<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "INSERT INTO alert_incidents (kind, opened_at) SELECT $1, $2 WHERE {} ON CONFLICT DO NOTHING",
            incident.holds()
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(incident.key())
            .bind(now);
        match incident.param() {
            Some(Param::Cutoff(cutoff)) => query = query.bind(cutoff),
            Some(Param::Account(account)) => query = query.bind(account),
            None => {}
        }
        Ok(query.execute(&self.writer).await?.rows_affected() == 1)
    }

    /// Close the incident if it is open and its condition has ended. Returns
    /// when it had opened, if this call closed it (and so should announce it).
    pub async fn clear_incident(&self, incident: Incident<'_>) -> Result<Option<i64>, StoreError> {
        let sql = format!(
            "DELETE FROM alert_incidents WHERE kind = $1 AND {} RETURNING opened_at",
            incident.ended()
        );
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(incident.key());
        match incident.param() {
            Some(Param::Cutoff(cutoff)) => query = query.bind(cutoff),
            Some(Param::Account(account)) => query = query.bind(account),
            None => {}
        }
        let row: Option<(i64,)> = query.fetch_optional(&self.writer).await?;
        Ok(row.map(|(opened_at,)| opened_at))
    }

    /// Give back an opening whose announcement reached no destination, so the
    /// next check claims it again.
    /// `key` is the incident's [`Incident::key`].
    pub async fn withdraw_incident(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM alert_incidents WHERE kind = $1")
            .bind(key)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Give back a clearing whose announcement reached no destination: the
    /// incident is open again with its original start.
    pub async fn reopen_incident(&self, key: &str, opened_at: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO alert_incidents (kind, opened_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(key)
        .bind(opened_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Failed enquiries with their stored payload (personal data), oldest
    /// first (a status read, on the staff pool).
    pub async fn failed_enquiries(
        &self,
        limit: i64,
    ) -> Result<Vec<(String, String, Option<String>)>, StoreError> {
        let mut conn = self.staff_read().await?;
        let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
            // From the failed steps to their enquiries: as many reads as
            // failed steps. Driven from the enquiries (an EXISTS per row),
            // SQLite walked every enquiry received, oldest first, and for
            // each every failed step of the history (issue 31).
            "SELECT e.id, e.site, e.payload FROM enquiries e \
              WHERE e.id IN (SELECT d.enquiry_id FROM deliveries d WHERE d.status = 'failed') \
              ORDER BY e.received_at LIMIT $1",
        )
        .bind(limit)
        .fetch_all(conn.as_mut())
        .await?;
        conn.done();
        rows.into_iter()
            .map(|(id, site, payload)| {
                let payload = (self.sealing).open_opt(payload, Place::payload(&id))?;
                Ok((id, site, payload))
            })
            .collect()
    }
}
