//! Integration tests: one binary, one module per feature (linking once is faster).

mod admin;
mod alerts;
mod browser;
mod captcha;
mod captcha_outage;
mod captcha_replay;
mod carehq_answers;
mod cli;
mod delivery;
mod deploy;
mod error_tracking;
mod fake_captcha;
mod health;
mod helpers;
mod incident_races;
mod intake;
mod intake_integrity;
mod logs;
mod metrics;
mod processes;
mod quarantine;
mod spam;
mod spam_limits;
mod status;
mod visit_ops;
mod visits;
