//! `[[destinations]]`: systems other than CareHQ that a site's enquiries
//! also go to (`sites.also_send_to`), each through the same outbox as its
//! own step. One kind so far: `fhir` (Healthcode's conventions).

use secrecy::SecretString;

use super::error::{Names, Problems, Refused};
use super::fields;
use crate::values::{SecureUrl, Slug};

/// One further destination.
#[derive(Clone, Debug)]
pub struct DestinationSettings {
    /// Lower-case letters, digits and hyphens; what `also_send_to` names.
    pub name: String,
    pub fhir: FhirDestination,
}

/// A `kind = "fhir"` destination's keys (DESIGN.md "FHIR destination").
#[derive(Clone, Debug)]
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

fields::section! {
    /// One `[[destinations]]` table as written.
    pub(super) struct DestinationKeys {
        name: Option<String> ["fields::some_via::<_, Slug, _>"] = None,
        kind: Option<Kind> ["fields::some"] = None,
        discovery_url: Option<String> ["fields::some_via::<_, SecureUrl, _>"] = None,
        api: Option<String> ["fields::some"] = None,
        sso_discovery_url: Option<String> ["fields::some_via::<_, SecureUrl, _>"] = None,
        client_id: Option<String> ["fields::some"] = None,
        client_secret: Option<SecretString> ["fields::some_secret"] = None,
        site_id: Option<String> ["fields::some"] = None,
        api_version: Option<String> ["fields::some"] = None,
    }
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
    refused: &Refused,
    p: &mut Problems,
) -> Vec<DestinationSettings> {
    let mut found: Vec<DestinationSettings> = Vec::new();
    let mut names = Names::new("destinations", "destination name");
    for (i, keys) in raw {
        let key = |field: &str| format!("destinations[{i}].{field}");
        if let Some(name) = &keys.name {
            names.add(i, &key("name"), name, p);
        }
        #[rustfmt::skip]
        let required = [
            ("name", keys.name.is_some(), "name the destination (sites list it in also_send_to), e.g. \"records\""),
            ("kind", keys.kind.is_some(), "set kind = \"fhir\""),
            ("discovery_url", keys.discovery_url.is_some(), "set the API's discovery document, e.g. \"https://api.example/.well-known/discovery-document.json\""),
            ("sso_discovery_url", keys.sso_discovery_url.is_some(), "set the SSO server's openid-configuration, e.g. \"https://auth.example/.well-known/openid-configuration\""),
            ("client_id", keys.client_id.is_some(), "set the API Key Id"),
            ("client_secret", keys.client_secret.is_some(), "set the API Key, or put it in a file named by client_secret_file"),
            ("site_id", keys.site_id.is_some(), "set the site id sent as SU-SiteId"),
        ];
        for (field, set, hint) in required {
            p.require(refused, &key(field), set, hint);
        }
        let DestinationKeys {
            name: Some(name),
            kind: Some(_),
            discovery_url: Some(discovery_url),
            sso_discovery_url: Some(sso_discovery_url),
            client_id: Some(client_id),
            client_secret: Some(client_secret),
            site_id: Some(site_id),
            api,
            api_version,
        } = keys
        else {
            continue;
        };
        if !site_targets
            .iter()
            .any(|(_, targets)| targets.contains(&name))
        {
            p.push(
                key("name"),
                format!("no site sends to destination \"{name}\"; add it to a site's also_send_to = [\"{name}\"], or remove it"),
            );
        }
        let fhir = FhirDestination {
            discovery_url,
            api: api.unwrap_or_else(|| "care-enquiries".to_owned()),
            sso_discovery_url,
            client_id,
            client_secret,
            site_id,
            api_version: api_version.unwrap_or_else(|| "1".to_owned()),
        };
        found.push(DestinationSettings { name, fhir });
    }
    for (i, targets) in site_targets {
        for (j, target) in targets.iter().enumerate() {
            if !names.contains(target) {
                p.push(
                    format!("sites[{i}].also_send_to[{j}]"),
                    match names.list() {
                        listed if listed.is_empty() => format!("no destination is named \"{target}\"; add a [[destinations]] entry with that name"),
                        listed => format!("no destination is named \"{target}\"; use one of: {}", listed.join(", ")),
                    },
                );
            }
        }
    }
    found
}
