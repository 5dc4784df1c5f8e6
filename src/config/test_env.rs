//! Serialises tests that read or write the process environment. Settings read
//! `ENQUIRY_RELAY_*` variables, which are process-global: every test that
//! loads settings takes this guard, which also hides the developer's own
//! `ENQUIRY_RELAY_*` variables for its duration and restores them after.
// Setting variables is `unsafe` in Rust 2024 (other threads may read them);
// every test that touches the environment holds this module's lock.
#![allow(unsafe_code)]

use std::ffi::OsString;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::env_names::ENV_PREFIX;

static LOCK: Mutex<()> = Mutex::new(());

pub(crate) struct EnvGuard {
    saved: Vec<(OsString, OsString)>,
    _lock: MutexGuard<'static, ()>,
}

impl EnvGuard {
    /// Waits for other environment-touching tests, then clears `ENQUIRY_RELAY_*`.
    pub(crate) fn new() -> Self {
        // A failed test poisons the lock; the environment is restored by Drop
        // regardless, so the next test may proceed.
        let lock = LOCK.lock().unwrap_or_else(PoisonError::into_inner);
        let saved: Vec<_> = ours().collect();
        for (name, _) in &saved {
            // SAFETY: every test that touches these variables holds LOCK.
            unsafe { std::env::remove_var(name) };
        }
        Self { saved, _lock: lock }
    }

    pub(crate) fn set(&self, name: &str, value: impl AsRef<std::ffi::OsStr>) {
        // SAFETY: as above, LOCK is held for the guard's lifetime.
        unsafe { std::env::set_var(name, value) };
    }
}

impl Drop for EnvGuard {
    fn drop(&mut self) {
        for (name, _) in ours().collect::<Vec<_>>() {
            // SAFETY: LOCK is still held (fields drop after this body).
            unsafe { std::env::remove_var(name) };
        }
        for (name, value) in &self.saved {
            // SAFETY: as above.
            unsafe { std::env::set_var(name, value) };
        }
    }
}

fn ours() -> impl Iterator<Item = (OsString, OsString)> {
    std::env::vars_os().filter(|(name, _)| {
        name.to_str()
            .is_some_and(|n| n.to_ascii_uppercase().starts_with(ENV_PREFIX))
    })
}
