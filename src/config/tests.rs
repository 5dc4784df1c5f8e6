//! Tests of the whole load path: file or text, environment, `_file` secrets,
//! validation, defaults, redaction and the shipped example file. Every load
//! runs in a `figment::Jail`, because settings read the process environment.
//! Problems are checked from one table (`PROBLEMS`), a row per configuration.

use std::path::Path;
use std::time::Duration;

use secrecy::ExposeSecret;

use super::test_env::jail;
use super::*;
use crate::sandbox::seed;

/// Smallest valid non-sandbox configuration; rows and tests append to its site.
const MINIMAL: &str = r#"
[carehq]
account_id = "0123456789abcdef01234567"
api_key = "live-key"
api_secret = "live-secret-value"

[[sites]]
slug = "upton-court"
name = "Upton Court"
location = "6724fbc74f73a2cebf6377fa"
"#;

const EXAMPLE: &str = include_str!("../../enquiry-relay.example.toml");
const HELPAROUND: &str = "[sites.partners.helparound]\n";
const SANDBOX: &str = "#full\n[carehq]\nsandbox = true\n[[sites]]\nslug = \"a\"\nname = \"A\"\n\
                       location = \"6724fbc74f73a2cebf6377fa\"\n";
const WHSEC: &str = "signing_secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"";
const LONG_TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// `MINIMAL` then `toml` (or `toml` alone after a `#full` line), loaded with
/// `env` set; an `env` name `file:NAME` writes the file NAME (in the jail's
/// directory, where relative paths start) instead.
fn load(toml: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigErrors> {
    let text = match toml.strip_prefix("#full\n") {
        Some(alone) => alone.to_owned(),
        None => format!("{MINIMAL}{toml}"),
    };
    let mut result = None;
    jail(|jail| {
        for (name, value) in env {
            match name.strip_prefix("file:") {
                Some(file) => drop(jail.create_file(file, value).unwrap()),
                None => jail.set_env(name, value),
            }
        }
        result = Some(Settings::from_toml_str(&text));
    });
    result.expect("the jail ran")
}

fn ok(toml: &str) -> Settings {
    load(toml, &[]).unwrap_or_else(|e| panic!("{toml}\n{e}"))
}

type Row = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static [(&'static str, &'static str)],
);

