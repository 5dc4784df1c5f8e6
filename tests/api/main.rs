//! Integration tests: one binary, one module per feature (linking once is faster).

mod admin;
mod alerts;
mod browser;
mod captcha;
mod cli;
mod delivery;
mod deploy;
mod fake_captcha;
mod health;
mod helpers;
mod intake;
mod logs;
mod metrics;
mod processes;
mod spam;
mod status;
mod visit_ops;
mod visits;
