//! When to try again: the configured retry schedule with ±20 % jitter.

use std::time::Duration;

/// Jitter spreads retries so that a CareHQ outage does not end in a thundering herd.
const JITTER: f64 = 0.2;

/// Delay before the next attempt after `attempts_spent` failed attempts, or
/// `None` when the schedule is spent and the delivery must fail.
/// `unit_random` is a uniform sample from [0, 1).
pub fn retry_delay(
    schedule: &[Duration],
    attempts_spent: i64,
    unit_random: f64,
) -> Option<Duration> {
    let index = usize::try_from(attempts_spent.checked_sub(1)?).ok()?;
    let base = schedule.get(index)?;
    let factor = 1.0 - JITTER + 2.0 * JITTER * unit_random.clamp(0.0, 1.0);
    Some(base.mul_f64(factor))
}

/// A duration in whole milliseconds, as the outbox stores delays.
pub fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)
}

/// A uniform sample from [0, 1); falls back to the middle (no jitter) if the
/// system has no randomness to give, which only costs spreading.
pub fn unit_random() -> f64 {
    let mut bytes = [0u8; 8];
    match getrandom::fill(&mut bytes) {
        Ok(()) => (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> Vec<Duration> {
        vec![
            Duration::from_secs(10),
            Duration::from_secs(60),
            Duration::from_secs(300),
        ]
    }

    #[test]
    fn follows_the_schedule_then_gives_up() {
        let s = schedule();
        assert_eq!(retry_delay(&s, 1, 0.5), Some(Duration::from_secs(10)));
        assert_eq!(retry_delay(&s, 2, 0.5), Some(Duration::from_secs(60)));
        assert_eq!(retry_delay(&s, 3, 0.5), Some(Duration::from_secs(300)));
        assert_eq!(retry_delay(&s, 4, 0.5), None);
        assert_eq!(retry_delay(&s, 0, 0.5), None);
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let s = schedule();
        assert_eq!(retry_delay(&s, 2, 0.0), Some(Duration::from_secs(48)));
        assert_eq!(retry_delay(&s, 2, 1.0), Some(Duration::from_secs(72)));
        for _ in 0..1000 {
            let d = retry_delay(&s, 1, unit_random()).unwrap();
            assert!(
                d >= Duration::from_secs(8) && d <= Duration::from_secs(12),
                "{d:?}"
            );
        }
    }
}
