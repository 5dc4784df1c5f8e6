//! Tests that read or change the process environment run in a
//! `figment::Jail`: one at a time, with the environment restored after.

use figment::Jail;

use super::env_names::ENV_PREFIX;
use super::{ConfigErrors, Settings};

/// Runs `f` in a jail, with the developer's own `ENQUIRY_RELAY_*` variables
/// blanked for its duration (a blank variable counts as unset).
#[allow(clippy::result_large_err)] // figment::Jail's own closure type
pub(crate) fn jail(f: impl FnOnce(&mut Jail)) {
    Jail::expect_with(|jail| {
        for (name, _) in std::env::vars_os() {
            if let Some(name) = name.to_str()
                && name.to_ascii_uppercase().starts_with(ENV_PREFIX)
            {
                jail.set_env(name, "");
            }
        }
        f(jail);
        Ok(())
    });
}

/// `Settings::from_toml_str` in a jail, for tests elsewhere in the crate.
pub(crate) fn settings_from(toml: &str) -> Result<Settings, ConfigErrors> {
    let mut result = None;
    jail(|_| {
        result = Some(Settings::from_toml_str(toml));
    });
    result.expect("the jail ran")
}
