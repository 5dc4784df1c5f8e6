//! Completes the extracted `Settings`: defaults that depend on other keys
//! filled in, cross-key rules checked. Every problem is recorded and the load
//! fails once at the end, so one run lists everything to fix.

use std::mem::take;
use std::time::Duration;

use super::Settings;
use super::accounts::AccountSettings;
use super::captcha::{self, CaptchaProvider, CaptchaSettings};
use super::database::{database, staff_statement_within_request};
use super::delivery::{LEASE_MARGIN, LEASE_MIN_MARGIN, carehq};
use super::error::{ConfigErrors, Problems, Refused};
use super::extract::Places;
use super::operations::AlertSettings;
use super::secrets;
use super::sections::SpamSettings;
use super::sites::{self, SiteSettings};
use crate::values::format_duration;

/// Checks `s` as read (`places`: each list entry's place in the file) and
/// completes what depends on other keys.
pub(super) fn settings(
    mut s: Settings,
    places: &Places,
    refused: &Refused,
) -> Result<Settings, ConfigErrors> {
    let mut p = Problems::default();
    let is_refused = |prefix: &str| refused.any(prefix);
    database(&s.database, &mut p);
    if let Some(statement) = s.database.staff_statement_timeout
        && !is_refused("server.request_timeout")
    {
        staff_statement_within_request(statement, s.server.request_timeout, &mut p);
    }
    // An unknown key may be a misspelt credential: the unset ones are then not blamed.
    let credential_refused = (refused.bad.iter())
        .any(|k| k.starts_with("carehq.") && !matches!(&**k, "carehq.base_url" | "carehq.timeout"));
    carehq(&mut s.carehq, credential_refused, &mut p);
    // The lease is checked against the timeout even when another [carehq]
    // key has a problem, but not against a timeout that was refused.
    if let Some(lease) = s.sync.lease
        && !is_refused("carehq.timeout")
    {
        lease_outlasts_timeout(lease, s.carehq.timeout, &mut p);
    }
    captcha::required_keys("captcha", &s.captcha, &mut p);
    if !is_refused("spam.") {
        fill_time_within_token_age(&s.spam, &mut p);
    }
    // A database without a key starts with one derived from the CareHQ
    // secret, which every instance shares.
    s.spam.initial_key = secrets::derive_time_token_key(&s.carehq.api_secret);
    let sites = sites::sites(numbered(&places.sites, take(&mut s.sites)), refused, &mut p);
    // Not against a timeout that was refused (it holds its default).
    if !is_refused("server.request_timeout") && !is_refused("captcha.") {
        let timeouts = captcha_timeouts(&s.captcha, &sites);
        captcha_within_request(s.server.request_timeout, &timeouts, &mut p);
    }
    let site_accounts: Vec<(usize, &str)> = (sites.iter())
        .map(|(i, site)| (*i, site.account.as_str()))
        .collect();
    let named = super::accounts::accounts(
        numbered(&places.accounts, take(&mut s.accounts)),
        &site_accounts,
        (&s.carehq.base_url, s.staff.token.as_ref()),
        refused,
        &mut p,
    );
    if !is_refused("alerts.") {
        fallback_can_be_sent(&sites, &s.alerts, &mut p);
    }
    let site_targets: Vec<(usize, &[String])> = (sites.iter())
        .map(|(i, site)| (*i, site.also_send_to.as_slice()))
        .collect();
    let destinations = numbered(&places.destinations, take(&mut s.destinations));
    s.destinations =
        super::destinations::destinations(destinations, &site_targets, refused, &mut p);
    s.sites = sites.into_iter().map(|(_, site)| site).collect();
    if !is_refused("alerts.email_") {
        alerts_have_addresses(&s.alerts, &mut p);
    }
    super::operations::log(&mut s.log, &mut p);
    s.accounts = std::iter::once(AccountSettings::from_carehq(&s.carehq))
        .chain(named)
        .collect();
    // A part left incomplete without a problem here had one while it was read.
    match p.is_empty() {
        true => Ok(s),
        false => Err(p),
    }
}

