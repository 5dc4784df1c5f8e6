//! Turns the raw sections into typed `Settings`: defaults filled in, values
//! parsed, cross-key rules checked. Every problem is recorded and the load
//! fails once at the end, so one run lists everything to fix.

use std::net::SocketAddr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::checks::{base_url, boolean, byte_size, choice, duration, integer, positive_duration};
use super::duration::{format_duration, parse_duration};
use super::env_names::env_var_name;
use super::error::{ConfigErrors, Problems};
use super::raw::{RawCareHq, RawDatabase, RawServer, RawSettings, RawSpam, RawStaff, RawSync};
use super::sections::{
    CaptchaProvider, CaptchaSettings, CareHqSettings, ClientIpHeader, DatabaseSettings,
    ServerSettings, SiteSettings, SpamSettings, StaffSettings, SyncSettings,
};
use super::text::text;
use super::{ConfigSource, Settings, captcha, operations, secrets, sites};
use crate::sandbox::seed;

const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/enquiry-relay.db";
const DEFAULT_MAX_CONNECTIONS: i64 = 8;
pub const DEFAULT_CAREHQ_BASE_URL: &str = "https://api.carehq.dev";
pub const DEFAULT_RETRY_SCHEDULE: &[&str] = &[
    "10s", "1m", "5m", "15m", "30m", "1h", "2h", "4h", "8h", "12h", "24h",
];
const DEFAULT_CONCURRENCY: i64 = 4;
/// How much longer than `carehq.timeout` the default lease is.
const LEASE_MARGIN: Duration = Duration::from_secs(30);
/// How much longer than `carehq.timeout` a lease must be at least: 3 s to
/// record the outcome after CareHQ answers, with retries if the write fails
/// (`sync::deliver::RECORD_TIME`), and 2 s for the claim-to-send preparation.
/// Less, and a send still in progress could be claimed again and duplicated.
pub const LEASE_MIN_MARGIN: Duration = Duration::from_secs(5);
/// How much longer than `carehq.timeout` shutdown waits for sends in flight:
/// a send started just before the signal may take the whole timeout, and its
/// outcome still has to be written. Cutting a send off early risks a
/// duplicate (CareHQ finishes creating after we have gone; the row is sent
/// again after its lease).
pub(super) const SHUTDOWN_MARGIN: Duration = Duration::from_secs(5);

const SECS_30: Duration = Duration::from_secs(30);

pub(super) fn settings(raw: RawSettings, source: ConfigSource) -> Result<Settings, ConfigErrors> {
    let mut p = Problems::default();
    let server = server(&raw.server, &mut p);
    let database = database(raw.database, &mut p);
    // The lease is checked against the timeout even when another [carehq]
    // key has a problem; the timeout's own problems are reported by `carehq`.
    let carehq_timeout = positive_duration(
        "carehq.timeout",
        &raw.carehq.timeout,
        SECS_30,
        &mut Problems::default(),
    );
    let carehq = carehq(raw.carehq, &mut p);
    let sync = sync(&raw.sync, carehq_timeout, &mut p);
    let staff = staff(raw.staff, &mut p);
    let global_captcha = raw.captcha.clone();
    let captcha = captcha::captcha("captcha", raw.captcha, &mut p);
    let spam = spam(raw.spam, carehq.as_ref(), &mut p);
    // Where each slug sits in the file: a site that failed to parse is not in
    // `sites`, so a later site's key must not take its index.
    let slugs: Vec<Option<String>> = raw
        .sites
        .iter()
        .map(|s| text(&s.slug).map(str::to_owned))
        .collect();
    let sites = sites::sites(raw.sites, &global_captcha, &mut p);
    if let (Some(server), Some(captcha)) = (&server, &captcha) {
        captcha_within_request(
            server.request_timeout,
            &captcha_timeouts(captcha, &sites, &slugs),
            &mut p,
        );
    }
    let alerts = operations::alerts(raw.alerts, &mut p);
    let sentry = super::sentry::sentry(raw.sentry, &mut p);
    let log = super::log::log(&raw.log, &mut p);
    match (server, database, carehq, sync, staff, captcha, spam) {
        (
            Some(server),
            Some(database),
            Some(carehq),
            Some(sync),
            Some(staff),
            Some(captcha),
            Some(spam),
        ) if p.is_empty() => {
            let (Some(alerts), Some(sentry), Some(log)) = (alerts, sentry, log) else {
                return Err(p.into_errors());
            };
            Ok(Settings {
                server,
                database,
                carehq,
                sync,
                staff,
                captcha,
                spam,
                rate_limit: raw.rate_limit,
                sites,
                status: raw.status,
                metrics: raw.metrics,
                retention: raw.retention,
                alerts,
                sentry,
                log,
                source,
            })
        }
        _ => Err(p.into_errors()),
    }
}

