//! `[[sites.webhooks]]`: form builders allowed to post this site's enquiries
//! server to server (`POST /webhooks/{site}/{name}`), each with its own
//! secret token (inline or `token_file`; never logged, redacted in Debug),
//! an optional `preset` for its builder's payload shape, its own `fields`
//! map and optionally the key of its entry id.

use std::path::Path;

use secrecy::{ExposeSecret, SecretString};

use super::error::Problems;
use super::fields;
use crate::site_forms::{FieldMap, Preset};

/// Tokens shorter than this could be guessed; wrong ones are throttled per
/// address, as partners' are.
const MIN_TOKEN_CHARS: usize = 32;

fields::section! {
    /// One form builder's webhook into a site.
    #[derive(Clone, Debug)]
    pub struct SiteWebhook {
        /// The hook's name in its URL (`/webhooks/{site}/{name}`).
        pub name: String ["fields::parsed"] = String::new(),
        /// The shared secret: `Authorization: Bearer <token>`, or the URL's last segment.
        pub token: Option<SecretString> ["fields::secret"] = None,
        /// A file holding the token (Docker secrets); read by `check`.
        pub token_file: Option<String> ["fields::some"] = None,
        /// The builder whose payload shape this is.
        pub preset: Option<Preset> ["fields::some"] = None,
        /// `"their name" = "our name"`, over the preset's defaults.
        pub fields: FieldMap ["super::site_fields::field_map"] = FieldMap::default(),
        /// Where the builder puts its entry id, when the preset does not say.
        pub entry_id: Option<String> ["fields::some"] = None,
    }
}

impl SiteWebhook {
    /// The map applied to a payload: the hook's own entries over its preset's.
    pub fn field_map(&self) -> FieldMap {
        match self.preset {
            Some(preset) => self.fields.over(&preset.defaults()),
            None => self.fields.clone(),
        }
    }

    /// Paths of the payload never copied into the message: the preset's,
    /// and the entry id (it keys the post; it is nothing the family wrote).
    pub fn ignored(&self) -> Vec<&str> {
        let mut ignored: Vec<&str> = self.preset.map_or(&[][..], |p| p.shape().ignore).to_vec();
        ignored.extend(self.entry_id_key());
        ignored
    }

    /// Where the entry id is: the hook's `entry_id`, else the preset's place.
    pub fn entry_id_key(&self) -> Option<&str> {
        (self.entry_id.as_deref()).or_else(|| self.preset.and_then(|p| p.shape().entry_id))
    }
}

/// Each hook named once (a name that can sit in a URL), with one token that
/// is long enough and can travel as a URL segment; `token_file` is read here.
pub(super) fn check(i: usize, webhooks: &mut [SiteWebhook], p: &mut Problems) {
    for j in 0..webhooks.len() {
        let key = format!("sites[{i}].webhooks[{j}]");
        let name = &webhooks[j].name;
        if name.is_empty() {
            p.push(
                format!("{key}.name"),
                "missing; name the hook as it appears in its URL, e.g. \"gravity\" for /webhooks/<site>/gravity",
            );
        } else if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            p.push(
                format!("{key}.name"),
                format!("\"{name}\" cannot sit in a URL as it is; use lower-case letters, digits, - and _"),
            );
        } else if webhooks[..j].iter().any(|w| &w.name == name) {
            p.push(
                format!("{key}.name"),
                format!("\"{name}\" names two webhooks of this site; give each its own name"),
            );
        }
        token(&key, &mut webhooks[j], p);
    }
}

