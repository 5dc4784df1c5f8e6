//! The typed, checked settings, one struct per `[section]` of the file. Values
//! here have already been validated: consumers never re-check them.

use std::net::SocketAddr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::fields;
use super::secrets;
use crate::values::{BaseUrl, ListenAddr, Net, Rate};

fields::section! {
    /// `[server]`: the HTTP listener.
    #[derive(Clone, Debug)]
    pub struct ServerSettings {
        pub listen: SocketAddr ["fields::via::<_, ListenAddr, _>"] = SocketAddr::from(([127, 0, 0, 1], 8080)),
        /// Proxies whose forwarding header is believed.
        pub trusted_proxies: Vec<ipnet::IpNet> ["fields::list_via::<_, Net, _>"] = Vec::new(),
        /// The one header trusted proxies name the client in; the other is never read.
        pub client_ip_header: ClientIpHeader ["fields::parsed"] = ClientIpHeader::XForwardedFor,
        /// Largest request body accepted, in bytes.
        pub body_limit: usize ["fields::byte_size"] = 64 * 1024,
        pub request_timeout: Duration ["fields::positive_duration"] = Duration::from_secs(30),
        /// After SIGTERM or Ctrl-C: how long to keep serving with `/readyz`
        /// answering 503, so the proxy stops routing here before the
        /// listener closes (docs/deployment.md, "Rolling restarts").
        pub drain: Duration ["fields::duration"] = Duration::from_secs(5),
        /// Public base URL (`https://forms.example.com`), no trailing `/`.
        pub public_url: Option<String> ["fields::some_via::<_, BaseUrl, _>"] = None,
    }
}

fields::named! {
    /// Which header trusted proxies put the client's address in. Only that one
    /// is read: were both, a client could write the one its proxy does not set
    /// and be believed.
    pub enum ClientIpHeader {
        /// `X-Forwarded-For`, which nginx, Caddy, Traefik and HAProxy set.
        XForwardedFor = "x-forwarded-for",
        /// `Forwarded` (RFC 7239).
        Forwarded = "forwarded",
    }
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/enquiry-relay.db";
pub const DEFAULT_CAREHQ_BASE_URL: &str = "https://api.carehq.dev";

fields::section! {
    /// `[database]`.
    #[derive(Clone)]
    pub struct DatabaseSettings {
        /// `sqlite:…` or `postgres(ql)://…`; secret because it may hold a password.
        pub url: SecretString ["fields::secret"] = SecretString::from(DEFAULT_DATABASE_URL),
        pub max_connections: u32 ["fields::whole::<_, _, 1, 1000>"] = 8,
        /// Connections of the staff pool: staff console, `/status`, `/metrics`
        /// and `enquiries list` read through these and never through the
        /// pool intake and the worker use.
        pub staff_connections: u32 ["fields::whole::<_, _, 1, 100>"] = 2,
        /// PostgreSQL: how long one statement on the staff pool may run;
        /// shorter than `server.request_timeout`. Read it with
        /// `Settings::staff_statement_timeout` (it defaults from that timeout).
        pub staff_statement_timeout: Option<Duration> ["fields::positive_duration"] = None,
        /// Personal data is stored encrypted with the keys in this file
        /// (storage/sealing.rs has the format); absent means stored plain.
        pub encryption_key_file: Option<std::path::PathBuf> = None,
    }
}

impl DatabaseSettings {
    /// True for `postgres://` and `postgresql://` URLs, false for SQLite.
    pub fn is_postgres(&self) -> bool {
        self.url.expose_secret().starts_with("postgres")
    }

    /// The URL reduced to scheme and host, safe to log or print.
    pub fn redacted_url(&self) -> String {
        redact_url(self.url.expose_secret())
    }
}

/// Hand-written so the password (and the rest of the URL) never reaches a
/// log, while the host still shows which database is meant.
impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &self.redacted_url())
            .field("max_connections", &self.max_connections)
            .field("staff_connections", &self.staff_connections)
            .field("staff_statement_timeout", &self.staff_statement_timeout)
            .field("encryption_key_file", &self.encryption_key_file)
            .finish()
    }
}

/// `scheme://host[:port]/…`, or `scheme:…` when there is no host.
pub(super) fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => match parsed.host_str() {
            Some(host) => match parsed.port() {
                Some(port) => format!("{}://{host}:{port}/…", parsed.scheme()),
                None => format!("{}://{host}/…", parsed.scheme()),
            },
            None => format!("{}:…", parsed.scheme()),
        },
        Err(_) => "[unparsable URL, hidden]".to_owned(),
    }
}