fn server(raw: &RawServer, p: &mut Problems) -> Option<ServerSettings> {
    let listen_text = text(&raw.listen).unwrap_or(DEFAULT_LISTEN);
    let listen = listen_text.parse::<SocketAddr>().ok();
    if listen.is_none() {
        p.push(
            "server.listen",
            format!("\"{listen_text}\" is not an address; expected IP:port such as \"127.0.0.1:8080\" or \"0.0.0.0:8080\""),
        );
    }
    let trusted_proxies = trusted_proxies(raw, p);
    let client_ip_header = choice(
        "server.client_ip_header",
        &raw.client_ip_header,
        ClientIpHeader::NAMES,
        ClientIpHeader::XForwardedFor,
        p,
    );
    let body_limit = byte_size("server.body_limit", &raw.body_limit, DEFAULT_BODY_LIMIT, p);
    let request_timeout =
        positive_duration("server.request_timeout", &raw.request_timeout, SECS_30, p);
    let public_url = match text(&raw.public_url) {
        None => Some(None),
        Some(v) => base_url("server.public_url", v, "https://forms.example.com", p).map(Some),
    };
    // Problems are already recorded; `?` only stops building a broken section.
    Some(ServerSettings {
        listen: listen?,
        trusted_proxies: trusted_proxies?,
        client_ip_header: client_ip_header?,
        body_limit: body_limit?,
        request_timeout: request_timeout?,
        public_url: public_url?,
    })
}

fn trusted_proxies(raw: &RawServer, p: &mut Problems) -> Option<Vec<ipnet::IpNet>> {
    let items = raw.trusted_proxies.as_ref().map_or(&[][..], |l| &l.0[..]);
    let mut nets = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match parse_net(item) {
            Some(net) => nets.push(net),
            None => {
                p.push(
                    format!("server.trusted_proxies[{i}]"),
                    format!("\"{item}\" is not an IP address or CIDR; expected e.g. \"10.0.0.0/8\" or \"172.18.0.2\""),
                );
                ok = false;
            }
        }
    }
    ok.then_some(nets)
}

/// A CIDR, or a single address taken as a one-host network.
fn parse_net(text: &str) -> Option<ipnet::IpNet> {
    text.parse::<ipnet::IpNet>()
        .map(|net| net.trunc())
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .ok()
}

fn database(raw: RawDatabase, p: &mut Problems) -> Option<DatabaseSettings> {
    let mut ok = true;
    let url = secrets::resolve("database.url", raw.url, &raw.url_file, p)
        .unwrap_or_else(|| SecretString::from(DEFAULT_DATABASE_URL));
    let exposed = url.expose_secret();
    let known = ["sqlite:", "postgres:", "postgresql:"]
        .iter()
        .any(|scheme| exposed.starts_with(scheme));
    if !known {
        // Only the scheme is echoed: the rest may hold a password.
        let scheme = exposed.split_once(':').map_or("(none)", |(s, _)| s);
        p.push(
            "database.url",
            format!("unsupported scheme \"{scheme}\"; expected \"sqlite://path/to/file.db\" or \"postgres://user:password@host/database\""),
        );
        ok = false;
    }
    if sqlite_in_memory(exposed) {
        p.push(
            "database.url",
            format!("is an in-memory SQLite database; the relay opens two pools (a writer and readers), and each would get its own private, empty database, and every enquiry would be lost at exit. Give a file path instead, e.g. \"{DEFAULT_DATABASE_URL}\""),
        );
        ok = false;
    }
    let max_connections = integer(
        "database.max_connections",
        &raw.max_connections,
        DEFAULT_MAX_CONNECTIONS,
        1,
        1000,
        p,
    );
    let max_connections = u32::try_from(max_connections?).ok()?;
    ok.then_some(DatabaseSettings {
        url,
        max_connections,
    })
}

/// `sqlite::memory:`, `sqlite://:memory:`, `…?mode=memory`, or no path at all
/// (which SQLite also opens as a private temporary database), parsed as sqlx
/// parses SQLite URLs.
fn sqlite_in_memory(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return false;
    };
    let rest = rest.trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    path.is_empty()
        || path == ":memory:"
        || query
            .split('&')
            .any(|pair| pair.eq_ignore_ascii_case("mode=memory"))
}

