//! Per-IP and per-site token buckets, in memory. The per-IP limit is checked
//! before a post's body is read, so a flood from few addresses is shed for
//! almost nothing. The per-site limit counts only posts about to become
//! enquiries: a bot caught by the honeypot, the time token or the CAPTCHA
//! spends none of it, so a flood of trapped bots from many addresses cannot
//! use up a home's limit and turn a family away; it still caps how much a
//! bot that beats every trap can send to CareHQ.
//!
//! Each process keeps its own buckets: with several instances behind a
//! balancer each allows the full rate, which is acceptable for shedding
//! floods and needs no shared store.
//!
//! An IPv6 client is bucketed by its /64: that is what one subscriber gets
//! (often more), so per-address buckets would give a single bot 2^64 of
//! them. IPv4 stays per address. The per-IP map holds at most
//! `rate_limit.max_tracked_addresses` buckets; when full, the least recently
//! used are forgotten first (counted in `enquiry_relay_rate_limit_evictions_total`),
//! so a flood from many addresses costs bounded memory.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::values::Rate;

/// The key an address is limited under: an IPv4 address as it is, an IPv6
/// address as its /64 (one subscriber), an IPv4-mapped IPv6 address as IPv4.
pub fn subscriber(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
    }
}

/// Make room for one more entry in `map`, which may hold `max`: first forget
/// the entries `idle` says carry nothing, then, if it is still full, the
/// oldest tenth by `age` (one sort per tenth, not per insert, so a flood of
/// new addresses stays cheap). Returns how many were evicted that still
/// carried something.
pub(crate) fn make_room<K: Hash + Eq + Clone, V>(
    map: &mut HashMap<K, V>,
    max: usize,
    idle: impl Fn(&V) -> bool,
    age: impl Fn(&V) -> Instant,
) -> usize {
    if map.len() < max {
        return 0;
    }
    map.retain(|_, v| !idle(v));
    if map.len() < max || map.is_empty() {
        return 0;
    }
    let batch = (max / 10).max(map.len() + 1 - max).clamp(1, map.len());
    let mut ages: Vec<(Instant, K)> = map.iter().map(|(k, v)| (age(v), k.clone())).collect();
    ages.select_nth_unstable_by_key(batch - 1, |(at, _)| *at);
    for (_, key) in &ages[..batch] {
        map.remove(key);
    }
    batch
}

/// Count buckets forgotten while still holding state (`limit` names which).
pub(crate) fn count_evictions(limit: &'static str, evicted: usize) {
    if evicted > 0 {
        metrics::counter!(crate::ops::metrics::RATE_LIMIT_EVICTIONS, "limit" => limit)
            .increment(evicted as u64);
    }
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Buckets for one kind of key.
struct Buckets<K> {
    rate: Rate,
    map: Mutex<HashMap<K, Bucket>>,
    /// Most buckets kept; `usize::MAX` for keys that are few by nature (sites).
    max: usize,
    /// The `limit` label of the eviction counter.
    name: &'static str,
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    fn new(rate: Rate, max: usize, name: &'static str) -> Self {
        Buckets {
            rate,
            map: Mutex::new(HashMap::new()),
            max,
            name,
        }
    }

    /// Take one token, or say how long until one is there.
    fn take(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let capacity = f64::from(self.rate.count);
        let per_token = (self.rate.per / self.rate.count).as_secs_f64();
        // A poisoned lock only means another request panicked mid-update; the
        // counts are still usable.
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if !map.contains_key(key) {
            let full_after = self.rate.per;
            let evicted = make_room(
                &mut map,
                self.max,
                |b| now.saturating_duration_since(b.updated) >= full_after,
                |b| b.updated,
            );
            count_evictions(self.name, evicted);
        }
        let bucket = map.entry(key.clone()).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed / per_token).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) * per_token))
        }
    }

    /// Give back a token taken for a post that another limit then refused.
    fn give_back(&self, key: &K) {
        let capacity = f64::from(self.rate.count);
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(bucket) = map.get_mut(key) {
            bucket.tokens = (bucket.tokens + 1.0).min(capacity);
        }
    }

    /// Forget buckets that have refilled completely: they hold nothing a fresh
    /// bucket would not.
    fn forget_idle(&self, now: Instant) -> usize {
        let full_after = self.rate.per;
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, b| now.saturating_duration_since(b.updated) < full_after);
        map.len()
    }
}

