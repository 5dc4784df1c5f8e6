//! `healthcheck`: GET `/readyz` of the running server; exit 0 when it answers
//! 200, else 1. For Docker's HEALTHCHECK, so it needs no curl in the image.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::ExitCode;
use std::time::Duration;

use crate::config::Settings;

pub async fn healthcheck(settings: &Settings, url: Option<String>) -> anyhow::Result<ExitCode> {
    let url = url.unwrap_or_else(|| {
        let listen = settings.server.listen;
        let ip = match listen.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!(
            "http://{}/readyz",
            std::net::SocketAddr::new(ip, listen.port())
        )
    });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    match client.get(&url).send().await {
        Ok(response) if response.status().is_success() => {
            println!("ready: {url}");
            Ok(ExitCode::SUCCESS)
        }
        Ok(response) => {
            println!(
                "not ready: {url} answered {}; see the server's log",
                response.status()
            );
            Ok(ExitCode::FAILURE)
        }
        Err(e) => {
            println!("not ready: {url} did not answer ({e}); is the server running?");
            Ok(ExitCode::FAILURE)
        }
    }
}