fn carehq(raw: RawCareHq, p: &mut Problems) -> Option<CareHqSettings> {
    let sandbox = boolean("carehq.sandbox", &raw.sandbox, false, p);
    let base_url = base_url(
        "carehq.base_url",
        text(&raw.base_url).unwrap_or(DEFAULT_CAREHQ_BASE_URL),
        "https://api.carehq.co.uk",
        p,
    );
    let timeout = positive_duration("carehq.timeout", &raw.timeout, SECS_30, p);
    let api_key = secrets::resolve("carehq.api_key", raw.api_key, &raw.api_key_file, p);
    let api_secret = secrets::resolve("carehq.api_secret", raw.api_secret, &raw.api_secret_file, p);
    let account_id = text(&raw.account_id).map(str::to_owned);
    // In sandbox mode the seed credentials stand in for whatever is unset;
    // outside it, a missing credential would only surface as a 401 at the
    // first delivery, so it stops start-up here instead.
    let sandbox_mode = sandbox == Some(true);
    let account_id = account_id.or_else(|| sandbox_mode.then(|| seed::ACCOUNT_ID.to_owned()));
    let api_key = api_key.or_else(|| sandbox_mode.then(|| SecretString::from(seed::API_KEY)));
    let api_secret =
        api_secret.or_else(|| sandbox_mode.then(|| SecretString::from(seed::API_SECRET)));
    if sandbox.is_some() && !sandbox_mode {
        let sandbox_hint =
            "; or set carehq.sandbox = true to try the relay against the built-in sandbox";
        if account_id.is_none() {
            p.push(
                "carehq.account_id",
                format!(
                    "not set; set carehq.account_id in the config file or the environment variable {} (CareHQ: Account > API keys){sandbox_hint}",
                    env_var_name("carehq.account_id")
                ),
            );
        }
        for (key, value) in [
            ("carehq.api_key", &api_key),
            ("carehq.api_secret", &api_secret),
        ] {
            if value.is_none() {
                p.push(
                    key,
                    format!("not set; {}{sandbox_hint}", secrets::how_to_set(key)),
                );
            }
        }
    }
    Some(CareHqSettings {
        sandbox: sandbox?,
        base_url: base_url?,
        account_id: account_id?,
        api_key: api_key?,
        api_secret: api_secret?,
        timeout: timeout?,
    })
}

fn sync(raw: &RawSync, carehq_timeout: Option<Duration>, p: &mut Problems) -> Option<SyncSettings> {
    let retry_schedule = match &raw.retry_schedule {
        Some(list) if list.0.iter().all(|s| s.is_empty()) => {
            p.push(
                "sync.retry_schedule",
                "is empty; give at least one delay, e.g. [\"10s\", \"1m\", \"5m\"] (each entry is one more retry)",
            );
            None
        }
        Some(list) => retry_schedule(&list.0, p),
        None => retry_schedule(DEFAULT_RETRY_SCHEDULE, p),
    };
    let poll_interval = positive_duration("sync.poll_interval", &raw.poll_interval, SECS_30, p);
    let concurrency = integer(
        "sync.concurrency",
        &raw.concurrency,
        DEFAULT_CONCURRENCY,
        1,
        64,
        p,
    )
    .and_then(|n| usize::try_from(n).ok());
    let default_lease = carehq_timeout.unwrap_or(SECS_30) + LEASE_MARGIN;
    let mut lease = positive_duration("sync.lease", &raw.lease, default_lease, p);
    if let (Some(l), Some(timeout)) = (lease, carehq_timeout)
        && l < timeout + LEASE_MIN_MARGIN
    {
        p.push(
            "sync.lease",
            format!(
                "\"{}\" must be longer than carehq.timeout (\"{}\") by at least {} (time to record the outcome after CareHQ answers), or a send still in progress could be claimed again and duplicated; e.g. \"{}\"",
                format_duration(l),
                format_duration(timeout),
                format_duration(LEASE_MIN_MARGIN),
                format_duration(timeout + LEASE_MARGIN),
            ),
        );
        lease = None;
    }
    let shutdown_grace = duration(
        "sync.shutdown_grace",
        &raw.shutdown_grace,
        carehq_timeout.unwrap_or(SECS_30) + SHUTDOWN_MARGIN,
        p,
    );
    let pause_probe_interval = positive_duration(
        "sync.pause_probe_interval",
        &raw.pause_probe_interval,
        Duration::from_secs(300),
        p,
    );
    Some(SyncSettings {
        retry_schedule: retry_schedule?,
        poll_interval: poll_interval?,
        concurrency: concurrency?,
        lease: lease?,
        shutdown_grace: shutdown_grace?,
        pause_probe_interval: pause_probe_interval?,
    })
}

