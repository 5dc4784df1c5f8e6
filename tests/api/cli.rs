//! The command line as scripts use it: exit codes and messages.

use std::process::Command;
use std::time::Duration;

use enquiry_relay::sandbox::Faults;

use enquiry_relay::storage::DeliveryStatus;

use crate::admin::{cli, default_config};
use crate::helpers::{
    AppOptions, Db, SITE, TestApp, TestDb, TestSandbox, config_toml, eventually, family, free_port,
};
use crate::on_both_databases;
use crate::status::posted_id;

fn relay(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_enquiry-relay"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("ENQUIRY_RELAY_CONFIG")
        .output()
        .expect("run enquiry-relay")
}

#[test]
fn check_names_every_bad_key_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let good = config_toml(
        "sqlite://x.db",
        "https://api.carehq.dev",
        "127.0.0.1:0",
        &AppOptions::default(),
    );
    let bad = good
        .replace(
            r#"location = "6724fbc74f73a2cebf6377fa""#,
            r#"location = "not-an-id""#,
        )
        .replace(r#"timeout = "5s""#, r#"timeout = "five""#);
    std::fs::write(&path, bad).unwrap();

    // --config is accepted after the subcommand too.
    let output = relay(&["check", "--config", path.to_str().unwrap()]);

    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("sites[0].location"), "{stderr}");
    assert!(
        stderr.contains("24 hexadecimal"),
        "says what is expected: {stderr}"
    );
    assert!(
        stderr.contains("carehq.timeout"),
        "all errors reported together: {stderr}"
    );
}

#[test]
fn serve_with_a_bad_config_exits_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let bad = config_toml(
        &format!("sqlite://{}", dir.path().join("relay.db").display()),
        "https://api.carehq.dev",
        &format!("127.0.0.1:{}", free_port()),
        &AppOptions::default(),
    )
    .replace(r#"poll_interval = "1s""#, r#"poll_interval = "soon""#);
    std::fs::write(&path, bad).unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_enquiry-relay"))
        .args(["--config", path.to_str().unwrap(), "serve"])
        .env("NO_COLOR", "1")
        .env_remove("ENQUIRY_RELAY_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run enquiry-relay");
    // A serve that accepted the config would run forever: bound the wait.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve started with a bad config instead of exiting");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();

    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("sync.poll_interval"), "{stderr}");
    assert!(!dir.path().join("relay.db").exists(), "nothing was opened");
}

#[test]
fn check_accepts_a_valid_config_and_a_missing_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("good.toml");
    std::fs::write(
        &path,
        config_toml(
            "sqlite://x.db",
            "https://api.carehq.dev",
            "127.0.0.1:0",
            &AppOptions::default(),
        ),
    )
    .unwrap();
    let ok = relay(&["--config", path.to_str().unwrap(), "check"]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    let missing = relay(&["--config", "/nonexistent/relay.toml", "check"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/relay.toml"));
}

#[test]
fn check_refuses_an_unknown_log_format_naming_it_and_the_accepted_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.toml");
    let good = config_toml(
        "sqlite://x.db",
        "https://api.carehq.dev",
        "127.0.0.1:0",
        &AppOptions::default(),
    );
    std::fs::write(&path, format!("{good}\n[log]\nformat = \"jsn\"\n")).unwrap();
    let output = relay(&["check", "--config", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("log.format") && stderr.contains("jsn") && stderr.contains("text, json"),
        "{stderr}"
    );

    // The variable the logging set-up reads is checked the same way.
    std::fs::write(&path, &good).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_enquiry-relay"))
        .args(["check", "--config", path.to_str().unwrap()])
        .env("NO_COLOR", "1")
        .env_remove("ENQUIRY_RELAY_CONFIG")
        .env("ENQUIRY_RELAY_LOG_FORMAT", "jsn")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ENQUIRY_RELAY_LOG_FORMAT"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_then_sync_once_delivers_what_waits() {
    let Some(db) = TestDb::new(Db::Sqlite).await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    let config = db.dir.path().join("relay.toml");
    std::fs::write(
        &config,
        config_toml(&db.url, &sandbox.url, "127.0.0.1:0", &AppOptions::default()),
    )
    .unwrap();
    let migrated = relay(&["--config", config.to_str().unwrap(), "migrate"]);
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );

    // An enquiry stored while CareHQ was unreachable.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let app = TestApp::spawn(
        &db,
        &dead,
        &AppOptions {
            retry_schedule: vec![Duration::from_secs(3600)],
            ..AppOptions::default()
        },
    )
    .await;
    assert_eq!(app.post_json(SITE, &family(3)).await.status(), 201);
    crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
        let counts = app.store.count_by_status().await.unwrap();
        counts
            .iter()
            .any(|(s, n)| *s == DeliveryStatus::Pending && *n == 1)
            .then_some(())
    })
    .await
    .expect("stored and pending");
    app.stop().await;
    // Make it due now rather than in an hour.
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&db.url)
        .await
        .unwrap();
    sqlx::query("UPDATE deliveries SET next_attempt_at = 0")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let output = relay(&["sync", "--once", "--config", config.to_str().unwrap()]);

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("synced 1"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert_eq!(sandbox.received().len(), 1);
}

async fn sync_once_exits_1_while_a_failed_enquiry_remains(db: Db) {
    // Stored while CareHQ was unreachable, then the server stopped.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let Some((db, sandbox, app)) = TestApp::builder(db)
        .carehq(dead)
        .options(AppOptions {
            retry_schedule: vec![Duration::from_secs(3600)],
            ..AppOptions::default()
        })
        .spawn()
        .await
    else {
        return;
    };
    let id = posted_id(&app, 4).await;
    eventually(Duration::from_secs(10), || async {
        let d = app.delivery(&id).await;
        (d.status == DeliveryStatus::Pending && d.attempts == 1).then_some(())
    })
    .await
    .expect("first attempt made");
    app.stop().await;
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE deliveries SET next_attempt_at = 0")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    // CareHQ refuses it: a permanent failure staff must look at.
    sandbox.set_faults(Faults::once(400));
    let config = default_config(&db, &sandbox.url);

    let (code, out, err) = cli(&config, &["sync", "--once"]).await;

    assert_eq!(code, 1, "a script must see the failure:\n{out}{err}");
    assert!(out.contains("failed 1"), "{out}");

    // Once it is delivered, the same command exits 0.
    let (code, _, _) = cli(&config, &["enquiries", "retry", "--failed"]).await;
    assert_eq!(code, 0);
    let (code, out, err) = cli(&config, &["sync", "--once"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("synced 1"), "{out}");
    assert_eq!(sandbox.received().len(), 1);
}
on_both_databases!(sync_once_exits_1_while_a_failed_enquiry_remains);