fn token(key: &str, hook: &mut SiteWebhook, p: &mut Problems) {
    if let Some(file) = hook.token_file.take() {
        if hook.token.is_some() {
            p.push(
                format!("{key}.token"),
                format!("both {key}.token and {key}.token_file are set; keep one (the file is meant for Docker secrets)"),
            );
            return;
        }
        hook.token =
            super::secrets::read_secret_file(&format!("{key}.token_file"), Path::new(&file), p);
        if hook.token.is_none() {
            return;
        }
    }
    let Some(token) = &hook.token else {
        p.push(
            format!("{key}.token"),
            format!("missing; set {key}.token_file (or token) to a long random token, e.g. the output of `openssl rand -hex 32`, and give the same to the form builder"),
        );
        return;
    };
    let token = token.expose_secret();
    if token.chars().count() < MIN_TOKEN_CHARS {
        p.push(
            format!("{key}.token"),
            format!("is shorter than {MIN_TOKEN_CHARS} characters (value hidden: it is a secret); use a long random token, e.g. the output of `openssl rand -hex 32`"),
        );
    } else if !token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        p.push(
            format!("{key}.token"),
            "has characters other than letters, digits, - and _ (value hidden: it is a secret); builders that cannot set headers send it in the URL, so use e.g. the output of `openssl rand -hex 32`",
        );
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::super::test_env::jail;
    use super::super::{ConfigErrors, Settings};

    /// The config tests' smallest valid file; each test appends to its site.
    use super::super::tests::MINIMAL as SITE;
    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    fn load(toml: &str, files: &[(&str, &str)]) -> Result<Settings, ConfigErrors> {
        let mut result = None;
        jail(|jail| {
            for (name, contents) in files {
                drop(jail.create_file(name, contents).unwrap());
            }
            result = Some(Settings::from_toml_str(&format!("{SITE}{toml}")));
        });
        result.expect("the jail ran")
    }

    /// The problem's key and message contain `key` and `words`.
    fn refused(toml: &str, key: &str, words: &str) {
        let errors = load(toml, &[]).expect_err(toml);
        assert!(
            errors
                .0
                .iter()
                .any(|e| e.key.contains(key) && e.message.contains(words)),
            "{toml}\nwanted {key}: …{words}…, got\n{errors}"
        );
    }

    #[test]
    fn a_site_field_map_is_read_and_a_bad_one_refused_naming_the_key() {
        let settings = load(
            "[sites.fields]\n\"your-name\" = \"name\"\n\"input_1.3\" = \"first_name\"\n",
            &[],
        )
        .unwrap();
        let fields = &settings.sites[0].fields;
        assert_eq!(fields.ours("your-name"), Some("name"));
        assert_eq!(fields.ours("input_1.3"), Some("first_name"));
        refused(
            "[sites.fields]\n\"your-name\" = \"nmae\"\n",
            "sites[0].fields",
            "\"your-name\" = \"nmae\"",
        );
        refused(
            "[sites.fields]\n\"your-email\" = \"email\"\n\"email-2\" = \"email\"\n",
            "sites[0].fields",
            "\"email-2\" and \"your-email\" both map onto email",
        );
    }

    #[test]
    fn a_webhook_is_read_with_its_preset_map_and_token_file() {
        let toml = "[[sites.webhooks]]\nname = \"gravity\"\ntoken_file = \"hook-token\"\n\
                    preset = \"gravity_forms\"\n[sites.webhooks.fields]\n\"1.3\" = \"first_name\"\n";
        let mut settings = None;
        jail(|jail| {
            drop(
                jail.create_file("hook-token", &format!("{TOKEN}\n"))
                    .unwrap(),
            );
            settings = Some(Settings::from_toml_str(&format!("{SITE}{toml}")));
        });
        let settings = settings.unwrap().unwrap();
        let hook = &settings.sites[0].webhooks[0];
        assert_eq!(hook.name, "gravity");
        assert_eq!(hook.token.as_ref().unwrap().expose_secret(), TOKEN);
        assert_eq!(hook.field_map().ours("1.3"), Some("first_name"));
        assert_eq!(hook.entry_id_key(), Some("id"));
        assert!(
            !format!("{hook:?}").contains(TOKEN),
            "the token is redacted"
        );
    }

    #[test]
    fn sandbox_mode_has_a_demo_webhook_on_the_demo_site() {
        use super::super::sandbox_defaults::{DEMO_HOOK, DEMO_HOOK_TOKEN, DEMO_SLUG};
        jail(|_| {
            let dir = tempfile::tempdir().unwrap();
            let absent = dir.path().join("enquiry-relay.toml");
            let settings = super::super::load_from(None, None, &absent).unwrap();
            let hook = &settings.site(DEMO_SLUG).unwrap().webhooks[0];
            assert_eq!(hook.name, DEMO_HOOK);
            assert_eq!(
                hook.token.as_ref().unwrap().expose_secret(),
                DEMO_HOOK_TOKEN
            );
            assert_eq!(hook.field_map().ours("your-email"), Some("email"));
        });
    }

    #[test]
    fn a_bad_webhook_is_refused_naming_the_key() {
        let hook = |rest: &str| format!("[[sites.webhooks]]\n{rest}\n");
        refused(
            &hook(&format!("token = \"{TOKEN}\"")),
            "sites[0].webhooks[0].name",
            "missing",
        );
        refused(
            &hook(&format!("name = \"Gravity!\"\ntoken = \"{TOKEN}\"")),
            "webhooks[0].name",
            "URL",
        );
        refused(
            &hook("name = \"g\""),
            "sites[0].webhooks[0].token",
            "missing",
        );
        refused(
            &hook("name = \"g\"\ntoken = \"short\""),
            "sites[0].webhooks[0].token",
            "32 characters",
        );
        refused(
            &hook("name = \"g\"\ntoken = \"0123456789abcdef0123456789abcdef/?#\""),
            "sites[0].webhooks[0].token",
            "URL",
        );
        refused(
            &hook(&format!(
                "name = \"g\"\ntoken = \"{TOKEN}\"\npreset = \"typeform\""
            )),
            "preset",
            "gravity_forms",
        );
        let twice = format!(
            "{}{}",
            hook(&format!("name = \"g\"\ntoken = \"{TOKEN}\"")),
            hook(&format!("name = \"g\"\ntoken = \"{TOKEN}\""))
        );
        refused(&twice, "sites[0].webhooks[1].name", "two webhooks");
        let errors = load(&hook("name = \"g\"\ntoken = \"short-secret-value\""), &[]).unwrap_err();
        assert!(
            !errors.to_string().contains("short-secret-value"),
            "{errors}"
        );
    }
}
