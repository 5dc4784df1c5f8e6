//! Web values as operators write them: http(s) URLs (plain, base, secure),
//! listen addresses, trusted networks and email addresses. Each refuses
//! with a message that says what to write.

use std::net::{IpAddr, SocketAddr};

use reqwest::Url;

super::checked! {
    /// An absolute `http(s)://` URL with a host, without user name or password.
    HttpUrl(String) = |text| checked(text).map(|_| text.to_owned());

    /// An `HttpUrl` without query or fragment, kept without its trailing `/`
    /// (paths are appended to it).
    BaseUrl(String) = |text| match checked(text)? {
        url if url.query().is_some() || url.fragment().is_some() => Err(format!(
            "\"{text}\" has a query or fragment; expected a plain base URL such as \"https://forms.example.com\""
        )),
        _ => Ok(text.trim_end_matches('/').to_owned()),
    };

    /// An `HttpUrl` that is https, except on this machine (a sandbox, a test):
    /// secrets and families' details follow it.
    SecureUrl(String) = |text| match checked(text)? {
        url if url.scheme() != "https"
            && !matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")) => Err(format!(
            "\"{text}\" is not https; the client secret and the families' details go to the addresses it gives, so use https (http only for this machine, e.g. a sandbox)"
        )),
        _ => Ok(text.to_owned()),
    };

    /// `IP:port` to listen on.
    ListenAddr(SocketAddr) = |text| text.parse().map_err(|_| {
        format!("\"{text}\" is not an address; expected IP:port such as \"127.0.0.1:8080\" or \"0.0.0.0:8080\"")
    });

    /// A CIDR, or a single address taken as a one-host network.
    Net(ipnet::IpNet) = |text| (text.parse::<ipnet::IpNet>().map(|net| net.trunc()))
        .or_else(|_| text.parse::<IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("\"{text}\" is not an IP address or CIDR; expected e.g. \"10.0.0.0/8\" or \"172.18.0.2\""));

    /// An email address, display name allowed.
    Email(lettre::message::Mailbox) = |text| text.parse().map_err(|_| {
        format!("\"{text}\" is not an email address; expected e.g. \"Enquiry relay <relay@example.com>\"")
    });
}

fn checked(text: &str) -> Result<Url, String> {
    Url::parse(text)
        .ok()
        .filter(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some()
                && u.username().is_empty()
                && u.password().is_none()
        })
        .ok_or_else(|| {
            format!("\"{text}\" is not an absolute http(s) URL; expected e.g. \"https://example.com/path\"")
        })
}
