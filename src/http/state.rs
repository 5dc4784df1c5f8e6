//! What every request handler can reach.

use std::sync::Arc;
use std::time::Duration;

use crate::captcha::Captcha;
use crate::carehq::RateLimitGate;
use crate::config::Settings;
use crate::spam::SpamGuard;

use super::readiness::Readiness;
use super::staff_throttle::StaffThrottle;
use crate::storage::Store;
use crate::sync::WorkerHandle;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub worker: WorkerHandle,
    /// How long the worker may go quiet before `/readyz` reports it dead.
    pub worker_max_silence: Duration,
    /// Draining, and the database's last check, for `/readyz`.
    pub readiness: Readiness,
    /// Each CareHQ account's rate-limit gate, by name, the default first.
    pub rate_limits: Vec<(String, Arc<RateLimitGate>)>,
    /// Time tokens and rate-limit buckets for form posts.
    pub spam: Arc<SpamGuard>,
    /// CAPTCHA verification (HTTP client and used-token memory).
    pub captcha: Arc<Captcha>,
    /// Wrong staff tokens per client address.
    pub staff_throttle: Arc<StaffThrottle>,
    /// Refused partner webhooks per client address.
    pub partner_throttle: Arc<StaffThrottle>,
}
