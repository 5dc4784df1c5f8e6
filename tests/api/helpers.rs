//! Test harness: a real CareHQ sandbox on port 0, a real database (a SQLite
//! file, or a fresh PostgreSQL database), and the real application or the
//! real binary on loopback.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use enquiry_relay::config::Settings;
use enquiry_relay::ops::alerts::AlertChecker;
use enquiry_relay::sandbox::{Faults, ReceivedEnquiry, Sandbox, SandboxConfig, seed};
use enquiry_relay::startup::Application;
use enquiry_relay::storage::{DeliveryView, Store};
use enquiry_relay::sync::{DrainReport, SyncWorker};
use enquiry_relay::values::{Rate, format_duration};
use ipnet::IpNet;
use sqlx::Connection as _;
use tokio_util::sync::CancellationToken;

pub const SITE: &str = "upton-court";

/// Which database a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A database for one test: a temp SQLite file or a fresh PostgreSQL database.
pub struct TestDb {
    pub url: String,
    pub dir: tempfile::TempDir,
    /// The PostgreSQL database this test created, dropped again at the end.
    pg_name: Option<String>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (Some(name), Ok(admin)) = (&self.pg_name, std::env::var("TEST_DATABASE_URL")) else {
            return;
        };
        // Best effort: .ci/run also sweeps databases left by interrupted runs.
        let _ = Command::new("psql")
            .arg(&admin)
            .arg("-qc")
            .arg(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl TestDb {
    /// `None` (with a note) when PostgreSQL is wanted but TEST_DATABASE_URL is
    /// unset; CI always sets it, and fails if the server is unreachable.
    pub async fn new(db: Db) -> Option<TestDb> {
        let dir = tempfile::tempdir().expect("temp dir");
        match db {
            Db::Sqlite => Some(TestDb {
                url: format!("sqlite://{}", dir.path().join("relay.db").display()),
                dir,
                pg_name: None,
            }),
            Db::Postgres => {
                let Ok(admin) = std::env::var("TEST_DATABASE_URL") else {
                    eprintln!(
                        "TEST_DATABASE_URL is not set: skipping the PostgreSQL variant of this test"
                    );
                    return None;
                };
                sqlx::any::install_default_drivers();
                let mut conn = sqlx::AnyConnection::connect(&admin)
                    .await
                    .expect("TEST_DATABASE_URL must point at a running PostgreSQL");
                let name = format!("relay_test_{}", uuid::Uuid::now_v7().simple());
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let _ = conn.close().await;
                let base = admin
                    .rsplit_once('/')
                    .map_or(admin.as_str(), |(base, _)| base);
                Some(TestDb {
                    url: format!("{base}/{name}"),
                    dir,
                    pg_name: Some(name),
                })
            }
        }
    }
}

/// The CareHQ sandbox on its own port, as a real CareHQ would be.
pub struct TestSandbox {
    pub sandbox: Sandbox,
    pub url: String,
    stop: CancellationToken,
}

impl TestSandbox {
    pub async fn start() -> TestSandbox {
        TestSandbox::start_with(SandboxConfig::default()).await
    }

    /// A sandbox with other limits (e.g. a rate limit of one request a second).
    pub async fn start_with(config: SandboxConfig) -> TestSandbox {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind sandbox");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let sandbox = Sandbox::new(config);
        let stop = CancellationToken::new();
        let serving = sandbox.clone();
        let token = stop.clone();
        tokio::spawn(async move {
            enquiry_relay::sandbox::serve(listener, serving, token.cancelled_owned()).await
        });
        TestSandbox { sandbox, url, stop }
    }

    pub fn set_faults(&self, faults: Faults) {
        self.sandbox.set_faults(faults);
    }

    pub fn received(&self) -> Vec<ReceivedEnquiry> {
        self.sandbox.received_enquiries()
    }

    /// Wait until at least `n` enquiries have arrived (or panic after 20 s).
    pub async fn wait_for(&self, n: usize) -> Vec<ReceivedEnquiry> {
        eventually(Duration::from_secs(20), || async {
            let got = self.received();
            (got.len() >= n).then_some(got)
        })
        .await
        .unwrap_or_else(|| {
            panic!(
                "expected {n} enquiries in the sandbox, got {}",
                self.received().len()
            )
        })
    }
}

impl Drop for TestSandbox {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Options that vary between tests.
pub struct AppOptions {
    pub api_secret: String,
    /// `sync.retry_schedule`.
    pub retry_schedule: Vec<Duration>,
    pub extra_toml: String,
    pub site_location: String,
    /// Lines added to `[server]` (e.g. `trusted_proxies`).
    pub server_toml: String,
    /// Lines added to the `[[sites]]` table (e.g. `allowed_origins`).
    pub site_toml: String,
    /// The `[spam]` and `[rate_limit]` sections; by default lenient, so tests
    /// about other things are neither rate limited nor "too fast".
    pub spam_toml: String,
    /// `sync.lease` and `sync.shutdown_grace` (`None`: the default, which
    /// follows `carehq.timeout`).
    ///
    /// These three durations are written into the base TOML, so the tests
    /// that start the real binary (which reads only TOML) get them too.
    pub lease: Duration,
    pub shutdown_grace: Option<Duration>,
    /// `server.drain`: how long a binary told to stop keeps serving, not
    /// ready, before it stops. Tests stop processes often, so `0s` unless a
    /// test is about the drain (`None`: the shipped default).
    pub drain: Option<Duration>,
    /// `carehq.timeout` (see `lease`).
    pub carehq_timeout: Duration,
    /// Lines added to `[sync]` (e.g. `concurrency = 1`).
    pub sync_toml: String,
    /// Lines added to `[database]` (e.g. `encryption_key_file`).
    pub database_toml: String,
    /// No background sync worker or alert loop: the test drives them one
    /// step at a time with `TestApp::drain` and `TestApp::check_alerts`.
    pub quiet: bool,
    /// Edits on the parsed settings, applied in order (see `AppOptions::with`).
    pub edits: Vec<Edit>,
}

/// One edit on the typed settings of a `TestApp`.
pub type Edit = Arc<dyn Fn(&mut Settings) + Send + Sync>;

/// Spam settings that let every other test's posts through.
pub const LENIENT_SPAM: &str = "[spam]\nmin_fill_time = \"0s\"\n[rate_limit]\nper_ip = \"100000/1s\"\nper_site = \"100000/1s\"\nper_site_held = \"100000/1s\"\n";

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            api_secret: seed::API_SECRET.into(),
            retry_schedule: vec![
                Duration::from_millis(200),
                Duration::from_millis(300),
                Duration::from_millis(400),
            ],
            extra_toml: String::new(),
            site_location: seed::DEMO_LOCATION.into(),
            server_toml: String::new(),
            site_toml: String::new(),
            spam_toml: LENIENT_SPAM.into(),
            lease: Duration::from_secs(10),
            shutdown_grace: Some(Duration::from_secs(5)),
            drain: Some(Duration::ZERO),
            carehq_timeout: Duration::from_secs(5),
            sync_toml: String::new(),
            database_toml: String::new(),
            quiet: false,
            edits: Vec::new(),
        }
    }
}

