//! `[server]` and `[database]`: where the relay listens and where it stores.

use std::net::SocketAddr;

use secrecy::{ExposeSecret, SecretString};

use super::checks::{base_url, byte_size, choice, integer, positive_duration};
use super::delivery::SECS_30;
use super::error::Problems;
use super::raw::{RawDatabase, RawServer};
use super::secrets;
use super::sections::{ClientIpHeader, DatabaseSettings, ServerSettings};
use super::text::text;

const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/enquiry-relay.db";
const DEFAULT_MAX_CONNECTIONS: i64 = 8;

pub(super) fn server(raw: &RawServer, p: &mut Problems) -> Option<ServerSettings> {
    let listen_text = text(&raw.listen).unwrap_or(DEFAULT_LISTEN);
    let listen = listen_text.parse::<SocketAddr>().ok();
    if listen.is_none() {
        p.push(
            "server.listen",
            format!("\"{listen_text}\" is not an address; expected IP:port such as \"127.0.0.1:8080\" or \"0.0.0.0:8080\""),
        );
    }
    let trusted_proxies = trusted_proxies(raw, p);
    let client_ip_header = choice(
        "server.client_ip_header",
        &raw.client_ip_header,
        ClientIpHeader::NAMES,
        ClientIpHeader::XForwardedFor,
        p,
    );
    let body_limit = byte_size("server.body_limit", &raw.body_limit, DEFAULT_BODY_LIMIT, p);
    let request_timeout =
        positive_duration("server.request_timeout", &raw.request_timeout, SECS_30, p);
    let public_url = match text(&raw.public_url) {
        None => Some(None),
        Some(v) => base_url("server.public_url", v, "https://forms.example.com", p).map(Some),
    };
    // Problems are already recorded; `?` only stops building a broken section.
    Some(ServerSettings {
        listen: listen?,
        trusted_proxies: trusted_proxies?,
        client_ip_header: client_ip_header?,
        body_limit: body_limit?,
        request_timeout: request_timeout?,
        public_url: public_url?,
    })
}

fn trusted_proxies(raw: &RawServer, p: &mut Problems) -> Option<Vec<ipnet::IpNet>> {
    let items = raw.trusted_proxies.as_ref().map_or(&[][..], |l| &l.0[..]);
    let mut nets = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match parse_net(item) {
            Some(net) => nets.push(net),
            None => {
                p.push(
                    format!("server.trusted_proxies[{i}]"),
                    format!("\"{item}\" is not an IP address or CIDR; expected e.g. \"10.0.0.0/8\" or \"172.18.0.2\""),
                );
                ok = false;
            }
        }
    }
    ok.then_some(nets)
}

/// A CIDR, or a single address taken as a one-host network.
fn parse_net(text: &str) -> Option<ipnet::IpNet> {
    text.parse::<ipnet::IpNet>()
        .map(|net| net.trunc())
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .ok()
}

pub(super) fn database(raw: RawDatabase, p: &mut Problems) -> Option<DatabaseSettings> {
    let mut ok = true;
    let url = secrets::resolve("database.url", raw.url, &raw.url_file, p)
        .unwrap_or_else(|| SecretString::from(DEFAULT_DATABASE_URL));
    let exposed = url.expose_secret();
    let known = ["sqlite:", "postgres:", "postgresql:"]
        .iter()
        .any(|scheme| exposed.starts_with(scheme));
    if !known {
        // Only the scheme is echoed: the rest may hold a password.
        let scheme = exposed.split_once(':').map_or("(none)", |(s, _)| s);
        p.push(
            "database.url",
            format!("unsupported scheme \"{scheme}\"; expected \"sqlite://path/to/file.db\" or \"postgres://user:password@host/database\""),
        );
        ok = false;
    }
    if sqlite_in_memory(exposed) {
        p.push(
            "database.url",
            format!("is an in-memory SQLite database; the relay opens two pools (a writer and readers), and each would get its own private, empty database, and every enquiry would be lost at exit. Give a file path instead, e.g. \"{DEFAULT_DATABASE_URL}\""),
        );
        ok = false;
    }
    let max_connections = integer(
        "database.max_connections",
        &raw.max_connections,
        DEFAULT_MAX_CONNECTIONS,
        1,
        1000,
        p,
    );
    let max_connections = u32::try_from(max_connections?).ok()?;
    ok.then_some(DatabaseSettings {
        url,
        max_connections,
    })
}

/// `sqlite::memory:`, `sqlite://:memory:`, `…?mode=memory`, or no path at all
/// (which SQLite also opens as a private temporary database), parsed as sqlx
/// parses SQLite URLs.
fn sqlite_in_memory(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return false;
    };
    let rest = rest.trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    path.is_empty()
        || path == ":memory:"
        || query
            .split('&')
            .any(|pair| pair.eq_ignore_ascii_case("mode=memory"))
}
