//! One reading of the status figures for callers that ask at once.
//!
//! `/status` is polled by uptime monitors, `/metrics` scraped by Prometheus,
//! the overview opened by staff and the alert check run by every instance;
//! several of them often ask in the same moment. The first caller reads the
//! figures; a caller that arrives while that reading runs waits for it and
//! takes its result instead of running the same queries again. A result is
//! never older than one reading: a caller that arrives after a reading has
//! finished starts a new one, so a change made before a request is always
//! in its answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::StatusFigures;

/// The last reading of one scope, locked while a reading runs.
type Slot = Arc<tokio::sync::Mutex<Option<Reading>>>;

/// The last reading per scope (every site, or one account's sites).
#[derive(Default)]
pub(super) struct FiguresOnce {
    slots: Mutex<HashMap<Option<Vec<String>>, Slot>>,
}

struct Reading {
    finished: Instant,
    figures: StatusFigures,
}

impl FiguresOnce {
    /// The figures of `scope`: those of a reading that was running when
    /// this call arrived, or else read now by `read`.
    pub(super) async fn get<F, Fut, E>(
        &self,
        scope: Option<&[String]>,
        read: F,
    ) -> Result<StatusFigures, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<StatusFigures, E>>,
    {
        let arrived = Instant::now();
        let slot = {
            // A poisoned map only means another caller panicked mid-insert;
            // the map itself is still whole.
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(slots.entry(scope.map(<[String]>::to_vec)).or_default())
        };
        let mut last = slot.lock().await;
        if let Some(reading) = last.as_ref()
            && reading.finished >= arrived
        {
            return Ok(reading.figures.clone());
        }
        let figures = read().await?;
        *last = Some(Reading {
            finished: Instant::now(),
            figures: figures.clone(),
        });
        Ok(figures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn callers_waiting_on_a_reading_share_it_and_later_ones_read_again() {
        let once = Arc::new(FiguresOnce::default());
        let reads = Arc::new(AtomicUsize::new(0));
        let (started, wait_started) = tokio::sync::oneshot::channel::<()>();
        let (finish, may_finish) = tokio::sync::oneshot::channel::<()>();
        let first = {
            let (once, reads) = (Arc::clone(&once), Arc::clone(&reads));
            tokio::spawn(async move {
                once.get(None, || async {
                    reads.fetch_add(1, Ordering::SeqCst);
                    let _ = started.send(());
                    let _ = may_finish.await;
                    Ok::<_, ()>(StatusFigures::default())
                })
                .await
            })
        };
        wait_started.await.unwrap();
        // Arrives while the first reading runs: waits for it, reads nothing.
        let second = {
            let (once, reads) = (Arc::clone(&once), Arc::clone(&reads));
            tokio::spawn(async move {
                once.get(None, || async {
                    reads.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, ()>(StatusFigures::default())
                })
                .await
            })
        };
        // The second call has arrived once it holds the slot too (the map,
        // the first call and itself): only then may the first reading end.
        while !once
            .slots
            .lock()
            .unwrap()
            .values()
            .any(|slot| Arc::strong_count(slot) >= 3)
        {
            tokio::task::yield_now().await;
        }
        finish.send(()).unwrap();
        first.await.unwrap().unwrap();
        second.await.unwrap().unwrap();
        assert_eq!(
            reads.load(Ordering::SeqCst),
            1,
            "one reading for two callers"
        );
        // After it finished: a new reading; another scope: its own.
        once.get(None, || async {
            reads.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(StatusFigures::default())
        })
        .await
        .unwrap();
        once.get(Some(&["a".to_owned()]), || async {
            reads.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(StatusFigures::default())
        })
        .await
        .unwrap();
        assert_eq!(reads.load(Ordering::SeqCst), 3);
    }
}
