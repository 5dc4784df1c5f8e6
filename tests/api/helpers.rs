//! The API tests' harness: the application in this process, started by
//! [`TestApp::builder`] on a database, a CareHQ sandbox and options, and the
//! helpers the tests share. What tests and benchmarks share (the database,
//! the sandbox, the binary, ports) is the kit in `tests/kit/`, re-exported
//! here.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use enquiry_relay::config::Settings;
use enquiry_relay::ops::alerts::AlertChecker;
use enquiry_relay::sandbox::{Faults, ReceivedEnquiry, SandboxConfig, seed};
use enquiry_relay::startup::Application;
use enquiry_relay::storage::{DeliveryStatus, DeliveryView, Store};
use enquiry_relay::sync::{DrainReport, SyncWorker};
use tokio_util::sync::CancellationToken;

pub use crate::app_options::{AppOptions, LENIENT_SPAM, config_toml};
pub use crate::kit::{
    BinaryApp, Db, SITE, TestDb, TestSandbox, eventually, free_port, http_client, unique_file,
};

/// The fixture every test starts from (`TestApp::builder(db)`): a database
/// of one kind, a CareHQ sandbox, and the app on both, with options.
#[must_use]
pub struct AppBuilder {
    kind: Db,
    sandbox: SandboxConfig,
    faults: Option<Faults>,
    carehq: Option<String>,
    options: AppOptions,
}

impl AppBuilder {
    /// The sandbox with other limits (default: `SandboxConfig::default()`).
    pub fn sandbox(self, sandbox: SandboxConfig) -> AppBuilder {
        AppBuilder { sandbox, ..self }
    }

    /// Faults set on the sandbox before the app starts.
    pub fn faults(self, faults: Faults) -> AppBuilder {
        AppBuilder {
            faults: Some(faults),
            ..self
        }
    }

    /// Point `carehq.base_url` somewhere else than the sandbox (e.g. an
    /// address nothing listens on); the sandbox still runs, unused.
    pub fn carehq(self, url: impl Into<String>) -> AppBuilder {
        AppBuilder {
            carehq: Some(url.into()),
            ..self
        }
    }

    /// CareHQ at an address nothing listens on, for tests of what happens
    /// before delivery (spam, CAPTCHA, forms): nothing is ever sent.
    pub fn without_carehq(self) -> AppBuilder {
        self.carehq(NOWHERE)
    }

    /// The app's options (default: `AppOptions::default()`).
    pub fn options(self, options: AppOptions) -> AppBuilder {
        AppBuilder { options, ..self }
    }

    /// Start them. `None` when the database kind is not available here
    /// (PostgreSQL without `TEST_DATABASE_URL`): the test then returns. Bind
    /// the tuple in this order, `let Some((db, sandbox, app))`, so they drop
    /// as separate `let`s would: app, then sandbox, then database.
    pub async fn spawn(self) -> Option<(TestDb, TestSandbox, TestApp)> {
        let db = TestDb::new(self.kind).await?;
        let sandbox = TestSandbox::start_with(self.sandbox).await;
        if let Some(faults) = self.faults {
            sandbox.set_faults(faults);
        }
        let carehq = self.carehq.as_deref().unwrap_or(&sandbox.url);
        let app = TestApp::spawn(&db, carehq, &self.options).await;
        Some((db, sandbox, app))
    }

    /// [`AppBuilder::spawn`] on SQLite, which is always here.
    pub async fn spawn_sqlite(self) -> (TestDb, TestSandbox, TestApp) {
        assert_eq!(
            self.kind,
            Db::Sqlite,
            "spawn_sqlite on a {:?} builder",
            self.kind
        );
        self.spawn().await.expect("SQLite is always here")
    }
}

/// An address nothing listens on (port 1 is never bound here).
pub const NOWHERE: &str = "http://127.0.0.1:1";

/// The application running in this process.
pub struct TestApp {
    pub address: String,
    pub store: Store,
    pub http: reqwest::Client,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    db_url: String,
    /// Set for a quiet app: the worker and alert checker the test drives.
    steps: Option<Steps>,
    /// The app's worker (a clone sharing its state), for what it counts.
    worker: SyncWorker,
}