/// Each entry of a list of tables with its place in the file (one added
/// by an edit, past the file's, takes its place in the list).
fn numbered<T>(places: &[usize], entries: Vec<T>) -> Vec<(usize, T)> {
    let place = |i: usize| places.get(i).copied().unwrap_or(i);
    entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| (place(i), e))
        .collect()
}

/// Each hosted CAPTCHA's timeout with its key: the global one if any site
/// uses it, and each site's own (keyed by the site's place in the file).
fn captcha_timeouts(
    global: &CaptchaSettings,
    sites: &[(usize, SiteSettings)],
) -> Vec<(String, Duration)> {
    let hosted = |c: &CaptchaSettings| {
        !matches!(c.provider, CaptchaProvider::None | CaptchaProvider::Altcha)
    };
    let mut timeouts = Vec::new();
    if sites.iter().any(|(_, s)| s.captcha.is_none()) && hosted(global) {
        timeouts.push(("captcha.timeout".to_owned(), global.timeout));
    }
    for (i, site) in sites {
        if let Some(own) = site.captcha.as_ref().filter(|c| hosted(c)) {
            timeouts.push((format!("sites[{i}].captcha.timeout"), own.timeout));
        }
    }
    timeouts
}

/// A provider that hangs must be given up on (and `on_error` applied) before
/// the request itself times out, or `on_error = "accept"` would turn into a
/// timeout answer and the family's enquiry would be lost.
fn captcha_within_request(request: Duration, timeouts: &[(String, Duration)], p: &mut Problems) {
    for (key, timeout) in timeouts {
        if *timeout >= request {
            p.push(
                key.clone(),
                format!(
                    "\"{}\" must be shorter than server.request_timeout (\"{}\"), or a provider that does not answer makes the form time out instead of following on_error; lower {key} (e.g. \"10s\") or raise server.request_timeout",
                    format_duration(*timeout),
                    format_duration(request),
                ),
            );
        }
    }
}

/// A lease that ends while CareHQ may still be answering lets another pass
/// claim the row and send it again.
fn lease_outlasts_timeout(lease: Duration, timeout: Duration, p: &mut Problems) {
    if lease < timeout + LEASE_MIN_MARGIN {
        p.push(
            "sync.lease",
            format!(
                "\"{}\" must be longer than carehq.timeout (\"{}\") by at least {} (time to record the outcome after CareHQ answers), or a send still in progress could be claimed again and duplicated; e.g. \"{}\"",
                format_duration(lease),
                format_duration(timeout),
                format_duration(LEASE_MIN_MARGIN),
                format_duration(timeout + LEASE_MARGIN),
            ),
        );
    }
}

/// A site's fallback email goes out over the alerts' SMTP server, from
/// their sender.
fn fallback_can_be_sent(sites: &[(usize, SiteSettings)], alerts: &AlertSettings, p: &mut Problems) {
    if alerts.smtp_url.is_some() && alerts.email_from.is_some() {
        return;
    }
    for (i, _) in sites
        .iter()
        .filter(|(_, site)| site.fallback_email.is_some())
    {
        p.push(
            format!("sites[{i}].fallback_email"),
            "is sent over alerts.smtp_url from alerts.email_from; set both (e.g. smtp_url = \"smtps://user:password@mail.example.com:465\", email_from = \"Enquiry relay <relay@example.com>\"), or remove fallback_email",
        );
    }
}

/// Email alerts need someone to be from and someone to go to.
fn alerts_have_addresses(alerts: &AlertSettings, p: &mut Problems) {
    let missing = alerts.email_from.is_none() || alerts.email_to.is_empty();
    if alerts.smtp_url.is_some() && missing {
        p.push(
            "alerts.smtp_url",
            "is set, so alerts.email_from and alerts.email_to are needed too (who the alert is from and to)",
        );
    }
}

/// A post must be able to come after `min_fill_time` and before its token expires.
fn fill_time_within_token_age(spam: &SpamSettings, p: &mut Problems) {
    if spam.min_fill_time >= spam.max_token_age {
        p.push(
            "spam.max_token_age",
            format!(
                "\"{}\" must be longer than spam.min_fill_time (\"{}\"), or no post could ever pass",
                format_duration(spam.max_token_age),
                format_duration(spam.min_fill_time)
            ),
        );
    }
}
