//! Rebuild when a migration is added or changed: `sqlx::migrate!` embeds
//! `migrations/` at compile time, and without this an incremental build
//! keeps the old set (a new migration silently missing from the binary).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