fn retry_schedule(items: &[impl AsRef<str>], p: &mut Problems) -> Option<Vec<Duration>> {
    let mut schedule = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match parse_duration(item.as_ref()) {
            Ok(delay) => schedule.push(delay),
            Err(e) => {
                p.push(format!("sync.retry_schedule[{i}]"), e.to_string());
                ok = false;
            }
        }
    }
    ok.then_some(schedule)
}

/// Shortest staff token accepted. Wrong tokens are throttled per address,
/// but only length makes guessing hopeless from many addresses.
const MIN_STAFF_TOKEN_CHARS: usize = 32;

fn staff(raw: RawStaff, p: &mut Problems) -> Option<StaffSettings> {
    let token = secrets::resolve("staff.token", raw.token, &raw.token_file, p);
    if let Some(token) = &token {
        let length = token.expose_secret().chars().count();
        if length < MIN_STAFF_TOKEN_CHARS {
            // The length only, never the value.
            p.push(
                "staff.token",
                format!(
                    "is {length} characters long; use at least {MIN_STAFF_TOKEN_CHARS} random characters so it cannot be guessed, e.g. the output of `openssl rand -hex 32` (64 characters)"
                ),
            );
            return None;
        }
    }
    Some(StaffSettings { token })
}

/// Each hosted CAPTCHA's timeout with its key: the global one if any site
/// uses it, and each site's own, keyed by the site's place in the file
/// (`slugs`, in file order).
fn captcha_timeouts(
    global: &CaptchaSettings,
    sites: &[SiteSettings],
    slugs: &[Option<String>],
) -> Vec<(String, Duration)> {
    let hosted = |c: &CaptchaSettings| {
        !matches!(c.provider, CaptchaProvider::None | CaptchaProvider::Altcha)
    };
    let mut timeouts = Vec::new();
    if sites.iter().any(|s| s.captcha.is_none()) && hosted(global) {
        timeouts.push(("captcha.timeout".to_owned(), global.timeout));
    }
    for (parsed, site) in sites.iter().enumerate() {
        if let Some(own) = site.captcha.as_ref().filter(|c| hosted(c)) {
            let i = slugs
                .iter()
                .position(|slug| slug.as_deref() == Some(site.slug.as_str()))
                .unwrap_or(parsed);
            timeouts.push((format!("sites[{i}].captcha.timeout"), own.timeout));
        }
    }
    timeouts
}

/// A provider that hangs must be given up on (and `on_error` applied) before
/// the request itself times out, or `on_error = "accept"` would turn into a
/// timeout answer and the family's enquiry would be lost.
fn captcha_within_request(request: Duration, timeouts: &[(String, Duration)], p: &mut Problems) {
    for (key, timeout) in timeouts {
        if *timeout >= request {
            p.push(
                key.clone(),
                format!(
                    "\"{}\" must be shorter than server.request_timeout (\"{}\"), or a provider that does not answer makes the form time out instead of following on_error; lower {key} (e.g. \"10s\") or raise server.request_timeout",
                    format_duration(*timeout),
                    format_duration(request),
                ),
            );
        }
    }
}

/// `[spam]`: the time token's key and window.
fn spam(raw: RawSpam, carehq: Option<&CareHqSettings>, p: &mut Problems) -> Option<SpamSettings> {
    let own = secrets::resolve(
        "spam.token_secret",
        raw.token_secret,
        &raw.token_secret_file,
        p,
    );
    let min_fill_time = duration(
        "spam.min_fill_time",
        &raw.min_fill_time,
        Duration::from_secs(3),
        p,
    );
    let max_token_age = positive_duration(
        "spam.max_token_age",
        &raw.max_token_age,
        Duration::from_secs(24 * 3600),
        p,
    );
    if let (Some(min), Some(max)) = (min_fill_time, max_token_age)
        && min >= max
    {
        p.push(
            "spam.max_token_age",
            format!(
                "\"{}\" must be longer than spam.min_fill_time (\"{}\"), or no post could ever pass",
                format_duration(max),
                format_duration(min)
            ),
        );
        return None;
    }
    // A database without a key starts with one derived from the CareHQ
    // secret, which every instance shares. When [carehq] itself is broken its
    // problem is already reported.
    let initial_key = carehq.map(|c| secrets::derive_time_token_key(&c.api_secret))?;
    Some(SpamSettings {
        token_secret: own,
        initial_key,
        min_fill_time: min_fill_time?,
        max_token_age: max_token_age?,
    })
}
