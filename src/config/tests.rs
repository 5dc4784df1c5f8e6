//! Tests of the whole load path: file or text, environment, `_file` secrets,
//! validation, defaults, redaction and the shipped example file. Every test
//! runs in a `figment::Jail`, because settings read the process environment.

use std::path::Path;
use std::time::Duration;

use secrecy::ExposeSecret;

use super::test_env::{jail, settings_from};
use super::*;
use crate::sandbox::seed;

/// Smallest valid non-sandbox configuration.
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

fn errors_of(result: Result<Settings, ConfigErrors>) -> ConfigErrors {
    match result {
        Ok(settings) => panic!("expected errors, got {settings:?}"),
        Err(errors) => errors,
    }
}

fn message<'a>(errors: &'a ConfigErrors, key: &str) -> &'a str {
    match errors.get(key) {
        Some(error) => &error.message,
        None => panic!("no error for {key}; got:\n{errors}"),
    }
}

/// The problem for each key contains its fragment.
fn assert_messages(errors: &ConfigErrors, wanted: &[(&str, &str)]) {
    for (key, fragment) in wanted {
        let text = message(errors, key);
        assert!(text.contains(fragment), "{key}: {text}\n{errors}");
    }
}

/// Every key (separated by whitespace) has a problem.
fn assert_keys(errors: &ConfigErrors, keys: &str) {
    for key in keys.split_whitespace() {
        assert!(
            errors.get(key).is_some(),
            "no error for {key}; got:\n{errors}"
        );
    }
}

fn write(dir: &Path, name: &str, contents: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn defaults_fill_every_unset_key() {
    let s = settings_from(MINIMAL).unwrap();

    assert_eq!(s.server.listen.to_string(), "127.0.0.1:8080");
    assert!(s.server.trusted_proxies.is_empty());
    assert_eq!(s.server.body_limit, 65_536);
    assert_eq!(s.server.request_timeout, Duration::from_secs(30));
    assert_eq!(s.server.public_url, None);
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
    assert_eq!(s.sync.poll_interval, Duration::from_secs(30));
    assert_eq!(s.sync.concurrency, 4);
    assert_eq!(s.sync.lease, Duration::from_secs(60));
    // A send started just before shutdown may take all of carehq.timeout;
    // the margin leaves time to record its outcome.
    assert_eq!(s.sync.shutdown_grace, Duration::from_secs(35));
    assert_eq!(s.sync.pause_probe_interval, Duration::from_secs(300));
    assert!(s.staff.token.is_none());
    assert_eq!(s.captcha.provider, CaptchaProvider::None);
    assert_eq!(s.captcha.on_error, OnCaptchaError::Accept);
    assert!(s.captcha.secret.is_none() && s.captcha.site_key.is_none());
    assert_eq!(s.source, ConfigSource::Inline);

    let site = s.site("upton-court").unwrap();
    assert_eq!(site.name, "Upton Court");
    assert!(site.untrusted_source);
    assert!(site.allowed_origins.is_empty() && site.services.is_empty());
    assert_eq!(site.referrer, None);
    assert_eq!(site.defaults.funding_type, None);
    assert!(s.site("nope").is_none());
}

#[test]
fn values_are_parsed_and_normalised() {
    let toml = r#"
[server]
listen = "0.0.0.0:9000"
trusted_proxies = ["10.1.2.3/8", "172.18.0.2", "::1"]
body_limit = 1048576
public_url = "https://forms.example.com/"

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
    let s = settings_from(toml).unwrap();
    let proxies: Vec<String> = s
        .server
        .trusted_proxies
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(proxies, ["10.0.0.0/8", "172.18.0.2/32", "::1/128"]);
    assert_eq!(s.server.body_limit, 1_048_576);
    assert_eq!(
        s.server.public_url.as_deref(),
        Some("https://forms.example.com")
    );
    assert!(s.database.is_postgres());
    assert_eq!(s.carehq.base_url, "http://127.0.0.1:4000");
    assert_eq!(
        s.sync.retry_schedule,
        [Duration::from_secs(1), Duration::from_secs(120)]
    );
    assert_eq!(s.captcha.provider, CaptchaProvider::Altcha);
    assert_eq!(s.captcha.on_error, OnCaptchaError::Hold);
    let site = &s.sites[0];
    assert_eq!(site.location, "6724fbc74f73a2cebf6377fa");
    assert_eq!(site.referrer.as_deref(), Some("640f0f17f9b7e9ec6079fa16"));
    assert_eq!(site.allowed_origins, ["https://example-care.co.uk"]);
    assert!(!site.untrusted_source);
    assert_eq!(site.defaults.service.as_deref(), Some("nursing_home"));
    assert_eq!(site.defaults.enquiring_for_self, Some(true));
}

#[test]
fn sandbox_mode_needs_no_credentials_and_uses_the_seed() {
    let toml = r#"
[carehq]
sandbox = true
[[sites]]
slug = "demo"
name = "Demo"
location = "6724fbc74f73a2cebf6377fa"
"#;
    let s = settings_from(toml).unwrap();
    assert!(s.sandbox_mode());
    assert_eq!(s.carehq.account_id, seed::ACCOUNT_ID);
    assert_eq!(s.carehq.api_key.expose_secret(), seed::API_KEY);
    assert_eq!(s.carehq.api_secret.expose_secret(), seed::API_SECRET);
}

#[test]
fn built_in_sandbox_defaults_apply_when_there_is_no_file() {
    jail(|jail| {
        let dir = tempfile::tempdir().unwrap();
        let absent = dir.path().join("enquiry-relay.toml");
        let s = load_from(None, None, &absent).unwrap();
        assert_eq!(s.source, ConfigSource::BuiltInSandbox);
        assert!(s.sandbox_mode());
        assert_eq!(s.carehq.api_secret.expose_secret(), seed::API_SECRET);
        assert_eq!(
            s.database.url.expose_secret(),
            "sqlite://data/enquiry-relay.db"
        );
        assert_eq!(s.sites.len(), 1);
        let demo = s.site(DEMO_SLUG).unwrap();
        assert_eq!(demo.name, "Demo Care Home");
        assert_eq!(demo.location, seed::DEMO_LOCATION);
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
    });
}

#[test]
fn load_reads_the_file_named_by_the_flag_or_the_variable() {
    jail(|jail| {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "relay.toml", MINIMAL);
        let absent = dir.path().join("enquiry-relay.toml");

        let s = load_from(Some(&file), None, &absent).unwrap();
        assert_eq!(s.source, ConfigSource::File(file.clone()));
        assert!(!s.sandbox_mode());

        jail.set_env(CONFIG_ENV, file.display());
        let s = Settings::load(None).unwrap();
        assert_eq!(s.source, ConfigSource::File(file.clone()));

        jail.set_env(CONFIG_ENV, dir.path().join("missing.toml").display());
        let errors = errors_of(Settings::load(None));
        assert!(
            message(&errors, CONFIG_ENV).contains("missing.toml"),
            "{errors}"
        );
    });
}

