//! `[[sites]]`: each site's keys as written (read by `extract`, one site at a
//! time), and the rules over them: required keys, defaults among the site's
//! services, at least one site, unique slugs.

use std::collections::HashMap;
use std::str::FromStr;

use serde::Deserialize;

use super::captcha::{self, CaptchaSettings};
use super::error::Problems;
use super::fields;
use super::partners::SitePartners;
use super::site_form::{FieldName, FormKeys, LabelKeys, Service, SiteDefaults, SiteForm};
use super::visits::{VisitKeys, VisitSettings};
use crate::domain::{CareHqId, Origin};

/// One `[[sites]]` entry: a form and where its enquiries go in CareHQ.
#[derive(Clone, Debug)]
pub struct SiteSettings {
    pub slug: String,
    pub name: String,
    /// The CareHQ account its enquiries and visits go to (`default`: `[carehq]`).
    pub account: String,
    /// Who is emailed an enquiry not in CareHQ within `sync.fallback_after`.
    pub fallback_email: Option<lettre::message::Mailbox>,
    /// `[[destinations]]` its enquiries also go to, each its own outbox step.
    pub also_send_to: Vec<String>,
    /// CareHQ location Id, 24 lower-case hex characters.
    pub location: CareHqId,
    pub referrer: Option<CareHqId>,
    pub sales_channel: Option<CareHqId>,
    /// Origins (`scheme://host[:port]`) of websites allowed to post this form.
    pub allowed_origins: Vec<Origin>,
    pub redirect_url: Option<String>,
    pub untrusted_source: bool,
    /// CareHQ service values offered on the form; empty means the built-in list.
    pub services: Vec<String>,
    pub defaults: SiteDefaults,
    /// How the hosted form looks: intro, consent, hidden fields, labels.
    pub form: SiteForm,
    /// `[sites.visits]`; `None` when visit booking is not enabled for the site.
    pub visits: Option<VisitSettings>,
    /// Name of the hidden field only bots fill in.
    pub honeypot_field: String,
    /// Form posts (not JSON) without a `_t` time token are treated as bots.
    pub require_time_token: bool,
    /// `[sites.captcha]` merged over `[captcha]`; `None` when the site has no table.
    pub captcha: Option<CaptchaSettings>,
    /// `[sites.partners.*]`: partners that may post this site's enquiries.
    pub partners: SitePartners,
}

impl SiteSettings {
    /// The CAPTCHA settings this site's posts are checked with.
    pub fn captcha<'a>(&'a self, global: &'a CaptchaSettings) -> &'a CaptchaSettings {
        self.captcha.as_ref().unwrap_or(global)
    }
}

/// One `[[sites]]` table as written; `sites` checks what serde cannot.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct SiteKeys {
    #[serde(deserialize_with = "fields::some")]
    slug: Option<Slug>,
    #[serde(deserialize_with = "fields::some")]
    name: Option<String>,
    #[serde(deserialize_with = "fields::some")]
    account: Option<String>,
    #[serde(deserialize_with = "super::operations::mailbox")]
    fallback_email: Option<lettre::message::Mailbox>,
    #[serde(deserialize_with = "fields::list")]
    also_send_to: Vec<String>,
    #[serde(deserialize_with = "fields::location")]
    location: Option<CareHqId>,
    #[serde(deserialize_with = "fields::referrer")]
    referrer: Option<CareHqId>,
    #[serde(deserialize_with = "fields::sales_channel")]
    sales_channel: Option<CareHqId>,
    #[serde(deserialize_with = "fields::list")]
    allowed_origins: Vec<Origin>,
    #[serde(deserialize_with = "fields::redirect_url")]
    redirect_url: Option<String>,
    #[serde(deserialize_with = "fields::some_boolean")]
    untrusted_source: Option<bool>,
    #[serde(deserialize_with = "fields::list")]
    services: Vec<Service>,
    defaults: SiteDefaults,
    #[serde(deserialize_with = "fields::some")]
    honeypot_field: Option<FieldName>,
    #[serde(deserialize_with = "fields::boolean")]
    require_time_token: bool,
    captcha: Option<CaptchaSettings>,
    visits: VisitKeys,
    #[serde(deserialize_with = "fields::some")]
    intro: Option<String>,
    #[serde(deserialize_with = "fields::some")]
    consent_text: Option<String>,
    #[serde(deserialize_with = "fields::some")]
    consent_version: Option<String>,
    #[serde(deserialize_with = "fields::list")]
    hidden_fields: Vec<String>,
    labels: LabelKeys,
    partners: SitePartners,
}

impl SiteKeys {
    pub(super) fn slug(&self) -> Option<&str> {
        self.slug.as_ref().map(|s| s.0.as_str())
    }
}

/// What `extract` found out about one site's keys.
pub(super) struct Refused<'a> {
    /// Keys whose value serde refused (they hold defaults).
    pub bad: &'a [String],
    /// Unknown keys: each may be a misspelt required one.
    pub unknown: &'a [String],
}

impl Refused<'_> {
    fn any(list: &[String], prefix: &str) -> bool {
        list.iter().any(|k| k.starts_with(prefix))
    }
}

