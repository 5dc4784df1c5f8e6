//! Turns the extracted sections into `Settings`: defaults that depend on
//! other keys filled in, cross-key rules checked. Every problem is recorded and the load
//! fails once at the end, so one run lists everything to fix.

use std::time::Duration;

use super::accounts::AccountSettings;
use super::captcha::{self, CaptchaProvider, CaptchaSettings};
use super::database::database;
use super::delivery::{LEASE_MARGIN, LEASE_MIN_MARGIN, carehq};
use super::error::{ConfigErrors, Problems};
use super::extract::RawSettings;
use super::operations::AlertSettings;
use super::secrets;
use super::sections::SpamSettings;
use super::sites::{self, SiteSettings};
use super::{ConfigSource, Settings};
use crate::values::format_duration;

pub(super) fn settings(raw: RawSettings, source: ConfigSource) -> Result<Settings, ConfigErrors> {
    let mut p = Problems::default();
    let database = database(raw.database, &mut p);
    let refused = |prefix: &str| raw.refused.any(prefix);
    // The lease is checked against the timeout even when another [carehq]
    // key has a problem, but not against a timeout that was refused.
    let carehq_timeout = Some(raw.carehq.timeout).filter(|_| !refused("carehq.timeout"));
    // An unknown key may be a misspelt credential: the unset ones are then not blamed.
    let credential_refused = (raw.refused.bad.iter())
        .any(|k| k.starts_with("carehq.") && !matches!(&**k, "carehq.base_url" | "carehq.timeout"));
    let carehq_base_url = raw.carehq.base_url.clone();
    let carehq = carehq(raw.carehq, credential_refused, &mut p);
    let sync = Some(raw.sync).filter(|sync| {
        (sync.lease).is_none_or(|lease| lease_outlasts_timeout(lease, carehq_timeout, &mut p))
    });
    captcha::required_keys("captcha", &raw.captcha, &mut p);
    let spam_ok = refused("spam.") || fill_time_within_token_age(&raw.spam, &mut p);
    // A database without a key starts with one derived from the CareHQ
    // secret, which every instance shares. When [carehq] itself is broken its
    // problem is already reported.
    let spam = (carehq.as_ref().filter(|_| spam_ok)).map(|c| SpamSettings {
        initial_key: secrets::derive_time_token_key(&c.api_secret),
        ..raw.spam
    });
    let sites = sites::sites(raw.sites, &raw.refused, &mut p);
    // Not against a timeout that was refused (it holds its default).
    if !refused("server.request_timeout") && !refused("captcha.") {
        captcha_within_request(
            raw.server.request_timeout,
            &captcha_timeouts(&raw.captcha, &sites),
            &mut p,
        );
    }
    let site_accounts: Vec<(usize, &str)> = (sites.iter())
        .map(|(i, site)| (*i, site.account.as_str()))
        .collect();
    let named = super::accounts::accounts(
        raw.accounts,
        &site_accounts,
        (&carehq_base_url, raw.staff.token.as_ref()),
        &raw.refused,
        &mut p,
    );
    if !refused("alerts.") {
        fallback_can_be_sent(&sites, &raw.alerts, &mut p);
    }
    let site_targets: Vec<(usize, &[String])> = (sites.iter())
        .map(|(i, site)| (*i, site.also_send_to.as_slice()))
        .collect();
    let destinations =
        super::destinations::destinations(raw.destinations, &site_targets, &raw.refused, &mut p);
    let sites: Vec<SiteSettings> = sites.into_iter().map(|(_, site)| site).collect();
    let alerts =
        Some(raw.alerts).filter(|a| refused("alerts.email_") || alerts_have_addresses(a, &mut p));
    let log = super::operations::log(raw.log, &mut p);
    match (database, carehq, sync, spam) {
        (Some(database), Some(carehq), Some(sync), Some(spam)) if p.is_empty() => {
            let (Some(alerts), Some(log)) = (alerts, log) else {
                return Err(p.into_errors());
            };
            let accounts = std::iter::once(AccountSettings::from_carehq(&carehq))
                .chain(named)
                .collect();
            Ok(Settings {
                server: raw.server,
                database,
                carehq,
                accounts,
                destinations,
                sync,
                staff: raw.staff,
                captcha: raw.captcha,
                spam,
                rate_limit: raw.rate_limit,
                sites,
                status: raw.status,
                metrics: raw.metrics,
                retention: raw.retention,
                alerts,
                sentry: raw.sentry,
                log,
                source,
            })
        }
        _ => Err(p.into_errors()),
    }
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
fn lease_outlasts_timeout(lease: Duration, timeout: Option<Duration>, p: &mut Problems) -> bool {
    let Some(timeout) = timeout.filter(|t| lease < *t + LEASE_MIN_MARGIN) else {
        return true;
    };
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
    false
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
fn alerts_have_addresses(alerts: &AlertSettings, p: &mut Problems) -> bool {
    let missing = alerts.email_from.is_none() || alerts.email_to.is_empty();
    if alerts.smtp_url.is_some() && missing {
        p.push(
            "alerts.smtp_url",
            "is set, so alerts.email_from and alerts.email_to are needed too (who the alert is from and to)",
        );
        return false;
    }
    true
}

/// A post must be able to come after `min_fill_time` and before its token expires.
fn fill_time_within_token_age(spam: &SpamSettings, p: &mut Problems) -> bool {
    if spam.min_fill_time < spam.max_token_age {
        return true;
    }
    p.push(
        "spam.max_token_age",
        format!(
            "\"{}\" must be longer than spam.min_fill_time (\"{}\"), or no post could ever pass",
            format_duration(spam.max_token_age),
            format_duration(spam.min_fill_time)
        ),
    );
    false
}