#[test]
fn environment_overrides_the_file() {
    jail(|jail| {
        jail.set_env("ENQUIRY_RELAY_CAREHQ__TIMEOUT", "5s");
        jail.set_env("ENQUIRY_RELAY_SYNC__RETRY_SCHEDULE", "1s, 5s");
        jail.set_env(
            "ENQUIRY_RELAY_SERVER__TRUSTED_PROXIES",
            "[\"10.0.0.0/8\", \"192.168.0.0/16\"]",
        );
        // Digits only: must stay a string with its leading zeros, not become 1.
        jail.set_env(
            "ENQUIRY_RELAY_CAREHQ__ACCOUNT_ID",
            "000000000000000000000001",
        );
        jail.set_env("ENQUIRY_RELAY_CAREHQ__API_KEY", "12345");
        jail.set_env("ENQUIRY_RELAY_SYNC__CONCURRENCY", "8");
        // Names the file, never a key: must not be refused as unknown.
        jail.set_env(CONFIG_ENV, "/does/not/matter.toml");

        let s = Settings::from_toml_str(MINIMAL).unwrap();
        assert_eq!(s.carehq.timeout, Duration::from_secs(5));
        // The lease and shutdown grace defaults follow the overridden timeout.
        assert_eq!(s.sync.lease, Duration::from_secs(35));
        assert_eq!(s.sync.shutdown_grace, Duration::from_secs(10));
        assert_eq!(
            s.sync.retry_schedule,
            [Duration::from_secs(1), Duration::from_secs(5)]
        );
        assert_eq!(s.server.trusted_proxies.len(), 2);
        assert_eq!(s.carehq.account_id, "000000000000000000000001");
        assert_eq!(s.carehq.api_key.expose_secret(), "12345");
        assert_eq!(s.sync.concurrency, 8);
    });
}