/// `(config, environment, expected)`. Each expected pair is `(key, fragment)`:
/// the problem for `key` contains `fragment`, which names the variable when
/// the environment set the value ("(set by …)"). Also `("!", prefix)`: no
/// problem's key starts with it; `("?", "a b")`: each of those keys has a
/// problem; `("-", text)`: no message echoes it (a secret); `("#", n)`: exactly
/// n problems. Every row also checks one line per problem.
#[rustfmt::skip]
const PROBLEMS: &[Row] = &[
    ("", &[("ENQUIRY_RELAY_CAREHQ__TIMEOUT", "30"), ("ENQUIRY_RELAY_SYNC__POLL_INTERVALL", "30s")], &[
        ("carehq.timeout", "add one, e.g. \"30s\""), ("carehq.timeout", "(set by ENQUIRY_RELAY_CAREHQ__TIMEOUT)"),
        ("sync.poll_intervall", "unknown key"), ("sync.poll_intervall", "poll_interval"),
        ("sync.poll_intervall", "(set by ENQUIRY_RELAY_SYNC__POLL_INTERVALL)"), ("#", "2")]),
    ("", &[("file:api_secret", "other"), ("ENQUIRY_RELAY_CAREHQ__API_SECRET_FILE", "api_secret")], &[
        ("carehq.api_secret", "both carehq.api_secret and carehq.api_secret_file"), ("-", "live-secret-value")]),
    ("#full\n[[sites]]\nslug = \"a\"\nname = \"A\"\nlocation = \"6724fbc74f73a2cebf6377fa\"\n", &[], &[
        ("carehq.account_id", "ENQUIRY_RELAY_CAREHQ__ACCOUNT_ID"), ("carehq.api_secret", "ENQUIRY_RELAY_CAREHQ__API_SECRET"),
        ("carehq.api_secret", "carehq.api_secret_file"), ("carehq.api_secret", "carehq.sandbox = true"),
        ("carehq.api_key", "ENQUIRY_RELAY_CAREHQ__API_KEY_FILE"), ("#", "3")]),
    (EVERYTHING_WRONG, &[], &[
        ("?", "server.listen server.trusted_proxies[0] server.body_limit server.request_timeout \
               server.public_url database.url database.max_connections carehq.base_url \
               carehq.account_id carehq.api_key carehq.api_secret sync.retry_schedule[1] \
               sync.poll_interval sync.concurrency sync.lease captcha.verify_url captcha.on_error \
               sites[0].slug sites[0].name sites[0].location sites[0].referrer sites[0].sales_channel \
               sites[0].allowed_origins[0] sites[0].redirect_url sites[0].untrusted_source \
               sites[0].services[0] sites[0].defaults.funding_type \
               sites[0].defaults.enquiring_for_self sites[2].slug"),
        // The provider itself is valid, so its missing keys are reported too.
        ("?", "captcha.secret captcha.site_key"),
        ("sites[0].location", "\"abc\" is not a CareHQ Id; expected 24 hexadecimal characters (copy it from `enquiry-relay carehq locations`)"),
        ("sites[0].slug", "e.g. \"upton-court\""), ("sites[2].slug", "duplicate slug \"dup\" (also used by sites[1])"),
        ("sync.retry_schedule[1]", "has no unit"), ("sync.lease", "longer than carehq.timeout"),
        ("sync.concurrency", "from 1 to 64"), ("sites[0].defaults.funding_type", "local_authority_top_up"),
        // The database URL's password is never echoed, only its scheme.
        ("database.url", "\"mysql\""), ("-", "hunter2")]),
    ("[captcha]\nprovider = \"hcaptcha\"", &[], &[
        ("captcha.secret", "ENQUIRY_RELAY_CAPTCHA__SECRET"), ("captcha.site_key", "\"hcaptcha\"")]),
    ("[captcha]\nprovider = \"altcha\"", &[], &[("captcha.secret", "HMAC key"), ("!", "captcha.site_key")]),
    ("[captcha]\nprovider = \"turnstile\"\nsite_key = \"k\"\nsecret = \"s\"\ntimeout = \"10s\"\n\
      [server]\nrequest_timeout = \"10s\"", &[], &[
        ("captcha.timeout", "server.request_timeout"), ("captcha.timeout", "lower captcha.timeout")]),
    // A site's own provider is checked too; the global one then is unused.
    ("[sites.captcha]\nprovider = \"hcaptcha\"\ntimeout = \"6s\"\n[captcha]\nprovider = \"turnstile\"\n\
      site_key = \"k\"\nsecret = \"s\"\ntimeout = \"1s\"\n[server]\nrequest_timeout = \"5s\"", &[], &[
        ("sites[0].captcha.timeout", "\"5s\""), ("!", "captcha.timeout")]),
    // A broken site before it (a misspelt provider) does not shift the key onto the wrong site.
    ("[sites.captcha]\nprovider = \"hcaptch\"\ntimeout = \"4s\"\n[[sites]]\nslug = \"second\"\nname = \"Second\"\n\
      location = \"6724fbc74f73a2cebf637701\"\n[sites.captcha]\nprovider = \"hcaptcha\"\ntimeout = \"6s\"\n\
      [captcha]\nprovider = \"turnstile\"\nsite_key = \"k\"\nsecret = \"s\"\ntimeout = \"1s\"\n\
      [server]\nrequest_timeout = \"5s\"", &[], &[
        ("sites[1].captcha.timeout", "\"5s\""), ("!", "sites[0].captcha.timeout")]),
    // Unreadable parts are not also blamed for keys they lack (the account Id
    // and the site's name may well be there, after the typo).
    ("#full\n[server]\nlistn = \"127.0.0.1:8080\"\n[carehq]\napi_sekret = \"x\"\n[sync]\n\
      retry_schedule = { first = \"10s\" }\n[databse]\nurl = \"sqlite://x.db\"\n[[sites]]\nslug = \"a\"\nnmae = \"A\"\n", &[], &[
        ("server.listn", "expected one of: listen,"), ("carehq.api_sekret", "api_secret"),
        ("sync.retry_schedule", "found a table"), ("databse", "unknown key"), ("sites[0].nmae", "unknown key"), ("#", "5")]),
    ("#full\n[carehq]\nsandbox = true\n", &[], &[("sites", "add at least one [[sites]] block")]),
    ("honeypot_field = \"email\"\n[sites.captcha]\nmin_score = 2\n[spam]\nmin_fill_time = \"2d\"\n\
      max_token_age = \"1d\"\n[rate_limit]\nper_ip = \"ten per minute\"\nper_site = \"0/1h\"", &[], &[
        ("spam.max_token_age", "longer than spam.min_fill_time"), ("rate_limit.per_ip", "\"10/10m\""),
        ("rate_limit.per_site", "above 0"), ("sites[0].honeypot_field", "not a field the form already has"),
        ("sites[0].captcha.min_score", "0.0 to 1.0")]),
    // The global secret_file does not exist: reported for [captcha] only,
    // because the site gave its own secret and so takes neither global one.
    ("[sites.captcha]\nprovider = \"hcaptcha\"\nsecret = \"site-secret\"\n[captcha]\nprovider = \"turnstile\"\n\
      site_key = \"global-key\"\nsecret_file = \"/nonexistent\"\non_error = \"hold\"", &[], &[
        ("captcha.secret_file", "/nonexistent"), ("!", "sites[0].captcha")]),
    ("[server]\nclient_ip_header = \"x-real-ip\"", &[], &[
        ("server.client_ip_header", "x-forwarded-for"), ("server.client_ip_header", "forwarded")]),
    ("[rate_limit]\nmax_tracked_addresses = 0", &[], &[("?", "rate_limit.max_tracked_addresses")]),
    ("[staff]\ntoken = \"s3cret-but-short\"", &[], &[
        ("staff.token", "32"), ("staff.token", "openssl rand -hex 32"), ("-", "s3cret-but-short")]),
    // A token read from a file is held to the same rule.
    ("", &[("file:token", "short\n"), ("ENQUIRY_RELAY_STAFF__TOKEN_FILE", "token")], &[("?", "staff.token")]),
    ("[database]\nurl = \"sqlite::memory:\"", &[], &[("database.url", "sqlite://data/enquiry-relay.db")]),
    ("[database]\nurl = \"sqlite://:memory:\"", &[], &[("database.url", "sqlite://data/enquiry-relay.db")]),
    ("[database]\nurl = \"sqlite://?mode=memory\"", &[], &[("database.url", "sqlite://data/enquiry-relay.db")]),
    ("[database]\nurl = \"sqlite://data/relay.db?mode=memory&cache=shared\"", &[], &[("database.url", "sqlite://data/enquiry-relay.db")]),
    ("[database]\nurl = \"sqlite://\"", &[], &[("database.url", "sqlite://data/enquiry-relay.db")]),
    // carehq.timeout is 30 s by default: 1 ms more leaves no time to record.
    ("[sync]\nlease = \"30001ms\"", &[], &[("sync.lease", "by at least 5s")]),
    ("[captcha]\nprovider = \"altcha\"\nsecret_file = \"/nonexistent/relay-secret\"", &[], &[
        ("captcha.secret_file", "/nonexistent/relay-secret")]),
    ("[captcha]\nprovider = \"altcha\"\nsecret_file = \"empty\"", &[("file:empty", "\n")], &[("captcha.secret_file", "is empty")]),
    // Blank inline is unset: the provider then asks for its secret.
    ("[captcha]\nprovider = \"altcha\"\nsecret = \"  \"", &[], &[("captcha.secret", "required")]),
    // Both given: refused, and neither value is echoed.
    ("[staff]\ntoken = \"inline-0123456789abcdef0123456789\"", &[("file:token", "from-file-0123456789abcdef0123456789"),
        ("ENQUIRY_RELAY_STAFF__TOKEN_FILE", "token")], &[("staff.token", "staff.token_file"), ("-", "inline-"), ("-", "from-file")]),
    ("[sites.captcha]\nprovider = \"altcha\"\nsecret = \"s\"\n[captcha]\nzz = 1", &[], &[("?", "captcha.zz"), ("!", "sites[0].captcha.zz")]),
    // Blank is unset: the default applies.
    ("[retention]\nsynced = \"0s\"\nspam = \"soon\"\nkeep = 1\n[status]\nfailed_is_degraded = \"sometimes\"\nmax_pending_age = \"\"",
      &[("ENQUIRY_RELAY_RETENTION__HELD", "30")], &[
        ("retention.synced", "longer than zero"), ("retention.spam", "\"soon\" is not a duration"),
        ("retention.keep", "unknown key"), ("retention.held", "add one"),
        ("retention.held", "(set by ENQUIRY_RELAY_RETENTION__HELD)"),
        ("status.failed_is_degraded", "expected true or false"), ("!", "status.max_pending_age"), ("#", "5")]),
    ("[alerts]\nwebhook_url = \"ftp://hunter2\"\nsmtp_url = \"smtp://h\"", &[], &[
        ("?", "alerts.webhook_url"), ("alerts.smtp_url", "alerts.email_from"), ("-", "hunter2")]),
    ("[log]\nformat = \"jsn\"", &[], &[("log.format", "\"jsn\""), ("log.format", "text, json")]),
    ("", &[("ENQUIRY_RELAY_LOG_FORMAT", "jsn")], &[("ENQUIRY_RELAY_LOG_FORMAT", "text, json")]),
    ("[sentry]\ndsn = \"hunter2key-not-a-dsn\"", &[], &[("?", "sentry.dsn"), ("-", "hunter2key")]),
    ("[server]\nbody_limit = 0\nlisten = \"localhost\"\ntrusted_proxies = \"10.0.0.0/8, nope\"", &[], &[
        ("server.body_limit", "more than zero"), ("server.listen", "\"localhost\" is not an address"),
        ("server.trusted_proxies", "item 2: \"nope\""), ("#", "3")]),
    (HELPAROUND, &[], &[("sites[0].partners.helparound", "token_file")]),
    ("[sites.partners.helparound]\ntoken = \"0123456789abcdef0123456789abcdef\"\n\
      signing_secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"", &[], &[("sites[0].partners.helparound", "both")]),
    ("[sites.partners.helparound]\ntoken = \"short-secret\"", &[], &[
        ("sites[0].partners.helparound.token", "32 characters"), ("-", "short-secret")]),
    ("[sites.partners.helparound]\nsigning_secret = \"not base64!\"", &[], &[
        ("sites[0].partners.helparound.signing_secret", "whsec_"), ("-", "not base64")]),
    ("consent_text = \"I agree\"\nhidden_fields = [\"email\", \"phone\", \"name\"]", &[], &[
        ("?", "sites[0].consent_version sites[0].hidden_fields[2]"),
        ("sites[0].hidden_fields", "hides both email and phone")]),
    ("consent_version = \"v1\"", &[], &[("?", "sites[0].consent_text")]),
    ("[sites.visits]\nenabled = true\ntime_zone = \"Mars/Olympus\"\nmonday = [\"9-5\"]\nslot_length = \"7s\"\n\
      closed_dates = [\"25/12/2026\"]\nhost = \"matron\"\nvisit_types = [\"phone\"]\ncapacity = 0", &[], &[
        ("?", "sites[0].visits.time_zone sites[0].visits.monday[0] sites[0].visits.slot_length \
               sites[0].visits.closed_dates[0] sites[0].visits.host sites[0].visits.visit_types[0] \
               sites[0].visits.capacity")]),
];

/// Every section's mistakes at once (`PROBLEMS`' fourth row).
const EVERYTHING_WRONG: &str = r#"#full
[server]
listen = "localhost"
trusted_proxies = ["10.0.0.0/33"]
body_limit = "64 kilobytes"
request_timeout = "soon"
public_url = "forms.example.com"
[database]
url = "mysql://root:hunter2@db/relay"
max_connections = 0
[carehq]
base_url = "ftp://api.carehq.dev"
timeout = "40s"
[sync]
retry_schedule = ["10s", "5"]
poll_interval = "0s"
concurrency = 65
lease = "40s"
[captcha]
provider = "turnstile"
verify_url = "not a url"
on_error = "ignore"
[[sites]]
slug = "Upton Court"
name = ""
location = "abc"
referrer = "640f0f17f9b7e9ec6079fa1"
sales_channel = "zz0f0f17f9b7e9ec6079fa16"
allowed_origins = ["https://example-care.co.uk/contact"]
redirect_url = "/thank-you"
untrusted_source = "sometimes"
services = ["Residential Home"]
[sites.defaults]
funding_type = "nhs"
enquiring_for_self = "perhaps"
[[sites]]
slug = "dup"
name = "One"
location = "6724fbc74f73a2cebf6377fa"
[[sites]]
slug = "dup"
name = "Two"
location = "6724fbc74f73a2cebf6377fb"
[sites.defaults]
service = "residential_home"
"#;

#[test]
fn every_problem_names_its_key_and_where_it_was_set() {
    for (toml, env, expected) in PROBLEMS {
        let errors = match load(toml, env) {
            Ok(_) => panic!("loaded, expected problems:\n{toml}"),
            Err(errors) => errors,
        };
        let text = errors.to_string();
        let context = format!("{toml}\n--- got:\n{text}");
        assert_eq!(
            text.lines().count(),
            errors.0.len(),
            "one line each: {context}"
        );
        for (key, want) in *expected {
            match *key {
                "!" => assert!(
                    errors.0.iter().all(|e| !e.key.starts_with(want)),
                    "{want}: {context}"
                ),
                "?" => want
                    .split_whitespace()
                    .for_each(|k| assert!(errors.get(k).is_some(), "{k}: {context}")),
                "-" => assert!(!text.contains(want), "{want} echoed: {context}"),
                "#" => assert_eq!(errors.0.len().to_string(), *want, "{context}"),
                key => match errors.get(key) {
                    Some(e) => assert!(e.message.contains(want), "{key}: {want}: {context}"),
                    None => panic!("no problem for {key}: {context}"),
                },
            }
        }
    }
}

#[test]
fn configurations_near_the_limits_load() {
    let turnstile = "[captcha]\nprovider = \"turnstile\"\nsite_key = \"k\"\nsecret = \"s\"\n";
    for toml in [
        "[database]\nurl = \"sqlite://data/relay.db?mode=rwc\"\n",
        "[sync]\nlease = \"35s\"\n",
        &format!("{turnstile}timeout = \"9s\"\n[server]\nrequest_timeout = \"10s\"\n"),
        // ALTCHA makes no call, so its timeout does not matter.
        "[captcha]\nprovider = \"altcha\"\nsecret = \"s\"\ntimeout = \"5s\"\n[server]\nrequest_timeout = \"1s\"\n",
    ] {
        ok(toml);
    }
}

#[test]
fn defaults_fill_every_unset_key() {
    let s = ok("");
    assert_eq!(s.server.listen.to_string(), "127.0.0.1:8080");
    assert!(s.server.trusted_proxies.is_empty() && s.server.public_url.is_none());
    assert_eq!(
        (s.server.body_limit, s.server.request_timeout),
        (65_536, Duration::from_secs(30))
    );
    assert_eq!(
        s.database.url.expose_secret(),
        "sqlite://data/enquiry-relay.db"
    );
    assert_eq!(s.database.max_connections, 8);
    assert!(!s.sandbox_mode());
    assert_eq!(s.carehq.base_url, "https://api.carehq.dev");
    assert_eq!(s.carehq.account_id, "0123456789abcdef01234567");
    assert_eq!(s.carehq.api_secret.expose_secret(), "live-secret-value");
    assert_eq!(s.carehq.timeout, Duration::from_secs(30));
    let schedule: Vec<u64> = s
        .sync
        .retry_schedule
        .iter()
        .map(Duration::as_secs)
        .collect();
    assert_eq!(
        schedule,
        [
            10, 60, 300, 900, 1800, 3600, 7200, 14_400, 28_800, 43_200, 86_400
        ]
    );
    assert_eq!(
        (s.sync.poll_interval, s.sync.concurrency),
        (Duration::from_secs(30), 4)
    );
    // A send started just before shutdown may take all of carehq.timeout;
    // the margin leaves time to record its outcome.
    let secs = |d: Duration| d.as_secs();
    assert_eq!((secs(s.sync.lease), secs(s.sync.shutdown_grace)), (60, 35));
    assert_eq!(s.sync.pause_probe_interval, Duration::from_secs(300));
    assert!(s.staff.token.is_none());
    assert_eq!(
        (s.captcha.provider, s.captcha.on_error),
        (CaptchaProvider::None, OnCaptchaError::Accept)
    );
    assert!(s.captcha.secret.is_none() && s.captcha.site_key.is_none());
    assert!((s.captcha.min_score - 0.5).abs() < f64::EPSILON);
    assert_eq!(s.captcha.timeout, Duration::from_secs(10));
    assert_eq!(s.source, ConfigSource::Inline);
    assert_eq!(s.spam.min_fill_time, Duration::from_secs(3));
    assert_eq!(s.spam.max_token_age, Duration::from_secs(24 * 3600));
    assert!(s.spam.token_secret.is_none());
    let derived = super::secrets::derive_time_token_key(&s.carehq.api_secret);
    assert_eq!(s.spam.initial_key.expose_secret(), derived.expose_secret());
    assert!(!format!("{:?}", s.spam).contains(s.spam.initial_key.expose_secret()));
    assert_eq!(
        s.rate_limit.per_ip,
        crate::values::Rate::parse("10/10m").unwrap()
    );
    assert_eq!(
        s.rate_limit.per_site,
        crate::values::Rate::parse("300/1h").unwrap()
    );
    assert_eq!(s.rate_limit.max_tracked_addresses, 100_000);
    assert_eq!(s.server.client_ip_header, ClientIpHeader::XForwardedFor);
    assert_eq!(secs(s.status.max_pending_age), 30 * 60);
    assert!(s.status.failed_is_degraded);
    // A config given as a file or text is not the built-in sandbox, even
    // with carehq.sandbox = true: /metrics asks for the staff token.
    assert!(s.metrics.require_token && ok(SANDBOX).metrics.require_token);
    let r = &s.retention;
    assert_eq!(
        [r.synced, r.spam, r.held, r.interval].map(secs),
        [30, 7, 30, 1].map(|d| d * 86_400)
    );
    assert!(s.alerts.webhook_url.is_none() && s.alerts.smtp_url.is_none());
    assert!(s.sentry.dsn.is_none());
    assert_eq!(s.log.format, LogFormat::Text);
    assert!(s.warnings().is_empty(), "{:?}", s.warnings());

    let site = s.site("upton-court").unwrap();
    assert_eq!(site.name, "Upton Court");
    assert!(site.untrusted_source && site.allowed_origins.is_empty() && site.services.is_empty());
    assert_eq!(
        (
            site.referrer.as_deref(),
            site.defaults.funding_type.as_deref()
        ),
        (None, None)
    );
    assert_eq!(site.honeypot_field, "website");
    assert!(!site.require_time_token && site.captcha.is_none() && site.visits.is_none());
    assert!(s.site("nope").is_none());
}

#[test]
fn values_are_parsed_and_normalised() {
    let toml = r#"#full
[server]
listen = "0.0.0.0:9000"
trusted_proxies = ["10.1.2.3/8", "172.18.0.2", "::1"]
body_limit = 1048576
public_url = "https://forms.example.com/"
client_ip_header = "FORWARDED"
[database]
url = "postgres://relay:pw@db/relay"
[carehq]
sandbox = true
base_url = "http://127.0.0.1:4000/"
timeout = "500ms"
[sync]
retry_schedule = ["1s", "2m"]
lease = "6s"
[captcha]
provider = "altcha"
secret = "hmac-key"
on_error = "hold"
[rate_limit]
max_tracked_addresses = 500
[metrics]
require_token = false
[log]
format = "JSON"
[[sites]]
slug = "a"
name = "A"
location = "6724FBC74F73A2CEBF6377FA"
referrer = "640F0F17F9B7E9EC6079FA16"
allowed_origins = ["https://Example-Care.co.uk", "https://example-care.co.uk:443"]
services = ["residential_home", "nursing_home"]
untrusted_source = false
[sites.defaults]
service = "nursing_home"
enquiring_for_self = true
"#;
    let s = ok(toml);
    let proxies: Vec<String> = s
        .server
        .trusted_proxies
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(proxies, ["10.0.0.0/8", "172.18.0.2/32", "::1/128"]);
    assert_eq!(s.server.body_limit, 1_048_576);
    assert_eq!(
        ok("[server]\nbody_limit = \"1KiB\"\n").server.body_limit,
        1024
    );
    assert_eq!(
        s.server.public_url.as_deref(),
        Some("https://forms.example.com")
    );
    assert_eq!(s.server.client_ip_header, ClientIpHeader::Forwarded);
    assert!(s.database.is_postgres());
    assert_eq!(s.carehq.base_url, "http://127.0.0.1:4000");
    assert_eq!(
        s.sync.retry_schedule,
        [Duration::from_secs(1), Duration::from_secs(120)]
    );
    assert_eq!(
        (s.captcha.provider, s.captcha.on_error),
        (CaptchaProvider::Altcha, OnCaptchaError::Hold)
    );
    assert_eq!(s.rate_limit.max_tracked_addresses, 500);
    assert!(!s.metrics.require_token);
    assert_eq!(s.log.format, LogFormat::Json);
    let site = &s.sites[0];
    assert_eq!(site.location, "6724fbc74f73a2cebf6377fa");
    assert_eq!(site.referrer.as_deref(), Some("640f0f17f9b7e9ec6079fa16"));
    assert_eq!(site.allowed_origins, ["https://example-care.co.uk"]);
    assert!(!site.untrusted_source);
    assert_eq!(site.defaults.service.as_deref(), Some("nursing_home"));
    assert_eq!(site.defaults.enquiring_for_self, Some(true));
    // Sandbox mode needs no credentials and uses the seed.
    assert!(s.sandbox_mode());
    assert_eq!(s.carehq.account_id, seed::ACCOUNT_ID);
    assert_eq!(s.carehq.api_key.expose_secret(), seed::API_KEY);
    assert_eq!(s.carehq.api_secret.expose_secret(), seed::API_SECRET);
    let turnstile = ok(
        "[captcha]\nprovider = \"turnstile\"\nsite_key = \"1x00000000000000000000AA\"\nsecret = \"1x0000000000000000000000000000000AA\"\n",
    );
    assert_eq!(turnstile.captcha.provider, CaptchaProvider::Turnstile);
}

#[test]
fn the_built_in_sandbox_applies_when_there_is_no_file_and_named_files_are_read() {
    jail(|jail| {
        let dir = tempfile::tempdir().unwrap();
        let absent = dir.path().join("enquiry-relay.toml");
        let s = load_from(None, None, &absent).unwrap();
        assert_eq!(s.source, ConfigSource::BuiltInSandbox);
        assert!(s.sandbox_mode() && !s.metrics.require_token);
        assert_eq!(s.carehq.api_secret.expose_secret(), seed::API_SECRET);
        assert_eq!(
            s.database.url.expose_secret(),
            "sqlite://data/enquiry-relay.db"
        );
        assert_eq!(s.sites.len(), 1);
        let demo = s.site(DEMO_SLUG).unwrap();
        assert_eq!(
            (demo.name.as_str(), demo.location.as_str()),
            ("Demo Care Home", seed::DEMO_LOCATION)
        );
        assert_eq!(
            demo.sales_channel.as_deref(),
            Some(seed::DEMO_SALES_CHANNEL)
        );
        assert_eq!(demo.defaults.service.as_deref(), Some("residential_home"));
        assert_eq!(demo.defaults.funding_type.as_deref(), Some("not_sure"));
        // The environment still applies on top of the built-in defaults.
        jail.set_env("ENQUIRY_RELAY_SERVER__LISTEN", "0.0.0.0:8081");
        let s = load_from(None, None, &absent).unwrap();
        assert_eq!(s.server.listen.to_string(), "0.0.0.0:8081");
        assert!(s.sandbox_mode());

        let file = dir.path().join("relay.toml");
        std::fs::write(&file, MINIMAL).unwrap();
        let s = load_from(Some(&file), None, &absent).unwrap();
        assert_eq!(s.source, ConfigSource::File(file.clone()));
        assert!(!s.sandbox_mode() && s.metrics.require_token);
        jail.set_env(CONFIG_ENV, file.display());
        assert_eq!(
            Settings::load(None).unwrap().source,
            ConfigSource::File(file)
        );
        jail.set_env(CONFIG_ENV, dir.path().join("missing.toml").display());
        let errors = Settings::load(None).unwrap_err();
        assert!(
            errors
                .get(CONFIG_ENV)
                .unwrap()
                .message
                .contains("missing.toml"),
            "{errors}"
        );
        // A TOML syntax error names the file, on one line.
        let broken = dir.path().join("broken.toml");
        std::fs::write(&broken, "[server\nlisten = 1").unwrap();
        let errors = load_from(Some(&broken), None, &absent).unwrap_err();
        assert_eq!(
            (errors.0.len(), errors.to_string().lines().count()),
            (1, 1),
            "{errors}"
        );
        assert!(
            errors.0[0].key.contains("broken.toml") && errors.0[0].message.contains("line 1"),
            "{errors}"
        );
    });
}

#[test]
fn environment_overrides_the_file() {
    let env = [
        ("ENQUIRY_RELAY_CAREHQ__TIMEOUT", "5s"),
        ("ENQUIRY_RELAY_SYNC__RETRY_SCHEDULE", "1s, 5s"),
        (
            "ENQUIRY_RELAY_SERVER__TRUSTED_PROXIES",
            "[\"10.0.0.0/8\", \"192.168.0.0/16\"]",
        ),
        // Digits only: must stay a string with its leading zeros, not become 1.
        (
            "ENQUIRY_RELAY_CAREHQ__ACCOUNT_ID",
            "000000000000000000000001",
        ),
        ("ENQUIRY_RELAY_CAREHQ__API_KEY", "12345"),
        ("ENQUIRY_RELAY_SYNC__CONCURRENCY", "8"),
        // Names the file, never a key: must not be refused as unknown.
        (CONFIG_ENV, "/does/not/matter.toml"),
        // Blank is unset; the [log] key may be set like any other.
        ("ENQUIRY_RELAY_LOG_FORMAT", ""),
        ("ENQUIRY_RELAY_LOG__FORMAT", "json"),
    ];
    let s = load("", &env).unwrap();
    assert_eq!(s.carehq.timeout, Duration::from_secs(5));
    // The lease and shutdown grace defaults follow the overridden timeout.
    assert_eq!(
        (s.sync.lease, s.sync.shutdown_grace),
        (Duration::from_secs(35), Duration::from_secs(10))
    );
    assert_eq!(
        s.sync.retry_schedule,
        [Duration::from_secs(1), Duration::from_secs(5)]
    );
    assert_eq!(s.server.trusted_proxies.len(), 2);
    assert_eq!(s.carehq.account_id, "000000000000000000000001");
    assert_eq!(s.carehq.api_key.expose_secret(), "12345");
    assert_eq!((s.sync.concurrency, s.log.format), (8, LogFormat::Json));
    // ENQUIRY_RELAY_LOG_FORMAT, read before the config existed, wins over [log].
    let s = load(
        "[log]\nformat = \"text\"\n",
        &[("ENQUIRY_RELAY_LOG_FORMAT", "json")],
    )
    .unwrap();
    assert_eq!(s.log.format, LogFormat::Json, "the variable wins");
}

#[test]
fn secrets_can_come_from_files_losing_one_newline() {
    let env = [
        ("file:api_secret", "from-docker-secret\n"),
        ("file:db", "postgres://relay:db-pass@db.internal/relay\n"),
        ("file:token", "staff-token-value-0123456789abcdef"),
        // Editors and `echo` add one newline; a second one is the secret's.
        ("file:two", "s3cret\n\n"),
        ("file:crlf", "s3cret\r\n"),
        ("file:site", "site-key\n"),
        ("file:partner", "0123456789abcdef0123456789abcdef\n"),
        ("ENQUIRY_RELAY_CAREHQ__API_SECRET_FILE", "api_secret"),
        ("ENQUIRY_RELAY_DATABASE__URL_FILE", "db"),
        ("ENQUIRY_RELAY_STAFF__TOKEN_FILE", "token"),
    ];
    let toml = format!(
        "{}[captcha]\nprovider = \"altcha\"\nsecret_file = \"two\"\n",
        MINIMAL.replace("api_secret = \"live-secret-value\"", "")
    );
    // A site's own [sites.captcha] and partner read their _file too.
    let site = "[sites.captcha]\nprovider = \"altcha\"\nsecret_file = \"site\"\n\
                [sites.partners.helparound]\ntoken_file = \"partner\"\n";
    let s = load(&format!("#full\n{toml}[[sites]]\nslug = \"b\"\nname = \"B\"\nlocation = \"6724fbc74f73a2cebf6377fb\"\n{site}"), &env).unwrap();
    assert_eq!(s.carehq.api_secret.expose_secret(), "from-docker-secret");
    assert_eq!(
        s.database.url.expose_secret(),
        "postgres://relay:db-pass@db.internal/relay"
    );
    assert_eq!(
        s.staff.token.unwrap().expose_secret(),
        "staff-token-value-0123456789abcdef"
    );
    assert_eq!(s.captcha.secret.unwrap().expose_secret(), "s3cret\n");
    let own = s.sites[1].captcha.as_ref().unwrap();
    assert_eq!(own.secret.as_ref().unwrap().expose_secret(), "site-key");
    let partner = s.sites[1].partners.helparound.as_ref().unwrap();
    assert_eq!(
        partner.token.as_ref().map(|t| t.expose_secret()),
        Some(LONG_TOKEN)
    );
    let crlf = load(
        "[captcha]\nprovider = \"altcha\"\nsecret_file = \"crlf\"\n",
        &env[4..5],
    )
    .unwrap();
    assert_eq!(crlf.captcha.secret.unwrap().expose_secret(), "s3cret");
}

#[test]
fn debug_output_hides_every_secret_and_the_database_password() {
    let toml = r#"#full
[database]
url = "postgres://relay:db-password-123@db.internal:5432/relay"
[carehq]
account_id = "0123456789abcdef01234567"
api_key = "api-key-456"
api_secret = "api-secret-789"
[staff]
token = "staff-token-abc-0123456789abcdef0123"
[captcha]
provider = "turnstile"
site_key = "public-site-key"
secret = "captcha-secret-def"
[alerts]
webhook_url = "https://hooks.example.com/T0/hunter2"
smtp_url = "smtps://u:pa55word@smtp.example.com:465"
email_from = "Relay <relay@example.com>"
email_to = "a@example.com, b@example.com"
[sentry]
dsn = "https://hunter2key@o1.ingest.sentry.io/42"
environment = "staging"
[[sites]]
slug = "a"
name = "A"
location = "6724fbc74f73a2cebf6377fa"
"#;
    let s = ok(toml);
    let debug = format!("{s:?}");
    for secret in [
        "db-password-123",
        "relay:",
        "api-key-456",
        "api-secret-789",
        "staff-token-abc-0123456789abcdef0123",
        "captcha-secret-def",
        "hunter2",
        "pa55word",
        "hunter2key",
    ] {
        assert!(!debug.contains(secret), "{secret} leaked in {debug}");
    }
    assert!(
        debug.contains("postgres://db.internal:5432/…") && debug.contains("public-site-key"),
        "{debug}"
    );
    assert_eq!(s.database.redacted_url(), "postgres://db.internal:5432/…");
    assert_eq!(s.alerts.email_to.len(), 2);
    assert!(s.sentry.dsn.is_some());
    assert_eq!(s.sentry.environment.as_deref(), Some("staging"));
}

#[test]
fn a_site_captcha_table_overrides_the_global_one_key_by_key() {
    let s = ok(
        "[sites.captcha]\nprovider = \"hcaptcha\"\nsecret = \"site-secret\"\n[captcha]\nprovider = \"turnstile\"\n\
                site_key = \"global-key\"\nsecret = \"global-secret\"\non_error = \"hold\"\n",
    );
    let own = s.site("upton-court").unwrap().captcha(&s.captcha);
    assert_eq!(own.provider, CaptchaProvider::Hcaptcha);
    assert_eq!(own.secret.as_ref().unwrap().expose_secret(), "site-secret");
    assert_eq!(own.site_key.as_deref(), Some("global-key"));
    assert_eq!(own.on_error, OnCaptchaError::Hold);
    assert_eq!(s.captcha.provider, CaptchaProvider::Turnstile);
}

#[test]
fn site_tables_are_read() {
    let s = ok(&format!(
        "intro = \"Hello\"\nconsent_text = \"I agree\"\nconsent_version = \"v2\"\n\
         hidden_fields = [\"funding_type\", \"phone\"]\n[sites.labels]\nphone = \"Telephone\"\n\
         {HELPAROUND}{WHSEC}\n[sites.visits]\nenabled = true\nmonday = [\"10:00-12:00\"]\n"
    ));
    let site = &s.sites[0];
    let form = &site.form;
    assert_eq!(form.intro.as_deref(), Some("Hello"));
    assert_eq!(form.consent_text.as_deref(), Some("I agree"));
    assert_eq!(form.consent_version.as_deref(), Some("v2"));
    assert!(!form.shows("funding_type") && !form.shows("phone") && form.shows("email"));
    assert_eq!(
        (form.label("phone"), form.label("email")),
        (Some("Telephone"), None)
    );
    assert!(site.partners.helparound.is_some());
    // Visits take defaults for what is left out.
    let visits = site.visits.clone().unwrap();
    assert_eq!(visits.time_zone_name, "Europe/London");
    assert_eq!(
        (visits.slot_length, visits.notice),
        (Duration::from_secs(1800), Duration::from_secs(86_400))
    );
    assert_eq!(
        (visits.days_ahead, visits.capacity, visits.host.as_str()),
        (14, 1, "manager")
    );
    assert_eq!(visits.visit_types, ["in_person", "virtual"]);
    assert!(visits.hours[0].len() == 1 && visits.hours[1].is_empty());
}

#[test]
fn a_long_staff_token_is_kept() {
    let s = ok(&format!("[staff]\ntoken = \"{LONG_TOKEN}\"\n"));
    assert_eq!(s.staff.token.unwrap().expose_secret(), LONG_TOKEN);
}

#[test]
fn a_shutdown_grace_shorter_than_the_carehq_timeout_is_warned_about_not_refused() {
    let s = ok("[sync]\nshutdown_grace = \"2m\"\n");
    assert!(s.warnings().is_empty(), "{:?}", s.warnings());
    let s = ok("[sync]\nshutdown_grace = \"10s\"\n");
    // Honoured: the orchestrator's kill deadline may be what it is.
    assert_eq!(s.sync.shutdown_grace, Duration::from_secs(10));
    let warnings = s.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    for part in [
        "sync.shutdown_grace",
        "carehq.timeout",
        "duplicate",
        "at least \"35s\"",
    ] {
        assert!(warnings[0].contains(part), "{}", warnings[0]);
    }
}

#[test]
fn the_example_file_loads_once_credentials_are_set() {
    let filled = EXAMPLE
        .replacen(
            "account_id = \"\"",
            "account_id = \"0123456789abcdef01234567\"",
            1,
        )
        .replacen("api_key = \"\"", "api_key = \"example-key\"", 1)
        .replacen("api_secret = \"\"", "api_secret = \"example-secret\"", 1);
    assert_ne!(filled, EXAMPLE, "the example's credential lines changed");
    jail(|jail| {
        jail.create_file("enquiry-relay.toml", &filled).unwrap();
        let s = Settings::load(Some(Path::new("enquiry-relay.toml"))).unwrap();
        assert_eq!(s.carehq.api_key.expose_secret(), "example-key");
        let site = s.site("upton-court").unwrap();
        assert_eq!(site.allowed_origins, ["https://example-care.co.uk"]);
        assert_eq!(s.server.body_limit, 65_536);
        assert!(s.warnings().is_empty(), "{:?}", s.warnings());
    });
    // As shipped, the only problems are the credentials left for the operator.
    let errors = load(&format!("#full\n{EXAMPLE}"), &[]).unwrap_err();
    let keys: Vec<&str> = errors.0.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        ["carehq.account_id", "carehq.api_key", "carehq.api_secret"]
    );
}

