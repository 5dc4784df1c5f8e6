//! Operations: what the people running enquiry-relay use to watch it and keep
//! it tidy — Prometheus metrics and the retention job. (`/status` lives with
//! the routes; the admin commands in `commands`.)

pub mod metrics;
pub mod retention;