#[test]
fn a_bad_environment_value_names_its_variable() {
    jail(|jail| {
        jail.set_env("ENQUIRY_RELAY_CAREHQ__TIMEOUT", "30");
        jail.set_env("ENQUIRY_RELAY_SYNC__POLL_INTERVALL", "30s");
        let errors = errors_of(Settings::from_toml_str(MINIMAL));
        assert_messages(
            &errors,
            &[
                ("carehq.timeout", "add one, e.g. \"30s\""),
                ("carehq.timeout", "(set by ENQUIRY_RELAY_CAREHQ__TIMEOUT)"),
                ("sync.poll_intervall", "unknown key"),
                ("sync.poll_intervall", "poll_interval"),
                (
                    "sync.poll_intervall",
                    "(set by ENQUIRY_RELAY_SYNC__POLL_INTERVALL)",
                ),
            ],
        );
        assert_eq!(errors.0.len(), 2, "{errors}");
    });
}

#[test]
fn secrets_can_come_from_files() {
    jail(|jail| {
        let dir = tempfile::tempdir().unwrap();
        let secret = write(dir.path(), "api_secret", "from-docker-secret\n");
        let db = write(
            dir.path(),
            "db",
            "postgres://relay:db-pass@db.internal/relay\n",
        );
        let token = write(dir.path(), "token", "staff-token-value-0123456789abcdef");
        let toml = MINIMAL.replace("api_secret = \"live-secret-value\"", "");
        jail.set_env("ENQUIRY_RELAY_CAREHQ__API_SECRET_FILE", secret.display());
        jail.set_env("ENQUIRY_RELAY_DATABASE__URL_FILE", db.display());
        jail.set_env("ENQUIRY_RELAY_STAFF__TOKEN_FILE", token.display());

        let s = Settings::from_toml_str(&toml).unwrap();
        assert_eq!(s.carehq.api_secret.expose_secret(), "from-docker-secret");
        assert_eq!(
            s.database.url.expose_secret(),
            "postgres://relay:db-pass@db.internal/relay"
        );
        assert_eq!(
            s.staff.token.as_ref().unwrap().expose_secret(),
            "staff-token-value-0123456789abcdef"
        );
    });
}

#[test]
fn a_secret_and_its_file_together_are_refused() {
    jail(|jail| {
        let dir = tempfile::tempdir().unwrap();
        let secret = write(dir.path(), "api_secret", "other");
        jail.set_env("ENQUIRY_RELAY_CAREHQ__API_SECRET_FILE", secret.display());
        let errors = errors_of(Settings::from_toml_str(MINIMAL));
        let both = message(&errors, "carehq.api_secret");
        assert!(
            both.contains("both carehq.api_secret and carehq.api_secret_file"),
            "{both}"
        );
        assert!(!errors.to_string().contains("live-secret-value"));
    });
}

#[test]
fn missing_credentials_say_how_to_provide_them() {
    let toml = r#"
[[sites]]
slug = "upton-court"
name = "Upton Court"
location = "6724fbc74f73a2cebf6377fa"
"#;
    let errors = errors_of(settings_from(toml));
    assert_eq!(errors.0.len(), 3, "{errors}");
    assert_messages(
        &errors,
        &[
            ("carehq.account_id", "ENQUIRY_RELAY_CAREHQ__ACCOUNT_ID"),
            ("carehq.api_secret", "ENQUIRY_RELAY_CAREHQ__API_SECRET"),
            ("carehq.api_secret", "carehq.api_secret_file"),
            ("carehq.api_secret", "carehq.sandbox = true"),
            ("carehq.api_key", "ENQUIRY_RELAY_CAREHQ__API_KEY_FILE"),
        ],
    );
}