/// What a quiet app's test drives by hand.
struct Steps {
    worker: SyncWorker,
    alerts: Option<tokio::sync::Mutex<AlertChecker>>,
}

impl TestApp {
    /// The fixture: `TestApp::builder(db).sandbox(..).options(..).spawn()`.
    pub fn builder(kind: Db) -> AppBuilder {
        AppBuilder {
            kind,
            sandbox: SandboxConfig::default(),
            faults: None,
            carehq: None,
            options: AppOptions::default(),
        }
    }

    /// Another app on a database and CareHQ a test already has (a second
    /// instance, a restart); a test starts its first with [`TestApp::builder`].
    pub async fn spawn(db: &TestDb, carehq_url: &str, options: &AppOptions) -> TestApp {
        let toml = config_toml(&db.url, carehq_url, "127.0.0.1:0", options);
        let settings = Settings::from_toml_str_edited(&toml, |settings| {
            for edit in &options.edits {
                edit(settings);
            }
        })
        .expect("test config is valid");
        // The test's own handle reads what the app sealed, with its keys.
        let keys = (settings.database.encryption_key_file.as_deref())
            .map(|file| enquiry_relay::storage::KeyRing::from_file(file).expect("the key file"));
        let store = Store::connect(&db.url, 2)
            .await
            .expect("open test database")
            .with_sealing(enquiry_relay::storage::Sealing::new(keys));
        let mut app = Application::build(settings).await.expect("build app");
        let worker = app.sync_worker();
        let steps = options.quiet.then(|| Steps {
            worker: app.sync_worker(),
            alerts: app.alert_checker().map(tokio::sync::Mutex::new),
        });
        if options.quiet {
            app = app.without_background_loops();
        }
        let address = format!("http://127.0.0.1:{}", app.port());
        let stop = app.shutdown_token();
        let task = tokio::spawn(app.run_until_stopped());
        TestApp {
            address,
            store,
            http: http_client(),
            stop,
            task,
            db_url: db.url.clone(),
            steps,
            worker,
        }
    }

    /// Outcome writes the app's worker tried again after the database
    /// refused them.
    pub fn outcome_write_retries(&self) -> u64 {
        self.worker.outcome_write_retries()
    }

    fn steps(&self) -> &Steps {
        self.steps
            .as_ref()
            .expect("only a quiet app (AppOptions::quiet) is driven by hand")
    }

    /// One drain pass of a quiet app's worker: sends everything due now.
    pub async fn drain(&self) -> DrainReport {
        self.steps()
            .worker
            .drain_once()
            .await
            .expect("drain the outbox")
    }

    /// Drain, and then prove nothing more is due: a second drain claims nothing.
    pub async fn drain_to_rest(&self) -> DrainReport {
        let report = self.drain().await;
        assert_eq!(
            self.drain().await,
            DrainReport::default(),
            "a second drain found more to send"
        );
        report
    }

    /// Drain until a drain claims nothing (a delivery's next step may only
    /// be claimed by the next pass); what all of them did together.
    pub async fn drain_all(&self) -> DrainReport {
        let mut total = DrainReport::default();
        for _ in 0..20 {
            let report = self.drain().await;
            if report == DrainReport::default() {
                return total;
            }
            total.synced += report.synced;
            total.retrying += report.retrying;
            total.failed += report.failed;
            total.deferred += report.deferred;
        }
        panic!("still claiming after 20 drains: {total:?}");
    }

    /// Drain a quiet app until a drain claims nothing; then the enquiry's
    /// first delivery, which must have reached `status` (what a test once
    /// polled for with `wait_for_status` while the background worker ran).
    pub async fn drained_to(&self, enquiry_id: &str, status: DeliveryStatus) -> DeliveryView {
        self.drain_all().await;
        let delivery = self.delivery(enquiry_id).await;
        assert_eq!(delivery.status, status, "delivery of {enquiry_id}");
        delivery
    }

    /// Make every pending delivery due now (its retry delay has "passed").
    pub async fn make_pending_due(&self) {
        make_due(&self.db_url, "pending").await;
    }

