//! The staff token guard of `/status` (and `/metrics` unless
//! `metrics.require_token = false`): `Authorization: Bearer <token>`, where
//! the token is the global `staff.token` (sees every site) or an
//! `[[accounts]]` entry's `staff_token` (sees that account's sites only:
//! [`StaffScope`]). The presented token is compared in constant time with
//! every configured one, all of them every time.
//!
//! Wrong tokens are throttled per client address (the same address the rate
//! limits use, an IPv6 client by its /64; see `staff_throttle`): after ten wrong
//! tokens within ten minutes of the first, every staff request from that address is
//! answered 429 until the window has passed, a right token too. Refusing the
//! right token as well is what makes guessing useless: a guesser learns
//! nothing from an answer while shut out. A request without any token is not
//! a guess and is not counted, so a monitor that lost its token does not
//! shut out staff behind the same address.

use std::net::IpAddr;
use std::time::Instant;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use secrecy::{ExposeSecret as _, SecretString};
use subtle::{ConditionallySelectable as _, ConstantTimeEq as _};

use super::error::HttpError;
use super::peer::client_ip;
use super::state::AppState;
use crate::config::Settings;
use crate::spam::subscriber;

/// What a staff token lets its holder see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StaffScope {
    /// The global `staff.token`: every site, configured or not.
    All,
    /// An account's `staff_token`: that account's sites only.
    Account { name: String, sites: Vec<String> },
}

impl StaffScope {
    /// The scope of the global token (`account: None`) or of an account's,
    /// as the settings now stand; `None` when that token is no longer
    /// configured (a session signed in with it then ends).
    pub fn of(settings: &Settings, account: Option<&str>) -> Option<StaffScope> {
        match account {
            None => settings.staff.token.as_ref().map(|_| StaffScope::All),
            Some(name) => {
                let account = (settings.accounts.iter())
                    .find(|a| a.name == name && a.staff_token.is_some())?;
                Some(StaffScope::Account {
                    name: account.name.clone(),
                    sites: (settings.sites.iter())
                        .filter(|s| s.account == account.name)
                        .map(|s| s.slug.clone())
                        .collect(),
                })
            }
        }
    }

    /// The account this scope is limited to; `None` for everything.
    pub fn account(&self) -> Option<&str> {
        match self {
            StaffScope::All => None,
            StaffScope::Account { name, .. } => Some(name),
        }
    }

    /// The CareHQ accounts in view: every one (the default first), or its own.
    pub fn account_names<'a>(&'a self, settings: &'a Settings) -> Vec<&'a str> {
        match self.account() {
            None => crate::ops::alerts::account_names(settings),
            Some(name) => vec![name],
        }
    }

    /// Every lane in view that can pause, by its delivery-state name: the
    /// accounts in view, then the destinations their sites send to.
    pub fn lane_names(&self, settings: &Settings) -> Vec<String> {
        let mut lanes: Vec<String> = (self.account_names(settings).into_iter())
            .map(str::to_owned)
            .collect();
        for destination in &settings.destinations {
            let used = (settings.sites.iter())
                .any(|site| self.sees(&site.slug) && site.also_send_to.contains(&destination.name));
            if used {
                lanes.push(crate::storage::destination_step(&destination.name));
            }
        }
        lanes
    }

    /// The destination lanes in view (see [`StaffScope::lane_names`]) that
    /// sites outside this scope send to as well: their delivery state is
    /// lane-wide, so its times and errors can be another account's
    /// enquiries'. Empty for the global token.
    pub fn shared_lanes(&self, settings: &Settings) -> Vec<String> {
        if self.sites().is_none() {
            return Vec::new();
        }
        let sends_to = |outside: bool, destination: &str| {
            (settings.sites.iter()).any(|site| {
                self.sees(&site.slug) != outside
                    && site.also_send_to.iter().any(|d| d == destination)
            })
        };
        (settings.destinations.iter())
            .filter(|d| sends_to(false, &d.name) && sends_to(true, &d.name))
            .map(|d| crate::storage::destination_step(&d.name))
            .collect()
    }

    /// The site slugs this scope is limited to; `None` for every site.
    pub fn sites(&self) -> Option<&[String]> {
        match self {
            StaffScope::All => None,
            StaffScope::Account { sites, .. } => Some(sites),
        }
    }

    /// Whether the scope sees enquiries of site `slug`.
    pub fn sees(&self, slug: &str) -> bool {
        self.sites()
            .is_none_or(|sites| sites.iter().any(|s| s == slug))
    }
}

/// Whether any staff token is configured (global or an account's): without
/// one, `/status` and the console are closed.
pub fn staff_configured(settings: &Settings) -> bool {
    !tokens(settings).is_empty()
}

/// The scope of `presented` when it is one of the configured staff tokens.
pub fn scope_for_token(settings: &Settings, presented: &str) -> Option<StaffScope> {
    let tokens = tokens(settings);
    let account = match_token(&tokens, presented)?;
    StaffScope::of(settings, account)
}