impl AppOptions {
    /// These options with `edit` made to the settings as read from the base
    /// config, before the rules across keys are checked and the values
    /// derived from others filled in (`Settings::from_toml_str_edited`): an
    /// edited `server.request_timeout` is still checked against the captcha
    /// timeouts, an edited `carehq.timeout` still reaches the `default`
    /// account. Only a value's own format (a slug, a URL) is not re-checked.
    pub fn with(mut self, edit: impl Fn(&mut Settings) + Send + Sync + 'static) -> AppOptions {
        self.edits.push(Arc::new(edit));
        self
    }

    /// `server.trusted_proxies` set to loopback, for tests that send
    /// `X-Forwarded-For` themselves.
    pub fn loopback_proxy(self) -> AppOptions {
        self.with(|s| s.server.trusted_proxies = vec![IpNet::from(IpAddr::from([127, 0, 0, 1]))])
    }

    /// `rate_limit.per_ip` and `rate_limit.per_site` (nothing is derived from
    /// them), over the lenient defaults.
    pub fn rate_limits(self, per_ip: Rate, per_site: Rate) -> AppOptions {
        self.with(move |s| {
            s.rate_limit.per_ip = per_ip;
            s.rate_limit.per_site = per_site;
        })
    }

    /// These options without the background loops (see `quiet`).
    pub fn quiet(self) -> AppOptions {
        AppOptions {
            quiet: true,
            ..self
        }
    }
}

/// A TOML array of durations.
fn toml_durations(durations: &[Duration]) -> String {
    let items: Vec<String> = (durations.iter())
        .map(|d| format!("\"{}\"", format_duration(*d)))
        .collect();
    format!("[{}]", items.join(", "))
}

/// The config a test app runs with.
pub fn config_toml(db_url: &str, carehq_url: &str, listen: &str, options: &AppOptions) -> String {
    format!(
        r#"
[server]
listen = "{listen}"
{drain}
{server_extra}

[database]
url = "{db_url}"
{database_extra}

[carehq]
base_url = "{carehq_url}"
account_id = "{account}"
api_key = "{key}"
api_secret = "{secret}"
timeout = "{timeout}"

[sync]
retry_schedule = {schedule}
poll_interval = "1s"
pause_probe_interval = "300ms"
lease = "{lease}"
{grace}
{sync_extra}

{spam}

[[sites]]
slug = "{SITE}"
name = "Upton Court"
location = "{location}"
referrer = "640f0f17f9b7e9ec6079fa16"
sales_channel = "{channel}"
{site_extra}

[sites.defaults]
service = "residential_home"
funding_type = "not_sure"
{extra}
"#,
        account = seed::ACCOUNT_ID,
        key = seed::API_KEY,
        secret = options.api_secret,
        schedule = toml_durations(&options.retry_schedule),
        location = options.site_location,
        channel = seed::DEMO_SALES_CHANNEL,
        extra = options.extra_toml,
        server_extra = options.server_toml,
        site_extra = options.site_toml,
        spam = options.spam_toml,
        lease = format_duration(options.lease),
        drain = match options.drain {
            None => String::new(),
            Some(drain) => format!("drain = \"{}\"", format_duration(drain)),
        },
        grace = match options.shutdown_grace {
            None => String::new(),
            Some(grace) => format!("shutdown_grace = \"{}\"", format_duration(grace)),
        },
        timeout = format_duration(options.carehq_timeout),
        sync_extra = options.sync_toml,
        database_extra = options.database_toml,
    )
}

