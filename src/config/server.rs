//! `[server]`: the HTTP listener.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use super::fields;

/// `[server]`: the HTTP listener.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    #[serde(deserialize_with = "fields::listen")]
    pub listen: SocketAddr,
    /// Proxies whose forwarding header is believed.
    #[serde(deserialize_with = "fields::nets")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The one header trusted proxies name the client in; the other is never read.
    #[serde(deserialize_with = "fields::parsed")]
    pub client_ip_header: ClientIpHeader,
    /// Largest request body accepted, in bytes.
    #[serde(deserialize_with = "fields::byte_size")]
    pub body_limit: usize,
    #[serde(deserialize_with = "fields::positive_duration")]
    pub request_timeout: Duration,
    /// Public base URL (`https://forms.example.com`), no trailing `/`.
    #[serde(deserialize_with = "fields::public_url")]
    pub public_url: Option<String>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            trusted_proxies: Vec::new(),
            client_ip_header: ClientIpHeader::XForwardedFor,
            body_limit: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            public_url: None,
        }
    }
}

fields::named! {
    /// Which header trusted proxies put the client's address in. Only that one
    /// is read: were both, a client could write the one its proxy does not set
    /// and be believed.
    pub enum ClientIpHeader {
        /// `X-Forwarded-For`, which nginx, Caddy, Traefik and HAProxy set.
        XForwardedFor = "x-forwarded-for",
        /// `Forwarded` (RFC 7239).
        Forwarded = "forwarded",
    }
}
