//! Tests of the whole load path: file or text, environment, `_file` secrets,
//! validation, defaults, redaction and the shipped example file. Every load
//! runs in a `figment::Jail`, because settings read the process environment.
//! Problems are checked from one table (`PROBLEMS`), a row per configuration.

use std::path::Path;

use secrecy::ExposeSecret;

use super::test_env::jail;
use super::*;
use crate::sandbox::seed;
use crate::values::Rate;

/// Smallest valid non-sandbox configuration; rows and tests append to its site.
pub(super) const MINIMAL: &str = r#"
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
    // A site's field mapped onto a field we do not have: every one we have is named.
    ("[sites.fields]\nyour-email = \"mail\"", &[], &[
        ("sites[0].fields", "\"mail\" is not one of our fields; expected one of: name, first_name, last_name, \
          email, phone, care_requirements, service, funding_type, enquiring_for_self, consent, \
          visit_date_time, visit_type")]),
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
    // Every scalar is read as text, so a number still reaches the duration check; a table does not.
    ("[server]\nrequest_timeout = 30\nlisten = { ip = \"127.0.0.1\" }", &[], &[
        ("server.request_timeout", "\"30\" has no unit"), ("server.listen", "found a table, expected a string")]),
    ("[staff]\ntoken = \"s3cret-but-short\"", &[], &[
        ("staff.token", "32"), ("staff.token", "openssl rand -hex 32"), ("-", "s3cret-but-short")]),
    // A token read from a file is held to the same rule.
    ("", &[("file:token", "short\n"), ("ENQUIRY_RELAY_STAFF__TOKEN_FILE", "token")], &[("?", "staff.token")]),
    ("[database]\nurl = \"sqlite::memory:\"", &[], &[("database.url", "sqlite://data/enquiry-relay.db")]),
    ("[database]\nurl = \"sqlite://:memory:\"", &[], &[("database.url", "sqlite://data/enquiry-relay.db")]),
    ("[database]\nurl = \"sqlite://?mode=memory\"", &[], &[("database.url", "sqlite://data/enquiry-relay.db")]),
    ("[database]\nurl = \"sqlite://data/relay.db?mode=memory&cache=shared\"", &[], &[("database.url", "sqlite://data/enquiry-relay.db")]),
    ("[database]\nurl = \"sqlite://\"", &[], &[("database.url", "sqlite://data/enquiry-relay.db")]),
    // A staff read must end in the database before its request is given up.
    ("[database]\nstaff_statement_timeout = \"30s\"\nstaff_connections = 0", &[], &[
        ("database.staff_statement_timeout", "shorter than server.request_timeout (\"30s\")"),
        ("database.staff_statement_timeout", "e.g. \"25s\""), ("database.staff_connections", "from 1 to 100"), ("#", "2")]),
    ("[database]\nstaff_statement_timeout = \"0s\"\n[server]\nrequest_timeout = \"1m\"", &[], &[
        ("database.staff_statement_timeout", "longer than zero")]),
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
    ("[retention]\nsynced = \"0s\"\nspam = \"soon\"\nfailed = \"0s\"\nkeep = 1\n[status]\nfailed_is_degraded = \"sometimes\"\nmax_pending_age = \"\"",
      &[("ENQUIRY_RELAY_RETENTION__HELD", "30")], &[
        ("retention.synced", "longer than zero"), ("retention.spam", "\"soon\" is not a duration"),
        ("retention.failed", "longer than zero"),
        ("retention.keep", "unknown key"), ("retention.held", "add one"),
        ("retention.held", "(set by ENQUIRY_RELAY_RETENTION__HELD)"),
        ("status.failed_is_degraded", "expected true or false"), ("!", "status.max_pending_age"), ("#", "6")]),
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
    ("[sites.labels]\nphon = \"Telephone\"", &[], &[("sites[0].labels.phon", "unknown key"), ("sites[0].labels.phon", "first_name, last_name")]),
    ("[sites.visits]\nenabled = true\ntime_zone = \"Mars/Olympus\"\nmonday = [\"9-5\"]\nslot_length = \"7s\"\n\
      closed_dates = [\"25/12/2026\"]\nhost = \"matron\"\nvisit_types = [\"phone\"]\ncapacity = 0", &[], &[
        ("?", "sites[0].visits.time_zone sites[0].visits.monday[0] sites[0].visits.slot_length \
               sites[0].visits.closed_dates[0] sites[0].visits.host sites[0].visits.visit_types[0] \
               sites[0].visits.capacity")]),
];

