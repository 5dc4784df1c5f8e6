//! The time token's key, stored once per database (migration 0008) so that
//! every instance signs with the same key and rotating the CareHQ secret
//! does not change it. A changed `spam.token_secret` replaces it, keeping the
//! previous key and when it was replaced, so tokens already handed out still
//! verify for a while (see `spam::TimeTokens`).

use secrecy::{ExposeSecret, SecretString};

use super::{Store, StoreError, now_ms};

/// The keys tokens are checked with.
pub struct TokenKeys {
    pub key: SecretString,
    /// The key before the last change and when it was replaced (Unix ms).
    pub previous: Option<(SecretString, i64)>,
}

/// Hand-written: keys never reach a log.
impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("key", &"[redacted]")
            .field(
                "previous",
                &self.previous.as_ref().map(|(_, at)| ("[redacted]", at)),
            )
            .finish()
    }
}

impl Store {
    /// The stored keys, first storing one if the database has none:
    /// `configured` (`spam.token_secret`) when set, else `initial`. A
    /// configured key that differs from the stored one replaces it; without
    /// one the stored key stays whatever the CareHQ secret becomes. Each
    /// statement is conditional, so instances starting together agree.
    pub async fn time_token_keys(
        &self,
        configured: Option<&SecretString>,
        initial: &SecretString,
    ) -> Result<TokenKeys, StoreError> {
        let now = now_ms();
        let first = configured.unwrap_or(initial).expose_secret();
        sqlx::query(
            "INSERT INTO time_token_keys (id, key, created_at) VALUES (1, $1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(first)
        .bind(now)
        .execute(&self.writer)
        .await?;
        if let Some(configured) = configured {
            // SET reads the row as it was, so previous_key gets the old key.
            sqlx::query(
                "UPDATE time_token_keys SET previous_key = key, replaced_at = $2, key = $1 \
                 WHERE id = 1 AND key <> $1",
            )
            .bind(configured.expose_secret())
            .bind(now)
            .execute(&self.writer)
            .await?;
        }
        let (key, previous, replaced_at): (String, Option<String>, Option<i64>) = sqlx::query_as(
            "SELECT key, previous_key, replaced_at FROM time_token_keys WHERE id = 1",
        )
        .fetch_one(&self.writer)
        .await?;
        Ok(TokenKeys {
            key: SecretString::from(key),
            previous: previous
                .zip(replaced_at)
                .map(|(key, at)| (SecretString::from(key), at)),
        })
    }
}