    /// One alert check of a quiet app, as the alert loop makes every interval.
    pub async fn check_alerts(&self) {
        let alerts = self
            .steps()
            .alerts
            .as_ref()
            .expect("the app has an alert destination configured");
        alerts
            .lock()
            .await
            .check()
            .await
            .expect("check alert conditions");
    }

    /// A browser-like form post, carrying a time token fetched first.
    pub async fn post_form(&self, site: &str, pairs: &[(&str, &str)]) -> reqwest::Response {
        let token = self.time_token(site).await;
        let mut pairs = pairs.to_vec();
        if !pairs.iter().any(|(k, _)| *k == "_t") {
            pairs.push(("_t", &token));
        }
        self.http
            .post(format!("{}/forms/{site}", self.address))
            .form(&pairs)
            .send()
            .await
            .expect("post form")
    }

    /// A fresh `_t` from `GET /forms/{site}/token`.
    pub async fn time_token(&self, site: &str) -> String {
        let body: serde_json::Value = self
            .http
            .get(format!("{}/forms/{site}/token", self.address))
            .send()
            .await
            .expect("get token")
            .json()
            .await
            .expect("token json");
        body["token"].as_str().unwrap_or_default().to_owned()
    }

    pub async fn post_json(&self, site: &str, body: &serde_json::Value) -> reqwest::Response {
        self.http
            .post(format!("{}/forms/{site}", self.address))
            .json(body)
            .send()
            .await
            .expect("post json")
    }

    /// The enquiry's first delivery row.
    pub async fn delivery(&self, enquiry_id: &str) -> DeliveryView {
        self.store
            .deliveries_of(&enquiry_id.parse().unwrap())
            .await
            .expect("read deliveries")
            .into_iter()
            .next()
            .expect("a delivery row")
    }

    /// Wait until the enquiry's delivery reaches `status`.
    pub async fn wait_for_status(&self, enquiry_id: &str, status: DeliveryStatus) -> DeliveryView {
        eventually(Duration::from_secs(20), || async {
            let d = self.delivery(enquiry_id).await;
            (d.status == status).then_some(d)
        })
        .await
        .unwrap_or_else(|| panic!("delivery of {enquiry_id} never became {status}"))
    }

    /// Stop gracefully and wait for it.
    pub async fn stop(self) {
        self.stop.cancel();
        self.task
            .await
            .expect("app task")
            .expect("app stopped cleanly");
        self.store.close().await;
    }
}