#[test]
fn every_validation_problem_is_reported_together() {
    let toml = r#"
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
    let errors = errors_of(settings_from(toml));
    assert_keys(
        &errors,
        "server.listen server.trusted_proxies[0] server.body_limit server.request_timeout \
         server.public_url database.url database.max_connections carehq.base_url \
         carehq.account_id carehq.api_key carehq.api_secret sync.retry_schedule[1] \
         sync.poll_interval sync.concurrency sync.lease captcha.verify_url captcha.on_error \
         sites[0].slug sites[0].name sites[0].location sites[0].referrer sites[0].sales_channel \
         sites[0].allowed_origins[0] sites[0].redirect_url sites[0].untrusted_source \
         sites[0].services[0] sites[0].defaults.funding_type \
         sites[0].defaults.enquiring_for_self sites[2].slug",
    );
    // The provider itself is valid, so its missing keys are reported too.
    assert_keys(&errors, "captcha.secret captcha.site_key");
    assert_eq!(
        message(&errors, "sites[0].location"),
        "\"abc\" is not a CareHQ Id; expected 24 hexadecimal characters (copy it from `enquiry-relay carehq locations`)"
    );
    assert_messages(
        &errors,
        &[
            ("sites[0].slug", "e.g. \"upton-court\""),
            (
                "sites[2].slug",
                "duplicate slug \"dup\" (also used by sites[1])",
            ),
            ("sync.retry_schedule[1]", "has no unit"),
            ("sync.lease", "longer than carehq.timeout"),
            ("sync.concurrency", "from 1 to 64"),
            ("sites[0].defaults.funding_type", "local_authority_top_up"),
        ],
    );
    // The database URL's password is never echoed, only its scheme.
    let db = message(&errors, "database.url");
    assert!(db.contains("\"mysql\"") && !db.contains("hunter2"), "{db}");
    assert!(!errors.to_string().contains("hunter2"));
    // One line per problem.
    assert_eq!(errors.to_string().lines().count(), errors.0.len());
}

#[test]
fn captcha_providers_need_their_keys() {
    let with = |captcha: &str| settings_from(&format!("{MINIMAL}\n[captcha]\n{captcha}"));

    let errors = errors_of(with("provider = \"hcaptcha\""));
    assert_messages(
        &errors,
        &[
            ("captcha.secret", "ENQUIRY_RELAY_CAPTCHA__SECRET"),
            ("captcha.site_key", "\"hcaptcha\""),
        ],
    );

    let errors = errors_of(with("provider = \"altcha\""));
    assert!(message(&errors, "captcha.secret").contains("HMAC key"));
    assert!(errors.get("captcha.site_key").is_none(), "{errors}");

    let s = with("provider = \"turnstile\"\nsite_key = \"1x00000000000000000000AA\"\nsecret = \"1x0000000000000000000000000000000AA\"").unwrap();
    assert_eq!(s.captcha.provider, CaptchaProvider::Turnstile);
}

#[test]
fn a_captcha_timeout_must_be_shorter_than_the_request_timeout() {
    let keys = "provider = \"turnstile\"\nsite_key = \"k\"\nsecret = \"s\"";
    let with = |server: &str, captcha: &str, site: &str| {
        settings_from(&format!(
            "[server]\n{server}\n{MINIMAL}{site}\n[captcha]\n{keys}\n{captcha}"
        ))
    };

    let errors = errors_of(with("request_timeout = \"10s\"", "timeout = \"10s\"", ""));
    let text = message(&errors, "captcha.timeout");
    assert!(
        text.contains("server.request_timeout") && text.contains("lower captcha.timeout"),
        "{text}"
    );
    // A site's own provider is checked too; the global one then is unused.
    let errors = errors_of(with(
        "request_timeout = \"5s\"",
        "timeout = \"1s\"",
        "[sites.captcha]\nprovider = \"hcaptcha\"\ntimeout = \"6s\"",
    ));
    assert!(message(&errors, "sites[0].captcha.timeout").contains("\"5s\""));
    assert!(errors.get("captcha.timeout").is_none(), "{errors}");
    // A broken site before it (a misspelt provider) does not shift the key
    // onto the wrong site.
    let errors = errors_of(with(
        "request_timeout = \"5s\"",
        "timeout = \"1s\"",
        "[sites.captcha]\nprovider = \"hcaptch\"\ntimeout = \"4s\"\n\
     [[sites]]\nslug = \"second\"\nname = \"Second\"\nlocation = \"6724fbc74f73a2cebf637701\"\n\
     [sites.captcha]\nprovider = \"hcaptcha\"\ntimeout = \"6s\"",
    ));
    assert!(
        message(&errors, "sites[1].captcha.timeout").contains("\"5s\""),
        "{errors}"
    );
    assert!(errors.get("sites[0].captcha.timeout").is_none(), "{errors}");
    // Shorter is fine; ALTCHA makes no call, so its timeout does not matter.
    assert!(with("request_timeout = \"10s\"", "timeout = \"9s\"", "").is_ok());
    assert!(
    settings_from(&format!(
        "[server]\nrequest_timeout = \"1s\"\n{MINIMAL}\n[captcha]\nprovider = \"altcha\"\nsecret = \"s\"\ntimeout = \"5s\""
    ))
    .is_ok()
);
}

