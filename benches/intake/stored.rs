//! `--stored N`: the history a run starts on. N enquiries seeded once per
//! database and size by the staff reads' seed ([`crate::seed`]: the migrations,
//! history older than 30 days sent and scrubbed in bulk SQL, the last 30 days
//! through `Store::insert_enquiry` with their search terms, then moved to
//! their states), shaped as a year of an agency's 50 homes with the home the
//! clients post to among them. The seeded database is kept as a template and
//! copied for every run: SQLite a file under Cargo's bench temp dir,
//! PostgreSQL a database `relay_bench_intake_<N>_<key>` (`CREATE DATABASE …
//! TEMPLATE`). The key covers the migrations, the seed's source and the UTC
//! day (a template from an earlier day would have recent enquiries ageing
//! past retention during a run); `--reseed` seeds again regardless.

use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sqlx::Connection as _;

use crate::people;
use crate::seed::{self, DAY_MS, PER_DAY, Shape};
use crate::service::{self, BenchDb, Db, SITE};

/// What the cache key covers besides the migrations: the seed's own code.
const SEED_SOURCE: [&str; 5] = [
    include_str!("../common/seed.rs"),
    include_str!("../common/history.rs"),
    include_str!("../common/recent.rs"),
    include_str!("../common/people.rs"),
    include_str!("stored.rs"),
];

/// The seeded history for one database and size, ready to copy per run.
pub struct Stored {
    /// SQLite: the template file; PostgreSQL: the template database. `None`
    /// for an empty start (N = 0).
    template: Option<String>,
}

/// A year of N enquiries (at least the staff reads' 550 a day, so a small
/// N still spans under 30 days) at the agency's homes, home 0 being the one
/// the clients post to.
pub fn shape(n: usize) -> Shape {
    let mut homes = vec![SITE.to_owned()];
    homes.extend((1..people::SITES).map(|i| people::site(i).0));
    Shape {
        per_day: (n as i64 / 365).max(PER_DAY),
        homes,
    }
}

/// The `[[sites]]` of the other 49 homes, in every run's config whatever N
/// is, so the configuration is the same at every size.
pub fn other_homes_toml() -> String {
    people::sites_toml(1..people::SITES)
}

impl Stored {
    /// Seed (or find the kept seed of) `n` enquiries on `db`. `None` when the
    /// database is not available (PostgreSQL without TEST_DATABASE_URL).
    pub async fn prepare(db: Db, n: usize, reseed: bool) -> anyhow::Result<Option<Stored>> {
        if n == 0 {
            return Ok(Some(Stored { template: None }));
        }
        let key = cache_key(n)?;
        let template = match db {
            Db::Sqlite => Some(sqlite_template(n, &key, reseed).await?),
            Db::Postgres => match service::postgres_admin_url() {
                Some(admin) => Some(postgres_template(&admin, n, &key, reseed).await?),
                None => None,
            },
        };
        Ok(template.map(|template| Stored {
            template: Some(template),
        }))
    }