/// Every section's mistakes at once (`PROBLEMS`' fourth row).
const EVERYTHING_WRONG: &str = r#"#full
server = { listen = "localhost", trusted_proxies = ["10.0.0.0/33"], body_limit = "64 kilobytes", request_timeout = "soon", public_url = "forms.example.com" }
database = { url = "mysql://root:hunter2@db/relay", max_connections = 0 }
carehq = { base_url = "ftp://api.carehq.dev", timeout = "40s" }
sync = { retry_schedule = ["10s", "5"], poll_interval = "0s", concurrency = 65, lease = "40s" }
captcha = { provider = "turnstile", verify_url = "not a url", on_error = "ignore" }
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
defaults = { funding_type = "nhs", enquiring_for_self = "perhaps" }
[[sites]]
slug = "dup"
name = "One"
location = "6724fbc74f73a2cebf6377fa"
[[sites]]
slug = "dup"
name = "Two"
location = "6724fbc74f73a2cebf6377fb"
defaults = { service = "residential_home" }
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
        "[captcha]\nmin_score = 0.7\n[database]\nmax_connections = 16\n",
        "[database]\nstaff_connections = 100\nstaff_statement_timeout = \"29s\"\n",
        "[database]\nstaff_statement_timeout = \"50s\"\n[server]\nrequest_timeout = \"1m\"\n",
        &format!("{turnstile}timeout = \"9s\"\n[server]\nrequest_timeout = \"10s\"\n"),
        // ALTCHA makes no call, so its timeout does not matter.
        "[captcha]\nprovider = \"altcha\"\nsecret = \"s\"\ntimeout = \"5s\"\n[server]\nrequest_timeout = \"1s\"\n",
    ] {
        ok(toml);
    }
}

/// Asserts each `value => "its Debug rendering"` (so `"30s"` for a
/// duration, `"\"x\""` for a string), naming the value that differs.
macro_rules! values {
    ($($value:expr => $debug:expr),+ $(,)?) => {$(
        assert_eq!(format!("{:?}", $value), $debug, "{}", stringify!($value));
    )+};
}

#[test]
fn defaults_fill_every_unset_key() {
    let s = ok("");
    let (server, sync, captcha, site) = (&s.server, &s.sync, &s.captcha, &s.sites[0]);
    let retention = &s.retention;
    values! {
        (server.listen, &server.trusted_proxies, server.body_limit) => "(127.0.0.1:8080, [], 65536)",
        (server.request_timeout, &server.public_url, server.client_ip_header) => "(30s, None, XForwardedFor)",
        (s.database.url.expose_secret(), s.database.max_connections) => r#"("sqlite://data/enquiry-relay.db", 8)"#,
        // The staff pool's statement timeout follows server.request_timeout:
        // 5 s under it, never less than half of it.
        (s.database.staff_connections, s.staff_statement_timeout()) => "(2, 25s)",
        (ok("[server]\nrequest_timeout = \"2m\"").staff_statement_timeout(), ok("[server]\nrequest_timeout = \"6s\"").staff_statement_timeout()) => "(115s, 3s)",
        (s.sandbox_mode(), &s.carehq.base_url, &s.carehq.account_id) => r#"(false, "https://api.carehq.dev", "0123456789abcdef01234567")"#,
        (s.carehq.api_secret.expose_secret(), s.carehq.timeout) => r#"("live-secret-value", 30s)"#,
        sync.retry_schedule => "[10s, 60s, 300s, 900s, 1800s, 3600s, 7200s, 14400s, 28800s, 43200s, 86400s]",
        (sync.poll_interval, sync.concurrency, sync.pause_probe_interval) => "(30s, 4, 300s)",
        // A send started just before shutdown may take all of carehq.timeout;
        // the margin leaves time to record its outcome.
        (s.lease(), s.shutdown_grace()) => "(60s, 35s)",
        (s.staff.token.is_none(), captcha.provider, captcha.on_error) => "(true, None, Accept)",
        (captcha.secret.is_none(), &captcha.site_key, captcha.min_score, captcha.timeout) => "(true, None, 0.5, 10s)",
        (&s.source, s.spam.min_fill_time, s.spam.max_token_age, s.spam.token_secret.is_none()) => "(Inline, 3s, 86400s, true)",
        (s.rate_limit.per_ip, s.rate_limit.per_site) => format!("({:?}, {:?})", Rate::parse("10/10m").unwrap(), Rate::parse("300/1h").unwrap()),
        s.rate_limit.per_site_held => format!("{:?}", Rate::parse("20/1h").unwrap()),
        s.rate_limit.max_tracked_addresses => "100000",
        (s.status.max_pending_age, s.status.failed_is_degraded) => "(1800s, true)",
        (retention.synced, retention.spam, retention.held, retention.interval) => "(2592000s, 604800s, 2592000s, 86400s)",
        retention.failed => "7776000s",
        (s.alerts.webhook_url.is_none(), s.alerts.smtp_url.is_none(), s.sentry.dsn.is_none(), s.log.format) => "(true, true, true, Text)",
        // A config given as a file or text is not the built-in sandbox, even
        // with carehq.sandbox = true: /metrics asks for the staff token.
        (s.metrics.require_token, ok(SANDBOX).metrics.require_token, s.warnings()) => "(true, true, [])",
        (&site.name, site.untrusted_source, &site.allowed_origins, &site.services) => r#"("Upton Court", true, [], [])"#,
        (&site.referrer, &site.defaults.funding_type, &site.honeypot_field) => r#"(None, None, "website")"#,
        (site.require_time_token, site.captcha.is_none(), site.visits().is_none(), s.site("nope").is_none()) => "(false, true, true, true)",
    }
    let derived = super::secrets::derive_time_token_key(&s.carehq.api_secret);
    assert_eq!(s.spam.initial_key.expose_secret(), derived.expose_secret());
    assert!(!format!("{:?}", s.spam).contains(s.spam.initial_key.expose_secret()));
}

