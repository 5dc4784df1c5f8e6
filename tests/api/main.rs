//! Integration tests: one binary, one module per feature (linking once is faster).

mod browser;
mod captcha;
mod cli;
mod delivery;
mod fake_captcha;
mod health;
mod helpers;
mod intake;
mod processes;
mod spam;
mod visits;
