//! `[sites.partners.helparound]`: a partner platform allowed to post this
//! site's enquiries by webhook, and how it proves it is the partner: a bearer
//! `token` (or `token_file`), or a Standard Webhooks `signing_secret` (or
//! `signing_secret_file`, `whsec_…`). Exactly one of the two.

use secrecy::SecretString;
use serde::Deserialize;

use super::error::Problems;
use super::fields;

/// A site's partners; `None` for a partner the site does not take.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SitePartners {
    pub helparound: Option<PartnerAuth>,
}

fields::section! {
    /// How one partner authenticates its webhooks.
    #[derive(Clone, Debug)]
    pub struct PartnerAuth {
        /// `Authorization: Bearer <token>`.
        pub token: Option<SecretString> ["fields::secret"] = None,
        /// The Standard Webhooks secret (`whsec_` and base64).
        pub signing_secret: Option<SecretString> ["fields::secret"] = None,
    }
}

/// Exactly one way in per partner, and a secret that can be used.
pub(super) fn check(prefix: &str, partners: &SitePartners, p: &mut Problems) {
    let Some(auth) = &partners.helparound else {
        return;
    };
    let key = format!("{prefix}.partners.helparound");
    match (&auth.token, &auth.signing_secret) {
        (None, None) => p.push(
            &key,
            format!("needs token_file (the bearer token agreed with HelpAround) or signing_secret_file (a Standard Webhooks whsec_… secret); set one, e.g. {key}.token_file = \"/run/secrets/helparound_token\""),
        ),
        (Some(_), Some(_)) => p.push(
            &key,
            "has both token and signing_secret; keep the one agreed with HelpAround",
        ),
        (Some(token), None) => {
            if secrecy::ExposeSecret::expose_secret(token).chars().count() < 32 {
                p.push(
                    format!("{key}.token"),
                    "is shorter than 32 characters (value hidden: it is a secret); use a long random token, e.g. the output of `openssl rand -hex 32`",
                );
            }
        }
        (None, Some(secret)) => {
            if crate::partners::webhook_auth::signing_key(secret).is_none() {
                p.push(
                    format!("{key}.signing_secret"),
                    "is not a Standard Webhooks secret (value hidden: it is a secret); expected whsec_ followed by base64, as the partner's dashboard shows it",
                );
            }
        }
    }
}