#[test]
fn structural_mistakes_are_named_per_section() {
    let toml = r#"
[server]
listn = "127.0.0.1:8080"
[carehq]
api_sekret = "x"
[sync]
retry_schedule = { first = "10s" }
[databse]
url = "sqlite://x.db"
[[sites]]
slug = "a"
nmae = "A"
"#;
    let errors = errors_of(settings_from(toml));
    assert_messages(
        &errors,
        &[
            ("server.listn", "expected one of: listen,"),
            ("carehq.api_sekret", "api_secret"),
            ("sync.retry_schedule", "found a table"),
            ("databse", "unknown key"),
            ("sites[0].nmae", "unknown key"),
        ],
    );
    // Unreadable parts are not also blamed for keys they lack (the account Id
    // and the site's name may well be there, after the typo).
    assert_eq!(errors.0.len(), 5, "{errors}");
}

#[test]
fn at_least_one_site_is_required() {
    let toml = "[carehq]\nsandbox = true\n";
    let errors = errors_of(settings_from(toml));
    assert!(message(&errors, "sites").contains("add at least one [[sites]] block"));
}

#[test]
fn a_toml_syntax_error_names_the_file() {
    jail(|_| {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "broken.toml", "[server\nlisten = 1");
        let errors = errors_of(load_from(Some(&file), None, &dir.path().join("x")));
        assert_eq!(errors.0.len(), 1, "{errors}");
        assert!(errors.0[0].key.contains("broken.toml"), "{errors}");
        assert!(errors.0[0].message.contains("line 1"), "{errors}");
        assert_eq!(errors.to_string().lines().count(), 1, "{errors}");
    });
}

#[test]
fn debug_output_hides_every_secret_and_the_database_password() {
    let toml = r#"
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
[[sites]]
slug = "a"
name = "A"
location = "6724fbc74f73a2cebf6377fa"
"#;
    let s = settings_from(toml).unwrap();
    let debug = format!("{s:?}");
    for secret in [
        "db-password-123",
        "relay:",
        "api-key-456",
        "api-secret-789",
        "staff-token-abc-0123456789abcdef0123",
        "captcha-secret-def",
    ] {
        assert!(!debug.contains(secret), "{secret} leaked in {debug}");
    }
    assert!(debug.contains("postgres://db.internal:5432/…"), "{debug}");
    assert!(debug.contains("public-site-key"));
    assert_eq!(s.database.redacted_url(), "postgres://db.internal:5432/…");
}

/// The example with its blank credentials filled in, as an operator would.
fn example_with_credentials() -> String {
    let filled = EXAMPLE
        .replacen(
            "account_id = \"\"",
            "account_id = \"0123456789abcdef01234567\"",
            1,
        )
        .replacen("api_key = \"\"", "api_key = \"example-key\"", 1)
        .replacen("api_secret = \"\"", "api_secret = \"example-secret\"", 1);
    assert_ne!(filled, EXAMPLE, "the example's credential lines changed");
    filled
}

#[test]
fn the_example_file_loads_once_credentials_are_set() {
    jail(|_| {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "enquiry-relay.toml",
            &example_with_credentials(),
        );
        let s = Settings::load(Some(&file)).unwrap();
        assert_eq!(s.carehq.api_key.expose_secret(), "example-key");
        assert_eq!(
            s.site("upton-court").unwrap().allowed_origins,
            ["https://example-care.co.uk"]
        );
        assert_eq!(s.server.body_limit, 65_536);
        assert!(s.warnings().is_empty(), "{:?}", s.warnings());

        // As shipped, the only problems are the credentials left for the operator.
        let errors = errors_of(Settings::from_toml_str(EXAMPLE));
        let keys: Vec<&str> = errors.0.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            ["carehq.account_id", "carehq.api_key", "carehq.api_secret"]
        );
    });
}

