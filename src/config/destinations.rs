//! `[[destinations]]`: systems other than CareHQ that a site's enquiries
//! also go to (`sites.also_send_to`), each through the same outbox as its
//! own step. One kind so far: `fhir` (Healthcode's conventions).

use secrecy::SecretString;
use serde::Deserialize;

use super::accounts::AccountName;
use super::error::Problems;
use super::fields;

/// One further destination.
#[derive(Clone, Debug)]
pub struct DestinationSettings {
    /// Lower-case letters, digits and hyphens; what `also_send_to` names.
    pub name: String,
    pub fhir: FhirDestination,
}

/// A `kind = "fhir"` destination's keys (DESIGN.md "FHIR destination").
#[derive(Clone)]
pub struct FhirDestination {
    pub discovery_url: String,
    /// The discovery document's key whose URI receives the Bundle.
    pub api: String,
    pub sso_discovery_url: String,
    /// The API Key Id.
    pub client_id: String,
    /// The API Key.
    pub client_secret: SecretString,
    /// Sent as `SU-SiteId`.
    pub site_id: String,
    /// Sent as `HC-API-Version` (always).
    pub api_version: String,
}

impl std::fmt::Debug for FhirDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FhirDestination")
            .field("discovery_url", &self.discovery_url)
            .field("api", &self.api)
            .field("client_id", &self.client_id)
            .field("site_id", &self.site_id)
            .finish_non_exhaustive()
    }
}

/// One `[[destinations]]` table as written.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct DestinationKeys {
    #[serde(deserialize_with = "fields::some")]
    name: Option<AccountName>,
    #[serde(deserialize_with = "fields::some")]
    kind: Option<Kind>,
    #[serde(deserialize_with = "fields::discovery_url")]
    discovery_url: Option<String>,
    #[serde(deserialize_with = "fields::some")]
    api: Option<String>,
    #[serde(deserialize_with = "fields::discovery_url")]
    sso_discovery_url: Option<String>,
    #[serde(deserialize_with = "fields::some")]
    client_id: Option<String>,
    #[serde(deserialize_with = "fields::some_secret")]
    client_secret: Option<SecretString>,
    #[serde(deserialize_with = "fields::some")]
    site_id: Option<String>,
    #[serde(deserialize_with = "fields::some")]
    api_version: Option<String>,
}

/// The kinds there are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Kind;

impl std::str::FromStr for Kind {
    type Err = String;
    fn from_str(text: &str) -> Result<Kind, String> {
        match text {
            "fhir" => Ok(Kind),
            other => Err(format!(
                "\"{other}\" is not a destination kind; the one there is: fhir"
            )),
        }
    }
}

/// Checks every `[[destinations]]` entry and the sites' `also_send_to`
/// (`site_targets`: each site's place in the file and the names it lists).
pub(super) fn destinations(
    raw: Vec<(usize, DestinationKeys)>,
    site_targets: &[(usize, &[String])],
    bad_keys: &[String],
    p: &mut Problems,
) -> Vec<DestinationSettings> {
    let mut found: Vec<(usize, DestinationSettings)> = Vec::new();
    let mut names: Vec<(String, usize)> = Vec::new();
    for (i, keys) in raw {
        let key = |field: &str| format!("destinations[{i}].{field}");
        if let Some(name) = &keys.name {
            if let Some((_, first)) = names.iter().find(|(n, _)| *n == name.0) {
                p.push(
                    key("name"),
                    format!("duplicate destination name \"{}\" (also used by destinations[{first}]); give each its own name", name.0),
                );
            }
            names.push((name.0.clone(), i));
        }
        let mut missing = |field: &str, set: bool, hint: &str| {
            if !set && !bad_keys.iter().any(|k| k.starts_with(&key(field))) {
                p.push(key(field), format!("missing; {hint}"));
            }
        };
        missing(
            "name",
            keys.name.is_some(),
            "name the destination (sites list it in also_send_to), e.g. \"records\"",
        );
        missing("kind", keys.kind.is_some(), "set kind = \"fhir\"");
        missing(
            "discovery_url",
            keys.discovery_url.is_some(),
            "set the API's discovery document, e.g. \"https://api.example/.well-known/discovery-document.json\"",
        );
        missing(
            "sso_discovery_url",
            keys.sso_discovery_url.is_some(),
            "set the SSO server's openid-configuration, e.g. \"https://auth.example/.well-known/openid-configuration\"",
        );
        missing("client_id", keys.client_id.is_some(), "set the API Key Id");
        missing(
            "client_secret",
            keys.client_secret.is_some(),
            "set the API Key, or put it in a file named by client_secret_file",
        );
        missing(
            "site_id",
            keys.site_id.is_some(),
            "set the site id sent as SU-SiteId",
        );
        let (
            Some(name),
            Some(_),
            Some(discovery_url),
            Some(sso_discovery_url),
            Some(client_id),
            Some(client_secret),
            Some(site_id),
        ) = (
            keys.name,
            keys.kind,
            keys.discovery_url,
            keys.sso_discovery_url,
            keys.client_id,
            keys.client_secret,
            keys.site_id,
        )
        else {
            continue;
        };
        if !site_targets
            .iter()
            .any(|(_, targets)| targets.contains(&name.0))
        {
            p.push(
                key("name"),
                format!("no site sends to destination \"{0}\"; add it to a site's also_send_to = [\"{0}\"], or remove it", name.0),
            );
        }
        let fhir = FhirDestination {
            discovery_url,
            api: keys.api.unwrap_or_else(|| "care-enquiries".to_owned()),
            sso_discovery_url,
            client_id,
            client_secret,
            site_id,
            api_version: keys.api_version.unwrap_or_else(|| "1".to_owned()),
        };
        found.push((i, DestinationSettings { name: name.0, fhir }));
    }
    for (i, targets) in site_targets {
        for (j, target) in targets.iter().enumerate() {
            if !names.iter().any(|(n, _)| n == target) {
                let listed: Vec<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
                p.push(
                    format!("sites[{i}].also_send_to[{j}]"),
                    match listed.is_empty() {
                        true => format!("no destination is named \"{target}\"; add a [[destinations]] entry with that name"),
                        false => format!("no destination is named \"{target}\"; use one of: {}", listed.join(", ")),
                    },
                );
            }
        }
    }
    found.into_iter().map(|(_, d)| d).collect()
}
