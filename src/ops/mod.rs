//! Operations: what the people running enquiry-relay use to watch it and keep
//! it tidy — alerts, Prometheus metrics, error tracking, the retention job, SQLite's WAL checkpoint and the search-term backfill. (`/status` lives with
//! the routes; the admin commands in `commands`.)

pub mod alert_backlog;
mod alert_change;
mod alert_message;
pub mod alerts;
pub mod checkpoint;
pub mod error_tracking;
pub mod metrics;
pub mod notify;
pub mod retention;
pub mod scrub;
pub mod search_index;
