//! Spent CAPTCHA tokens and ALTCHA solutions, shared by every instance on
//! one database: the first insert of a digest wins, so a token accepted by
//! one instance cannot be replayed on another, nor after a restart. Only
//! digests are stored; rows are pruned once they pass the expiry they were
//! stored with (the table's name is from when it held ALTCHA alone).

use super::{Store, StoreError};

/// What spending a solution found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spend {
    /// Never seen before: this post is its first use.
    First,
    /// Spent before by this very post (same tag): a repeat, which may pass.
    Repeat,
    /// Spent before by another post: a replay.
    Replay,
}

impl Store {
    /// Who spent `digest`, if it is spent and not yet expired: `Some(tag)`,
    /// the tag being `None` for a post that had no idempotency key.
    pub async fn solution_spent_by(
        &self,
        digest: &str,
        now: i64,
    ) -> Result<Option<Option<String>>, StoreError> {
        let found: Option<(Option<String>,)> = sqlx::query_as(
            "SELECT tag FROM spent_captcha_solutions WHERE digest = $1 AND expires_at >= $2",
        )
        .bind(digest)
        .bind(now)
        .fetch_optional(&self.reader)
        .await?;
        Ok(found.map(|(tag,)| tag))
    }

    /// Record `digest` as spent by the post `tag` until `expires_at` (Unix ms).
    pub async fn spend_solution(
        &self,
        digest: &str,
        tag: Option<&str>,
        expires_at: i64,
        now: i64,
    ) -> Result<Spend, StoreError> {
        // Pruning here keeps the table to the solutions still worth refusing,
        // without another timer; the expiry index makes it cheap.
        sqlx::query("DELETE FROM spent_captcha_solutions WHERE expires_at < $1")
            .bind(now)
            .execute(&self.writer)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO spent_captcha_solutions (digest, tag, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(digest)
        .bind(tag)
        .bind(expires_at)
        .execute(&self.writer)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(Spend::First);
        }
        let first: Option<(Option<String>,)> =
            sqlx::query_as("SELECT tag FROM spent_captcha_solutions WHERE digest = $1")
                .bind(digest)
                .fetch_optional(&self.writer)
                .await?;
        Ok(match (first, tag) {
            (Some((Some(first),)), Some(tag)) if first == tag => Spend::Repeat,
            _ => Spend::Replay,
        })
    }
}