#[test]
fn values_are_parsed_and_normalised() {
    let toml = r#"#full
server = { listen = "0.0.0.0:9000", trusted_proxies = ["10.1.2.3/8", "172.18.0.2", "::1"], body_limit = 1048576, public_url = "https://forms.example.com/", client_ip_header = "FORWARDED" }
database = { url = "postgres://relay:pw@db/relay" }
carehq = { sandbox = true, base_url = "http://127.0.0.1:4000/", timeout = "500ms" }
sync = { retry_schedule = ["1s", "2m"], lease = "6s" }
captcha = { provider = "altcha", secret = "hmac-key", on_error = "hold" }
rate_limit = { max_tracked_addresses = 500 }
metrics = { require_token = false }
log = { format = "JSON" }
[[sites]]
slug = "a"
name = "A"
location = "6724FBC74F73A2CEBF6377FA"
referrer = "640F0F17F9B7E9EC6079FA16"
allowed_origins = ["https://Example-Care.co.uk", "https://example-care.co.uk:443"]
services = ["residential_home", "nursing_home"]
untrusted_source = false
defaults = { service = "nursing_home", enquiring_for_self = true }
"#;
    let s = ok(toml);
    let (server, site) = (&s.server, &s.sites[0]);
    let proxies: Vec<String> = server
        .trusted_proxies
        .iter()
        .map(ToString::to_string)
        .collect();
    let turnstile = "[captcha]\nprovider = \"turnstile\"\nsite_key = \"1x00000000000000000000AA\"\n\
                     secret = \"1x0000000000000000000000000000000AA\"\n";
    values! {
        (server.listen, proxies, server.body_limit) => r#"(0.0.0.0:9000, ["10.0.0.0/8", "172.18.0.2/32", "::1/128"], 1048576)"#,
        ok("[server]\nbody_limit = \"1KiB\"\n").server.body_limit => "1024",
        (&server.public_url, server.client_ip_header) => r#"(Some("https://forms.example.com"), Forwarded)"#,
        (s.database.is_postgres(), &s.carehq.base_url, &s.sync.retry_schedule) => r#"(true, "http://127.0.0.1:4000", [1s, 120s])"#,
        (s.captcha.provider, s.captcha.on_error, s.rate_limit.max_tracked_addresses) => "(Altcha, Hold, 500)",
        (s.metrics.require_token, s.log.format) => "(false, Json)",
        (site.location.as_str(), site.referrer.as_deref()) => r#"("6724fbc74f73a2cebf6377fa", Some("640f0f17f9b7e9ec6079fa16"))"#,
        (site.untrusted_source, &site.defaults.service, site.defaults.enquiring_for_self) => r#"(false, Some("nursing_home"), Some(true))"#,
        // Sandbox mode needs no credentials and uses the seed.
        (s.sandbox_mode(), &s.carehq.account_id, s.carehq.api_key.expose_secret(), s.carehq.api_secret.expose_secret())
            => format!("(true, {:?}, {:?}, {:?})", seed::ACCOUNT_ID, seed::API_KEY, seed::API_SECRET),
        ok(turnstile).captcha.provider => "Turnstile",
    }
    assert_eq!(site.allowed_origins, ["https://example-care.co.uk"]);
}

