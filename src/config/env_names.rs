//! Names outside the file: the `ENQUIRY_RELAY_*` variables and the default
//! file. Each config key `a.b` can be set as `ENQUIRY_RELAY_A__B`.

/// Prefix of every environment override.
pub const ENV_PREFIX: &str = "ENQUIRY_RELAY_";
/// Names the config file; never read as a key.
pub const CONFIG_ENV: &str = "ENQUIRY_RELAY_CONFIG";
/// Read when neither `--config` nor `$ENQUIRY_RELAY_CONFIG` is given.
pub const DEFAULT_FILE: &str = "enquiry-relay.toml";
/// Read by the logging set-up before the config is loaded.
pub const LOG_FORMAT_ENV: &str = "ENQUIRY_RELAY_LOG_FORMAT";

/// `carehq.api_secret` → `ENQUIRY_RELAY_CAREHQ__API_SECRET`.
pub fn env_var_name(key: &str) -> String {
    format!(
        "{ENV_PREFIX}{}",
        key.replace('.', "__").to_ascii_uppercase()
    )
}