/// Post `family(n)` as JSON to the test site; the new enquiry's id.
pub async fn posted_id(app: &TestApp, n: usize) -> String {
    let response = app.post_json(SITE, &family(n)).await;
    assert_eq!(response.status(), 201);
    response.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A submission that passes validation; `n` makes it unique.
pub fn family(n: usize) -> serde_json::Value {
    serde_json::json!({
        "first_name": "Zoë",
        "last_name": format!("O'Brien {n}"),
        "email": format!("family{n}@example.com"),
        "phone": "01632 960123",
        "care_requirements": "Respite care from 1 March\nGround-floor room",
    })
}

/// The value of `key` in a received enquiry.
pub fn field<'a>(received: &'a ReceivedEnquiry, key: &str) -> Option<&'a str> {
    received
        .fields
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The real binary on a free port, with the config of `options` (see
/// [`BinaryApp::serve`]: another port when the first was taken meanwhile).
pub async fn serve_binary(db: &TestDb, carehq_url: &str, options: &AppOptions) -> BinaryApp {
    assert!(
        options.edits.is_empty(),
        "the binary reads only the TOML; typed edits apply to a TestApp"
    );
    BinaryApp::serve(db.dir.path(), |port| {
        config_toml(&db.url, carehq_url, &format!("127.0.0.1:{port}"), options)
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}"))
}

/// Write a config file for the binary.
pub fn write_config(
    dir: &Path,
    db_url: &str,
    carehq_url: &str,
    port: u16,
    options: &AppOptions,
) -> PathBuf {
    assert!(
        options.edits.is_empty(),
        "the binary reads only the TOML; typed edits apply to a TestApp"
    );
    // Not named by the port: two calls may be given the same free port.
    let path = unique_file(dir, "relay", "toml");
    std::fs::write(
        &path,
        config_toml(db_url, carehq_url, &format!("127.0.0.1:{port}"), options),
    )
    .expect("write config");
    path
}

#[allow(dead_code)]
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Run a scenario on SQLite and on PostgreSQL, as two tests.
#[macro_export]
macro_rules! on_both_databases {
    ($scenario:ident) => {
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                super::$scenario($crate::helpers::Db::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                super::$scenario($crate::helpers::Db::Postgres).await;
            }
        }
    };
}

/// A second `[[sites]]` table (for `AppOptions::config`), routed like the first.
pub fn another_site(slug: &str) -> String {
    format!(
        "\n[[sites]]\nslug = \"{slug}\"\nname = \"Another Home\"\nlocation = \"{}\"\n\
         referrer = \"640f0f17f9b7e9ec6079fa16\"\nsales_channel = \"{}\"\n",
        seed::DEMO_LOCATION,
        seed::DEMO_SALES_CHANNEL
    )
}

/// A JSON post carrying an `Idempotency-Key` header.
pub async fn post_keyed(
    app: &TestApp,
    site: &str,
    body: &serde_json::Value,
    key: &str,
) -> reqwest::Response {
    app.http
        .post(format!("{}/forms/{site}", app.address))
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .expect("post json")
}

/// Store one bare enquiry (payload `{}`) with its pending delivery, as intake
/// would, for storage-level tests that claim and record by hand. Its Id.
pub async fn insert_bare_enquiry(store: &Store) -> String {
    insert_enquiry_with(store, "{}".into()).await
}

/// Store one enquiry of `payload` (JSON, as intake stores it) with its
/// pending delivery, through `store` (so sealed if it seals). Its Id.
pub async fn insert_enquiry_with(store: &Store, payload: String) -> String {
    insert_enquiry_of(store, SITE, payload).await
}

/// [`insert_enquiry_with`] for the home `site`.
pub async fn insert_enquiry_of(store: &Store, site: &str, payload: String) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    store
        .insert_enquiry(enquiry_relay::storage::NewEnquiry {
            id: enquiry_relay::storage::EnquiryId::from_stored(id.clone()),
            site: site.into(),
            payload,
            spam_verdict: enquiry_relay::spam::SpamVerdict::Clean,
            idempotency_key: None,
            fingerprint: None,
            held: false,
            consent: None,
            partner_event: None,
            destinations: Vec::new(),
            intake: None,
        })
        .await
        .expect("store an enquiry");
    id
}

/// SQLite's write lock, taken by another connection (a CLI process, a
/// backup) and held until `release`.
pub async fn write_lock(db: &TestDb) -> sqlx::AnyConnection {
    use sqlx::Connection as _;
    sqlx::any::install_default_drivers();
    let mut lock = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut lock)
        .await
        .unwrap();
    lock
}

/// Give back a lock `write_lock` took.
pub async fn release(mut lock: sqlx::AnyConnection) {
    use sqlx::Connection as _;
    sqlx::query("ROLLBACK").execute(&mut lock).await.unwrap();
    let _ = lock.close().await;
}

/// The settings of `options` without a database or CareHQ to reach (for
/// building one client in a test), with `edit` made before the checks.
pub fn offline_settings(options: &AppOptions, edit: impl Fn(&mut Settings)) -> Settings {
    let toml = config_toml(
        "sqlite://unused.db",
        "http://127.0.0.1:9",
        "127.0.0.1:0",
        options,
    );
    Settings::from_toml_str_edited(&toml, edit).expect("test config is valid")
}

/// Every delivery in `status` due now, as if time had passed: a `pending`
/// row's retry falls due; a `sending` row's lease (its `next_attempt_at`)
/// has run out, as a crashed worker's does.
pub async fn make_due(db_url: &str, status: &str) {
    let pool = sqlx::AnyPool::connect(db_url)
        .await
        .expect("open test database");
    sqlx::query("UPDATE deliveries SET next_attempt_at = 0 WHERE status = $1")
        .bind(status)
        .execute(&pool)
        .await
        .expect("make deliveries due");
    pool.close().await;
}