#[test]
fn the_example_file_documents_every_key() {
    // The "unknown key" message lists a section's keys; ask each section.
    let probe = "[server]\nzz = 1\n[database]\nzz = 1\n[carehq]\nzz = 1\n[sync]\nzz = 1\n\
             [staff]\nzz = 1\n[captcha]\nzz = 1\n[spam]\nzz = 1\n[rate_limit]\nzz = 1\n\
             [status]\nzz = 1\n[metrics]\nzz = 1\n[retention]\nzz = 1\n[alerts]\nzz = 1\n[sentry]\nzz = 1\n[log]\nzz = 1\n\
             [[sites]]\nzz = 1\n[[sites]]\n[sites.defaults]\nzz = 1\n[[sites]]\n[sites.captcha]\nzz = 1\n\
             [[sites]]\n[sites.visits]\nzz = 1\n[[sites]]\n[sites.partners.helparound]\nzz = 1\n";
    let errors = errors_of(settings_from(probe));
    let mut checked = 0;
    for error in &errors.0 {
        let Some((_, list)) = error.message.split_once("expected one of: ") else {
            continue;
        };
        for key in list.trim_end_matches(')').split(", ") {
            let documented = EXAMPLE
                .lines()
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

#[test]
fn spam_defaults_and_a_derived_token_key() {
    let s = settings_from(MINIMAL).unwrap();
    assert_eq!(s.spam.min_fill_time, Duration::from_secs(3));
    assert_eq!(s.spam.max_token_age, Duration::from_secs(24 * 3600));
    assert!(s.spam.token_secret.is_none());
    assert_eq!(
        s.spam.initial_key.expose_secret(),
        super::secrets::derive_time_token_key(&s.carehq.api_secret).expose_secret()
    );
    assert_eq!(
        s.rate_limit.per_ip,
        crate::values::Rate::parse("10/10m").unwrap()
    );
    assert_eq!(
        s.rate_limit.per_site,
        crate::values::Rate::parse("300/1h").unwrap()
    );
    let site = s.site("upton-court").unwrap();
    assert_eq!(site.honeypot_field, "website");
    assert!(!site.require_time_token);
    assert!(site.captcha.is_none());
    assert!((s.captcha.min_score - 0.5).abs() < f64::EPSILON);
    assert_eq!(s.captcha.timeout, Duration::from_secs(10));
    assert!(!format!("{:?}", s.spam).contains(s.spam.initial_key.expose_secret()));
}

#[test]
fn spam_mistakes_name_their_keys() {
    let toml = format!(
        "{MINIMAL}honeypot_field = \"email\"\n[sites.captcha]\nmin_score = 2\n\
     [spam]\nmin_fill_time = \"2d\"\nmax_token_age = \"1d\"\n\
     [rate_limit]\nper_ip = \"ten per minute\"\nper_site = \"0/1h\"\n"
    );
    let errors = errors_of(settings_from(&toml));
    assert_messages(
        &errors,
        &[
            ("spam.max_token_age", "longer than spam.min_fill_time"),
            ("rate_limit.per_ip", "\"10/10m\""),
            ("rate_limit.per_site", "above 0"),
            (
                "sites[0].honeypot_field",
                "not a field the form already has",
            ),
            ("sites[0].captcha.min_score", "0.0 to 1.0"),
        ],
    );
}

#[test]
fn a_site_captcha_table_overrides_the_global_one_key_by_key() {
    let toml = format!(
        "{MINIMAL}[sites.captcha]\nprovider = \"hcaptcha\"\nsecret = \"site-secret\"\n\
     [captcha]\nprovider = \"turnstile\"\nsite_key = \"global-key\"\nsecret_file = \"/nonexistent\"\non_error = \"hold\"\n"
    );
    // The global secret_file does not exist: reported for [captcha] only,
    // because the site gave its own secret and so takes neither global one.
    let errors = errors_of(settings_from(&toml));
    assert!(
        errors.get("captcha.secret_file").is_some() || errors.get("captcha.secret").is_some(),
        "{errors}"
    );
    assert!(
        errors
            .0
            .iter()
            .all(|e| !e.key.starts_with("sites[0].captcha")),
        "{errors}"
    );

    let toml = toml.replace(
        "secret_file = \"/nonexistent\"",
        "secret = \"global-secret\"",
    );
    let s = settings_from(&toml).unwrap();
    let site = s.site("upton-court").unwrap();
    let own = site.captcha(&s.captcha);
    assert_eq!(own.provider, CaptchaProvider::Hcaptcha);
    assert_eq!(own.secret.as_ref().unwrap().expose_secret(), "site-secret");
    assert_eq!(own.site_key.as_deref(), Some("global-key"));
    assert_eq!(own.on_error, OnCaptchaError::Hold);
    assert_eq!(s.captcha.provider, CaptchaProvider::Turnstile);
}

#[test]
fn the_client_ip_header_is_one_of_two_and_defaults_to_x_forwarded_for() {
    let with = |header: &str| settings_from(&format!("{MINIMAL}[server]\n{header}\n"));
    for (header, expected) in [
        ("", ClientIpHeader::XForwardedFor),
        (
            "client_ip_header = \"Forwarded\"",
            ClientIpHeader::Forwarded,
        ),
    ] {
        assert_eq!(with(header).unwrap().server.client_ip_header, expected);
    }
    let errors = errors_of(with("client_ip_header = \"x-real-ip\""));
    let key = "server.client_ip_header";
    assert_messages(&errors, &[(key, "x-forwarded-for"), (key, "forwarded")]);
}

#[test]
fn the_number_of_tracked_addresses_is_capped() {
    let with = |keys: &str| settings_from(&format!("{MINIMAL}[rate_limit]\n{keys}\n"));
    let tracked = |keys: &str| with(keys).unwrap().rate_limit.max_tracked_addresses;
    assert_eq!(tracked(""), 100_000);
    assert_eq!(tracked("max_tracked_addresses = 500"), 500);
    let errors = errors_of(with("max_tracked_addresses = 0"));
    assert_keys(&errors, "rate_limit.max_tracked_addresses");
}

#[test]
fn metrics_ask_for_the_token_except_in_the_built_in_sandbox() {
    jail(|_| {
        let configured = Settings::from_toml_str(MINIMAL).unwrap();
        assert!(configured.metrics.require_token);
        let off = format!("{MINIMAL}[metrics]\nrequire_token = false\n");
        assert!(!Settings::from_toml_str(&off).unwrap().metrics.require_token);

        let dir = tempfile::tempdir().unwrap();
        let sandbox = load_from(None, None, &dir.path().join("enquiry-relay.toml")).unwrap();
        assert_eq!(sandbox.source, ConfigSource::BuiltInSandbox);
        assert!(!sandbox.metrics.require_token);
    });
}

#[test]
fn a_short_staff_token_is_refused_with_how_to_make_one() {
    jail(|jail| {
        let with = |token: &str| format!("{MINIMAL}[staff]\ntoken = \"{token}\"\n");
        let errors = errors_of(Settings::from_toml_str(&with("s3cret-but-short")));
        assert_messages(
            &errors,
            &[
                ("staff.token", "32"),
                ("staff.token", "openssl rand -hex 32"),
            ],
        );
        let text = message(&errors, "staff.token");
        assert!(
            !text.contains("s3cret-but-short"),
            "the value is not echoed"
        );
        let long = "0123456789abcdef0123456789abcdef";
        let s = Settings::from_toml_str(&with(long)).unwrap();
        assert_eq!(s.staff.token.unwrap().expose_secret(), long);
        // A token read from a file is held to the same rule.
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "token", "short\n");
        jail.set_env("ENQUIRY_RELAY_STAFF__TOKEN_FILE", file.display());
        let errors = errors_of(Settings::from_toml_str(MINIMAL));
        assert!(errors.get("staff.token").is_some(), "{errors}");
    });
}

#[test]
fn an_in_memory_sqlite_database_is_refused() {
    for url in [
        "sqlite::memory:",
        "sqlite://:memory:",
        "sqlite://?mode=memory",
        "sqlite://data/relay.db?mode=memory&cache=shared",
        "sqlite://",
    ] {
        let toml = format!("{MINIMAL}[database]\nurl = \"{url}\"\n");
        let errors = errors_of(settings_from(&toml));
        let text = message(&errors, "database.url");
        assert!(
            text.contains("sqlite://data/enquiry-relay.db"),
            "{url}: {text}"
        );
    }
    let toml = format!("{MINIMAL}[database]\nurl = \"sqlite://data/relay.db?mode=rwc\"\n");
    assert!(settings_from(&toml).is_ok());
}

#[test]
fn a_lease_barely_longer_than_the_timeout_is_refused() {
    let toml = |lease: &str| format!("{MINIMAL}\n[sync]\nlease = \"{lease}\"\n");
    // carehq.timeout is 30 s by default: 1 ms more leaves no time to record.
    let errors = errors_of(settings_from(&toml("30001ms")));
    let text = message(&errors, "sync.lease");
    assert!(text.contains("by at least 5s"), "{text}");
    assert!(settings_from(&toml("35s")).is_ok());
}

#[test]
fn a_shutdown_grace_shorter_than_the_carehq_timeout_is_warned_about_not_refused() {
    let s = settings_from(MINIMAL).unwrap();
    assert!(s.warnings().is_empty(), "{:?}", s.warnings());
    let longer = format!("{MINIMAL}\n[sync]\nshutdown_grace = \"2m\"\n");
    let s = settings_from(&longer).unwrap();
    assert!(s.warnings().is_empty(), "{:?}", s.warnings());

    let short = format!("{MINIMAL}\n[sync]\nshutdown_grace = \"10s\"\n");
    let s = settings_from(&short).unwrap();
    // Honoured: the orchestrator's kill deadline may be what it is.
    assert_eq!(s.sync.shutdown_grace, Duration::from_secs(10));
    let warnings = s.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("sync.shutdown_grace")
            && warnings[0].contains("carehq.timeout")
            && warnings[0].contains("duplicate")
            && warnings[0].contains("at least \"35s\""),
        "{}",
        warnings[0]
    );
}

#[test]
fn secret_files_lose_one_newline_and_unusable_ones_are_named() {
    jail(|jail| {
        let dir = tempfile::tempdir().unwrap();
        let altcha = |keys: &str| format!("{MINIMAL}[captcha]\nprovider = \"altcha\"\n{keys}\n");
        let from_file = |name: &str, contents: &str| {
            let path = write(dir.path(), name, contents);
            format!("secret_file = \"{}\"", path.display())
        };
        // Editors and `echo` add one newline; a second one is the secret's.
        let s = Settings::from_toml_str(&altcha(&from_file("two", "s3cret\n\n"))).unwrap();
        assert_eq!(s.captcha.secret.unwrap().expose_secret(), "s3cret\n");
        let s = Settings::from_toml_str(&altcha(&from_file("crlf", "s3cret\r\n"))).unwrap();
        assert_eq!(s.captcha.secret.unwrap().expose_secret(), "s3cret");
        // A site's own [sites.captcha] reads its _file too.
        let site = format!(
            "{MINIMAL}[sites.captcha]\nprovider = \"altcha\"\n{}\n",
            from_file("site", "site-key\n")
        );
        let s = Settings::from_toml_str(&site).unwrap();
        let own = s.sites[0].captcha.as_ref().unwrap();
        assert_eq!(own.secret.as_ref().unwrap().expose_secret(), "site-key");

        let errors = errors_of(Settings::from_toml_str(&altcha(
            "secret_file = \"/nonexistent/relay-secret\"",
        )));
        let missing = message(&errors, "captcha.secret_file");
        assert!(missing.contains("/nonexistent/relay-secret"), "{missing}");
        let errors = errors_of(Settings::from_toml_str(&altcha(&from_file("empty", "\n"))));
        assert!(message(&errors, "captcha.secret_file").contains("is empty"));
        // Blank inline is unset: the provider then asks for its secret.
        let errors = errors_of(Settings::from_toml_str(&altcha("secret = \"  \"")));
        assert!(message(&errors, "captcha.secret").contains("required"));

        // Both given: refused, and neither value is echoed.
        let token = write(dir.path(), "token", "from-file-0123456789abcdef0123456789");
        jail.set_env("ENQUIRY_RELAY_STAFF__TOKEN_FILE", token.display());
        let toml = format!("{MINIMAL}[staff]\ntoken = \"inline-0123456789abcdef0123456789\"\n");
        let errors = errors_of(Settings::from_toml_str(&toml));
        assert!(message(&errors, "staff.token").contains("staff.token_file"));
        let text = errors.to_string();
        assert!(
            !text.contains("inline-") && !text.contains("from-file"),
            "{text}"
        );
    });
}

#[test]
fn a_global_captcha_mistake_is_named_once() {
    let toml = format!(
        "{MINIMAL}[sites.captcha]\nprovider = \"altcha\"\nsecret = \"s\"\n[captcha]\nzz = 1\n"
    );
    let errors = errors_of(settings_from(&toml));
    assert_keys(&errors, "captcha.zz");
    assert!(errors.get("sites[0].captcha.zz").is_none(), "{errors}");
}