#[test]
fn the_built_in_sandbox_applies_when_there_is_no_file_and_named_files_are_read() {
    jail(|jail| {
        let dir = tempfile::tempdir().unwrap();
        let absent = dir.path().join("enquiry-relay.toml");
        let s = load_from(None, None, &absent).unwrap();
        let demo = s.site(DEMO_SLUG).unwrap();
        // Two demo homes of two demo accounts.
        let partner = s.site(seed::PARTNER_SLUG).unwrap();
        values! {
            (&s.source, s.sandbox_mode(), s.metrics.require_token, s.sites.len()) => "(BuiltInSandbox, true, false, 2)",
            (s.accounts.len(), partner.account.as_str()) => format!("(2, {:?})", seed::PARTNER_ACCOUNT),
            (s.carehq.api_secret.expose_secret(), s.database.url.expose_secret())
                => format!("({:?}, \"sqlite://data/enquiry-relay.db\")", seed::API_SECRET),
            (&demo.name, demo.location.as_str(), &demo.sales_channel.as_deref())
                => format!("(\"Demo Care Home\", {:?}, Some({:?}))", seed::DEMO_LOCATION, seed::DEMO_SALES_CHANNEL),
            (&demo.defaults.service, &demo.defaults.funding_type) => r#"(Some("residential_home"), Some("not_sure"))"#,
        }
        // The environment still applies on top of the built-in defaults.
        jail.set_env("ENQUIRY_RELAY_SERVER__LISTEN", "0.0.0.0:8081");
        let s = load_from(None, None, &absent).unwrap();
        values! { (s.server.listen, s.sandbox_mode()) => "(0.0.0.0:8081, true)" }

        let file = dir.path().join("relay.toml");
        std::fs::write(&file, MINIMAL).unwrap();
        let s = load_from(Some(&file), None, &absent).unwrap();
        let from_file = format!("{:?}", ConfigSource::File(file.clone()));
        values! { (&s.source, s.sandbox_mode(), s.metrics.require_token) => format!("({from_file}, false, true)") }
        jail.set_env(CONFIG_ENV, file.display());
        values! { Settings::load(None).unwrap().source => from_file }
        jail.set_env(CONFIG_ENV, dir.path().join("missing.toml").display());
        let errors = Settings::load(None).unwrap_err();
        let missing = errors.get(CONFIG_ENV).map(|e| e.message.as_str());
        assert!(
            missing.unwrap_or_default().contains("missing.toml"),
            "{errors}"
        );
        // A TOML syntax error names the file, on one line.
        let broken = dir.path().join("broken.toml");
        std::fs::write(&broken, "[server\nlisten = 1").unwrap();
        let errors = load_from(Some(&broken), None, &absent).unwrap_err();
        let (key, message) = (&errors.0[0].key, &errors.0[0].message);
        values! { (errors.0.len(), errors.to_string().lines().count()) => "(1, 1)" }
        assert!(
            key.contains("broken.toml") && message.contains("line 1"),
            "{errors}"
        );
    });
}

