//! `[[sites]]`: each site's keys (read by `extract`, one site at a time) and
//! the rules over them: defaults among the site's services, at least one
//! site, unique slugs. The form's and the visits' own rules are in
//! `site_form` and `visits`.

use lettre::message::Mailbox;

use super::captcha::{self, CaptchaSettings};
use super::error::{Names, Problems, Refused};
use super::fields;
use super::partners::SitePartners;
use super::site_form::{Labels, SiteDefaults};
use super::visits::VisitSettings;
use crate::domain::{CareHqId, Origin};
use crate::values::{Email, FieldName, HttpUrl, Service, Slug};

fields::section! {
    /// One `[[sites]]` entry: a form and where its enquiries go in CareHQ.
    #[derive(Clone, Debug)]
    pub struct SiteSettings {
        pub slug: String ["fields::via::<_, Slug, _>"] = String::new()
            => required("set a short name for the form's URL, e.g. \"upton-court\""),
        pub name: String ["fields::parsed"] = String::new()
            => required("set the home's name as families should see it, e.g. \"Upton Court\""),
        /// The CareHQ account its enquiries and visits go to (`default`: `[carehq]`).
        pub account: String ["fields::parsed"] = super::accounts::DEFAULT_ACCOUNT.to_owned(),
        /// Who is emailed an enquiry not in CareHQ within `sync.fallback_after`.
        pub fallback_email: Option<Mailbox> ["fields::some_via::<_, Email, _>"] = None,
        /// `[[destinations]]` its enquiries also go to, each its own outbox step.
        pub also_send_to: Vec<String> ["fields::list"] = Vec::new(),
        /// CareHQ location Id, 24 lower-case hex characters.
        pub location: CareHqId ["fields::location"] = CareHqId::default()
            => required("set the CareHQ location Id of this home (copy it from `enquiry-relay carehq locations`)"),
        pub referrer: Option<CareHqId> ["fields::referrer"] = None,
        pub sales_channel: Option<CareHqId> ["fields::sales_channel"] = None,
        /// Origins (`scheme://host[:port]`) of websites allowed to post this form.
        pub allowed_origins: Vec<Origin> ["fields::list"] = Vec::new(),
        pub redirect_url: Option<String> ["fields::some_via::<_, HttpUrl, _>"] = None,
        pub untrusted_source: bool ["fields::boolean"] = true,
        /// CareHQ service values offered on the form; empty means the built-in list.
        pub services: Vec<String> ["fields::list_via::<_, Service, _>"] = Vec::new(),
        pub defaults: SiteDefaults = SiteDefaults::default(),
        /// Name of the hidden field only bots fill in.
        pub honeypot_field: String ["fields::via::<_, FieldName, _>"] = "website".to_owned(),
        /// Form posts (not JSON) without a `_t` time token are treated as bots.
        pub require_time_token: bool ["fields::boolean"] = false,
        /// `[sites.captcha]` merged over `[captcha]`; `None` when the site has no table.
        pub captcha: Option<CaptchaSettings> = None,
        /// `[sites.visits]`; read it with `visits()`, which knows whether booking is on.
        pub visits: VisitSettings = VisitSettings::default(),
        /// The hosted form's paragraph under the heading, in the home's own words.
        pub intro: Option<String> ["fields::some"] = None,
        /// The consent statement; when set the family must tick it.
        pub consent_text: Option<String> ["fields::some"] = None,
        /// Recorded with each enquiry, so staff know which wording the family saw.
        pub consent_version: Option<String> ["fields::some"] = None,
        /// Optional fields left off the hosted form (from `OPTIONAL_FIELDS`).
        pub hidden_fields: Vec<String> ["fields::list"] = Vec::new(),
        /// `[sites.labels]`: field name → label, replacing the built-in wording.
        pub labels: Labels = Labels::default(),
        /// `[sites.partners.*]`: partners that may post this site's enquiries.
        pub partners: SitePartners = SitePartners::default(),
        /// `[sites.fields]`: the site's own form's field names → ours.
        pub fields: crate::site_forms::FieldMap ["super::site_fields::field_map"] = Default::default(),
        /// `[[sites.webhooks]]`: form builders posting server to server.
        pub webhooks: Vec<super::SiteWebhook> = Vec::new(),
    }
}

impl SiteSettings {
    /// The CAPTCHA settings this site's posts are checked with.
    pub fn captcha<'a>(&'a self, global: &'a CaptchaSettings) -> &'a CaptchaSettings {
        self.captcha.as_ref().unwrap_or(global)
    }

    /// The visit booking settings; `None` when booking is not enabled.
    pub fn visits(&self) -> Option<&VisitSettings> {
        Some(&self.visits).filter(|visits| visits.enabled)
    }

    /// Whether the hosted form shows `field`.
    pub fn shows(&self, field: &str) -> bool {
        !self.hidden_fields.iter().any(|f| f == field)
    }

    /// The site's own label for `field`, if it gives one.
    pub fn label(&self, field: &str) -> Option<&str> {
        let found = self.labels.0.iter().find(|(f, _)| f == field);
        found.map(|(_, label)| label.as_str())
    }
}

/// Checks every site (`(place in the file, keys)`) and returns the good ones
/// with their place, so later rules key their problems to the right site.
pub(super) fn sites(
    raw: Vec<(usize, SiteSettings)>,
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
    let mut slugs = Names::new("sites", "slug");
    let mut sites = Vec::with_capacity(raw.len());
    for (i, mut site) in raw {
        if !site.slug.is_empty() {
            slugs.add(i, &format!("sites[{i}].slug"), &site.slug, p);
        }
        if one_site(i, &mut site, refused, p) {
            sites.push((i, site));
        }
    }
    sites
}

/// The rules across one site's keys: false after a problem, or when a key
/// was refused (the site is then left out of the rules across sites).
fn one_site(i: usize, site: &mut SiteSettings, refused: &Refused, p: &mut Problems) -> bool {
    let key = |field: &str| format!("sites[{i}].{field}");
    let before = p.len();
    let services = &site.services;
    for (j, service) in services.iter().enumerate() {
        if services[..j].contains(service) {
            p.push(
                key(&format!("services[{j}]")),
                format!("\"{service}\" is listed twice; list each service once"),
            );
        }
    }
    if let Some(service) = &site.defaults.service
        && !refused.any(&key("services"))
        && !services.is_empty()
        && !services.contains(service)
    {
        let listed = services.join(", ");
        p.push(
            key("defaults.service"),
            format!("\"{service}\" is not among this site's services ({listed}); add it there or pick one of them"),
        );
    }
    let consent = (&site.consent_text, &site.consent_version);
    super::site_form::check(i, consent, &mut site.hidden_fields, p);
    super::visits::check(i, &mut site.visits, refused, p);
    if let Some(captcha) = &site.captcha {
        captcha::required_keys(&key("captcha"), captcha, p);
    }
    super::partners::check(&format!("sites[{i}]"), &site.partners, p);
    super::site_webhooks::check(i, &mut site.webhooks, p);
    // Two spellings of one origin are harmless: the copy is dropped.
    for origin in std::mem::take(&mut site.allowed_origins) {
        if !site.allowed_origins.contains(&origin) {
            site.allowed_origins.push(origin);
        }
    }
    p.len() == before && !refused.any(&key(""))
}
