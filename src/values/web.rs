//! Web values as operators write them: http(s) URLs (plain, base, secure),
//! listen addresses, trusted networks and email addresses. Each refuses
//! with a message that says what to write.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use reqwest::Url;

/// An absolute `http(s)://` URL with a host, without user name or password.
pub struct HttpUrl(pub String);

impl FromStr for HttpUrl {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        checked(text).map(|_| Self(text.to_owned()))
    }
}

/// An `HttpUrl` without query or fragment, kept without its trailing `/`
/// (paths are appended to it).
pub struct BaseUrl(pub String);

impl FromStr for BaseUrl {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let url = checked(text)?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "\"{text}\" has a query or fragment; expected a plain base URL such as \"https://forms.example.com\""
            ));
        }
        Ok(Self(text.trim_end_matches('/').to_owned()))
    }
}

/// An `HttpUrl` that is https, except on this machine (a sandbox, a test):
/// secrets and families' details follow it.
pub struct SecureUrl(pub String);

impl FromStr for SecureUrl {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let url = checked(text)?;
        let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        if url.scheme() != "https" && !local {
            return Err(format!(
                "\"{text}\" is not https; the client secret and the families' details go to the addresses it gives, so use https (http only for this machine, e.g. a sandbox)"
            ));
        }
        Ok(Self(text.to_owned()))
    }
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

/// `IP:port` to listen on.
pub struct ListenAddr(pub SocketAddr);

impl FromStr for ListenAddr {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        text.parse().map(Self).map_err(|_| {
            format!("\"{text}\" is not an address; expected IP:port such as \"127.0.0.1:8080\" or \"0.0.0.0:8080\"")
        })
    }
}

/// A CIDR, or a single address taken as a one-host network.
pub struct Net(pub ipnet::IpNet);

impl FromStr for Net {
    type Err = String;
    fn from_str(text: &str) -> Result<Net, String> {
        (text.parse::<ipnet::IpNet>().map(|net| net.trunc()))
            .or_else(|_| text.parse::<IpAddr>().map(ipnet::IpNet::from))
            .map(Net)
            .map_err(|_| format!("\"{text}\" is not an IP address or CIDR; expected e.g. \"10.0.0.0/8\" or \"172.18.0.2\""))
    }
}

/// An email address, display name allowed.
pub struct Email(pub lettre::message::Mailbox);

impl FromStr for Email {
    type Err = String;
    fn from_str(text: &str) -> Result<Email, String> {
        text.parse().map(Email).map_err(|_| {
            format!("\"{text}\" is not an email address; expected e.g. \"Enquiry relay <relay@example.com>\"")
        })
    }
}
