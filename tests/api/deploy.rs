//! The Dockerfile, docker-compose.yml and Caddyfile only use what the binary
//! has: every `enquiry-relay` subcommand they run exists, and the environment
//! they set is accepted by `enquiry-relay check` (so every key is real).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use enquiry_relay::sandbox::seed;

fn read(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_enquiry-relay"))
}

/// Lines that are not comments, with Dockerfile `\` continuations joined.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        match line.trim_end().strip_suffix('\\') {
            Some(head) => current.push_str(head),
            None => {
                current.push_str(line);
                out.push(std::mem::take(&mut current));
            }
        }
    }
    out
}

/// The JSON array after `word` in a Dockerfile line (exec form).
fn exec_form(line: &str, word: &str) -> Option<Vec<String>> {
    let at = line.find(&format!("{word} ["))?;
    let rest = &line[at + word.len()..];
    serde_json::from_str(rest.trim()).ok()
}

/// Every subcommand the deployment files run.
fn subcommands_used() -> Vec<String> {
    let mut found = Vec::new();
    let dockerfile = logical_lines(&read("Dockerfile"));
    let entrypoint_is_binary = dockerfile.iter().any(|l| {
        l.starts_with("ENTRYPOINT")
            && exec_form(l, "ENTRYPOINT").is_some_and(|a| a == ["enquiry-relay"])
    });
    for line in &dockerfile {
        if line.starts_with("CMD")
            && entrypoint_is_binary
            && let Some(first) = exec_form(line, "CMD").and_then(|a| a.into_iter().next())
        {
            found.push(first);
        }
    }
    // Anywhere else: "enquiry-relay <subcommand>" in exec or shell form.
    for file in ["Dockerfile", "docker-compose.yml", "Caddyfile"] {
        for line in logical_lines(&read(file)) {
            let tokens: Vec<&str> = line
                .split(|c: char| c.is_whitespace() || "[],\"'".contains(c))
                .filter(|t| !t.is_empty())
                .collect();
            for pair in tokens.windows(2) {
                if pair[0] == "enquiry-relay" && !pair[1].starts_with('-') {
                    found.push(pair[1].to_owned());
                }
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

#[test]
fn every_subcommand_the_deployment_runs_exists() {
    let used = subcommands_used();
    assert!(
        used.contains(&"serve".to_owned()) && used.contains(&"healthcheck".to_owned()),
        "found {used:?}"
    );
    for sub in &used {
        let out = binary().args([sub.as_str(), "--help"]).output().unwrap();
        assert!(out.status.success(), "`enquiry-relay {sub}` does not exist");
    }
    // The check itself can fail.
    let out = binary().args(["self-destruct", "--help"]).output().unwrap();
    assert!(!out.status.success());
}

/// `ENQUIRY_RELAY_*` variables set by docker-compose.yml and the Dockerfile.
fn variables_set() -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for line in logical_lines(&read("docker-compose.yml")) {
        let Some((key, value)) = line.trim().split_once(':') else {
            continue;
        };
        if key.starts_with("ENQUIRY_RELAY_") {
            vars.insert(key.to_owned(), value.trim().trim_matches('"').to_owned());
        }
    }
    for line in logical_lines(&read("Dockerfile")) {
        if let Some(rest) = line.strip_prefix("ENV ") {
            for assignment in rest.split_whitespace() {
                if let Some((key, value)) = assignment.split_once('=') {
                    vars.entry(key.to_owned())
                        .or_insert_with(|| value.to_owned());
                }
            }
        }
    }
    vars
}

#[test]
fn every_variable_the_deployment_sets_is_a_real_config_key() {
    let vars = variables_set();
    assert!(vars.len() >= 6, "found {vars:?}");
    let dir = tempfile::tempdir().unwrap();
    let mut command = binary();
    command.env_clear().arg("check");
    for (key, value) in &vars {
        let value = if key == "ENQUIRY_RELAY_CONFIG" {
            // Stand-in for the operator's file: only what the environment does not set.
            let file = dir.path().join("enquiry-relay.toml");
            std::fs::write(
                &file,
                format!(
                    "[carehq]\naccount_id = \"{}\"\n\n[[sites]]\nslug = \"home\"\nname = \"Home\"\nlocation = \"{}\"\n",
                    seed::ACCOUNT_ID,
                    seed::DEMO_LOCATION
                ),
            )
            .unwrap();
            file.display().to_string()
        } else if let Some(secret) = key.strip_suffix("_FILE") {
            // A Docker secret, mounted as a file.
            let file = dir.path().join(secret);
            let content = if secret.ends_with("DATABASE__URL") {
                format!("sqlite://{}", dir.path().join("relay.db").display())
            } else {
                // As long as the operator's would be (staff.token needs 32 or more).
                "secret-value-0123456789abcdef0123456789abcdef".to_owned()
            };
            std::fs::write(&file, content).unwrap();
            file.display().to_string()
        } else {
            value.clone()
        };
        command.env(key, value);
    }
    let out = command.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{vars:?}\n{text}");
    assert!(text.contains("config OK"), "{text}");

    // And a misspelt key is refused, so the check above means something.
    let out = binary()
        .env_clear()
        .env("ENQUIRY_RELAY_SERVER__LISTN", "0.0.0.0:8080")
        .arg("check")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn the_proxy_is_trusted_and_forwards_the_family_address() {
    let compose = read("docker-compose.yml");
    let subnet = compose
        .lines()
        .find_map(|l| l.trim().strip_prefix("- subnet:"))
        .map(str::trim)
        .expect("the compose network has a fixed subnet");
    let trusted = &variables_set()["ENQUIRY_RELAY_SERVER__TRUSTED_PROXIES"];
    assert!(
        trusted.split(',').any(|n| n.trim() == subnet),
        "{trusted} vs {subnet}"
    );
    let caddy = read("Caddyfile");
    assert!(caddy.contains("header_up X-Forwarded-For {remote_host}"));
    // The relay reads only X-Forwarded-For (server.client_ip_header's
    // default); a `Forwarded` the client wrote is removed all the same, so
    // nothing behind Caddy can be misled by it.
    assert!(
        logical_lines(&caddy)
            .iter()
            .any(|l| l.trim() == "header_up -Forwarded"),
        "the Caddyfile strips a client-sent Forwarded header"
    );
    let client_ip_header = variables_set()
        .get("ENQUIRY_RELAY_SERVER__CLIENT_IP_HEADER")
        .cloned()
        .unwrap_or_else(|| "x-forwarded-for".into());
    assert_eq!(client_ip_header, "x-forwarded-for", "the header Caddy sets");
    let listen = &variables_set()["ENQUIRY_RELAY_SERVER__LISTEN"];
    let port = listen.rsplit(':').next().unwrap();
    assert!(
        caddy.contains(&format!("port {port}")),
        "Caddy sends to the port the relay listens on"
    );
}

/// The `stop_grace_period` of the relay service in docker-compose.yml.
fn compose_stop_grace_period() -> Option<std::time::Duration> {
    let compose = read("docker-compose.yml");
    let (mut in_services, mut service) = (false, None);
    for line in compose.lines() {
        let text = line.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        match line.len() - line.trim_start().len() {
            0 => {
                in_services = text == "services:";
                service = None;
            }
            2 if in_services => service = text.strip_suffix(':'),
            4 if service == Some("relay") => {
                if let Some(value) = text.strip_prefix("stop_grace_period:") {
                    return enquiry_relay::values::parse_duration(value.trim().trim_matches('"'))
                        .ok();
                }
            }
            _ => {}
        }
    }
    None
}

/// Docker sends SIGTERM, waits `stop_grace_period` (10 s unless set), then
/// SIGKILLs. A send cut off by that kill may have reached CareHQ and is sent
/// again: a duplicate. So compose must wait longer than the relay's own
/// shutdown grace, which waits for a send as long as `carehq.timeout`.
#[test]
fn compose_waits_longer_than_the_relay_shutdown_grace_before_killing_it() {
    let vars = variables_set();
    let mut toml = format!(
        "[carehq]\naccount_id = \"{}\"\napi_key = \"k\"\napi_secret = \"s\"\n",
        seed::ACCOUNT_ID
    );
    if let Some(timeout) = vars.get("ENQUIRY_RELAY_CAREHQ__TIMEOUT") {
        toml.push_str(&format!("timeout = \"{timeout}\"\n"));
    }
    if let Some(grace) = vars.get("ENQUIRY_RELAY_SYNC__SHUTDOWN_GRACE") {
        toml.push_str(&format!("[sync]\nshutdown_grace = \"{grace}\"\n"));
    }
    if let Some(drain) = vars.get("ENQUIRY_RELAY_SERVER__DRAIN") {
        toml.push_str(&format!("[server]\ndrain = \"{drain}\"\n"));
    }
    toml.push_str(&format!(
        "[[sites]]\nslug = \"home\"\nname = \"Home\"\nlocation = \"{}\"\n",
        seed::DEMO_LOCATION
    ));
    let settings = enquiry_relay::config::Settings::from_toml_str(&toml).unwrap();
    assert!(
        settings.shutdown_grace() >= settings.carehq.timeout,
        "the default grace waits for a send as long as carehq.timeout: {:?} < {:?}",
        settings.shutdown_grace(),
        settings.carehq.timeout
    );
    let period = compose_stop_grace_period()
        .expect("docker-compose.yml sets stop_grace_period on the relay service");
    // Room to stop the HTTP server, record the last outcomes and exit.
    let room = std::time::Duration::from_secs(5);
    // The drain comes first: not ready, still serving, for server.drain.
    assert!(
        period >= settings.server.drain + settings.shutdown_grace() + room,
        "stop_grace_period {period:?} must be at least server.drain {:?} + sync.shutdown_grace {:?} + {room:?}",
        settings.server.drain,
        settings.shutdown_grace()
    );
}

/// A replica told to stop says "not ready" for `server.drain` while it
/// still serves; Caddy must notice within that time, or it keeps sending
/// families to a replica about to stop listening.
#[test]
fn caddy_checks_readiness_more_often_than_a_replica_drains() {
    let caddy = read("Caddyfile");
    let setting = |name: &str| {
        logical_lines(&caddy)
            .iter()
            .find_map(|l| Some(l.trim().strip_prefix(name)?.trim().to_owned()))
            .unwrap_or_else(|| panic!("the Caddyfile sets {name}"))
    };
    assert_eq!(setting("health_uri"), "/readyz");
    let interval = enquiry_relay::values::parse_duration(&setting("health_interval")).unwrap();
    let timeout = enquiry_relay::values::parse_duration(&setting("health_timeout")).unwrap();
    let mut toml = format!(
        "[carehq]\naccount_id = \"{}\"\napi_key = \"k\"\napi_secret = \"s\"\n",
        seed::ACCOUNT_ID
    );
    if let Some(drain) = variables_set().get("ENQUIRY_RELAY_SERVER__DRAIN") {
        toml.push_str(&format!("[server]\ndrain = \"{drain}\"\n"));
    }
    toml.push_str(&format!(
        "[[sites]]\nslug = \"home\"\nname = \"Home\"\nlocation = \"{}\"\n",
        seed::DEMO_LOCATION
    ));
    let settings = enquiry_relay::config::Settings::from_toml_str(&toml).unwrap();
    assert!(
        interval + timeout < settings.server.drain,
        "health_interval {interval:?} + health_timeout {timeout:?} must be shorter than server.drain {:?}",
        settings.server.drain
    );
    // A refused connection is tried on another replica, not answered 502.
    assert!(
        logical_lines(&caddy)
            .iter()
            .any(|l| l.trim().starts_with("lb_try_duration"))
    );
}
