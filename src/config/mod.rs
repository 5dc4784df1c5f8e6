//! Configuration: one typed tree, layered and validated before anything starts.
//!
//! Owns where the configuration comes from (`--config`, `$ENQUIRY_RELAY_CONFIG`,
//! `./enquiry-relay.toml`, else the built-in sandbox), the `ENQUIRY_RELAY_*`
//! environment overrides, `<secret>_file` indirection, and every rule a value
//! must meet. `Settings::load` either returns settings that are safe to use or
//! lists every problem, each naming its key and what is expected.

mod accounts;
mod captcha;
mod database;
mod delivery;
mod destinations;
mod env_names;
mod error;
mod extract;
mod fields;
mod figment_errors;
mod operations;
mod partners;
mod sandbox_defaults;
mod secrets;
mod sections;
mod site_fields;
mod site_form;
mod site_webhooks;
mod sites;
mod sources;
mod text;
mod validate;
mod visits;

#[cfg(test)]
pub(crate) mod test_env;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::values::format_duration;

pub use accounts::{AccountSettings, DEFAULT_ACCOUNT};
pub use captcha::{CaptchaProvider, CaptchaSettings, OnCaptchaError};
pub use destinations::{DestinationKind, DestinationSettings};
pub use env_names::{CONFIG_ENV, DEFAULT_FILE, ENV_PREFIX, env_var_name};
pub use error::{ConfigError, ConfigErrors};
pub use operations::{
    AlertSettings, LogFormat, LogSettings, MetricsSettings, RetentionSettings, SentrySettings,
    StatusSettings,
};
pub use partners::{PartnerAuth, SitePartners};
pub use sandbox_defaults::DEMO_SLUG;
pub use sections::{
    CareHqSettings, ClientIpHeader, DEFAULT_CAREHQ_BASE_URL, DEFAULT_DATABASE_URL,
    DEFAULT_RETRY_SCHEDULE, DatabaseSettings, RateLimitSettings, ServerSettings, SpamSettings,
    StaffSettings, SyncSettings,
};
pub use site_form::{Labels, OPTIONAL_FIELDS, SiteDefaults};
pub use site_webhooks::SiteWebhook;
pub use sites::SiteSettings;
pub use visits::VisitSettings;

/// The whole configuration, checked.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub carehq: CareHqSettings,
    /// Every CareHQ account, `[carehq]` (named `default`) first, then `[[accounts]]`.
    pub accounts: Vec<AccountSettings>,
    /// `[[destinations]]`: further systems sites' enquiries also go to.
    pub destinations: Vec<DestinationSettings>,
    pub sync: SyncSettings,
    pub staff: StaffSettings,
    pub captcha: CaptchaSettings,
    pub spam: SpamSettings,
    pub rate_limit: RateLimitSettings,
    pub sites: Vec<SiteSettings>,
    pub status: StatusSettings,
    pub metrics: MetricsSettings,
    pub retention: RetentionSettings,
    pub alerts: AlertSettings,
    pub sentry: SentrySettings,
    pub log: LogSettings,
    /// Where the settings came from, for start-up messages and `check`.
    pub source: ConfigSource,
}

/// Where the base layer of the settings came from (the environment applies on top).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ConfigSource {
    /// A TOML file.
    File(PathBuf),
    /// No file: the built-in sandbox defaults.
    BuiltInSandbox,
    /// TOML text handed to `Settings::from_toml_str`.
    #[default]
    Inline,
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigSource::File(path) => write!(f, "{}", path.display()),
            ConfigSource::BuiltInSandbox => f.write_str("built-in sandbox defaults"),
            ConfigSource::Inline => f.write_str("inline TOML"),
        }
    }
}