/// Checks every site (`(place in the file, keys)`) and returns the good ones
/// with their place, so later rules key their problems to the right site.
pub(super) fn sites(
    raw: Vec<(usize, SiteKeys)>,
    refused: &Refused,
    p: &mut Problems,
) -> Vec<(usize, SiteSettings)> {
    if raw.is_empty() {
        p.push(
            "sites",
            "no site is configured; add at least one [[sites]] block with slug, name and location \
             (list your locations with `enquiry-relay carehq locations`)",
        );
    }
    let mut first_use: HashMap<String, usize> = HashMap::new();
    let mut sites = Vec::with_capacity(raw.len());
    for (i, site) in raw {
        if let Some(slug) = site.slug() {
            match first_use.get(slug) {
                Some(first) => p.push(
                    format!("sites[{i}].slug"),
                    format!("duplicate slug \"{slug}\" (also used by sites[{first}]); give each site its own slug"),
                ),
                None => {
                    first_use.insert(slug.to_owned(), i);
                }
            }
        }
        if let Some(site) = one_site(i, site, refused, p) {
            sites.push((i, site));
        }
    }
    sites
}

fn one_site(i: usize, raw: SiteKeys, refused: &Refused, p: &mut Problems) -> Option<SiteSettings> {
    let key = |field: &str| format!("sites[{i}].{field}");
    let before = p.len();
    // A misspelt key may be the missing one: only the misspelling is named.
    let misspelt = Refused::any(refused.unknown, &key(""));
    let mut required = |field: &str, set: bool, hint: &str| {
        if !set && !misspelt && !Refused::any(refused.bad, &key(field)) {
            p.push(key(field), format!("missing; {hint}"));
        }
    };
    required(
        "slug",
        raw.slug.is_some(),
        "set a short name for the form's URL, e.g. \"upton-court\"",
    );
    required(
        "name",
        raw.name.is_some(),
        "set the home's name as families should see it, e.g. \"Upton Court\"",
    );
    required(
        "location",
        raw.location.is_some(),
        "set the CareHQ location Id of this home (copy it from `enquiry-relay carehq locations`)",
    );
    let services: Vec<String> = raw.services.into_iter().map(|s| s.0).collect();
    for (j, service) in services.iter().enumerate() {
        if services[..j].contains(service) {
            p.push(
                key(&format!("services[{j}]")),
                format!("\"{service}\" is listed twice; list each service once"),
            );
        }
    }
    if let Some(service) = &raw.defaults.service
        && !Refused::any(refused.bad, &key("services"))
        && !services.is_empty()
        && !services.contains(service)
    {
        let listed = services.join(", ");
        p.push(
            key("defaults.service"),
            format!("\"{service}\" is not among this site's services ({listed}); add it there or pick one of them"),
        );
    }
    let form = FormKeys {
        intro: raw.intro,
        consent_text: raw.consent_text,
        consent_version: raw.consent_version,
        hidden_fields: raw.hidden_fields,
        labels: raw.labels,
    };
    let form = super::site_form::site_form(i, form, p);
    let visits = super::visits::visits(i, raw.visits, refused.bad, p);
    if let Some(captcha) = &raw.captcha {
        captcha::required_keys(&key("captcha"), captcha, p);
    }
    super::partners::check(&format!("sites[{i}]"), &raw.partners, p);
    let mut allowed_origins: Vec<Origin> = Vec::with_capacity(raw.allowed_origins.len());
    for origin in raw.allowed_origins {
        // Two spellings of one origin are harmless: the copy is dropped.
        if !allowed_origins.contains(&origin) {
            allowed_origins.push(origin);
        }
    }
    if p.len() > before || Refused::any(refused.bad, &key("")) {
        return None;
    }
    Some(SiteSettings {
        slug: raw.slug?.0,
        name: raw.name?,
        account: (raw.account).unwrap_or_else(|| super::accounts::DEFAULT_ACCOUNT.to_owned()),
        fallback_email: raw.fallback_email,
        also_send_to: raw.also_send_to,
        location: raw.location?,
        referrer: raw.referrer,
        sales_channel: raw.sales_channel,
        allowed_origins,
        redirect_url: raw.redirect_url,
        untrusted_source: raw.untrusted_source.unwrap_or(true),
        services,
        defaults: raw.defaults,
        form: form?,
        visits: visits?,
        honeypot_field: raw
            .honeypot_field
            .map_or_else(|| "website".to_owned(), |f| f.0),
        require_time_token: raw.require_time_token,
        captcha: raw.captcha,
        partners: raw.partners,
    })
}

/// Longest slug; it appears in URLs (`/forms/{slug}`).
const MAX_SLUG: usize = 64;

/// A site's slug: lower-case letters, digits and hyphens.
struct Slug(String);

impl FromStr for Slug {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let valid = (1..=MAX_SLUG).contains(&text.len())
            && (text.bytes()).all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        match valid {
            true => Ok(Self(text.to_owned())),
            false => Err(format!(
                "\"{text}\" is not a valid slug; use 1 to {MAX_SLUG} lower-case letters, digits and hyphens, e.g. \"{}\"",
                suggest_slug(text)
            )),
        }
    }
}

/// "Upton Court!" → "upton-court": what the operator most likely meant.
fn suggest_slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed: String = out.trim_matches('-').chars().take(MAX_SLUG).collect();
    if trimmed.is_empty() {
        "my-care-home".to_owned()
    } else {
        trimmed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_checked_and_a_fix_is_suggested() {
        assert!("upton-court-2".parse::<Slug>().is_ok());
        for bad in ["Upton", "", &"a".repeat(65)] {
            assert!(bad.parse::<Slug>().is_err(), "{bad}");
        }
        assert_eq!(suggest_slug("Upton Court!"), "upton-court");
        assert_eq!(suggest_slug("!!"), "my-care-home");
    }
}
