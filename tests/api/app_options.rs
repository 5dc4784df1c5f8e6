//! The config a test app runs with: the base file every test shares (its
//! database, the sandbox as CareHQ, one site, spam limits that let every
//! post through) and [`AppOptions`], what one test changes in it.
//!
//! A test changes the config in one of two ways, and both are checked by
//! the same rules as a user's file:
//! - **part of the file** ([`AppOptions::config`], [`AppOptions::site`]):
//!   a TOML document parsed at once and merged into the base key by key
//!   (tables merge, `[[sites]]`-style lists of tables are appended to,
//!   anything else replaces). Where it lands never depends on what the base
//!   happened to write last, and the whole file then goes through the real
//!   loader: unknown keys, bad values and the rules across keys are refused
//!   as they would be for a user. The real binary reads only the file, so
//!   this is the one way to configure a binary a test starts.
//! - **a typed edit** ([`AppOptions::with`]) on the `Settings` read from
//!   that file, before the rules across keys are checked: for what TOML
//!   cannot say briefly (a parsed `Rate`, an address). In-process apps only.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use enquiry_relay::config::Settings;
use enquiry_relay::sandbox::seed;
use enquiry_relay::values::{Rate, format_duration};
use ipnet::IpNet;
use toml::{Table, Value};

use crate::kit::SITE;

/// Options that vary between tests.
#[derive(Clone)]
pub struct AppOptions {
    pub api_secret: String,
    /// `sync.retry_schedule`.
    pub retry_schedule: Vec<Duration>,
    pub site_location: String,
    /// `sync.lease` and `sync.shutdown_grace` (`None`: the default, which
    /// follows `carehq.timeout`).
    pub lease: Duration,
    pub shutdown_grace: Option<Duration>,
    /// `server.drain`: how long a binary told to stop keeps serving, not
    /// ready, before it stops. Tests stop processes often, so `0s` unless a
    /// test is about the drain (`None`: the shipped default).
    pub drain: Option<Duration>,
    /// `carehq.timeout` (see `lease`).
    pub carehq_timeout: Duration,
    /// No background sync worker or alert loop: the test drives them one
    /// step at a time with `TestApp::drain` and `TestApp::check_alerts`.
    pub quiet: bool,
    /// Edits on the parsed settings, applied in order (see `AppOptions::with`).
    pub edits: Vec<Edit>,
    /// Parts of the file, merged into the base in order.
    pub(crate) patches: Vec<Patch>,
}

/// One edit on the typed settings of a `TestApp`.
pub type Edit = Arc<dyn Fn(&mut Settings) + Send + Sync>;

/// A part of the config file and where it is merged.
#[derive(Clone)]
pub(crate) enum Patch {
    /// Into the whole file.
    File(Table),
    /// Into the first `[[sites]]` table (the site the base file defines).
    FirstSite(Table),
    /// The base's lenient `[spam]` and `[rate_limit]` taken out.
    ShippedSpam,
}

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
            site_location: seed::DEMO_LOCATION.into(),
            lease: Duration::from_secs(10),
            shutdown_grace: Some(Duration::from_secs(5)),
            drain: Some(Duration::ZERO),
            carehq_timeout: Duration::from_secs(5),
            quiet: false,
            edits: Vec::new(),
            patches: Vec::new(),
        }
    }
}

impl AppOptions {
    /// These options with `toml` merged into the config file (see the
    /// module's header), e.g. `.config("[server]\npublic_url = \"…\"")` or a
    /// second site, `.config(another_site("lark-rise"))`. Panics on TOML
    /// that does not parse, naming it.
    pub fn config(mut self, toml: impl AsRef<str>) -> AppOptions {
        self.patches.push(Patch::File(parse(toml.as_ref())));
        self
    }

    /// These options with `toml` merged into the first site's table, e.g.
    /// `.site("allowed_origins = [\"https://upton.example\"]")` or
    /// `.site("[visits]\nenabled = true")`.
    pub fn site(mut self, toml: impl AsRef<str>) -> AppOptions {
        self.patches.push(Patch::FirstSite(parse(toml.as_ref())));
        self
    }

    /// The shipped `[spam]` and `[rate_limit]` defaults instead of the
    /// lenient ones every other test runs with, then `toml` over them.
    pub fn shipped_spam(mut self, toml: impl AsRef<str>) -> AppOptions {
        self.patches.push(Patch::ShippedSpam);
        self.config(toml)
    }

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

/// A part of the config file, parsed now so a typo fails where it is written.
fn parse(toml: &str) -> Table {
    toml.parse::<Table>()
        .unwrap_or_else(|e| panic!("a test's config part is not TOML ({e}):\n{toml}"))
}

/// Merge `part` into `into`: tables key by key, lists of tables appended,
/// any other value replaced. A table where the file has a list of tables
/// (`[sites.captcha]` with no `[[sites]]` before it) is a mistake: the
/// first site's keys go through [`AppOptions::site`].
fn merge(into: &mut Table, part: Table) {
    for (key, value) in part {
        if let (Some(Value::Array(_)), Value::Table(_)) = (into.get(&key), &value) {
            panic!(
                "`[{key}.…]` names no element of the list `[[{key}]]`; use AppOptions::site for the first site's keys"
            );
        }
        match (into.get_mut(&key), value) {
            (Some(Value::Table(old)), Value::Table(new)) => merge(old, new),
            (Some(Value::Array(old)), Value::Array(new))
                if [&*old, &new].iter().all(|a| a.iter().all(Value::is_table)) =>
            {
                old.extend(new)
            }
            (_, value) => {
                into.insert(key, value);
            }
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

/// The config file a test app runs with: the base, then the options' parts.
pub fn config_toml(db_url: &str, carehq_url: &str, listen: &str, options: &AppOptions) -> String {
    let base = format!(
        r#"
[server]
listen = "{listen}"
{drain}

[database]
url = "{db_url}"

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

{LENIENT_SPAM}

[[sites]]
slug = "{SITE}"
name = "Upton Court"
location = "{location}"
referrer = "640f0f17f9b7e9ec6079fa16"
sales_channel = "{channel}"

[sites.defaults]
service = "residential_home"
funding_type = "not_sure"
"#,
        account = seed::ACCOUNT_ID,
        key = seed::API_KEY,
        secret = options.api_secret,
        schedule = toml_durations(&options.retry_schedule),
        location = options.site_location,
        channel = seed::DEMO_SALES_CHANNEL,
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
    );
    let mut file = parse(&base);
    for patch in &options.patches {
        match patch {
            Patch::ShippedSpam => {
                file.remove("spam");
                file.remove("rate_limit");
            }
            Patch::File(part) => merge(&mut file, part.clone()),
            Patch::FirstSite(part) => {
                let first = file
                    .get_mut("sites")
                    .and_then(Value::as_array_mut)
                    .and_then(|sites| sites.first_mut())
                    .and_then(Value::as_table_mut)
                    .expect("the base file has a first site");
                merge(first, part.clone());
            }
        }
    }
    toml::to_string(&file).expect("a TOML table serialises")
}