    /// A fresh copy of the history for one run.
    pub async fn instance(&self, db: Db) -> anyhow::Result<Option<BenchDb>> {
        let started = Instant::now();
        let copy = BenchDb::create_from(db, "intake", self.template.as_deref()).await?;
        if self.template.is_some() && copy.is_some() {
            eprintln!(
                "   copied the seeded history in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
        Ok(copy)
    }
}

/// Hex of a hash of the migrations, the seed's source, N and today's date.
fn cache_key(n: usize) -> anyhow::Result<String> {
    let mut hasher = DefaultHasher::new();
    let migrations = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files = Vec::new();
    for dialect in ["sqlite", "postgres"] {
        for entry in std::fs::read_dir(migrations.join(dialect))
            .with_context(|| format!("reading {}", migrations.display()))?
        {
            files.push(entry?.path());
        }
    }
    files.sort();
    for file in files {
        file.file_name().hash(&mut hasher);
        std::fs::read(&file)?.hash(&mut hasher);
    }
    SEED_SOURCE.hash(&mut hasher);
    n.hash(&mut hasher);
    (enquiry_relay::storage::now_ms() / DAY_MS).hash(&mut hasher);
    Ok(format!("{:016x}", hasher.finish()))
}

/// Seed into `url` (an empty database), saying how long it took.
async fn seed_into(db: Db, url: &str, n: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    let shape = shape(n);
    eprintln!(
        "== {} / {}: seeding {n} stored enquiries ({} a day over {} homes)",
        db.name(),
        n,
        shape.per_day,
        shape.homes.len()
    );
    let seeded = seed::seed(url, n, &shape, enquiry_relay::storage::now_ms()).await?;
    let phases: Vec<String> = (seeded.phases.iter())
        .map(|(what, took)| format!("{what} {:.1} s", took.as_secs_f64()))
        .collect();
    eprintln!(
        "   seeded {n} ({} in the last 30 days) in {:.1} s: {}",
        seeded.recent,
        started.elapsed().as_secs_f64(),
        phases.join(", ")
    );
    Ok(())
}

/// The kept SQLite file for `n`, seeded first if missing (or `reseed`).
async fn sqlite_template(n: usize, key: &str, reseed: bool) -> anyhow::Result<String> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("intake-seed");
    std::fs::create_dir_all(&dir)?;
    let prefix = format!("sqlite-{n}-");
    let file = dir.join(format!("{prefix}{key}.db"));
    if file.exists() && !reseed {
        eprintln!(
            "== SQLite / {n}: using the seed kept at {} (same migrations and seed, seeded today)",
            file.display()
        );
        return Ok(file.display().to_string());
    }
    // Older seeds of this size (other migrations or days) go.
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if name.is_some_and(|name| name.starts_with(&prefix)) {
            std::fs::remove_file(&path)?;
        }
    }
    let partial = dir.join(format!("{prefix}{key}.partial"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", partial.display()));
    }
    seed_into(Db::Sqlite, &format!("sqlite://{}", partial.display()), n).await?;
    // The seed checkpoints with TRUNCATE and closes every connection: the
    // history is all in the main file, which alone is copied per run.
    let wal = PathBuf::from(format!("{}-wal", partial.display()));
    anyhow::ensure!(
        std::fs::metadata(&wal).map_or(0, |m| m.len()) == 0,
        "the seed left a non-empty WAL beside {}",
        partial.display()
    );
    std::fs::rename(&partial, &file)?;
    eprintln!("   kept at {} for later runs", file.display());
    Ok(file.display().to_string())
}

/// The kept PostgreSQL template database for `n`, seeded first if missing
/// (or `reseed`).
async fn postgres_template(
    admin: &str,
    n: usize,
    key: &str,
    reseed: bool,
) -> anyhow::Result<String> {
    sqlx::any::install_default_drivers();
    let prefix = format!("relay_bench_intake_{n}_");
    let name = format!("{prefix}{key}");
    let mut conn = sqlx::AnyConnection::connect(admin)
        .await
        .context("TEST_DATABASE_URL must point at a running PostgreSQL")?;
    let existing: Vec<String> =
        sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname LIKE $1")
            .bind(format!("{prefix}%"))
            .fetch_all(&mut conn)
            .await?;
    if existing.contains(&name) && !reseed {
        eprintln!(
            "== PostgreSQL / {n}: using the template database {name} (same migrations and seed, seeded today)"
        );
        return Ok(name);
    }
    // Older seeds of this size and any half-made one go.
    for old in existing {
        execute(&mut conn, &format!("DROP DATABASE {old} WITH (FORCE)")).await?;
    }
    let partial = format!("{name}_partial");
    execute(&mut conn, &format!("CREATE DATABASE {partial}")).await?;
    seed_into(Db::Postgres, &service::database_url(admin, &partial), n).await?;
    // The seed's connections are closed, but their backends may still be
    // on their way out for a moment.
    let rename = format!("ALTER DATABASE {partial} RENAME TO {name}");
    let mut tries = 0;
    while let Err(e) = execute(&mut conn, &rename).await {
        tries += 1;
        anyhow::ensure!(tries < 50, "{e}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = conn.close().await;
    eprintln!("   kept as the template database {name} for later runs");
    Ok(name)
}

async fn execute(conn: &mut sqlx::AnyConnection, sql: &str) -> anyhow::Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(conn)
        .await
        .with_context(|| sql.to_owned())?;
    Ok(())
}
