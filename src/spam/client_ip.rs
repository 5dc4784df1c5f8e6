//! Who is posting: the client IP used for rate limits, the staff-token
//! throttle and sent to CAPTCHA providers. The socket peer is the truth unless
//! it is a proxy we trust; only then is the one forwarding header the proxy
//! sets (`server.client_ip_header`) read, from the right (the hop nearest us),
//! past every trusted hop. The leftmost entry is whatever the client chose to
//! write, so it is never believed; nor is the other header, which the proxy
//! passes through untouched, so anything in it came from the client.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

use crate::config::ClientIpHeader;

/// The client's address as far as trusted proxies vouch for it in `header`.
pub fn client_ip(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &[IpNet],
    header: ClientIpHeader,
) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(&ip.to_canonical()));
    let peer = peer.to_canonical();
    if !is_trusted(&peer) {
        return peer;
    }
    // Hops in arrival order, from the one header the proxy writes.
    let hops = match header {
        ClientIpHeader::XForwardedFor => x_forwarded_for_hops(headers),
        ClientIpHeader::Forwarded => forwarded_hops(headers),
    };
    let mut client = peer;
    for hop in hops.iter().rev() {
        // An unparsable hop (obfuscated id, "unknown") ends the walk: we cannot
        // say who sent it, so the last trusted-proxy-vouched address stands.
        let Some(ip) = hop else { break };
        client = ip.to_canonical();
        if !is_trusted(&client) {
            break;
        }
    }
    client
}

fn x_forwarded_for_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("").split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(parse_node)
        .collect()
}

/// `Forwarded: for=1.2.3.4;proto=https, for="[2001:db8::1]:4711"` → the `for=` values.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let mut hops = Vec::new();
    for value in headers.get_all("forwarded") {
        for element in value.to_str().unwrap_or("").split(',') {
            let node = element.split(';').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                k.trim().eq_ignore_ascii_case("for").then(|| v.trim())
            });
            // An element without `for=` still is a hop we cannot attribute.
            hops.push(node.and_then(|n| parse_node(n.trim_matches('"'))));
        }
    }
    hops
}

/// An IP, possibly with a port (`1.2.3.4:80`, `[::1]:80`).
fn parse_node(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse() {
        return Some(ip);
    }
    if let Some(rest) = text.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    text.rsplit_once(':')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    const XFF: ClientIpHeader = ClientIpHeader::XForwardedFor;
    const FWD: ClientIpHeader = ClientIpHeader::Forwarded;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let h = headers("x-forwarded-for", "9.9.9.9");
        assert_eq!(
            client_ip(ip("203.0.113.7"), &h, &nets(&["10.0.0.0/8"]), XFF),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_ip(ip("203.0.113.7"), &h, &[], XFF),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn behind_a_trusted_proxy_the_rightmost_untrusted_hop_is_the_client() {
        // The client wrote "6.6.6.6" itself; the proxy appended the real address.
        let h = headers("x-forwarded-for", "6.6.6.6, 198.51.100.4, 10.0.0.3");
        assert_eq!(
            client_ip(ip("10.0.0.2"), &h, &nets(&["10.0.0.0/8"]), XFF),
            ip("198.51.100.4")
        );
    }

    #[test]
    fn forwarded_header_with_ports_and_quotes_is_understood() {
        let h = headers(
            "forwarded",
            "for=6.6.6.6, for=\"[2001:db8::1]:4711\";proto=https",
        );
        assert_eq!(
            client_ip(ip("10.1.1.1"), &h, &nets(&["10.0.0.0/8"]), FWD),
            ip("2001:db8::1")
        );
        let h = headers("forwarded", "for=198.51.100.9:1234");
        assert_eq!(
            client_ip(ip("10.1.1.1"), &h, &nets(&["10.0.0.0/8"]), FWD),
            ip("198.51.100.9")
        );
    }

    #[test]
    fn only_the_configured_header_is_read() {
        let mut h = headers("x-forwarded-for", "198.51.100.4");
        h.insert("forwarded", HeaderValue::from_static("for=6.6.6.6"));
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &h, &trusted, XFF),
            ip("198.51.100.4")
        );
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted, FWD), ip("6.6.6.6"));
        // The configured header absent: the proxy itself is the client, even
        // though the other header names someone.
        let h = headers("forwarded", "for=6.6.6.6");
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted, XFF), ip("10.0.0.2"));
    }

    #[test]
    fn an_unreadable_hop_stops_the_walk_at_the_last_trusted_address() {
        let h = headers("x-forwarded-for", "198.51.100.4, unknown");
        assert_eq!(
            client_ip(ip("10.0.0.2"), &h, &nets(&["10.0.0.0/8"]), XFF),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn a_trusted_proxy_without_headers_is_itself_the_client() {
        assert_eq!(
            client_ip(
                ip("10.0.0.2"),
                &HeaderMap::new(),
                &nets(&["10.0.0.0/8"]),
                XFF
            ),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_networks() {
        let h = headers("x-forwarded-for", "198.51.100.4");
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.2"), &h, &nets(&["10.0.0.0/8"]), XFF),
            ip("198.51.100.4")
        );
    }
}