/// The preamble most tests share: a database of `kind` (`None` when that
/// kind is not available here, e.g. PostgreSQL without `TEST_DATABASE_URL`;
/// the test then returns), a CareHQ sandbox and an app on both. Bind the
/// tuple in this order, `let Some((db, sandbox, app))`, so they drop as the
/// separate `let`s did: app, then sandbox, then database.
pub async fn spawn_app(kind: Db, options: &AppOptions) -> Option<(TestDb, TestSandbox, TestApp)> {
    let db = TestDb::new(kind).await?;
    let sandbox = TestSandbox::start().await;
    let app = TestApp::spawn(&db, &sandbox.url, options).await;
    Some((db, sandbox, app))
}

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

    /// Make every pending delivery due now (its retry delay has "passed").
    pub async fn make_pending_due(&self) {
        let pool = sqlx::AnyPool::connect(&self.db_url)
            .await
            .expect("open test database");
        sqlx::query("UPDATE deliveries SET next_attempt_at = 0 WHERE status = 'pending'")
            .execute(&pool)
            .await
            .expect("make pending deliveries due");
        pool.close().await;
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
            .deliveries_of(enquiry_id)
            .await
            .expect("read deliveries")
            .into_iter()
            .next()
            .expect("a delivery row")
    }

    /// Wait until the enquiry's delivery reaches `status`.
    pub async fn wait_for_status(&self, enquiry_id: &str, status: &str) -> DeliveryView {
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

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
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

/// Poll `check` every 25 ms until it gives a value or `limit` passes.
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if start.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The value of `key` in a received enquiry.
pub fn field<'a>(received: &'a ReceivedEnquiry, key: &str) -> Option<&'a str> {
    received
        .fields
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A port that was free a moment ago (for the real binary, which binds itself).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// The real `enquiry-relay` binary, started as a child process.
pub struct BinaryApp {
    pub child: Child,
    pub address: String,
    pub log: PathBuf,
}

impl BinaryApp {
    /// Start `enquiry-relay --config <config> serve` and wait for /healthz.
    pub async fn start(config: &Path, port: u16, log_dir: &Path) -> BinaryApp {
        let log = log_dir.join(format!(
            "relay-{port}-{}.log",
            uuid::Uuid::now_v7().simple()
        ));
        let out = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_enquiry-relay"))
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env("NO_COLOR", "1")
            .stdout(out.try_clone().expect("log file"))
            .stderr(out)
            .spawn()
            .expect("start the enquiry-relay binary");
        let app = BinaryApp {
            child,
            address: format!("http://127.0.0.1:{port}"),
            log,
        };
        app.wait_healthy().await;
        app
    }

    async fn wait_healthy(&self) {
        let client = http_client();
        let url = format!("{}/healthz", self.address);
        let healthy = eventually(Duration::from_secs(30), || async {
            client
                .get(&url)
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success())
                .map(|_| ())
        })
        .await;
        assert!(
            healthy.is_some(),
            "binary never became healthy; log:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Wait for the process to exit; its exit status.
    pub async fn wait_exit(mut self, limit: Duration) -> std::process::ExitStatus {
        let exited = eventually(limit, || {
            let status = self.child.try_wait().expect("try_wait");
            async move { status }
        })
        .await;
        exited.unwrap_or_else(|| {
            let _ = self.child.kill();
            panic!(
                "binary did not exit; log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            )
        })
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then wait for the exit: a graceful stop finishes (or cuts
    /// off) every send in flight, so once this returns the process sends
    /// nothing more. Tests prove "sent once" by this, not by sleeping past a
    /// poll. The log stays readable.
    pub async fn stop(&mut self) {
        self.signal("TERM");
        let child = &mut self.child;
        let exited = eventually(Duration::from_secs(60), || {
            let status = child.try_wait().expect("try_wait");
            async move { status }
        })
        .await;
        assert!(
            exited.is_some(),
            "binary did not stop; log:\n{}",
            self.log_text()
        );
    }
}

impl Drop for BinaryApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
    let path = dir.join(format!("relay-{port}.toml"));
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

/// A second `[[sites]]` table (for `extra_toml`), routed like the first.
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
            spam_verdict: "clean".into(),
            idempotency_key: None,
            fingerprint: None,
            held: false,
            consent: None,
            partner_event: None,
            destinations: Vec::new(),
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
