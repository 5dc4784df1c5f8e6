//! `[[destinations]]`: systems other than CareHQ that a site's enquiries
//! also go to (`sites.also_send_to`), each through the same outbox as its
//! own step. One kind so far: `fhir` (Healthcode's conventions).

use secrecy::SecretString;

use super::error::{Names, Problems, Refused};
use super::fields;
use super::text::Table;
use crate::values::{SecureUrl, Slug};

fields::section! {
    /// One further destination: a `kind = "fhir"` API (docs/design.md, "FHIR destination").
    #[derive(Clone, Debug)]
    pub struct DestinationSettings {
        /// Lower-case letters, digits and hyphens; what `also_send_to` names.
        pub name: String ["fields::via::<_, Slug, _>"] = String::new()
            => required("name the destination (sites list it in also_send_to), e.g. \"records\""),
        pub kind: DestinationKind ["fields::parsed"] = DestinationKind::Fhir
            => required("set kind = \"fhir\""),
        pub discovery_url: String ["fields::via::<_, SecureUrl, _>"] = String::new()
            => required("set the API's discovery document, e.g. \"https://api.example/.well-known/discovery-document.json\""),
        /// The discovery document's key whose URI receives the Bundle.
        pub api: String ["fields::parsed"] = "care-enquiries".to_owned(),
        pub sso_discovery_url: String ["fields::via::<_, SecureUrl, _>"] = String::new()
            => required("set the SSO server's openid-configuration, e.g. \"https://auth.example/.well-known/openid-configuration\""),
        /// The API Key Id.
        pub client_id: String ["fields::parsed"] = String::new() => required("set the API Key Id"),
        /// The API Key.
        pub client_secret: SecretString ["fields::secret"] = SecretString::from("")
            => required("set the API Key, or put it in a file named by client_secret_file"),
        /// Sent as `SU-SiteId`.
        pub site_id: String ["fields::parsed"] = String::new() => required("set the site id sent as SU-SiteId"),
        /// Sent as `HC-API-Version` (always).
        pub api_version: String ["fields::parsed"] = "1".to_owned(),
    }
}

fields::named! {
    /// The kinds of destination there are.
    pub enum DestinationKind {
        /// Healthcode's conventions: a FHIR Bundle per enquiry.
        Fhir = "fhir",
    }
}

/// Checks every `[[destinations]]` entry and the sites' `also_send_to`
/// (`site_targets`: each site's place in the file and the names it lists).
pub(super) fn destinations(
    raw: Vec<(usize, DestinationSettings)>,
    site_targets: &[(usize, &[String])],
    refused: &Refused,
    p: &mut Problems,
) -> Vec<DestinationSettings> {
    let mut found: Vec<DestinationSettings> = Vec::new();
    let mut names = Names::new("destinations", "destination name");
    for (i, destination) in raw {
        let key = |field: &str| format!("destinations[{i}].{field}");
        let name = &destination.name;
        if !name.is_empty() {
            names.add(i, &key("name"), name, p);
        }
        // Without its required keys there is no destination to check further.
        if (DestinationSettings::REQUIRED.iter()).any(|(field, _)| refused.any(&key(field))) {
            continue;
        }
        if !site_targets
            .iter()
            .any(|(_, targets)| targets.contains(name))
        {
            p.push(
                key("name"),
                format!("no site sends to destination \"{name}\"; add it to a site's also_send_to = [\"{name}\"], or remove it"),
            );
        }
        found.push(destination);
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