#[rustfmt::skip]
const ENV: &[(&str, &str)] = &[
    ("ENQUIRY_RELAY_CAREHQ__TIMEOUT", "5s"),
    ("ENQUIRY_RELAY_SYNC__RETRY_SCHEDULE", "1s, 5s"),
    ("ENQUIRY_RELAY_SERVER__TRUSTED_PROXIES", "[\"10.0.0.0/8\", \"192.168.0.0/16\"]"),
    // Digits only: must stay a string with its leading zeros, not become 1.
    ("ENQUIRY_RELAY_CAREHQ__ACCOUNT_ID", "000000000000000000000001"),
    ("ENQUIRY_RELAY_CAREHQ__API_KEY", "12345"),
    ("ENQUIRY_RELAY_SYNC__CONCURRENCY", "8"),
    // Names the file, never a key: must not be refused as unknown.
    (CONFIG_ENV, "/does/not/matter.toml"),
    // Blank is unset; the [log] key may be set like any other.
    ("ENQUIRY_RELAY_LOG_FORMAT", ""),
    ("ENQUIRY_RELAY_LOG__FORMAT", "json"),
];

#[test]
fn environment_overrides_the_file() {
    let s = load("", ENV).unwrap();
    let sync = &s.sync;
    values! {
        // The lease and shutdown grace defaults follow the overridden timeout.
        (s.carehq.timeout, s.lease(), s.shutdown_grace(), &sync.retry_schedule) => "(5s, 35s, 10s, [1s, 5s])",
        (s.server.trusted_proxies.len(), &s.carehq.account_id) => r#"(2, "000000000000000000000001")"#,
        (s.carehq.api_key.expose_secret(), sync.concurrency, s.log.format) => r#"("12345", 8, Json)"#,
    }
    // ENQUIRY_RELAY_LOG_FORMAT, read before the config existed, wins over [log].
    let s = load(
        "[log]\nformat = \"text\"\n",
        &[("ENQUIRY_RELAY_LOG_FORMAT", "json")],
    );
    values! { s.unwrap().log.format => "Json" }
}

