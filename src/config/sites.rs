//! `[[sites]]`: each site's keys as written (read by `extract`, one site at a
//! time), and the rules over them: required keys, defaults among the site's
//! services, at least one site, unique slugs.

use lettre::message::Mailbox;

use super::captcha::{self, CaptchaSettings};
use super::error::{Names, Problems, Refused};
use super::fields;
use super::partners::SitePartners;
use super::site_form::{FormKeys, LabelKeys, SiteDefaults, SiteForm};
use super::visits::{VisitKeys, VisitSettings};
use crate::domain::{CareHqId, Origin};
use crate::values::{Email, FieldName, HttpUrl, Service, Slug};

/// One `[[sites]]` entry: a form and where its enquiries go in CareHQ.
#[derive(Clone, Debug)]
pub struct SiteSettings {
    pub slug: String,
    pub name: String,
    /// The CareHQ account its enquiries and visits go to (`default`: `[carehq]`).
    pub account: String,
    /// Who is emailed an enquiry not in CareHQ within `sync.fallback_after`.
    pub fallback_email: Option<Mailbox>,
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

fields::section! {
    /// One `[[sites]]` table as written; `sites` checks what serde cannot.
    pub(super) struct SiteKeys {
        slug: Option<String> ["fields::some_via::<_, Slug, _>"] = None,
        name: Option<String> ["fields::some"] = None,
        account: Option<String> ["fields::some"] = None,
        fallback_email: Option<Mailbox> ["fields::some_via::<_, Email, _>"] = None,
        also_send_to: Vec<String> ["fields::list"] = Vec::new(),
        location: Option<CareHqId> ["fields::location"] = None,
        referrer: Option<CareHqId> ["fields::referrer"] = None,
        sales_channel: Option<CareHqId> ["fields::sales_channel"] = None,
        allowed_origins: Vec<Origin> ["fields::list"] = Vec::new(),
        redirect_url: Option<String> ["fields::some_via::<_, HttpUrl, _>"] = None,
        untrusted_source: Option<bool> ["fields::some_boolean"] = None,
        services: Vec<String> ["fields::list_via::<_, Service, _>"] = Vec::new(),
        defaults: SiteDefaults = SiteDefaults::default(),
        honeypot_field: Option<String> ["fields::some_via::<_, FieldName, _>"] = None,
        require_time_token: bool ["fields::boolean"] = false,
        captcha: Option<CaptchaSettings> = None,
        visits: VisitKeys = VisitKeys::default(),
        intro: Option<String> ["fields::some"] = None,
        consent_text: Option<String> ["fields::some"] = None,
        consent_version: Option<String> ["fields::some"] = None,
        hidden_fields: Vec<String> ["fields::list"] = Vec::new(),
        labels: LabelKeys = LabelKeys::default(),
        partners: SitePartners = SitePartners::default(),
    }
}

impl SiteKeys {
    pub(super) fn slug(&self) -> Option<&str> {
        self.slug.as_deref()
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
    let mut slugs = Names::new("sites", "slug");
    let mut sites = Vec::with_capacity(raw.len());
    for (i, site) in raw {
        if let Some(slug) = site.slug() {
            slugs.add(i, &format!("sites[{i}].slug"), slug, p);
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
    #[rustfmt::skip]
    let required = [
        ("slug", raw.slug.is_some(), "set a short name for the form's URL, e.g. \"upton-court\""),
        ("name", raw.name.is_some(), "set the home's name as families should see it, e.g. \"Upton Court\""),
        ("location", raw.location.is_some(), "set the CareHQ location Id of this home (copy it from `enquiry-relay carehq locations`)"),
    ];
    for (field, set, hint) in required {
        p.require(refused, &key(field), set, hint);
    }
    let services = raw.services;
    for (j, service) in services.iter().enumerate() {
        if services[..j].contains(service) {
            p.push(
                key(&format!("services[{j}]")),
                format!("\"{service}\" is listed twice; list each service once"),
            );
        }
    }
    if let Some(service) = &raw.defaults.service
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
    let form = FormKeys {
        intro: raw.intro,
        consent_text: raw.consent_text,
        consent_version: raw.consent_version,
        hidden_fields: raw.hidden_fields,
        labels: raw.labels,
    };
    let form = super::site_form::site_form(i, form, p);
    let visits = super::visits::visits(i, raw.visits, refused, p);
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
    if p.len() > before || refused.any(&key("")) {
        return None;
    }
    Some(SiteSettings {
        slug: raw.slug?,
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
        honeypot_field: raw.honeypot_field.unwrap_or_else(|| "website".to_owned()),
        require_time_token: raw.require_time_token,
        captcha: raw.captcha,
        partners: raw.partners,
    })
}