#[test]
fn the_example_file_documents_every_key() {
    // The "unknown key" message lists a section's keys; ask each section.
    let probe = "#full\n[server]\nzz = 1\n[database]\nzz = 1\n[carehq]\nzz = 1\n[sync]\nzz = 1\n\
             [staff]\nzz = 1\n[captcha]\nzz = 1\n[spam]\nzz = 1\n[rate_limit]\nzz = 1\n\
             [status]\nzz = 1\n[metrics]\nzz = 1\n[retention]\nzz = 1\n[alerts]\nzz = 1\n[sentry]\nzz = 1\n[log]\nzz = 1\n\
             [[sites]]\nzz = 1\n[[sites]]\n[sites.defaults]\nzz = 1\n[[sites]]\n[sites.captcha]\nzz = 1\n\
             [[sites]]\n[sites.visits]\nzz = 1\n[[sites]]\n[sites.partners.helparound]\nzz = 1\n";
    let errors = load(probe, &[]).unwrap_err();
    let mut checked = 0;
    for error in &errors.0 {
        let Some((_, list)) = error.message.split_once("expected one of: ") else {
            continue;
        };
        for key in list.trim_end_matches(')').split(", ") {
            let documented = (EXAMPLE.lines())
                .map(|l| l.trim_start_matches('#').trim_start())
                .any(|l| {
                    l.starts_with(&format!("{key} =")) || l.starts_with(&format!("[sites.{key}]"))
                });
            assert!(
                documented,
                "{key} ({}) is not in the example file",
                error.key
            );
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} keys found:\n{errors}");
}
