//! Between reads: after a request the client gave up on (60 s), the
//! service, or PostgreSQL for it, may still be working on it; the next read
//! waits until both are idle, so it is not timed beside the abandoned one.

use std::time::{Duration, Instant};

use crate::reads::Measured;
use crate::service::Service;

/// After a request the client gave up on, the service (and PostgreSQL)
/// may still be working on it: the next read waits until both are idle.
pub struct Idle<'a> {
    pub service: &'a Service,
    /// The database's URL, for PostgreSQL.
    pub postgres: Option<&'a str>,
}

impl Idle<'_> {
    /// Longest wait for the abandoned work to end.
    const LIMIT: Duration = Duration::from_secs(300);

    pub async fn keep(&self, reads: &mut Vec<Measured>, measured: Measured) {
        if measured.timed_out {
            self.wait().await;
        }
        reads.push(measured);
    }

    /// Until the service uses under 5 % of a core over a second and no
    /// query of this database is active (or `LIMIT` has passed).
    pub async fn wait(&self) {
        let begun = Instant::now();
        while begun.elapsed() < Self::LIMIT {
            let before = self.service.cpu_ticks().unwrap_or(0);
            tokio::time::sleep(Duration::from_secs(1)).await;
            let used = self.service.cpu_ticks().unwrap_or(0).saturating_sub(before);
            let busy = used * 100 > 5 * crate::service::ticks_per_second();
            if !busy && self.active_queries().await == 0 {
                eprintln!(
                    "   (waited {:.0} s for the abandoned request to end)",
                    begun.elapsed().as_secs_f64()
                );
                return;
            }
        }
        eprintln!(
            "   the service was still busy after {} s; reading on",
            Self::LIMIT.as_secs()
        );
    }

    /// Queries running on this PostgreSQL database now, besides this one.
    async fn active_queries(&self) -> i64 {
        let Some(url) = self.postgres else { return 0 };
        let Ok(mut conn) = <sqlx::AnyConnection as sqlx::Connection>::connect(url).await else {
            return 0;
        };
        let active: Result<(i64,), _> = sqlx::query_as(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND state = 'active' AND pid <> pg_backend_pid()",
        )
        .fetch_one(&mut conn)
        .await;
        let _ = sqlx::Connection::close(conn).await;
        active.map_or(0, |(n,)| n)
    }
}