fields::section! {
    /// `[carehq]`: the CareHQ account deliveries go to. Read with empty
    /// credentials for unset ones, which `validate` fills or refuses.
    #[derive(Clone, Debug)]
    pub struct CareHqSettings {
        /// Deliver to the built-in sandbox; the seed credentials are used when none are set.
        pub sandbox: bool ["fields::boolean"] = false,
        /// Without a trailing `/`; the client appends `/v1/…`.
        pub base_url: String ["fields::via::<_, BaseUrl, _>"] = DEFAULT_CAREHQ_BASE_URL.to_owned(),
        pub account_id: String ["fields::parsed"] = String::new(),
        pub api_key: SecretString ["fields::secret"] = no_key(),
        pub api_secret: SecretString ["fields::secret"] = no_key(),
        pub timeout: Duration ["fields::positive_duration"] = Duration::from_secs(30),
    }
}

fields::section! {
    /// `[sync]`: the delivery worker. The lease and the shutdown grace
    /// default from `carehq.timeout`: read them with `Settings::lease` and
    /// `Settings::shutdown_grace`.
    #[derive(Clone, Debug)]
    pub struct SyncSettings {
        /// Delay before retry n+1 after attempt n failed; its length is the number of retries.
        pub retry_schedule: Vec<Duration> ["fields::retry_schedule"] = default_retry_schedule(),
        pub poll_interval: Duration ["fields::positive_duration"] = Duration::from_secs(30),
        pub concurrency: usize ["fields::whole::<_, _, 1, 64>"] = 4,
        /// How long a claimed row stays claimed; always longer than `carehq.timeout`.
        pub lease: Option<Duration> ["fields::positive_duration"] = None,
        pub shutdown_grace: Option<Duration> ["fields::duration"] = None,
        /// While delivery is paused (401/403/404), how often to try again.
        pub pause_probe_interval: Duration ["fields::positive_duration"] = Duration::from_secs(300),
        /// An enquiry not in CareHQ this long after it arrived is emailed to its
        /// site's `fallback_email` (once).
        pub fallback_after: Duration ["fields::positive_duration"] = Duration::from_secs(30 * 60),
    }
}

pub const DEFAULT_RETRY_SCHEDULE: &[&str] = &[
    "10s", "1m", "5m", "15m", "30m", "1h", "2h", "4h", "8h", "12h", "24h",
];

fn default_retry_schedule() -> Vec<Duration> {
    let delays = DEFAULT_RETRY_SCHEDULE.iter();
    delays
        .filter_map(|d| crate::values::parse_duration(d).ok())
        .collect()
}

fields::section! {
    /// `[staff]`.
    #[derive(Clone, Debug)]
    pub struct StaffSettings {
        /// Bearer token for `/status` and `/metrics`, 32 characters or more;
        /// `None` means those routes are closed.
        pub token: Option<SecretString> ["secrets::staff_token"] = None,
    }
}

fields::section! {
    /// `[spam]`: the time token forms carry.
    #[derive(Clone, Debug)]
    pub struct SpamSettings {
        /// `spam.token_secret`: the time token's HMAC key when set. The key in
        /// use is the one stored in the database (see `storage::time_token_keys`);
        /// a configured one that differs replaces it there.
        pub token_secret: Option<SecretString> ["fields::secret"] = None,
        /// The key a database without one starts with when `token_secret` is
        /// unset: derived from `carehq.api_secret`, as before keys were stored.
        #[serde(skip)]
        pub initial_key: SecretString = no_key(),
        /// Posts sooner than this after the form was served are held as `too_fast`.
        pub min_fill_time: Duration ["fields::duration"] = Duration::from_secs(3),
        /// Tokens older than this are held as `stale_time_token`.
        pub max_token_age: Duration ["fields::positive_duration"] = Duration::from_secs(24 * 3600),
    }
}

fields::section! {
    /// `[rate_limit]`: token buckets per client IP and per site.
    #[derive(Clone, Copy, Debug)]
    pub struct RateLimitSettings {
        // A family may correct and resend a few times; a script posting
        // every minute is not a family.
        pub per_ip: Rate ["fields::parsed"] = Rate::every(10, 600),
        // Far above any care home's real enquiry volume, well below a flood.
        pub per_site: Rate ["fields::parsed"] = Rate::every(300, 3600),
        /// Posts stored held, per site from all addresses together. Each is
        /// stored and a held visit takes its place in the slot until a
        /// person deletes it or it expires; a home's real held posts (an
        /// old tab, a quick autofill) are a few a day.
        pub per_site_held: Rate ["fields::parsed"] = Rate::every(20, 3600),
        /// Most client addresses (IPv6: /64s) whose buckets are kept in memory.
        // A few MB of buckets: far more distinct addresses than post to
        // care home forms in an hour, yet a flood from many addresses
        // cannot exhaust memory.
        pub max_tracked_addresses: usize ["fields::whole::<_, _, 100, 100_000_000>"] = 100_000,
    }
}

/// Until `validate` derives it from the CareHQ secret.
fn no_key() -> SecretString {
    SecretString::from("")
}
