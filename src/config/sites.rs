//! Checks `[[sites]]`: each site's slug, CareHQ Ids, origins, redirect and
//! defaults, plus the rules across sites (at least one, unique slugs).

use std::collections::HashMap;

use super::checks::{boolean, carehq_id, http_url, origin};
use super::error::Problems;
use super::raw::{RawCaptcha, RawSite};
use super::sections::SiteSettings;
use super::site_defaults::{defaults, services};
use super::text::text;

const DEFAULT_HONEYPOT: &str = "website";

/// Fields the form uses itself: a honeypot with one of these names would trap families.
const FORM_FIELDS: &[&str] = &[
    "name",
    "first_name",
    "last_name",
    "email",
    "phone",
    "care_requirements",
    "service",
    "funding_type",
    "enquiring_for_self",
    "consent",
];

fn valid_field_name(name: &str) -> bool {
    name.len() <= 64
        && !name.starts_with('_')
        && !FORM_FIELDS.contains(&name)
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Longest slug; it appears in URLs (`/forms/{slug}`).
const MAX_SLUG: usize = 64;

pub(super) fn sites(
    raw: Vec<RawSite>,
    global_captcha: &RawCaptcha,
    p: &mut Problems,
) -> Vec<SiteSettings> {
    if raw.is_empty() {
        p.push(
            "sites",
            "no site is configured; add at least one [[sites]] block with slug, name and location \
             (list your locations with `enquiry-relay carehq locations`)",
        );
    }
    let mut first_use: HashMap<String, usize> = HashMap::new();
    let mut sites = Vec::with_capacity(raw.len());
    for (i, site) in raw.into_iter().enumerate() {
        let key = |field: &str| format!("sites[{i}].{field}");
        if let Some(slug) = text(&site.slug) {
            if let Some(first) = first_use.get(slug) {
                p.push(
                    key("slug"),
                    format!("duplicate slug \"{slug}\" (also used by sites[{first}]); give each site its own slug"),
                );
            } else {
                first_use.insert(slug.to_owned(), i);
            }
        }
        if let Some(site) = one_site(i, site, global_captcha, p) {
            sites.push(site);
        }
    }
    sites
}

fn one_site(
    i: usize,
    raw: RawSite,
    global_captcha: &RawCaptcha,
    p: &mut Problems,
) -> Option<SiteSettings> {
    let key = |field: &str| format!("sites[{i}].{field}");
    let slug = match text(&raw.slug) {
        None => {
            p.push(
                key("slug"),
                "missing; set a short name for the form's URL, e.g. \"upton-court\"",
            );
            None
        }
        Some(s) if valid_slug(s) => Some(s.to_owned()),
        Some(s) => {
            p.push(
                key("slug"),
                format!(
                    "\"{s}\" is not a valid slug; use 1 to {MAX_SLUG} lower-case letters, digits and hyphens, e.g. \"{}\"",
                    suggest_slug(s)
                ),
            );
            None
        }
    };
    let form = super::site_form::site_form(i, &raw, p);
    let name = text(&raw.name).map(str::to_owned);
    if name.is_none() {
        p.push(
            key("name"),
            "missing; set the home's name as families should see it, e.g. \"Upton Court\"",
        );
    }
    let location = match text(&raw.location) {
        Some(v) => carehq_id(&key("location"), v, "carehq locations", p),
        None => {
            p.push(
                key("location"),
                "missing; set the CareHQ location Id of this home (copy it from `enquiry-relay carehq locations`)",
            );
            None
        }
    };
    let referrer = optional_id(
        &key("referrer"),
        text(&raw.referrer),
        "carehq groups --type referrer",
        p,
    );
    let sales_channel = optional_id(
        &key("sales_channel"),
        text(&raw.sales_channel),
        "carehq groups --type sales_channel",
        p,
    );
    let allowed_origins =
        allowed_origins(i, raw.allowed_origins.map(|l| l.0).unwrap_or_default(), p);
    let redirect_url = match text(&raw.redirect_url) {
        None => Some(None),
        Some(v) => http_url(
            &key("redirect_url"),
            v,
            "https://example-care.co.uk/thank-you",
            p,
        )
        .map(|_| Some(v.to_owned())),
    };
    let untrusted_source = boolean(&key("untrusted_source"), &raw.untrusted_source, true, p);
    let services = services(i, raw.services.map(|l| l.0).unwrap_or_default(), p);
    let defaults = defaults(i, &raw.defaults, services.as_deref().unwrap_or_default(), p);
    let honeypot_field = match text(&raw.honeypot_field) {
        None => Some(DEFAULT_HONEYPOT.to_owned()),
        Some(v) if valid_field_name(v) => Some(v.to_owned()),
        Some(v) => {
            p.push(
                key("honeypot_field"),
                format!("\"{v}\" is not usable as a form field name; use letters, digits, - and _ (not a field the form already has), e.g. \"website\""),
            );
            None
        }
    };
    let require_time_token = boolean(
        &key("require_time_token"),
        &raw.require_time_token,
        false,
        p,
    );
    let captcha = match raw.captcha {
        None => Some(None),
        Some(own) => {
            super::captcha::captcha(&key("captcha"), own.over(global_captcha), p).map(Some)
        }
    };
    let visits = super::visits::visits(i, &raw.visits, p);
    Some(SiteSettings {
        slug: slug?,
        name: name?,
        location: location?,
        referrer: referrer?,
        sales_channel: sales_channel?,
        allowed_origins: allowed_origins?,
        redirect_url: redirect_url?,
        untrusted_source: untrusted_source?,
        services: services?,
        defaults: defaults?,
        honeypot_field: honeypot_field?,
        require_time_token: require_time_token?,
        captcha: captcha?,
        visits: visits?,
        form: form?,
    })
}

/// Normalised origins, duplicates dropped (two spellings of one origin are harmless).
fn allowed_origins(i: usize, items: Vec<String>, p: &mut Problems) -> Option<Vec<String>> {
    let mut origins: Vec<String> = Vec::with_capacity(items.len());
    let mut ok = true;
    for (j, item) in items.iter().enumerate() {
        match origin(&format!("sites[{i}].allowed_origins[{j}]"), item, p) {
            Some(o) if !origins.contains(&o) => origins.push(o),
            Some(_) => {}
            None => ok = false,
        }
    }
    ok.then_some(origins)
}

/// `Some(None)` when unset, `Some(Some(id))` when valid, `None` after a problem.
fn optional_id(
    key: &str,
    value: Option<&str>,
    lookup: &str,
    p: &mut Problems,
) -> Option<Option<String>> {
    match value {
        None => Some(None),
        Some(v) => carehq_id(key, v, lookup, p).map(Some),
    }
}

fn valid_slug(slug: &str) -> bool {
    (1..=MAX_SLUG).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
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
        assert!(valid_slug("upton-court-2"));
        assert!(!valid_slug("Upton"));
        assert!(!valid_slug(""));
        assert!(!valid_slug(&"a".repeat(65)));
        assert_eq!(suggest_slug("Upton Court!"), "upton-court");
        assert_eq!(suggest_slug("!!"), "my-care-home");
    }
}