/// `Ok` with the token's scope when the request carries a configured staff
/// token and its address is not shut out for sending wrong ones.
pub fn require_staff(
    state: &AppState,
    peer: IpAddr,
    headers: &HeaderMap,
) -> Result<StaffScope, HttpError> {
    let client = client_ip(&state.settings, peer, headers);
    let tokens = tokens(&state.settings);
    let check = check_token(headers, &tokens);
    // Judged and counted under one lock, so a burst of parallel guesses
    // learns the outcome of no more than MAX_WRONG of them.
    let attempt = state.staff_throttle.attempt(
        subscriber(client),
        Instant::now(),
        check == TokenCheck::Wrong,
    );
    if let Err(wait) = attempt {
        return Err(HttpError::StaffThrottled {
            retry_after_secs: wait.as_secs().max(1),
        });
    }
    match check {
        TokenCheck::Valid(account) => StaffScope::of(&state.settings, account)
            .ok_or(HttpError::Unauthorized { configured: true }),
        TokenCheck::NotConfigured => Err(HttpError::Unauthorized { configured: false }),
        TokenCheck::Missing | TokenCheck::Wrong => {
            Err(HttpError::Unauthorized { configured: true })
        }
    }
}

/// Every configured staff token: `None` for the global one, else its account.
fn tokens(settings: &Settings) -> Vec<(Option<&str>, &SecretString)> {
    let global = (settings.staff.token.iter()).map(|token| (None, token));
    let accounts = (settings.accounts.iter())
        .filter_map(|a| a.staff_token.as_ref().map(|t| (Some(a.name.as_str()), t)));
    global.chain(accounts).collect()
}

/// Which of `tokens` `presented` is (`Some(None)`: the global one). Every
/// token is compared, whichever matches, so the time taken does not say
/// which one matched or how far a guess got. ct_eq on slices of different
/// lengths is false without comparing bytes: the length is not secret, the
/// content is.
fn match_token<'a>(
    tokens: &[(Option<&'a str>, &SecretString)],
    presented: &str,
) -> Option<Option<&'a str>> {
    if presented.is_empty() {
        return None;
    }
    // 1 + the index of the token that matched; 0 for none.
    let mut which: u32 = 0;
    for (i, (_, token)) in tokens.iter().enumerate() {
        let hit = presented.as_bytes().ct_eq(token.expose_secret().as_bytes());
        let index = u32::try_from(i).map_or(u32::MAX, |i| i.saturating_add(1));
        which.conditional_assign(&index, hit);
    }
    let index = usize::try_from(which).ok()?.checked_sub(1)?;
    tokens.get(index).map(|(account, _)| *account)
}

/// What a request's `Authorization` header amounts to.
#[derive(Debug, PartialEq, Eq)]
enum TokenCheck<'a> {
    /// A configured token: the global one (`None`) or that account's.
    Valid(Option<&'a str>),
    /// No staff token is configured: nothing can pass, nothing is guessed.
    NotConfigured,
    /// No bearer token sent.
    Missing,
    /// A bearer token that is no staff token: a guess, counted.
    Wrong,
}

fn check_token<'a>(
    headers: &HeaderMap,
    tokens: &[(Option<&'a str>, &SecretString)],
) -> TokenCheck<'a> {
    if tokens.is_empty() {
        return TokenCheck::NotConfigured;
    }
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .unwrap_or_default();
    if presented.is_empty() {
        return TokenCheck::Missing;
    }
    match match_token(tokens, presented) {
        Some(account) => TokenCheck::Valid(account),
        None => TokenCheck::Wrong,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn bearer(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn only_the_exact_token_passes() {
        let token = SecretString::from("s3cret-token");
        let s = [(None, &token)];
        assert_eq!(
            check_token(&bearer("Bearer s3cret-token"), &s),
            TokenCheck::Valid(None)
        );
        assert_eq!(
            check_token(&bearer("Bearer s3cret-tokem"), &s),
            TokenCheck::Wrong
        );
        assert_eq!(check_token(&bearer("Bearer s3cret"), &s), TokenCheck::Wrong);
        assert_eq!(
            check_token(&bearer("Basic s3cret-token"), &s),
            TokenCheck::Missing
        );
        assert_eq!(check_token(&HeaderMap::new(), &s), TokenCheck::Missing);
    }

    #[test]
    fn each_token_is_told_apart_by_its_account() {
        let (global, a, b) = (
            SecretString::from("global-token"),
            SecretString::from("account-a-token"),
            SecretString::from("account-b-token"),
        );
        let all = [(None, &global), (Some("a"), &a), (Some("b"), &b)];
        assert_eq!(match_token(&all, "global-token"), Some(None));
        assert_eq!(match_token(&all, "account-a-token"), Some(Some("a")));
        assert_eq!(match_token(&all, "account-b-token"), Some(Some("b")));
        assert_eq!(match_token(&all, "account-c-token"), None);
        assert_eq!(match_token(&all, ""), None);
        // Only account tokens, no global one: they still pass.
        let accounts_only = [(Some("b"), &b)];
        assert_eq!(
            check_token(&bearer("Bearer account-b-token"), &accounts_only),
            TokenCheck::Valid(Some("b"))
        );
    }

    #[test]
    fn without_a_configured_token_nothing_passes() {
        assert_eq!(
            check_token(&bearer("Bearer x"), &[]),
            TokenCheck::NotConfigured
        );
    }
}
