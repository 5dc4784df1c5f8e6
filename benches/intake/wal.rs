//! The SQLite files during a measured window: the `-wal` file's size sampled
//! every 100 ms (its peak), and the database file's size at the end.

use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

const EVERY: Duration = Duration::from_millis(100);

/// Peak WAL and final database size, in bytes.
#[derive(Clone, Copy, Debug)]
pub struct FileSizes {
    pub wal_peak: u64,
    pub db: u64,
}

pub struct WalSampler {
    db: PathBuf,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<u64>,
}

fn size(path: &PathBuf) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

impl WalSampler {
    /// Start sampling beside the SQLite database `db` (`None`: PostgreSQL,
    /// nothing sampled).
    pub fn start(db: Option<PathBuf>) -> Option<WalSampler> {
        let db = db?;
        let wal = PathBuf::from(format!("{}-wal", db.display()));
        let stop = CancellationToken::new();
        let token = stop.clone();
        let task = tokio::spawn(async move {
            let mut peak = size(&wal);
            let mut tick = tokio::time::interval(EVERY);
            loop {
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = tick.tick() => peak = peak.max(size(&wal)),
                }
            }
            peak.max(size(&wal))
        });
        Some(WalSampler { db, stop, task })
    }

    pub async fn finish(self) -> FileSizes {
        self.stop.cancel();
        FileSizes {
            wal_peak: self.task.await.unwrap_or(0),
            db: size(&self.db),
        }
    }
}