/// The limits a post must pass: its address's, then its site's (held posts
/// have a site limit of their own).
pub struct RateLimits {
    per_ip: Buckets<IpAddr>,
    per_site: Buckets<String>,
    /// Held posts spend none of `per_site` (a flood of doubtful posts must
    /// not turn families away), but each is stored and a held visit takes a
    /// place in its slot: without a bound of their own, a few addresses
    /// could fill a home's visit calendar.
    per_site_held: Buckets<String>,
    /// Idle buckets are swept from within `check` at most this often, so the
    /// per-IP map cannot grow without bound and no extra task is needed.
    last_sweep: Mutex<Instant>,
}

const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// A site token taken for a post; given back when dropped unspent.
pub struct SiteToken<'a> {
    /// The site bucket it came from (`per_site` or `per_site_held`).
    bucket: &'a Buckets<String>,
    site: String,
    spent: bool,
}

impl SiteToken<'_> {
    /// The post became an enquiry: the token stays taken.
    pub fn spend(mut self) {
        self.spent = true;
    }
}

impl Drop for SiteToken<'_> {
    fn drop(&mut self) {
        if !self.spent {
            self.bucket.give_back(&self.site);
        }
    }
}

impl RateLimits {
    /// `max_tracked` caps the per-IP buckets (`rate_limit.max_tracked_addresses`).
    pub fn new(
        per_ip: Rate,
        per_site: Rate,
        per_site_held: Rate,
        max_tracked: usize,
    ) -> RateLimits {
        RateLimits {
            per_ip: Buckets::new(per_ip, max_tracked, "per_ip"),
            per_site: Buckets::new(per_site, usize::MAX, "per_site"),
            per_site_held: Buckets::new(per_site_held, usize::MAX, "per_site_held"),
            last_sweep: Mutex::new(Instant::now()),
        }
    }

    /// The per-IP limit, before the body is read. `Err(wait)` when the post
    /// must be refused; `wait` is when to try again.
    pub fn check_ip(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        self.sweep_if_due(now);
        self.per_ip.take(&subscriber(ip), now)
    }