#[rustfmt::skip]
const SECRET_FILES: &[(&str, &str)] = &[
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

#[test]
fn secrets_can_come_from_files_losing_one_newline() {
    let carehq = MINIMAL.replace("api_secret = \"live-secret-value\"", "");
    // A site's own [sites.captcha] and partner read their _file too.
    let toml = format!(
        "#full\n{carehq}[captcha]\nprovider = \"altcha\"\nsecret_file = \"two\"\n[[sites]]\nslug = \"b\"\n\
         name = \"B\"\nlocation = \"6724fbc74f73a2cebf6377fb\"\n[sites.captcha]\nprovider = \"altcha\"\n\
         secret_file = \"site\"\n{HELPAROUND}token_file = \"partner\"\n"
    );
    let s = load(&toml, SECRET_FILES).unwrap();
    let own = s.sites[1].captcha.as_ref().and_then(|c| c.secret.as_ref());
    let partner = s.sites[1]
        .partners
        .helparound
        .as_ref()
        .and_then(|p| p.token.as_ref());
    let crlf = load(
        "[captcha]\nprovider = \"altcha\"\nsecret_file = \"crlf\"\n",
        &SECRET_FILES[4..5],
    )
    .unwrap();
    let shown =
        |secret: Option<&secrecy::SecretString>| secret.map(|s| s.expose_secret().to_owned());
    values! {
        (s.carehq.api_secret.expose_secret(), s.database.url.expose_secret())
            => r#"("from-docker-secret", "postgres://relay:db-pass@db.internal/relay")"#,
        shown(s.staff.token.as_ref()) => r#"Some("staff-token-value-0123456789abcdef")"#,
        (shown(s.captcha.secret.as_ref()), shown(crlf.captcha.secret.as_ref())) => r#"(Some("s3cret\n"), Some("s3cret"))"#,
        (shown(own), shown(partner)) => format!("(Some(\"site-key\"), Some({LONG_TOKEN:?}))"),
    }
}

#[test]
fn debug_output_hides_every_secret_and_the_database_password() {
    let toml = r#"#full
database = { url = "postgres://relay:db-password-123@db.internal:5432/relay" }
carehq = { account_id = "0123456789abcdef01234567", api_key = "api-key-456", api_secret = "api-secret-789" }
staff = { token = "staff-token-abc-0123456789abcdef0123" }
captcha = { provider = "turnstile", site_key = "public-site-key", secret = "captcha-secret-def" }
sentry = { dsn = "https://hunter2key@o1.ingest.sentry.io/42", environment = "staging" }
[alerts]
webhook_url = "https://hooks.example.com/T0/hunter2"
smtp_url = "smtps://u:pa55word@smtp.example.com:465"
email_from = "Relay <relay@example.com>"
email_to = "a@example.com, b@example.com"
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
    for shown in ["postgres://db.internal:5432/…", "public-site-key"] {
        assert!(debug.contains(shown), "{shown} not in {debug}");
    }
    values! {
        s.database.redacted_url() => r#""postgres://db.internal:5432/…""#,
        (s.alerts.email_to.len(), s.sentry.dsn.is_some(), &s.sentry.environment) => r#"(2, true, Some("staging"))"#,
    }
}

#[test]
fn site_tables_are_read() {
    let s = ok(&format!(
        "intro = \"Hello\"\nconsent_text = \"I agree\"\nconsent_version = \"v2\"\n\
         hidden_fields = [\"funding_type\", \"phone\"]\n[sites.labels]\nphone = \"Telephone\"\n\
         {HELPAROUND}{WHSEC}\n[sites.visits]\nenabled = true\nmonday = [\"10:00-12:00\"]\n"
    ));
    let (site, form) = (&s.sites[0], &s.sites[0]);
    let visits = site.visits().unwrap();
    let hours = [0, 1, 2, 3, 4, 5, 6].map(|day| visits.hours(day).len());
    let shows = ["funding_type", "phone", "email"].map(|f| form.shows(f));
    values! {
        (&form.intro, &form.consent_text, &form.consent_version) => r#"(Some("Hello"), Some("I agree"), Some("v2"))"#,
        (shows, form.label("phone"), form.label("email")) => r#"([false, false, true], Some("Telephone"), None)"#,
        site.partners.helparound.is_some() => "true",
        // Visits take defaults for what is left out.
        (&visits.time_zone.name, visits.slot_length, visits.notice) => r#"("Europe/London", 1800s, 86400s)"#,
        (visits.days_ahead, visits.capacity, &visits.host, &visits.visit_types)
            => r#"(14, 1, "manager", ["in_person", "virtual"])"#,
        hours => "[1, 0, 0, 0, 0, 0, 0]",
    }
}

#[test]
fn a_site_captcha_table_overrides_the_global_one_key_by_key_and_a_long_token_is_kept() {
    let s = ok(&format!(
        "[sites.captcha]\nprovider = \"hcaptcha\"\nsecret = \"site-secret\"\n[captcha]\n\
         provider = \"turnstile\"\nsite_key = \"global-key\"\nsecret = \"global-secret\"\n\
         on_error = \"hold\"\n[staff]\ntoken = \"{LONG_TOKEN}\"\n"
    ));
    let own = s.site("upton-court").unwrap().captcha(&s.captcha);
    let secret = own.secret.as_ref().map(|s| s.expose_secret());
    values! {
        (own.provider, secret, &own.site_key, own.on_error) => r#"(Hcaptcha, Some("site-secret"), Some("global-key"), Hold)"#,
        (s.captcha.provider, s.staff.token.as_ref().map(|t| t.expose_secret())) => format!("(Turnstile, Some({LONG_TOKEN:?}))"),
    }
}

#[test]
fn an_edit_before_the_checks_is_held_to_them_and_derived_values_follow_it() {
    let edited = |edit: fn(&mut Settings)| {
        let mut result = None;
        jail(|_| result = Some(Settings::from_toml_str_edited(MINIMAL, edit)));
        result.expect("the jail ran")
    };
    let s = edited(|s| s.carehq.timeout = std::time::Duration::from_secs(40)).unwrap();
    values! { (s.lease(), s.shutdown_grace(), s.accounts.len()) => "(70s, 45s, 1)" }
    let errors = edited(|s| s.sync.lease = Some(std::time::Duration::from_secs(10))).unwrap_err();
    assert!(errors.get("sync.lease").is_some(), "{errors}");
    let errors = edited(|s| s.spam.min_fill_time = s.spam.max_token_age).unwrap_err();
    assert!(errors.get("spam.max_token_age").is_some(), "{errors}");
}

#[test]
fn a_shutdown_grace_shorter_than_the_carehq_timeout_is_warned_about_not_refused() {
    values! { ok("[sync]\nshutdown_grace = \"2m\"\n").warnings() => "[]" }
    let s = ok("[sync]\nshutdown_grace = \"10s\"\n");
    // Honoured: the orchestrator's kill deadline may be what it is.
    let warnings = s.warnings();
    values! { (s.shutdown_grace(), warnings.len()) => "(10s, 1)" }
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
fn a_captcha_whose_host_name_cannot_be_checked_is_warned_about() {
    let captcha = "[captcha]\nprovider = \"turnstile\"\nsite_key = \"key\"\nsecret = \"s3cret\"\n";
    let warnings = ok(captcha).warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    for part in ["site upton-court", "server.public_url", "allowed_origins"] {
        assert!(warnings[0].contains(part), "{}", warnings[0]);
    }
    let public = ok(&format!(
        "[server]\npublic_url = \"https://forms.example.com\"\n{captcha}"
    ));
    assert!(public.warnings().is_empty(), "{:?}", public.warnings());
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
             [[sites]]\n[sites.visits]\nzz = 1\n[[sites]]\n[sites.partners.helparound]\nzz = 1\n\
             [[sites]]\n[[sites.webhooks]]\nzz = 1\n";
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
                    l.starts_with(&format!("{key} ="))
                        || l.starts_with(&format!("[sites.{key}]"))
                        || l.starts_with(&format!("[[sites.{key}]]"))
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

#[test]
fn messages_variable_names_redacted_urls_and_the_derived_key_are_as_documented() {
    let two = ConfigErrors(vec![
        ConfigError::new("sites[0].slug", "bad slug"),
        ConfigError::new("sync.concurrency", "out of range"),
    ]);
    let parser = "TOML parse error at line 1, column 8\n  |\n1 | [server\n  |        ^\n\
                  invalid table header\nexpected `.`, `]`\n";
    let redact = super::sections::redact_url;
    let key = |secret: &str| {
        let key = super::secrets::derive_time_token_key(&secret.into());
        key.expose_secret().to_owned()
    };
    values! {
        // One line per problem.
        two.to_string() => r#""sites[0].slug: bad slug\nsync.concurrency: out of range""#,
        (env_var_name("carehq.api_secret"), env_var_name("staff.token_file"))
            => r#"("ENQUIRY_RELAY_CAREHQ__API_SECRET", "ENQUIRY_RELAY_STAFF__TOKEN_FILE")"#,
        super::figment_errors::one_line(parser)
            => r#""TOML parse error at line 1, column 8; invalid table header; expected `.`, `]`""#,
        redact("postgres://relay:hunter2@db.internal:5432/relay?sslmode=require") => r#""postgres://db.internal:5432/…""#,
        (redact("postgresql://u:p@db/x"), redact("sqlite::memory:")) => r#"("postgresql://db/…", "sqlite:…")"#,
        redact("not a url p@ss") => r#""[unparsable URL, hidden]""#,
        // Pinned: databases created before keys were stored rely on it.
        key("a") => r#""a1138b8cba5602102a745e0957f69ba3bad631611a91d966c8a242c3204d8728""#,
        key("a") == key("b") => "false",
    }
}

#[test]
fn locate_prefers_the_flag_then_the_variable_then_the_default_file() {
    let dir = tempfile::tempdir().unwrap();
    let [flag, env, default, missing] =
        ["flag.toml", "env.toml", "enquiry-relay.toml", "nope.toml"].map(|f| dir.path().join(f));
    for path in [&flag, &env, &default] {
        std::fs::write(path, "").unwrap();
    }
    let locate = |flag: Option<&PathBuf>, env: Option<&PathBuf>| {
        super::sources::locate(flag.map(PathBuf::as_path), env.cloned(), &default)
    };
    let file = |path: &PathBuf| Ok(ConfigSource::File(path.clone()));
    assert_eq!(locate(Some(&flag), Some(&env)), file(&flag));
    assert_eq!(locate(None, Some(&env)), file(&env));
    assert_eq!(locate(None, None), file(&default));
    // A file asked for by name that does not exist is an error naming it.
    let errors = locate(Some(&missing), None).unwrap_err();
    assert_eq!(errors.0[0].key, "--config");
    assert!(errors.0[0].message.contains(&missing.display().to_string()));
    assert_eq!(
        locate(None, Some(&missing)).unwrap_err().0[0].key,
        CONFIG_ENV
    );
    std::fs::remove_file(&default).unwrap();
    assert_eq!(locate(None, None), Ok(ConfigSource::BuiltInSandbox));
}
