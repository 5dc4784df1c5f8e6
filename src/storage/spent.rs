//! Spent CAPTCHA solutions shared by every instance on one database: the
//! first insert of a solution's digest wins, so a solution accepted by one
//! instance cannot be replayed on another. Only digests are stored; rows
//! are pruned once they pass the expiry they were stored with.

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
