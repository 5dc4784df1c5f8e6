//! The socket peer's address as an extractor that never fails: served with
//! `into_make_service_with_connect_info` it is the real peer; driven without
//! it (a router called in-process) it is the unspecified address, so every
//! such caller shares one rate-limit bucket instead of getting a 500.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::config::Settings;
use crate::spam;

pub struct PeerAddr(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for PeerAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PeerAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip()),
        ))
    }
}

/// The client's address as the throttles see it: the peer, or what a
/// trusted proxy says it forwarded for (`server.trusted_proxies`,
/// `server.client_ip_header`). One place, so the staff token, the sign-in
/// form and the partner webhooks count the same address.
pub fn client_ip(settings: &Settings, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    let server = &settings.server;
    spam::client_ip(
        peer,
        headers,
        &server.trusted_proxies,
        server.client_ip_header,
    )
}