    /// One of the site's tokens for a post about to be stored. Refused, the
    /// post's per-IP token is given back too: the family did nothing wrong.
    /// The token goes back to the site unless [`SiteToken::spend`] is called
    /// (the post was a repeat, or could not be stored).
    pub fn take_site<'a>(
        &'a self,
        ip: IpAddr,
        site: &str,
        now: Instant,
    ) -> Result<SiteToken<'a>, Duration> {
        self.take_from(&self.per_site, ip, site, now)
    }

    /// [`RateLimits::take_site`] for a post about to be stored held: one of
    /// the site's held tokens (`rate_limit.per_site_held`).
    pub fn take_held_site<'a>(
        &'a self,
        ip: IpAddr,
        site: &str,
        now: Instant,
    ) -> Result<SiteToken<'a>, Duration> {
        self.take_from(&self.per_site_held, ip, site, now)
    }

    fn take_from<'a>(
        &'a self,
        bucket: &'a Buckets<String>,
        ip: IpAddr,
        site: &str,
        now: Instant,
    ) -> Result<SiteToken<'a>, Duration> {
        let site = site.to_owned();
        if let Err(wait) = bucket.take(&site, now) {
            self.per_ip.give_back(&subscriber(ip));
            return Err(wait);
        }
        Ok(SiteToken {
            bucket,
            site,
            spent: false,
        })
    }

    /// Both limits at once, as a post that is stored at once would meet them.
    #[cfg(test)]
    fn check(&self, ip: IpAddr, site: &str, now: Instant) -> Result<(), Duration> {
        self.check_ip(ip, now)?;
        self.take_site(ip, site, now)?.spend();
        Ok(())
    }

    fn sweep_if_due(&self, now: Instant) {
        let due = {
            let mut last = self.last_sweep.lock().unwrap_or_else(|p| p.into_inner());
            let due = now.saturating_duration_since(*last) >= SWEEP_EVERY;
            if due {
                *last = now;
            }
            due
        };
        if due {
            self.forget_idle(now);
        }
    }

    /// Drop idle buckets; returns how many remain.
    pub fn forget_idle(&self, now: Instant) -> usize {
        self.per_ip.forget_idle(now)
            + self.per_site.forget_idle(now)
            + self.per_site_held.forget_idle(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Limits with room for every address a test uses.
    fn limits(per_ip: &str, per_site: &str) -> RateLimits {
        RateLimits::new(
            Rate::parse(per_ip).unwrap(),
            Rate::parse(per_site).unwrap(),
            Rate::parse("1/1h").unwrap(),
            1000,
        )
    }

    #[test]
    fn an_ip_gets_its_burst_then_waits_for_a_refill() {
        let limits = limits("2/10s", "100/1s");
        let t0 = Instant::now();
        assert!(limits.check(ip("1.1.1.1"), "a", t0).is_ok());
        assert!(limits.check(ip("1.1.1.1"), "a", t0).is_ok());
        let wait = limits.check(ip("1.1.1.1"), "a", t0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(5));
        // Another address is untouched, and a refill lets the first in again.
        assert!(limits.check(ip("2.2.2.2"), "a", t0).is_ok());
        assert!(
            limits
                .check(ip("1.1.1.1"), "a", t0 + Duration::from_secs(5))
                .is_ok()
        );
    }

    #[test]
    fn an_ipv6_slash_64_is_one_bucket_and_another_slash_64_is_not() {
        let limits = limits("1/1h", "100/1s");
        let t0 = Instant::now();
        assert!(limits.check(ip("2001:db8:1:2::1"), "a", t0).is_ok());
        // The same subscriber, another of its 2^64 addresses: the same bucket.
        assert!(limits.check(ip("2001:db8:1:2:ffff::9"), "a", t0).is_err());
        // The neighbouring /64 is another subscriber.
        assert!(limits.check(ip("2001:db8:1:3::1"), "a", t0).is_ok());
        // IPv4 stays per address.
        assert!(limits.check(ip("198.51.100.1"), "a", t0).is_ok());
        assert!(limits.check(ip("198.51.100.2"), "a", t0).is_ok());
    }

    #[test]
    fn the_site_limit_applies_across_addresses_and_returns_the_ip_token() {
        let limits = limits("1/1h", "1/1h");
        let t0 = Instant::now();
        assert!(limits.check(ip("1.1.1.1"), "a", t0).is_ok());
        assert!(limits.check(ip("2.2.2.2"), "a", t0).is_err());
        // 2.2.2.2's own token was given back: another site still takes it.
        assert!(limits.check(ip("2.2.2.2"), "b", t0).is_ok());
    }

    #[test]
    fn a_site_token_not_spent_goes_back_to_the_site() {
        let limits = limits("10/1h", "1/1h");
        let t0 = Instant::now();
        // A repeat or a post that could not be stored: the token returns.
        drop(limits.take_site(ip("1.1.1.1"), "a", t0).unwrap());
        let token = limits.take_site(ip("2.2.2.2"), "a", t0).unwrap();
        token.spend();
        assert!(limits.take_site(ip("3.3.3.3"), "a", t0).is_err());
    }

    #[test]
    fn held_posts_spend_a_site_limit_of_their_own() {
        // `limits` allows one held post per site an hour.
        let limits = limits("10/1h", "10/1h");
        let t0 = Instant::now();
        limits
            .take_held_site(ip("1.1.1.1"), "a", t0)
            .unwrap()
            .spend();
        assert!(limits.take_held_site(ip("2.2.2.2"), "a", t0).is_err());
        // The ordinary site limit and another site's held limit are untouched.
        limits.take_site(ip("2.2.2.2"), "a", t0).unwrap().spend();
        limits
            .take_held_site(ip("2.2.2.2"), "b", t0)
            .unwrap()
            .spend();
    }

    #[test]
    fn when_the_map_is_full_the_least_recently_used_address_is_evicted() {
        let limits = RateLimits::new(
            Rate::parse("1/1h").unwrap(),
            Rate::parse("100/1s").unwrap(),
            Rate::parse("100/1s").unwrap(),
            3,
        );
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        for (n, addr) in ["1.1.1.1", "2.2.2.2", "3.3.3.3"].into_iter().enumerate() {
            assert!(limits.check_ip(ip(addr), at(n as u64)).is_ok());
        }
        // 1.1.1.1 is used again, so 2.2.2.2 is now the least recently used.
        assert!(limits.check_ip(ip("1.1.1.1"), at(3)).is_err());
        // A fourth address: the map is full, 2.2.2.2 goes.
        assert!(limits.check_ip(ip("4.4.4.4"), at(4)).is_ok());
        assert_eq!(limits.per_ip.map.lock().unwrap().len(), 3);
        assert!(limits.check_ip(ip("1.1.1.1"), at(5)).is_err(), "kept");
        assert!(limits.check_ip(ip("3.3.3.3"), at(5)).is_err(), "kept");
        // 2.2.2.2 was forgotten: it starts with a full bucket (and evicts
        // the oldest in turn).
        assert!(limits.check_ip(ip("2.2.2.2"), at(6)).is_ok());
        assert_eq!(limits.per_ip.map.lock().unwrap().len(), 3);
    }

    #[test]
    fn idle_buckets_are_forgotten_once_full() {
        let limits = limits("1/1m", "10/1m");
        let t0 = Instant::now();
        limits.check(ip("1.1.1.1"), "a", t0).unwrap();
        assert_eq!(limits.forget_idle(t0), 2);
        assert_eq!(limits.forget_idle(t0 + Duration::from_secs(61)), 0);
    }
}
