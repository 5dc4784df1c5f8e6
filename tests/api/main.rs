//! Integration tests: one binary, one module per feature (linking once is faster).

mod admin;
mod alerts;
mod delivery;
mod deploy;
mod health;
mod helpers;
mod intake;
mod logs;
mod metrics;
mod processes;
mod status;
