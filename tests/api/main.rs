//! Integration tests: one binary, one module per feature (linking once is faster).

mod cli;
mod delivery;
mod health;
mod helpers;
mod intake;
mod processes;