impl Settings {
    /// Locate, layer, read `*_file` secrets, validate. `explicit` is the --config flag.
    pub fn load(explicit: Option<&Path>) -> Result<Settings, ConfigErrors> {
        let from_env = std::env::var_os(CONFIG_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        load_from(explicit, from_env, Path::new(DEFAULT_FILE))
    }

    /// Same, from a TOML string plus the process env (tests and `check`).
    pub fn from_toml_str(toml: &str) -> Result<Settings, ConfigErrors> {
        Settings::from_toml_str_edited(toml, |_| {})
    }

    /// As `from_toml_str`, with `edit` made to the settings as read, before
    /// the rules across keys are checked and the values derived from others
    /// filled in: an edit is held to every rule in `validate` (a value's own
    /// format, checked as the file is read, is the caller's to get right).
    /// Tests set their options this way.
    pub fn from_toml_str_edited(
        toml: &str,
        edit: impl FnOnce(&mut Settings),
    ) -> Result<Settings, ConfigErrors> {
        build(sources::text_layer(toml), ConfigSource::Inline, edit)
    }

    /// Settings that are valid but risky, in words for the operator: `check`
    /// prints them and `serve` logs them at start-up. They do not stop
    /// start-up (see each for why).
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        // Honoured, not raised: the orchestrator's kill deadline (compose
        // `stop_grace_period`, Kubernetes `terminationGracePeriodSeconds`)
        // is the real limit, and waiting past it only trades a clean exit
        // for a SIGKILL mid-send, with the same duplicate.
        if self.shutdown_grace() < self.carehq.timeout {
            warnings.push(format!(
                "sync.shutdown_grace (\"{}\") is shorter than carehq.timeout (\"{}\"): a send still running at shutdown is cut off, and as CareHQ may still create it, its re-send after sync.lease can duplicate the enquiry. Set sync.shutdown_grace to at least \"{}\" (and your orchestrator's stop timeout, e.g. compose stop_grace_period, a little longer)",
                format_duration(self.shutdown_grace()),
                format_duration(self.carehq.timeout),
                format_duration(self.carehq.timeout + delivery::SHUTDOWN_MARGIN),
            ));
        }
        // Not refused: the hosted form may be served on the host it is
        // reached by, and a check against the client's own Host header
        // proved nothing (review T3-17), so there is nothing to fall back on.
        for site in &self.sites {
            let provider = site.captcha(&self.captcha).provider;
            let reports_host = !matches!(provider, CaptchaProvider::None | CaptchaProvider::Altcha);
            if reports_host && self.server.public_url.is_none() && site.allowed_origins.is_empty() {
                warnings.push(format!(
                    "site {}: the CAPTCHA's host name is not checked, since neither server.public_url nor the site's allowed_origins is set; set server.public_url to the address families open the form at (or allowed_origins to the websites that embed it), so a token solved on another website is refused",
                    site.slug
                ));
            }
        }
        warnings
    }

    /// How long a claimed row stays claimed: `sync.lease`, by default
    /// `carehq.timeout` and a margin to record the outcome.
    pub fn lease(&self) -> Duration {
        (self.sync.lease).unwrap_or(self.carehq.timeout + delivery::LEASE_MARGIN)
    }

    /// How long shutdown waits for sends in flight: `sync.shutdown_grace`,
    /// by default `carehq.timeout` and a margin.
    pub fn shutdown_grace(&self) -> Duration {
        (self.sync.shutdown_grace).unwrap_or(self.carehq.timeout + delivery::SHUTDOWN_MARGIN)
    }

    /// How long one statement on the staff pool may run (PostgreSQL):
    /// `database.staff_statement_timeout`, by default a few seconds under
    /// `server.request_timeout`.
    pub fn staff_statement_timeout(&self) -> Duration {
        (self.database.staff_statement_timeout).unwrap_or_else(|| {
            database::default_staff_statement_timeout(self.server.request_timeout)
        })
    }

    /// True when deliveries go to the built-in CareHQ sandbox.
    pub fn sandbox_mode(&self) -> bool {
        self.carehq.sandbox
    }

    /// The account with this name.
    pub fn account(&self, name: &str) -> Option<&AccountSettings> {
        self.accounts.iter().find(|account| account.name == name)
    }

    /// The site with this slug.
    pub fn site(&self, slug: &str) -> Option<&SiteSettings> {
        self.sites.iter().find(|site| site.slug == slug)
    }
}

/// `load` with the config variable and default file passed in, so tests need
/// not change the process's working directory.
fn load_from(
    explicit: Option<&Path>,
    from_env: Option<PathBuf>,
    default_file: &Path,
) -> Result<Settings, ConfigErrors> {
    let source = sources::locate(explicit, from_env, default_file)?;
    let base = match &source {
        ConfigSource::File(path) => sources::file_layer(path),
        ConfigSource::BuiltInSandbox | ConfigSource::Inline => sources::sandbox_layer(),
    };
    build(base, source, |_| {})
}

fn build(
    base: figment::Figment,
    source: ConfigSource,
    edit: impl FnOnce(&mut Settings),
) -> Result<Settings, ConfigErrors> {
    let figment = sources::with_env(base);
    let extract::Extracted {
        mut settings,
        places,
        refused,
        problems: mut all,
        unreadable,
    } = extract::extract(&figment)?;
    settings.source = source;
    edit(&mut settings);
    match validate::settings(settings, &places, &refused) {
        Ok(settings) if all.is_empty() => return Ok(settings),
        Ok(_) => {}
        // Parts that could not be read hold defaults, so their "problems"
        // are not real; the rest is reported now: one run, every fix.
        Err(errors) => all.0.extend(
            (errors.0.into_iter())
                .filter(|e| !extract::under_unreadable(&unreadable, &e.key))
                .map(|e| figment_errors::annotate_origin(e, &figment)),
        ),
    }
    Err(all)
}
